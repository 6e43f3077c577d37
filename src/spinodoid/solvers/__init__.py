"""Effective-diffusivity solvers: η_i = D_eff,i / D of a structure (docs/method.md §3, docs/lbm.md).

============================  =====================================================================
module                        concept
============================  =====================================================================
``errors``                    the solvers' error classes (imported by every solver and the
                              dispatcher; imports nothing of the package)
``backend``                   taichi back-end set-up: ``init_backend(arch)``, ``current_arch``
``subvoxel``                  the sub-voxel interface: face open fractions, porosity-matched shifts
``lbm_kernels``, ``lbm``      the D3Q7 TRT lattice-Boltzmann solver (taichi)
``fv``                        the finite-volume reference solver (scipy/pyamg)
``multigrid_kernels``,        matrix-free multigrid-preconditioned CG of the same finite volumes
``multigrid_levels``,         (taichi)
``multigrid``
``diffusivity``               the dispatcher: ``effective_diffusivity``, refinement, extrapolation
``plan``                      the solver's settings (config ``simulate``) and memory plan
============================  =====================================================================

Imports go one way: ``errors`` ← ``backend`` ← ``subvoxel`` ← the solvers ← ``diffusivity`` ←
``plan``. This file imports nothing, so ``import spinodoid.solvers.errors`` stays light.
"""
