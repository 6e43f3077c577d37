"""Taichi kernels of the D3Q7 two-relaxation-time (TRT) diffusion lattice-Boltzmann solver.

Node algebra lives in ``@ti.func`` helpers; each phase of a step is one typed ``@ti.kernel``.
The Python-side driver, the fields and the convergence logic are in :mod:`spinodoid.solvers.lbm`.

Lattice (D3Q7, lattice units, Δx = Δt = 1): direction 0 is at rest, 1/2 = ±x, 3/4 = ±y,
5/6 = ±z. Weights w₀ = 1/4, wᵢ = 1/8 give c_s² = 1/4, so the odd (flux) relaxation time τ⁻
sets D = c_s² (τ⁻ − ½). The equilibrium is fᵢᵉᑫ = wᵢ C (pure diffusion, no advection).

Array layout (all fields): ``f[b, i, x, y, z]`` float32 with the transport axis first; batch
index ``b`` runs over structures (or over the three permuted copies of one structure). Along
``x`` the first and last layers are Dirichlet layers (c_in, c_out at their pore voxel centres,
N − 1 apart as in eq. 6); ``y`` and ``z`` are periodic unless the mask marks their faces.
Nodes of the Dirichlet layers and solid nodes are frozen with all populations 0.

Two wall models, each with its own kernels:

- staircase (``stream_collide``, ``plane_fluxes``): half-way bounce-back on links to frozen
  nodes. Mask bits (``mask[b, x, y, z]`` uint8): bit ``i − 1`` (i = 1..6) is set on a pore
  node when the node upstream along ``−cᵢ`` is not an ordinary pore node (solid, a Dirichlet
  layer, or beyond a zero-flux lateral face), so the arriving population comes from a
  boundary rule. ``SOLID_BIT`` marks frozen nodes; ``DIRICHLET_BIT`` marks layer-1 /
  layer-(N − 2) pore nodes whose x-neighbour in the Dirichlet layer is pore.
- open-fraction faces (``stream_collide_faces``, ``plane_fluxes_faces``): partial
  bounce-back. ``faces[b, d, x, y, z]`` (uint8) codes the open fraction of the face between
  node (x, y, z) and its +d neighbour; a population crossing that face is transmitted with
  probability ``table[code]`` and bounced back otherwise, which conserves mass link by link.
  Only ``SOLID_BIT`` of the mask is used (frozen nodes).
"""

import taichi as ti

__all__ = [
    "CX",
    "CY",
    "CZ",
    "OPP",
    "W_REST",
    "W_MOVE",
    "SOLID_BIT",
    "DIRICHLET_BIT",
    "init_linear_profile",
    "stream_collide",
    "stream_collide_faces",
    "plane_fluxes",
    "plane_fluxes_faces",
    "concentration",
    "face_codes",
    "open_sample_counts",
    "face_mask",
]

CX = (0, 1, -1, 0, 0, 0, 0)
CY = (0, 0, 0, 1, -1, 0, 0)
CZ = (0, 0, 0, 0, 0, 1, -1)
OPP = (0, 2, 1, 4, 3, 6, 5)
W_REST = 0.25
W_MOVE = 0.125
SOLID_BIT = 64
DIRICHLET_BIT = 128
#: A face patch counts as one-signed only when its corners are this far from 0 (level-set
#: units): far above float32 underflow, so the row formula would give the same n² or 0.
_SIGN_MARGIN = 1e-30


@ti.func
def _collide_trt(fin: ti.template(), omega_plus: ti.f32, omega_minus: ti.f32):
    """TRT collision of one node in place (7 float32 populations).

    Even part relaxes to wᵢ C with ω⁺, odd part (the flux) to 0 with ω⁻ (D = ¼ (1/ω⁻ − ½)).
    """
    c = fin[0] + fin[1] + fin[2] + fin[3] + fin[4] + fin[5] + fin[6]
    fin[0] = fin[0] - omega_plus * (fin[0] - W_REST * c)
    for k in ti.static(range(3)):
        i = 1 + 2 * k
        j = i + 1
        plus = 0.5 * (fin[i] + fin[j]) - W_MOVE * c
        minus = 0.5 * (fin[i] - fin[j])
        fin[i] = fin[i] - omega_plus * plus - omega_minus * minus
        fin[j] = fin[j] - omega_plus * plus + omega_minus * minus


@ti.func
def _pull(src: ti.template(), b, x, y, z, yp, yn, zp, zn):
    """Populations streaming into node (x, y, z) from its six neighbours (plain pull)."""
    return ti.Vector(
        [
            src[b, 0, x, y, z],
            src[b, 1, x - 1, y, z],
            src[b, 2, x + 1, y, z],
            src[b, 3, x, yp, z],
            src[b, 4, x, yn, z],
            src[b, 5, x, y, zp],
            src[b, 6, x, y, zn],
        ],
        dt=ti.f32,
    )


@ti.func
def _own(src: ti.template(), b, x, y, z):
    """The node's own post-collision populations (7 float32)."""
    return ti.Vector([src[b, i, x, y, z] for i in ti.static(range(7))], dt=ti.f32)


@ti.func
def _store(dst: ti.template(), fin: ti.template(), b, x, y, z):
    for i in ti.static(range(7)):
        dst[b, i, x, y, z] = fin[i]


@ti.func
def _transmission(table: ti.template(), code: ti.u8) -> ti.f32:
    """Transmission t of a face from its uint8 open-fraction code."""
    return table[ti.cast(code, ti.i32)]


@ti.func
def _anti_bounce_back(f_out: ti.f32, c_fixed: ti.f32, c_node: ti.f32) -> ti.f32:
    """Population returned by a Dirichlet node one link upstream, held at ``c_fixed``.

    Anti-bounce-back fᵢ = −f*_ī + 2 wᵢ C_w fixes C_w half-way along the link; with
    C_w = (c_fixed + C_node)/2, the linear interpolant between the nodes, the steady state has
    C = c_fixed exactly at the Dirichlet node's centre (as in the finite-volume reference).
    """
    return -f_out + W_MOVE * (c_fixed + c_node)


@ti.kernel
def init_linear_profile(f: ti.template(), mask: ti.template(), c_in: ti.f32, c_out: ti.f32):
    """Set every pore node to equilibrium at the linear profile between the Dirichlet planes.

    The Dirichlet values sit on the centres of layers 0 and N − 1, so C(x) = c_in +
    (c_out − c_in) x/(N − 1). Frozen nodes (``SOLID_BIT``) get 0.
    """
    nb, nq, nx, ny, nz = f.shape
    for b, x, y, z in ti.ndrange(nb, nx, ny, nz):
        c = c_in + (c_out - c_in) * ti.cast(x, ti.f32) / ti.cast(nx - 1, ti.f32)
        solid = (mask[b, x, y, z] & SOLID_BIT) != 0
        for i in ti.static(range(7)):
            w = W_REST if i == 0 else W_MOVE
            f[b, i, x, y, z] = 0.0 if solid else w * c


@ti.func
def _line(x, y, nx, ny, c_in, c_out):
    """Per-(x, y)-line constants: ints (y − 1, y + 1 periodic, at_inlet, at_outlet) and the
    Dirichlet value of the adjacent layer (c_in on layer 1, c_out on layer N − 2)."""
    yp = y - 1 if y > 0 else ny - 1
    yn = y + 1 if y < ny - 1 else 0
    at_inlet = 1 if x == 1 else 0
    at_outlet = 1 if x == nx - 2 else 0
    c_fixed = c_in if x == 1 else c_out
    return ti.Vector([yp, yn, at_inlet, at_outlet], dt=ti.i32), c_fixed


@ti.func
def _wrap(z, nz):
    """Periodic neighbours (z − 1, z + 1) on [0, nz)."""
    zp = z - 1 if z > 0 else nz - 1
    zn = z + 1 if z < nz - 1 else 0
    return zp, zn


@ti.func
def _staircase_node(
    src: ti.template(), dst: ti.template(), mask: ti.template(), b, x, y, z, zp, zn, line, rates
):
    """Pull-stream and collide one node of the staircase model (frozen nodes are skipped).

    ``line`` = (y − 1, y + 1, at_inlet, at_outlet) from :func:`_line`; ``rates`` = (ω⁺, ω⁻,
    Dirichlet value of the adjacent layer).
    """
    m = ti.cast(mask[b, x, y, z], ti.i32)
    if m == 0:  # bulk pore node: plain pull
        fin = _pull(src, b, x, y, z, line[0], line[1], zp, zn)
        _collide_trt(fin, rates[0], rates[1])
        _store(dst, fin, b, x, y, z)
    elif (m & SOLID_BIT) == 0:
        own = _own(src, b, x, y, z)
        fin = _pull(src, b, x, y, z, line[0], line[1], zp, zn)
        for i in ti.static(range(1, 7)):
            if (m >> (i - 1)) & 1:
                fin[i] = own[OPP[i]]  # half-way bounce-back
        if (m & DIRICHLET_BIT) != 0:
            if line[2]:
                fin[1] = _anti_bounce_back(own[2], rates[2], own.sum())
            if line[3]:
                fin[2] = _anti_bounce_back(own[1], rates[2], own.sum())
        _collide_trt(fin, rates[0], rates[1])
        _store(dst, fin, b, x, y, z)


@ti.kernel
def stream_collide(
    src: ti.template(),
    dst: ti.template(),
    mask: ti.template(),
    omega_plus: ti.f32,
    omega_minus: ti.f32,
    c_in: ti.f32,
    c_out: ti.f32,
    per_node: ti.template(),
):
    """One fused pull-stream + TRT-collide step of the staircase model: ``src`` → ``dst``.

    Walls: half-way bounce-back fᵢ(x) = f*_ī(x). Dirichlet layers x = 0 and x = N − 1 are
    frozen; links from layer 1 (N − 2) to their pore nodes use :func:`_anti_bounce_back` with
    c_in (c_out). ``per_node=False`` (CPU): one task per (b, x, y) line, the periodic z wrap
    peeled off the inner loop so that its neighbours are z ± 1 (5–10 % faster than a select
    per node); ``per_node=True`` (GPU): one thread per node, z fastest, so that a warp reads
    consecutive addresses (coalesced).
    """
    nb, nq, nx, ny, nz = src.shape
    if ti.static(per_node):
        for b, x, y, z in ti.ndrange(nb, (1, nx - 1), ny, nz):
            line, c_fixed = _line(x, y, nx, ny, c_in, c_out)
            rates = ti.Vector([omega_plus, omega_minus, c_fixed], dt=ti.f32)
            zp, zn = _wrap(z, nz)
            _staircase_node(src, dst, mask, b, x, y, z, zp, zn, line, rates)
    else:
        for b, x, y in ti.ndrange(nb, (1, nx - 1), ny):
            line, c_fixed = _line(x, y, nx, ny, c_in, c_out)
            rates = ti.Vector([omega_plus, omega_minus, c_fixed], dt=ti.f32)
            _staircase_node(src, dst, mask, b, x, y, 0, nz - 1, 1 % nz, line, rates)
            for z in range(1, nz - 1):
                _staircase_node(src, dst, mask, b, x, y, z, z - 1, z + 1, line, rates)
            if nz > 1:
                _staircase_node(src, dst, mask, b, x, y, nz - 1, nz - 2, 0, line, rates)


@ti.func
def _faces_node(
    src: ti.template(),
    dst: ti.template(),
    mask: ti.template(),
    faces: ti.template(),
    table: ti.template(),
    b,
    x,
    y,
    z,
    zp,
    zn,
    line,
    rates,
):
    """Pull-stream with partial bounce-back and collide one node of the open-fraction model.

    fᵢ(x) = t fᵢ*(x − cᵢ) + (1 − t) f*_ī(x) with t the transmission of the face crossed; on a
    link to a Dirichlet node the transmitted part is the anti-bounce-back population.
    ``line`` and ``rates`` as in :func:`_staircase_node`.
    """
    if (mask[b, x, y, z] & SOLID_BIT) == 0:
        yp, yn = line[0], line[1]
        t = ti.Vector(
            [
                0.0,
                _transmission(table, faces[b, 0, x - 1, y, z]),
                _transmission(table, faces[b, 0, x, y, z]),
                _transmission(table, faces[b, 1, x, yp, z]),
                _transmission(table, faces[b, 1, x, y, z]),
                _transmission(table, faces[b, 2, x, y, zp]),
                _transmission(table, faces[b, 2, x, y, z]),
            ],
            dt=ti.f32,
        )
        own = _own(src, b, x, y, z)
        fin = _pull(src, b, x, y, z, yp, yn, zp, zn)
        for i in ti.static(range(1, 7)):
            fin[i] = t[i] * fin[i] + (1.0 - t[i]) * own[OPP[i]]
        if line[2]:  # the frozen upstream node contributed 0; add the Dirichlet population
            fin[1] += t[1] * _anti_bounce_back(own[2], rates[2], own.sum())
        if line[3]:
            fin[2] += t[2] * _anti_bounce_back(own[1], rates[2], own.sum())
        _collide_trt(fin, rates[0], rates[1])
        _store(dst, fin, b, x, y, z)


@ti.kernel
def stream_collide_faces(
    src: ti.template(),
    dst: ti.template(),
    mask: ti.template(),
    faces: ti.template(),
    table: ti.template(),
    omega_plus: ti.f32,
    omega_minus: ti.f32,
    c_in: ti.f32,
    c_out: ti.f32,
    per_node: ti.template(),
):
    """One fused step of the open-fraction (partial bounce-back) model: ``src`` → ``dst``.

    ``faces`` uint8 (B, 3, Nx, Ny, Nz) face codes, ``table`` float32 transmissions per code
    (see :func:`spinodoid.solvers.lbm.transmission_table`). Lateral faces are periodic; zero-flux
    lateral faces are faces with code 0. ``per_node`` as in :func:`stream_collide`.
    """
    nb, nq, nx, ny, nz = src.shape
    if ti.static(per_node):
        for b, x, y, z in ti.ndrange(nb, (1, nx - 1), ny, nz):
            line, c_fixed = _line(x, y, nx, ny, c_in, c_out)
            rates = ti.Vector([omega_plus, omega_minus, c_fixed], dt=ti.f32)
            zp, zn = _wrap(z, nz)
            _faces_node(src, dst, mask, faces, table, b, x, y, z, zp, zn, line, rates)
    else:
        for b, x, y in ti.ndrange(nb, (1, nx - 1), ny):
            line, c_fixed = _line(x, y, nx, ny, c_in, c_out)
            rates = ti.Vector([omega_plus, omega_minus, c_fixed], dt=ti.f32)
            _faces_node(src, dst, mask, faces, table, b, x, y, 0, nz - 1, 1 % nz, line, rates)
            for z in range(1, nz - 1):
                _faces_node(src, dst, mask, faces, table, b, x, y, z, z - 1, z + 1, line, rates)
            if nz > 1:
                _faces_node(src, dst, mask, faces, table, b, x, y, nz - 1, nz - 2, 0, line, rates)


@ti.kernel
def plane_fluxes(
    f: ti.template(), mask: ti.template(), out: ti.template(), c_in: ti.f32, c_out: ti.f32
):
    """Net population crossing each plane normal to x in one step (staircase model), float64.

    ``out[b, k, y]`` (k = 1..N − 1; entry 0 unused) is the flux through row y of the plane
    between layers k − 1 and k (each row written by one thread, so that
    :func:`sum_plane_rows` adds them in a fixed order: the same η bit for bit on any thread
    count), from the post-collision populations ``f``: f*₊ₓ(k − 1) − f*₋ₓ(k) on links
    between updated pore nodes, f_in − f*₋ₓ(1) and f*₊ₓ(N − 2) − f_in on links to the
    Dirichlet layers (f_in from the anti-bounce-back rule), 0 on links touching solid.
    """
    nb, nq, nx, ny, nz = f.shape
    for b, y in ti.ndrange(nb, ny):
        out[b, 0, y] = 0.0
    for b, k, y in ti.ndrange(nb, (1, nx), ny):
        s = ti.f64(0.0)
        for z in range(nz):
            if k == 1 or k == nx - 1:
                xn = 1 if k == 1 else nx - 2
                m = mask[b, xn, y, z]
                if (m & SOLID_BIT) == 0 and (m & DIRICHLET_BIT) != 0:
                    own = _own(f, b, xn, y, z)
                    if k == 1:
                        f_back = _anti_bounce_back(own[2], c_in, own.sum())
                        s += ti.cast(f_back, ti.f64) - ti.cast(own[2], ti.f64)
                    else:
                        f_back = _anti_bounce_back(own[1], c_out, own.sum())
                        s += ti.cast(own[1], ti.f64) - ti.cast(f_back, ti.f64)
            elif ((mask[b, k - 1, y, z] | mask[b, k, y, z]) & SOLID_BIT) == 0:
                s += ti.cast(f[b, 1, k - 1, y, z], ti.f64) - ti.cast(f[b, 2, k, y, z], ti.f64)
        out[b, k, y] = s


@ti.kernel
def plane_fluxes_faces(
    f: ti.template(),
    faces: ti.template(),
    table: ti.template(),
    out: ti.template(),
    c_in: ti.f32,
    c_out: ti.f32,
):
    """:func:`plane_fluxes` for the open-fraction model: each link's net flux times t.

    Interior plane: t (f*₊ₓ(k − 1) − f*₋ₓ(k)) (the bounced-back parts cancel); inlet plane:
    t (f_in − f*₋ₓ(1)) and outlet plane t (f*₊ₓ(N − 2) − f_in), with f_in the
    anti-bounce-back population.
    """
    nb, nq, nx, ny, nz = f.shape
    for b, y in ti.ndrange(nb, ny):
        out[b, 0, y] = 0.0
    for b, k, y in ti.ndrange(nb, (1, nx), ny):
        s = ti.f64(0.0)
        for z in range(nz):
            t = _transmission(table, faces[b, 0, k - 1, y, z])
            if t > 0.0:
                if k == 1:
                    own = _own(f, b, 1, y, z)
                    net = _anti_bounce_back(own[2], c_in, own.sum()) - own[2]
                    s += ti.cast(t * net, ti.f64)
                elif k == nx - 1:
                    own = _own(f, b, nx - 2, y, z)
                    net = own[1] - _anti_bounce_back(own[1], c_out, own.sum())
                    s += ti.cast(t * net, ti.f64)
                else:
                    net = ti.cast(f[b, 1, k - 1, y, z], ti.f64) - ti.cast(f[b, 2, k, y, z], ti.f64)
                    s += ti.cast(t, ti.f64) * net
        out[b, k, y] = s


@ti.kernel
def sum_plane_rows(rows: ti.template(), out: ti.template()):
    """``out[b, k] = Σ_y rows[b, k, y]`` in float64, y in increasing order (deterministic)."""
    nb, nx, ny = rows.shape
    for b, k in ti.ndrange(nb, nx):
        s = ti.f64(0.0)
        for y in range(ny):
            s += rows[b, k, y]
        out[b, k] = s


@ti.kernel
def concentration(f: ti.template(), out: ti.template()):
    """Concentration C = Σᵢ fᵢ per node into ``out[b, x, y, z]`` (float32; 0 in solid)."""
    nb, nq, nx, ny, nz = f.shape
    for b, x, y, z in ti.ndrange(nb, nx, ny, nz):
        s = ti.f32(0.0)
        for i in ti.static(range(7)):
            s += f[b, i, x, y, z]
        out[b, x, y, z] = s


@ti.func
def _lateral_index(i, n, periodic: ti.i32):
    """Index of the voxel centre i ∈ [−1, n] on a lateral axis: wrapped or mirrored."""
    r = i
    if periodic:
        r = (i + n) % n
    else:
        r = ti.min(ti.max(i, 0), n - 1)
    return r


@ti.func
def _corner(psi: ti.template(), b, i, j, k, periodic: ti.i32) -> ti.f32:  # psi: ndarray
    """Level set at the corner (i − ½, j − ½, k − ½): mean of its 8 voxel centres (mirrored
    across the inlet and outlet planes, wrapped or mirrored across the lateral faces)."""
    nb, nx, ny, nz = psi.shape
    s = ti.f32(0.0)
    for di, dj, dk in ti.static(ti.ndrange(2, 2, 2)):
        x = ti.min(ti.max(i - 1 + di, 0), nx - 1)
        y = _lateral_index(j - 1 + dj, ny, periodic)
        z = _lateral_index(k - 1 + dk, nz, periodic)
        s += psi[b, x, y, z]
    return s / 8.0


@ti.func
def _count_open(p0: ti.f32, p1: ti.f32, q0: ti.f32, q1: ti.f32, n: ti.template()) -> ti.i32:
    """Samples of an n × n midpoint grid where a bilinear patch is < 0 (corners p0 = v(0, 0),
    p1 = v(1, 0), q0 = v(0, 1), q1 = v(1, 1)); each row s is linear in t: closed form.

    A patch whose four corners share a sign is all open or all closed (a bilinear patch lies
    between its corner values): n² or 0 at once, the count the rows would give. Most faces
    of a structure are such faces; the rows are evaluated on the interface faces only."""
    count = 0
    low = ti.max(ti.max(p0, p1), ti.max(q0, q1)) < -_SIGN_MARGIN
    high = ti.min(ti.min(p0, p1), ti.min(q0, q1)) > _SIGN_MARGIN
    if low:
        count = n * n
    elif not high:
        count = _count_open_rows(p0, p1, q0, q1, n)
    return count


@ti.func
def _count_open_rows(p0: ti.f32, p1: ti.f32, q0: ti.f32, q1: ti.f32, n: ti.template()) -> ti.i32:
    """:func:`_count_open` row by row."""
    count = 0
    for r in ti.static(range(n)):
        s = (r + 0.5) / n
        a = (1 - s) * p0 + s * p1
        slope = (1 - s) * q0 + s * q1 - a
        row = 0
        if slope > 0:  # t_j = (j + ½)/n below the root: j < n·root − ½
            root = n * (-a / slope) - 0.5
            row = ti.cast(ti.min(ti.max(ti.ceil(root), 0.0), n), ti.i32)
        elif slope < 0:
            root = n * (-a / slope) - 0.5
            row = n - ti.cast(ti.min(ti.max(ti.floor(root) + 1.0, 0.0), n), ti.i32)
        elif a < 0:
            row = n
        count += row
    return count


@ti.func
def _node_codes(
    psi: ti.template(), shifts: ti.template(), b, x, y, z, periodic: ti.i32, samples: ti.template()
):
    """Open-fraction codes (x, y, z faces: int32 vector) of the three faces between node
    (x, y, z) and its +x, +y, +z neighbours, of the level set minus ``shifts[b, d]`` on the
    faces normal to d; 0 beyond the outlet layer and, unless ``periodic``, on the wrapping
    lateral faces."""
    nb, nx, ny, nz = psi.shape
    c011 = _corner(psi, b, x + 1, y + 1, z + 1, periodic)
    c010 = _corner(psi, b, x + 1, y + 1, z, periodic)
    c001 = _corner(psi, b, x + 1, y, z + 1, periodic)
    sx, sy, sz = shifts[b, 0], shifts[b, 1], shifts[b, 2]
    cx = _corner(psi, b, x + 1, y, z, periodic) - sx
    code_x = _count_open(cx, c010 - sx, c001 - sx, c011 - sx, samples)
    c_y = _corner(psi, b, x, y + 1, z, periodic) - sy
    c_yz = _corner(psi, b, x, y + 1, z + 1, periodic)
    code_y = _count_open(c_y, c010 - sy, c_yz - sy, c011 - sy, samples)
    c_z = _corner(psi, b, x, y, z + 1, periodic) - sz
    code_z = _count_open(c_z, c001 - sz, c_yz - sz, c011 - sz, samples)
    if x == nx - 1:
        code_x = 0
    if not periodic:
        if y == ny - 1:
            code_y = 0
        if z == nz - 1:
            code_z = 0
    return ti.Vector([code_x, code_y, code_z], dt=ti.i32)


@ti.kernel
def face_codes(
    psi: ti.types.ndarray(dtype=ti.f32, ndim=4),
    shifts: ti.types.ndarray(dtype=ti.f32, ndim=2),
    faces: ti.types.ndarray(dtype=ti.u8, ndim=5),
    periodic: ti.i32,
    samples: ti.template(),
):
    """Open-fraction code of every face from the level set ``psi`` (B, Nx, Ny, Nz) float32
    into ``faces`` (B, 3, Nx, Ny, Nz) uint8 (all ndarrays: compiled once, whatever the shape).

    ``faces[b, d, x, y, z]`` (uint8) = number of the samples² midpoint samples on the face
    between node (x, y, z) and its +d neighbour where the level set — trilinear between voxel
    centres, bilinear on the face from its 4 corners — minus ``shifts[b, d]`` (float32 (B, 3))
    is < 0. 0 beyond the outlet layer and, unless ``periodic``, on the wrapping lateral faces.
    """
    nb, nx, ny, nz = psi.shape
    for b, x, y, z in ti.ndrange(nb, nx, ny, nz):
        codes = _node_codes(psi, shifts, b, x, y, z, periodic, samples)
        for d in ti.static(range(3)):
            faces[b, d, x, y, z] = ti.cast(codes[d], ti.u8)


@ti.kernel
def open_sample_counts(
    psi: ti.types.ndarray(dtype=ti.f32, ndim=4),
    shifts: ti.types.ndarray(dtype=ti.f32, ndim=2),
    counts: ti.types.ndarray(dtype=ti.i64, ndim=3),
    periodic: ti.i32,
    samples: ti.template(),
):
    """Open samples per batch member, face direction and layer into ``counts`` (B, 3, Nx)
    int64: the sum of :func:`face_codes` over the faces of layer x (normal to x: between layers
    x and x + 1, 0 for the last layer; lateral: within layer x). One thread per (b, x), no
    atomics: the same counts on any thread count."""
    nb, nx, ny, nz = psi.shape
    for b, x in ti.ndrange(nb, nx):
        total = ti.Vector([0, 0, 0], dt=ti.i64)
        for y in range(ny):
            for z in range(nz):
                total += ti.cast(_node_codes(psi, shifts, b, x, y, z, periodic, samples), ti.i64)
        for d in ti.static(range(3)):
            counts[b, d, x] = total[d]


@ti.kernel
def face_mask(faces: ti.template(), mask: ti.template()):
    """Frozen-node mask of the open-fraction model into ``mask`` (B, Nx, Ny, Nz) uint8.

    ``SOLID_BIT`` on nodes none of whose six faces is open (their populations stay 0) and on
    the Dirichlet layers x = 0 and x = Nx − 1; 0 elsewhere.
    """
    nb, nd, nx, ny, nz = faces.shape
    for b, x, y, z in ti.ndrange(nb, nx, ny, nz):
        yp = y - 1 if y > 0 else ny - 1
        zp = z - 1 if z > 0 else nz - 1
        xp = ti.max(x - 1, 0)
        open_ = faces[b, 0, x, y, z] | faces[b, 1, x, y, z] | faces[b, 2, x, y, z]
        open_ |= faces[b, 0, xp, y, z] | faces[b, 1, x, yp, z] | faces[b, 2, x, y, zp]
        frozen = open_ == 0 or x == 0 or x == nx - 1
        mask[b, x, y, z] = ti.u8(SOLID_BIT) if frozen else ti.u8(0)
