"""Taichi kernels of the multigrid cycle of :mod:`spinodoid.solvers.multigrid`: smoothing,
restriction,
prolongation and the coarse levels (the grid layout and thread rules of
:mod:`spinodoid.solvers.multigrid_kernels` hold here too).
"""

import taichi as ti

from spinodoid.solvers.multigrid_kernels import CODE_SCALE, Level, _fine_faces, _wrap_down, _wrap_up

__all__ = [
    "smooth_fine",
    "residual_fine",
    "restrict_fine",
    "prolong_fine",
    "coarsen_fine",
    "coarsen",
    "smooth",
    "restrict",
    "prolong",
    "tail_cycle",
]


# ----------------------------------------------------------------------------------------------
# Multigrid: fine level (codes)


@ti.func
def _sweep_range(bb, n1: ti.i32, plane_per_thread: ti.i32):
    lo, hi = bb, bb + 1
    if plane_per_thread:
        lo, hi = 0, n1
    return lo, hi


@ti.kernel
def smooth_fine(
    codes: ti.types.ndarray(),
    z: ti.types.ndarray(),
    r: ti.types.ndarray(),
    n0: ti.i32,
    n1: ti.i32,
    n2: ti.i32,
    colour: ti.i32,
    reverse: ti.i32,
    plane_per_thread: ti.i32,
):
    """One colour of a red-black Gauss–Seidel sweep of ``A z = r`` on the unknown layers;
    cells with no open face get 0. ``reverse`` runs the rows and cells backwards (the adjoint
    order, for the post-smoother)."""
    cells = n0 * n1 * n2
    for a, bb in ti.ndrange((1, n0 - 1), 1 if plane_per_thread else n1):
        lo, hi = _sweep_range(bb, n1, plane_per_thread)
        for kb in range(hi - lo):
            b = hi - 1 - kb if reverse else lo + kb
            start = (a + b + colour) % 2
            count = (n2 - start + 1) // 2
            for kc in range(count):
                c = start + 2 * (count - 1 - kc if reverse else kc)
                i = (a * n1 + b) * n2 + c
                g, j = _fine_faces(codes, i, a, b, c, n1, n2, cells)
                num = CODE_SCALE * r[i]
                den = ti.f32(0.0)
                for k in ti.static(range(6)):
                    num += g[k] * z[j[k]]
                    den += g[k]
                z[i] = num / den if den > 0 else 0.0


@ti.kernel
def residual_fine(
    codes: ti.types.ndarray(),
    z: ti.types.ndarray(),
    r: ti.types.ndarray(),
    res: ti.types.ndarray(),
    n0: ti.i32,
    n1: ti.i32,
    n2: ti.i32,
):
    """``res = r - A z`` on the unknown layers."""
    cells = n0 * n1 * n2
    for a, b in ti.ndrange((1, n0 - 1), n1):
        for c in range(n2):
            i = (a * n1 + b) * n2 + c
            g, j = _fine_faces(codes, i, a, b, c, n1, n2, cells)
            az = ti.f32(0.0)
            for m in ti.static(range(6)):
                az += g[m] * (z[i] - z[j[m]])
            res[i] = r[i] - az / CODE_SCALE


@ti.kernel
def restrict_fine(
    res: ti.types.ndarray(),
    cb: ti.types.ndarray(),
    n0: ti.i32,
    n1: ti.i32,
    n2: ti.i32,
    coarse: Level,
    f0: ti.template(),
    f1: ti.template(),
    f2: ti.template(),
):
    """``cb`` (level 1) = block sums of the fine residual ``res`` (one thread per coarse row,
    fine cells added in a fixed order)."""
    for ca, cbi in ti.ndrange(coarse.n0, coarse.n1):
        base = coarse.off + (ca * coarse.n1 + cbi) * coarse.n2
        for cc in range(coarse.n2):
            s = ti.f32(0.0)
            for da, db in ti.static(ti.ndrange(f0, f1)):
                a, b = 1 + ca * f0 + da, cbi * f1 + db
                if a < n0 - 1 and b < n1:
                    row = (a * n1 + b) * n2
                    for k in ti.static(range(f2)):
                        c = cc * f2 + k
                        if c < n2:
                            s += res[row + c]
            cb[base + cc] = s


@ti.kernel
def prolong_fine(
    z: ti.types.ndarray(),
    cx: ti.types.ndarray(),
    n0: ti.i32,
    n1: ti.i32,
    n2: ti.i32,
    coarse: Level,
    f0: ti.template(),
    f1: ti.template(),
    f2: ti.template(),
):
    """``z += cx[parent]`` (piecewise-constant prolongation from level 1)."""
    for a, b in ti.ndrange((1, n0 - 1), n1):
        base = coarse.off + (((a - 1) // f0) * coarse.n1 + b // f1) * coarse.n2
        row = (a * n1 + b) * n2
        for cc in range(coarse.n2):
            v = cx[base + cc]
            for k in ti.static(range(f2)):
                c = cc * f2 + k
                if c < n2:
                    z[row + c] = z[row + c] + v


@ti.func
def _block(cidx, f, n):
    """First and one-past-last fine index of block ``cidx`` (factor ``f``, fine size ``n``)."""
    return cidx * f, ti.min(cidx * f + f, n)


@ti.kernel
def coarsen_fine(
    codes: ti.types.ndarray(),
    g: ti.types.ndarray(),
    bnd: ti.types.ndarray(),
    diag: ti.types.ndarray(),
    n0: ti.i32,
    n1: ti.i32,
    n2: ti.i32,
    coarse: Level,
    f0: ti.i32,
    f1: ti.i32,
    f2: ti.i32,
    scale: ti.types.vector(4, ti.f32),
):
    """Level-1 conductances from the fine codes: each coarse face carries ``scale[d]`` times
    the summed conductance of the fine faces it covers, the Dirichlet conductance of a block
    ``scale[3]`` times its fine cells' (a zero fine face stays zero: no leak). A face that
    wraps onto its own block (one coarse cell across a periodic axis) is dropped. Then the
    level's ``diag`` (:func:`_diagonal_row`)."""
    cells = n0 * n1 * n2
    ccells = coarse.n0 * coarse.n1 * coarse.n2
    for ca, cbi in ti.ndrange(coarse.n0, coarse.n1):
        for cc in range(coarse.n2):
            a0, a1 = _block(ca, f0, n0 - 2)  # unknown layers a0 .. a1 - 1 = full a0 + 1 .. a1
            b0, b1 = _block(cbi, f1, n1)
            c0, c1 = _block(cc, f2, n2)
            sx, sy, sz, sb = ti.f32(0.0), ti.f32(0.0), ti.f32(0.0), ti.f32(0.0)
            for b, c in ti.ndrange((b0, b1), (c0, c1)):
                top = ti.cast(codes[(a1 * n1 + b) * n2 + c], ti.f32)
                if a1 < n0 - 2:
                    sx += top
                else:
                    sb += top
                if a0 == 0:
                    sb += ti.cast(codes[b * n2 + c], ti.f32)
            if coarse.n1 > 1:
                for a, c in ti.ndrange((a0 + 1, a1 + 1), (c0, c1)):
                    sy += ti.cast(codes[cells + (a * n1 + b1 - 1) * n2 + c], ti.f32)
            if coarse.n2 > 1:
                for a, b in ti.ndrange((a0 + 1, a1 + 1), (b0, b1)):
                    sz += ti.cast(codes[2 * cells + (a * n1 + b) * n2 + c1 - 1], ti.f32)
            ci = (ca * coarse.n1 + cbi) * coarse.n2 + cc
            g[3 * coarse.off + ci] = scale[0] * sx / CODE_SCALE
            g[3 * coarse.off + ccells + ci] = scale[1] * sy / CODE_SCALE
            g[3 * coarse.off + 2 * ccells + ci] = scale[2] * sz / CODE_SCALE
            bnd[coarse.off + ci] = scale[3] * sb / CODE_SCALE
    for a, b in ti.ndrange(coarse.n0, coarse.n1):
        _diagonal_row(g, bnd, diag, coarse, a, b)


@ti.kernel
def coarsen(
    g: ti.types.ndarray(),
    bnd: ti.types.ndarray(),
    diag: ti.types.ndarray(),
    fine: Level,
    coarse: Level,
    f0: ti.i32,
    f1: ti.i32,
    f2: ti.i32,
    scale: ti.types.vector(4, ti.f32),
):
    """Level ``l + 1`` conductances and diagonal from level ``l`` (as :func:`coarsen_fine`)."""
    fcells = fine.n0 * fine.n1 * fine.n2
    ccells = coarse.n0 * coarse.n1 * coarse.n2
    for ca, cbi in ti.ndrange(coarse.n0, coarse.n1):
        for cc in range(coarse.n2):
            a0, a1 = _block(ca, f0, fine.n0)
            b0, b1 = _block(cbi, f1, fine.n1)
            c0, c1 = _block(cc, f2, fine.n2)
            wrap_b = coarse.n1 > 1  # else the face wraps onto its own block
            wrap_c = coarse.n2 > 1
            sx, sy, sz, sb = ti.f32(0.0), ti.f32(0.0), ti.f32(0.0), ti.f32(0.0)
            for a, b, c in ti.ndrange((a0, a1), (b0, b1), (c0, c1)):
                i = (a * fine.n1 + b) * fine.n2 + c
                sb += bnd[fine.off + i]
                if a == a1 - 1:
                    sx += g[3 * fine.off + i]
                if b == b1 - 1 and wrap_b:
                    sy += g[3 * fine.off + fcells + i]
                if c == c1 - 1 and wrap_c:
                    sz += g[3 * fine.off + 2 * fcells + i]
            ci = (ca * coarse.n1 + cbi) * coarse.n2 + cc
            g[3 * coarse.off + ci] = scale[0] * sx
            g[3 * coarse.off + ccells + ci] = scale[1] * sy
            g[3 * coarse.off + 2 * ccells + ci] = scale[2] * sz
            bnd[coarse.off + ci] = scale[3] * sb
    for a, b in ti.ndrange(coarse.n0, coarse.n1):
        _diagonal_row(g, bnd, diag, coarse, a, b)


@ti.func
def _coarse_faces(g: ti.template(), lv: Level, a, b, c):
    """Conductances of the six faces of coarse cell ``(a, b, c)`` and its neighbours' indices
    (a missing x neighbour gets conductance 0 and its own index)."""
    cells = lv.n0 * lv.n1 * lv.n2
    i = (a * lv.n1 + b) * lv.n2 + c
    plane = lv.n1 * lv.n2
    jxm = i - plane if a > 0 else i
    jxp = i + plane if a < lv.n0 - 1 else i
    jym = (a * lv.n1 + _wrap_down(b, lv.n1)) * lv.n2 + c
    jyp = (a * lv.n1 + _wrap_up(b, lv.n1)) * lv.n2 + c
    jzm = i - c + _wrap_down(c, lv.n2)
    jzp = i - c + _wrap_up(c, lv.n2)
    o = 3 * lv.off
    gv = ti.Vector(
        [
            g[o + jxm] if a > 0 else 0.0,
            g[o + i],
            g[o + cells + jym],
            g[o + cells + i],
            g[o + 2 * cells + jzm],
            g[o + 2 * cells + i],
        ]
    )
    j = ti.Vector([jxm, jxp, jym, jyp, jzm, jzp])
    return gv, j


@ti.func
def _diagonal_row(g: ti.template(), bnd: ti.template(), diag: ti.template(), lv: Level, a, b):
    """``diag`` = sum of the six face conductances plus the Dirichlet conductance, one row."""
    for c in range(lv.n2):
        gv, _ = _coarse_faces(g, lv, a, b, c)
        i = (a * lv.n1 + b) * lv.n2 + c
        diag[lv.off + i] = gv.sum() + bnd[lv.off + i]


@ti.kernel
def smooth(
    g: ti.types.ndarray(),
    diag: ti.types.ndarray(),
    x: ti.types.ndarray(),
    rhs: ti.types.ndarray(),
    lv: Level,
    colour: ti.i32,
    reverse: ti.i32,
    plane_per_thread: ti.i32,
):
    """One colour of red-black Gauss–Seidel on a coarse level (as :func:`smooth_fine`)."""
    for a, bb in ti.ndrange(lv.n0, 1 if plane_per_thread else lv.n1):
        lo, hi = _sweep_range(bb, lv.n1, plane_per_thread)
        for kb in range(hi - lo):
            b = hi - 1 - kb if reverse else lo + kb
            start = (a + b + colour) % 2
            count = (lv.n2 - start + 1) // 2
            for kc in range(count):
                c = start + 2 * (count - 1 - kc if reverse else kc)
                gv, j = _coarse_faces(g, lv, a, b, c)
                i = lv.off + (a * lv.n1 + b) * lv.n2 + c
                num = rhs[i]
                for k in ti.static(range(6)):
                    num += gv[k] * x[lv.off + j[k]]
                x[i] = num / diag[i] if diag[i] > 0 else 0.0


@ti.func
def _restrict_row(
    g: ti.template(),
    diag: ti.template(),
    x: ti.template(),
    rhs: ti.template(),
    fine,
    coarse,
    f0,
    f1,
    f2,
    ca,
    cbi,
):
    """Block sums of the level-``l`` residual into one row of level ``l + 1``'s ``rhs``."""
    base = coarse.off + (ca * coarse.n1 + cbi) * coarse.n2
    for cc in range(coarse.n2):
        rhs[base + cc] = 0.0
    for da, db in ti.ndrange(f0, f1):
        a, b = ca * f0 + da, cbi * f1 + db
        if a < fine.n0 and b < fine.n1:
            for cc in range(coarse.n2):
                s = ti.f32(0.0)
                for k in range(f2):
                    c = cc * f2 + k
                    if c < fine.n2:
                        gv, j = _coarse_faces(g, fine, a, b, c)
                        i = fine.off + (a * fine.n1 + b) * fine.n2 + c
                        ax = diag[i] * x[i]
                        for m in ti.static(range(6)):
                            ax -= gv[m] * x[fine.off + j[m]]
                        s += rhs[i] - ax
                rhs[base + cc] += s


@ti.func
def _prolong_row(x: ti.template(), fine, coarse, f0, f1, f2, a, b):
    """Add the level-``l + 1`` values to one row of level ``l``."""
    base = coarse.off + ((a // f0) * coarse.n1 + b // f1) * coarse.n2
    row = fine.off + (a * fine.n1 + b) * fine.n2
    for cc in range(coarse.n2):
        v = x[base + cc]
        for k in range(f2):
            c = cc * f2 + k
            if c < fine.n2:
                x[row + c] = x[row + c] + v


@ti.kernel
def restrict(
    g: ti.types.ndarray(),
    diag: ti.types.ndarray(),
    x: ti.types.ndarray(),
    rhs: ti.types.ndarray(),
    fine: Level,
    coarse: Level,
    f0: ti.template(),
    f1: ti.template(),
    f2: ti.template(),
):
    """``rhs`` of level ``l + 1`` = block sums of the level-``l`` residual ``rhs - A x``."""
    for ca, cbi in ti.ndrange(coarse.n0, coarse.n1):
        _restrict_row(g, diag, x, rhs, fine, coarse, f0, f1, f2, ca, cbi)


@ti.kernel
def prolong(
    x: ti.types.ndarray(),
    fine: Level,
    coarse: Level,
    f0: ti.template(),
    f1: ti.template(),
    f2: ti.template(),
):
    """``x`` of level ``l`` += ``x`` of its parent on level ``l + 1``."""
    for a, b in ti.ndrange(fine.n0, fine.n1):
        _prolong_row(x, fine, coarse, f0, f1, f2, a, b)


@ti.func
def _gs_cell(
    g: ti.template(), diag: ti.template(), x: ti.template(), rhs: ti.template(), lv, a, b, c
):
    gv, j = _coarse_faces(g, lv, a, b, c)
    i = lv.off + (a * lv.n1 + b) * lv.n2 + c
    num = rhs[i]
    for m in ti.static(range(6)):
        num += gv[m] * x[lv.off + j[m]]
    x[i] = num / diag[i] if diag[i] > 0 else 0.0


@ti.func
def _level(table: ti.template(), k):
    return Level(n0=table[k, 0], n1=table[k, 1], n2=table[k, 2], off=table[k, 3])


@ti.kernel
def tail_cycle(
    g: ti.types.ndarray(),
    diag: ti.types.ndarray(),
    x: ti.types.ndarray(),
    rhs: ti.types.ndarray(),
    table: ti.types.ndarray(),
    first: ti.i32,
    last: ti.i32,
    sweeps: ti.i32,
    coarsest_sweeps: ti.i32,
):
    """V-cycle over the small levels ``first .. last`` (rows of ``table``: n0, n1, n2, off,
    f0, f1, f2 from the level above) on one thread, from ``x = 0`` on level ``first`` with its
    ``rhs`` set: lexicographic Gauss–Seidel, forward before and backward after the coarse
    correction, ``coarsest_sweeps`` symmetric pairs on level ``last``."""
    ti.loop_config(serialize=True)
    for _ in range(1):
        levels = last - first + 1
        # One pass over 2 × levels steps, down the levels then up, so that smoothing,
        # restriction and prolongation are each compiled once (taichi's first-call cost grows
        # with a kernel's code); the order of the updates is that of the recursive V-cycle.
        for step in range(2 * levels):
            down = step < levels
            k = first + step if down else last - (step - levels)
            lv = _level(table, k)
            if down:
                for i in range(lv.off, lv.off + lv.n0 * lv.n1 * lv.n2):
                    x[i] = 0.0
            elif k < last:
                below = _level(table, k + 1)
                for a, b in ti.ndrange(lv.n0, lv.n1):
                    _prolong_row(
                        x, lv, below, table[k + 1, 4], table[k + 1, 5], table[k + 1, 6], a, b
                    )
            n_sweeps = coarsest_sweeps if k == last else sweeps
            for _s in range(n_sweeps):
                for ra, rb, rc in ti.ndrange(lv.n0, lv.n1, lv.n2):
                    a, b, c = ra, rb, rc
                    if not down:  # backward: the adjoint order
                        a, b, c = lv.n0 - 1 - ra, lv.n1 - 1 - rb, lv.n2 - 1 - rc
                    _gs_cell(g, diag, x, rhs, lv, a, b, c)
            if down and k < last:
                below = _level(table, k + 1)
                for ca, cbi in ti.ndrange(below.n0, below.n1):
                    _restrict_row(
                        g,
                        diag,
                        x,
                        rhs,
                        lv,
                        below,
                        table[k + 1, 4],
                        table[k + 1, 5],
                        table[k + 1, 6],
                        ca,
                        cbi,
                    )
