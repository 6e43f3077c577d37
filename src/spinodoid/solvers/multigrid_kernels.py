"""Taichi kernels of the multigrid-preconditioned CG solver (:mod:`spinodoid.solvers.multigrid`).

Layout. Every grid is stored flat, ``index = (a * n1 + b) * n2 + c``, ``a`` along the transport
axis, ``c`` fastest. The fine grid is the whole structure, shape ``(n0, n1, n2)``, with the
Dirichlet layers ``a = 0`` and ``a = n0 - 1`` kept in the arrays (their correction is 0); its
face conductances are uint8 open-fraction codes (conductance = code / 64), ``codes[d * cells +
index]`` for the face between a cell and its ``+d`` neighbour, wrapped across the lateral faces
(a code of 0 where there is no face: zero-flux sides, beyond the outlet layer). A coarse level
``l`` covers the unknown layers only; its float32 conductances ``g[3 * off + d * cells + index]``
follow the same convention, ``bnd[off + index]`` is its conductance to the Dirichlet planes and
``diag[off + index]`` the diagonal of its operator.

Threads. Kernels run one thread per ``(a, b)`` row and loop over ``c`` inside; sums are made per
row in float64 and the rows added in a fixed order (:func:`total`), so results are the same bit
for bit whatever the thread count. The red-black Gauss–Seidel sweeps update one colour per
launch; when the ``b`` axis is periodic with an odd length (two same-coloured neighbours across
the wrap) one thread takes a whole ``(b, c)`` plane instead (``plane_per_thread``), so the
order of updates stays fixed.
"""

import taichi as ti

__all__ = [
    "CODE_SCALE",
    "Level",
    "fill",
    "total",
    "load_system",
    "cc_hook",
    "cc_compress",
    "cc_finish",
    "residual64",
    "add_correction",
    "matvec_dot",
    "cg_update",
    "dot",
    "direction",
    "init_profile",
]

CODE_SCALE = 64.0  # conductance = code / CODE_SCALE (spinodoid.solvers.subvoxel.FACE_SAMPLES²)

Level = ti.types.struct(n0=ti.i32, n1=ti.i32, n2=ti.i32, off=ti.i32)
"""A coarse level: its shape and the offset of its cells in the coarse arrays."""


@ti.func
def _wrap_up(i, n):
    return i + 1 if i + 1 < n else 0


@ti.func
def _wrap_down(i, n):
    return i - 1 if i > 0 else n - 1


@ti.kernel
def fill(field: ti.types.ndarray(), start: ti.i32, stop: ti.i32, value: ti.f32):
    """``field[start:stop] = value`` of a float32 array."""
    for i in range(start, stop):
        field[i] = value


@ti.kernel
def total(rows: ti.types.ndarray(), start: ti.i32, stop: ti.i32) -> ti.f64:
    """Sum of ``rows[start:stop]`` in index order (deterministic)."""
    s = ti.f64(0.0)
    ti.loop_config(serialize=True)
    for i in range(start, stop):
        s += rows[i]
    return s


# ----------------------------------------------------------------------------------------------
# Connected components of the face graph (cells joined by faces with a nonzero code)


@ti.func
def _root(label: ti.template(), i):
    r = i
    while label[r] != r:
        r = label[r]
    return r


@ti.kernel
def load_system(
    src: ti.types.ndarray(dtype=ti.u8, ndim=1),
    codes: ti.types.ndarray(),
    e: ti.types.ndarray(),
    z: ti.types.ndarray(),
    p: ti.types.ndarray(),
    label: ti.types.ndarray(),
    mark: ti.types.ndarray(),
    n0: ti.i32,
    n1: ti.i32,
    n2: ti.i32,
):
    """Copy the flat uint8 face codes ``src`` into the front of the (larger) ``codes``; zero
    ``e``, ``z``, ``p`` and ``mark`` on the grid; ``label = index`` on cells with an open
    face, -1 elsewhere (the start of the connected-component labelling). One kernel with three
    parallel loops, run one after the other."""
    for i in range(src.shape[0]):
        codes[i] = src[i]
    for i in range(n0 * n1 * n2):
        e[i] = 0.0
        z[i] = 0.0
        p[i] = 0.0
        mark[i] = ti.u8(0)
    cells = n0 * n1 * n2
    for a, b in ti.ndrange(n0, n1):
        bm = _wrap_down(b, n1)
        for c in range(n2):
            i = (a * n1 + b) * n2 + c
            cm = _wrap_down(c, n2)
            bonded = codes[i] | codes[cells + i] | codes[2 * cells + i]
            bonded |= codes[cells + (a * n1 + bm) * n2 + c] | codes[2 * cells + i - c + cm]
            if a > 0:
                bonded |= codes[i - n1 * n2]
            label[i] = i if bonded != 0 else -1


@ti.kernel
def cc_hook(
    codes: ti.types.ndarray(), label: ti.types.ndarray(), n0: ti.i32, n1: ti.i32, n2: ti.i32
) -> ti.i32:
    """Hook the root of the larger label onto the smaller across every open face; returns the
    number of hooks made (0: every component carries one label, its smallest index)."""
    cells = n0 * n1 * n2
    hooks = 0
    for a, b in ti.ndrange(n0, n1):
        bp = _wrap_up(b, n1)
        for c in range(n2):
            i = (a * n1 + b) * n2 + c
            cp = _wrap_up(c, n2)
            for d in ti.static(range(3)):
                if codes[d * cells + i] != 0:
                    j = i + n1 * n2
                    if ti.static(d == 1):
                        j = (a * n1 + bp) * n2 + c
                    elif ti.static(d == 2):
                        j = i - c + cp
                    ri = _root(label, i)
                    rj = _root(label, j)
                    if ri != rj:
                        ti.atomic_min(label[ti.max(ri, rj)], ti.min(ri, rj))
                        hooks += 1
    return hooks


@ti.kernel
def cc_compress(label: ti.types.ndarray(), cells: ti.i32):
    """Point every labelled cell at its root."""
    for i in range(cells):
        if label[i] >= 0:
            label[i] = _root(label, i)


@ti.kernel
def cc_finish(
    codes: ti.types.ndarray(),
    label: ti.types.ndarray(),
    mark: ti.types.ndarray(),
    rows: ti.types.ndarray(),
    n0: ti.i32,
    n1: ti.i32,
    n2: ti.i32,
) -> ti.i32:
    """After the labelling: ``mark[root] = 3`` for the components that touch both the first
    and the last layer (``mark`` is 0 on entry), then close every face of the cells outside
    them; ``rows[a * n1 + b]`` = number of active unknown cells (layers 1 .. n0 - 2) of the
    row. Returns the number of last-layer cells in the marked components (0: none joins)."""
    plane = n1 * n2
    for i in range(plane):
        if label[i] >= 0:
            mark[label[i]] = ti.u8(1)
    hits = 0
    for i in range((n0 - 1) * plane, n0 * plane):
        if label[i] >= 0:
            if mark[label[i]] != 0:
                mark[label[i]] = ti.u8(3)
                hits += 1
    cells = n0 * n1 * n2
    for a, b in ti.ndrange(n0, n1):
        count = 0
        for c in range(n2):
            i = (a * n1 + b) * n2 + c
            keep = label[i] >= 0
            if keep:
                keep = mark[label[i]] == 3
            if not keep:
                for d in ti.static(range(3)):
                    codes[d * cells + i] = ti.u8(0)
            elif 0 < a < n0 - 1:
                count += 1
        rows[a * n1 + b] = ti.f64(count)
    return hits


# ----------------------------------------------------------------------------------------------
# Fine grid: residual and fluxes in float64, CG vectors in float32


@ti.func
def _fine_faces(codes: ti.template(), i, a, b, c, n1: ti.i32, n2: ti.i32, cells: ti.i32):
    """Codes (as float32) of the six faces of fine cell ``i`` and its neighbours' indices."""
    bm, bp = _wrap_down(b, n1), _wrap_up(b, n1)
    cm, cp = _wrap_down(c, n2), _wrap_up(c, n2)
    plane = n1 * n2
    jym = (a * n1 + bm) * n2 + c
    jzm = i - c + cm
    g = ti.Vector(
        [
            ti.cast(codes[i - plane], ti.f32),
            ti.cast(codes[i], ti.f32),
            ti.cast(codes[cells + jym], ti.f32),
            ti.cast(codes[cells + i], ti.f32),
            ti.cast(codes[2 * cells + jzm], ti.f32),
            ti.cast(codes[2 * cells + i], ti.f32),
        ]
    )
    j = ti.Vector([i - plane, i + plane, jym, (a * n1 + bp) * n2 + c, jzm, i - c + cp])
    return g, j


@ti.kernel
def residual64(
    codes: ti.types.ndarray(),
    x64: ti.types.ndarray(),
    r: ti.types.ndarray(),
    rows: ti.types.ndarray(),
    flux: ti.types.ndarray(),
    n0: ti.i32,
    n1: ti.i32,
    n2: ti.i32,
):
    """``r = b - A x`` (float64 arithmetic, stored float32) on the unknown layers, where the
    Dirichlet layers of ``x64`` hold the boundary values; ``rows`` = row sums of ``r²``;
    ``flux[a * n1 + b]`` = float64 flux from layer ``a`` to ``a + 1`` through row ``b``."""
    cells = n0 * n1 * n2
    for a, b in ti.ndrange((1, n0 - 1), n1):
        s = ti.f64(0.0)
        for c in range(n2):
            i = (a * n1 + b) * n2 + c
            g, j = _fine_faces(codes, i, a, b, c, n1, n2, cells)
            res = ti.f64(0.0)
            for k in ti.static(range(6)):
                res += ti.cast(g[k], ti.f64) * (x64[j[k]] - x64[i])
            res /= CODE_SCALE
            r[i] = ti.cast(res, ti.f32)
            s += res * res
        rows[a * n1 + b] = s
    plane = n1 * n2
    for a, b in ti.ndrange(n0 - 1, n1):
        s = ti.f64(0.0)
        for c in range(n2):
            i = (a * n1 + b) * n2 + c
            s += ti.cast(codes[i], ti.f64) * (x64[i] - x64[i + plane])
        flux[a * n1 + b] = s / CODE_SCALE


@ti.kernel
def add_correction(x64: ti.types.ndarray(), e: ti.types.ndarray(), start: ti.i32, stop: ti.i32):
    """``x64 += e`` on ``[start, stop)``."""
    for i in range(start, stop):
        x64[i] = x64[i] + ti.cast(e[i], ti.f64)


@ti.kernel
def matvec_dot(
    codes: ti.types.ndarray(),
    p: ti.types.ndarray(),
    q: ti.types.ndarray(),
    rows: ti.types.ndarray(),
    n0: ti.i32,
    n1: ti.i32,
    n2: ti.i32,
):
    """``q = A p`` on the unknown layers; ``rows`` = row sums of ``p q`` (float64)."""
    cells = n0 * n1 * n2
    for a, b in ti.ndrange((1, n0 - 1), n1):
        s = ti.f64(0.0)
        for c in range(n2):
            i = (a * n1 + b) * n2 + c
            g, j = _fine_faces(codes, i, a, b, c, n1, n2, cells)
            y = ti.f32(0.0)
            for k in ti.static(range(6)):
                y += g[k] * (p[i] - p[j[k]])
            y /= CODE_SCALE
            q[i] = y
            s += ti.cast(p[i] * y, ti.f64)
        rows[a * n1 + b] = s


@ti.kernel
def cg_update(
    x: ti.types.ndarray(),
    p: ti.types.ndarray(),
    r: ti.types.ndarray(),
    q: ti.types.ndarray(),
    alpha: ti.f32,
    rows: ti.types.ndarray(),
    n0: ti.i32,
    n1: ti.i32,
    n2: ti.i32,
):
    """``x += alpha p``, ``r -= alpha q``; ``rows`` = row sums of ``r²``."""
    for a, b in ti.ndrange((1, n0 - 1), n1):
        s = ti.f64(0.0)
        for c in range(n2):
            i = (a * n1 + b) * n2 + c
            x[i] = x[i] + alpha * p[i]
            r[i] = r[i] - alpha * q[i]
            s += ti.cast(r[i] * r[i], ti.f64)
        rows[a * n1 + b] = s


@ti.kernel
def dot(
    u: ti.types.ndarray(),
    v: ti.types.ndarray(),
    rows: ti.types.ndarray(),
    n0: ti.i32,
    n1: ti.i32,
    n2: ti.i32,
):
    """``rows`` = row sums of ``u v`` over the unknown layers."""
    for a, b in ti.ndrange((1, n0 - 1), n1):
        s = ti.f64(0.0)
        for c in range(n2):
            i = (a * n1 + b) * n2 + c
            s += ti.cast(u[i] * v[i], ti.f64)
        rows[a * n1 + b] = s


@ti.kernel
def direction(
    z: ti.types.ndarray(), p: ti.types.ndarray(), beta: ti.f32, start: ti.i32, stop: ti.i32
):
    """``p = z + beta p`` on ``[start, stop)``."""
    for i in range(start, stop):
        p[i] = z[i] + beta * p[i]


@ti.kernel
def init_profile(
    x64: ti.types.ndarray(), n0: ti.i32, plane: ti.i32, c_in: ti.f64, c_out: ti.f64, linear: ti.i32
):
    """Dirichlet layers at ``c_in``/``c_out``; unknown layers linear in ``a`` (or 0)."""
    for i in range(n0 * plane):
        a = i // plane
        w = ti.cast(a, ti.f64) / (n0 - 1)
        value = c_in + (c_out - c_in) * w
        if 0 < a < n0 - 1 and not linear:
            value = 0.0
        x64[i] = value
