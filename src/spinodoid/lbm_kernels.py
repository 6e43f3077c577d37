"""Taichi kernels of the D3Q7 two-relaxation-time (TRT) diffusion lattice-Boltzmann solver.

Node algebra lives in ``@ti.func`` helpers; each phase of a step is one typed ``@ti.kernel``.
The Python-side driver, the fields and the convergence logic are in :mod:`spinodoid.lbm`.

Lattice (D3Q7, lattice units, Δx = Δt = 1): direction 0 is at rest, 1/2 = ±x, 3/4 = ±y,
5/6 = ±z. Weights w₀ = 1/4, wᵢ = 1/8 give c_s² = 1/4, so the odd (flux) relaxation time τ⁻
sets D = c_s² (τ⁻ − ½). The equilibrium is fᵢᵉᑫ = wᵢ C (pure diffusion, no advection).

Array layout (all fields): ``f[b, i, x, y, z]`` float32 with the transport axis first; batch
index ``b`` runs over structures (or over the three permuted copies of one structure). The
transport axis ``x`` has anti-bounce-back Dirichlet ends; ``y`` and ``z`` are periodic unless
the mask marks their faces as walls.

Mask bits (``mask[b, x, y, z]`` uint8): bit ``i − 1`` (i = 1..6) is set when the node upstream
along ``−cᵢ`` is solid, so the population arriving in direction ``i`` must come from a wall
rule; bit 6 is set when the node itself is solid (never updated, populations kept at 0).
The inlet/outlet rule is chosen by coordinate (x = 0 for +x, x = N − 1 for −x).

Sub-voxel walls (interpolated bounce-back, Bouzidi et al. 2001): for a pore node x whose link
along ``j = opp(i)`` hits solid, ``q ∈ (0, 1]`` is the wall distance from x as a fraction of the
link, stored quantised as ``qcode[b, i − 1, x, y, z]`` (uint8, q = (code + ½)/256).
"""

from __future__ import annotations

import taichi as ti

__all__ = [
    "CX",
    "CY",
    "CZ",
    "OPP",
    "W_REST",
    "W_MOVE",
    "SOLID_BIT",
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
def _bouzidi(f_to_wall: ti.f32, f_behind: ti.f32, f_away: ti.f32, q: ti.f32, has_behind: ti.i32):
    """Linear interpolated bounce-back (Bouzidi, Firdaouss & Lallemand 2001, eq. 5).

    ``f_to_wall`` = f*_j(x), ``f_behind`` = f*_j(x − c_j), ``f_away`` = f*_i(x) (post-collision,
    i = opp(j)); returns the population arriving at x in direction i for a wall at x + q c_j.
    """
    out = f_to_wall
    if q < 0.5:
        if has_behind:
            out = 2.0 * q * f_to_wall + (1.0 - 2.0 * q) * f_behind
    else:
        out = (0.5 / q) * f_to_wall + (1.0 - 0.5 / q) * f_away
    return out


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

    The planes sit half a voxel outside the first and last layers (x = −½ and x = N − ½), so
    C(x) = c_in + (c_out − c_in)(x + ½)/N. Solid nodes get 0.
    """
    nb, nq, nx, ny, nz = f.shape
    for b, x, y, z in ti.ndrange(nb, nx, ny, nz):
        c = c_in + (c_out - c_in) * (ti.cast(x, ti.f32) + 0.5) / ti.cast(nx, ti.f32)
        solid = (mask[b, x, y, z] & SOLID_BIT) != 0
        for i in ti.static(range(7)):
            w = W_REST if i == 0 else W_MOVE
            f[b, i, x, y, z] = 0.0 if solid else w * c


@ti.kernel
def stream_collide(
    src: ti.template(),
    dst: ti.template(),
    mask: ti.template(),
    qcode: ti.template(),
    omega_plus: ti.f32,
    omega_minus: ti.f32,
    c_in: ti.f32,
    c_out: ti.f32,
    subvoxel: ti.template(),
):
    """One fused pull-stream + TRT-collide step: reads post-collision ``src``, writes ``dst``.

    Walls: bounce-back (``subvoxel`` False) or interpolated bounce-back from ``qcode``
    (``subvoxel`` True); anti-bounce-back Dirichlet ends fᵢ = −f*_ī + 2 wᵢ C_wall.
    """
    nb, nq, nx, ny, nz = src.shape
    for b, x, y, z in ti.ndrange(nb, nx, ny, nz):
        m = ti.cast(mask[b, x, y, z], ti.i32)
        if m & SOLID_BIT == 0:
            yp = _wrap_prev(y, ny)
            yn = _wrap_next(y, ny)
            zp = _wrap_prev(z, nz)
            zn = _wrap_next(z, nz)
            fin = ti.Vector([0.0] * 7, dt=ti.f32)
            fin[0] = src[b, 0, x, y, z]
            for i in ti.static(range(1, 7)):
                j = ti.static(OPP[i])
                if (m >> (i - 1)) & 1 == 0:
                    xu = x - CX[i]
                    yu = y if ti.static(CY[i] == 0) else (yp if ti.static(CY[i] == 1) else yn)
                    zu = z if ti.static(CZ[i] == 0) else (zp if ti.static(CZ[i] == 1) else zn)
                    fin[i] = src[b, i, xu, yu, zu]
                elif ti.static(CX[i] == 1) and x == 0:
                    fin[i] = -src[b, j, x, y, z] + 2.0 * W_MOVE * c_in
                elif ti.static(CX[i] == -1) and x == nx - 1:
                    fin[i] = -src[b, j, x, y, z] + 2.0 * W_MOVE * c_out
                elif ti.static(subvoxel):
                    q = (ti.cast(qcode[b, i - 1, x, y, z], ti.f32) + 0.5) / 256.0
                    # node behind x, opposite to the wall: x + c_i
                    xb = x + CX[i]
                    yb = y if ti.static(CY[i] == 0) else (yn if ti.static(CY[i] == 1) else yp)
                    zb = z if ti.static(CZ[i] == 0) else (zn if ti.static(CZ[i] == 1) else zp)
                    has_behind = 0
                    f_behind = ti.f32(0.0)
                    if 0 <= xb < nx and (m >> (j - 1)) & 1 == 0:
                        has_behind = 1
                        f_behind = src[b, j, xb, yb, zb]
                    fin[i] = _bouzidi(src[b, j, x, y, z], f_behind, src[b, i, x, y, z], q, has_behind)
                else:
                    fin[i] = src[b, j, x, y, z]
            _collide_trt(fin, omega_plus, omega_minus)
            for i in ti.static(range(7)):
                dst[b, i, x, y, z] = fin[i]


@ti.kernel
def plane_fluxes(
    f: ti.template(), mask: ti.template(), out: ti.template(), c_in: ti.f32, c_out: ti.f32
):
    """Net population crossing each plane normal to x in one step, summed in float64.

    ``out[b, k]`` (k = 0..N) is the flux through the plane between layers k − 1 and k (k = 0:
    inlet plane, k = N: outlet plane), from the post-collision populations ``f``. Fluid–fluid
    links carry f*₊ₓ(k − 1) − f*₋ₓ(k); the Dirichlet planes carry 2 (w C_in − f*₋ₓ(0)) and
    2 (f*₊ₓ(N − 1) − w C_out); links touching solid carry nothing.
    """
    nb, nq, nx, ny, nz = f.shape
    for b, k in ti.ndrange(nb, nx + 1):
        out[b, k] = 0.0
    for b, k, y in ti.ndrange(nb, nx + 1, ny):
        s = ti.f64(0.0)
        for z in range(nz):
            if k == 0:
                if mask[b, 0, y, z] & SOLID_BIT == 0:
                    s += 2.0 * (W_MOVE * c_in - ti.cast(f[b, 2, 0, y, z], ti.f64))
            elif k == nx:
                if mask[b, nx - 1, y, z] & SOLID_BIT == 0:
                    s += 2.0 * (ti.cast(f[b, 1, nx - 1, y, z], ti.f64) - W_MOVE * c_out)
            elif (mask[b, k - 1, y, z] | mask[b, k, y, z]) & SOLID_BIT == 0:
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
