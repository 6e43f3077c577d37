"""Taichi kernels of the D3Q7 two-relaxation-time (TRT) diffusion lattice-Boltzmann solver.

Node algebra lives in ``@ti.func`` helpers; each phase of a step is one typed ``@ti.kernel``.
The Python-side driver, the fields and the convergence logic are in :mod:`spinodoid.lbm`.

Lattice (D3Q7, lattice units, Δx = Δt = 1): direction 0 is at rest, 1/2 = ±x, 3/4 = ±y,
5/6 = ±z. Weights w₀ = 1/4, wᵢ = 1/8 give c_s² = 1/4, so the odd (flux) relaxation time τ⁻
sets D = c_s² (τ⁻ − ½). The equilibrium is fᵢᵉᑫ = wᵢ C (pure diffusion, no advection).

Array layout (all fields): ``f[b, i, x, y, z]`` float32 with the transport axis first; batch
index ``b`` runs over structures (or over the three permuted copies of one structure). Along
``x`` the first and last layers are Dirichlet layers (c_in, c_out at their pore voxel centres,
N − 1 apart as in eq. 6); ``y`` and ``z`` are periodic unless the mask marks their faces.

Mask bits (``mask[b, x, y, z]`` uint8): bit ``i − 1`` (i = 1..6) is set on a pore node when the
node upstream along ``−cᵢ`` is not an ordinary pore node (solid, a Dirichlet layer, or beyond a
zero-flux lateral face), so the arriving population comes from a boundary rule. ``SOLID_BIT``
marks nodes that are never updated (solid, and both Dirichlet layers); ``DIRICHLET_BIT`` marks
layer-1 / layer-(N − 2) pore nodes whose x-neighbour in the Dirichlet layer is pore.
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
    "plane_fluxes",
    "concentration",
]

CX = (0, 1, -1, 0, 0, 0, 0)
CY = (0, 0, 0, 1, -1, 0, 0)
CZ = (0, 0, 0, 0, 0, 1, -1)
OPP = (0, 2, 1, 4, 3, 6, 5)
W_REST = 0.25
W_MOVE = 0.125
SOLID_BIT = 64
DIRICHLET_BIT = 128


@ti.func
def _wrap_prev(i: ti.i32, n: ti.i32) -> ti.i32:
    """Periodic index i − 1 on [0, n)."""
    r = i - 1
    if r < 0:
        r = n - 1
    return r


@ti.func
def _wrap_next(i: ti.i32, n: ti.i32) -> ti.i32:
    """Periodic index i + 1 on [0, n)."""
    r = i + 1
    if r == n:
        r = 0
    return r


@ti.func
def _collide_trt(fin: ti.template(), omega_plus: ti.f32, omega_minus: ti.f32):
    """TRT collision of one node in place; returns the concentration C = Σ fᵢ (moment 0).

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
    return c


@ti.kernel
def init_linear_profile(f: ti.template(), mask: ti.template(), c_in: ti.f32, c_out: ti.f32):
    """Set every pore node to equilibrium at the linear profile between the Dirichlet planes.

    The Dirichlet values sit on the centres of layers 0 and N − 1, so C(x) = c_in +
    (c_out − c_in) x/(N − 1). Solid and Dirichlet-layer nodes (``SOLID_BIT``) get 0.
    """
    nb, nq, nx, ny, nz = f.shape
    for b, x, y, z in ti.ndrange(nb, nx, ny, nz):
        c = c_in + (c_out - c_in) * ti.cast(x, ti.f32) / ti.cast(nx - 1, ti.f32)
        solid = (mask[b, x, y, z] & SOLID_BIT) != 0
        for i in ti.static(range(7)):
            w = W_REST if i == 0 else W_MOVE
            f[b, i, x, y, z] = 0.0 if solid else w * c


@ti.func
def _upstream(c: ti.template(), i: ti.i32, prev: ti.i32, nxt: ti.i32) -> ti.i32:
    """Index of the node at i − c along a periodic axis, given its neighbours prev and nxt."""
    r = i
    if ti.static(c == 1):
        r = prev
    elif ti.static(c == -1):
        r = nxt
    return r


@ti.func
def _anti_bounce_back(f_out: ti.f32, c_fixed: ti.f32, c_node: ti.f32) -> ti.f32:
    """Population returned by a Dirichlet node one link upstream, held at ``c_fixed``.

    Anti-bounce-back fᵢ = −f*_ī + 2 wᵢ C_w fixes C_w half-way along the link; with
    C_w = (c_fixed + C_node)/2, the linear interpolant between the nodes, the steady state has
    C = c_fixed exactly at the Dirichlet node's centre (as in the finite-volume reference).
    """
    return -f_out + W_MOVE * (c_fixed + c_node)


@ti.kernel
def stream_collide(
    src: ti.template(),
    dst: ti.template(),
    mask: ti.template(),
    omega_plus: ti.f32,
    omega_minus: ti.f32,
    c_in: ti.f32,
    c_out: ti.f32,
):
    """One fused pull-stream + TRT-collide step: reads post-collision ``src``, writes ``dst``.

    Walls: half-way bounce-back fᵢ(x) = f*_ī(x). Dirichlet layers x = 0 and x = N − 1 are
    not updated (marked solid); links from layer 1 (N − 2) to their pore nodes use
    :func:`_anti_bounce_back` with c_in (c_out).
    """
    nb, nq, nx, ny, nz = src.shape
    for b, x, y in ti.ndrange(nb, nx, ny):
        yp = _wrap_prev(y, ny)
        yn = _wrap_next(y, ny)
        for z in range(nz):
            m = ti.cast(mask[b, x, y, z], ti.i32)
            zp = _wrap_prev(z, nz)
            zn = _wrap_next(z, nz)
            fin = ti.Vector([0.0] * 7, dt=ti.f32)
            if m == 0:
                # bulk node: plain pull from the six neighbours
                fin[0] = src[b, 0, x, y, z]
                fin[1] = src[b, 1, x - 1, y, z]
                fin[2] = src[b, 2, x + 1, y, z]
                fin[3] = src[b, 3, x, yp, z]
                fin[4] = src[b, 4, x, yn, z]
                fin[5] = src[b, 5, x, y, zp]
                fin[6] = src[b, 6, x, y, zn]
                _collide_trt(fin, omega_plus, omega_minus)
                for i in ti.static(range(7)):
                    dst[b, i, x, y, z] = fin[i]
            elif (m & SOLID_BIT) == 0:
                c_node = ti.f32(0.0)
                for i in ti.static(range(7)):
                    c_node += src[b, i, x, y, z]
                fin[0] = src[b, 0, x, y, z]
                for i in ti.static(range(1, 7)):
                    j = ti.static(OPP[i])
                    if ((m >> (i - 1)) & 1) == 0:
                        xu = x - CX[i]
                        yu = _upstream(CY[i], y, yp, yn)
                        zu = _upstream(CZ[i], z, zp, zn)
                        fin[i] = src[b, i, xu, yu, zu]
                    else:
                        fin[i] = src[b, j, x, y, z]
                        if ti.static(CX[i] == 1):
                            if x == 1 and (m & DIRICHLET_BIT) != 0:
                                fin[i] = _anti_bounce_back(src[b, j, x, y, z], c_in, c_node)
                        elif ti.static(CX[i] == -1):
                            if x == nx - 2 and (m & DIRICHLET_BIT) != 0:
                                fin[i] = _anti_bounce_back(src[b, j, x, y, z], c_out, c_node)
                _collide_trt(fin, omega_plus, omega_minus)
                for i in ti.static(range(7)):
                    dst[b, i, x, y, z] = fin[i]


@ti.kernel
def plane_fluxes(
    f: ti.template(), mask: ti.template(), out: ti.template(), c_in: ti.f32, c_out: ti.f32
):
    """Net population crossing each plane normal to x in one step, summed in float64.

    ``out[b, k]`` (k = 1..N − 1; entry 0 unused) is the flux through the plane between layers
    k − 1 and k, from the post-collision populations ``f``: f*₊ₓ(k − 1) − f*₋ₓ(k) on links
    between updated pore nodes, f_in − f*₋ₓ(1) and f*₊ₓ(N − 2) − f_in on links to the
    Dirichlet layers (f_in from the anti-bounce-back rule), 0 on links touching solid.
    """
    nb, nq, nx, ny, nz = f.shape
    for b, k in ti.ndrange(nb, nx):
        out[b, k] = 0.0
    for b, k, y in ti.ndrange(nb, (1, nx), ny):
        s = ti.f64(0.0)
        for z in range(nz):
            if k == 1 or k == nx - 1:
                xn = 1 if k == 1 else nx - 2
                m = mask[b, xn, y, z]
                if (m & SOLID_BIT) == 0 and (m & DIRICHLET_BIT) != 0:
                    c_node = ti.f32(0.0)
                    for i in ti.static(range(7)):
                        c_node += f[b, i, xn, y, z]
                    if k == 1:
                        f_back = _anti_bounce_back(f[b, 2, xn, y, z], c_in, c_node)
                        s += ti.cast(f_back, ti.f64) - ti.cast(f[b, 2, xn, y, z], ti.f64)
                    else:
                        f_back = _anti_bounce_back(f[b, 1, xn, y, z], c_out, c_node)
                        s += ti.cast(f[b, 1, xn, y, z], ti.f64) - ti.cast(f_back, ti.f64)
            elif ((mask[b, k - 1, y, z] | mask[b, k, y, z]) & SOLID_BIT) == 0:
                s += ti.cast(f[b, 1, k - 1, y, z], ti.f64) - ti.cast(f[b, 2, k, y, z], ti.f64)
        out[b, k] += s


@ti.kernel
def concentration(f: ti.template(), out: ti.template()):
    """Concentration C = Σᵢ fᵢ per node into ``out[b, x, y, z]`` (float32; 0 in solid)."""
    nb, nq, nx, ny, nz = f.shape
    for b, x, y, z in ti.ndrange(nb, nx, ny, nz):
        s = ti.f32(0.0)
        for i in ti.static(range(7)):
            s += f[b, i, x, y, z]
        out[b, x, y, z] = s
