"""The solvers' errors, importable by the dispatcher and every solver without an import circle.

:class:`DiffusivityError` and its subclasses say why η cannot be reported for a structure and
axis; :class:`CUDAUnavailableError` that the CUDA backend was asked for and is not there (the
back-end set-up raises it rather than fall back to the CPU).
"""

from __future__ import annotations

__all__ = [
    "CUDAUnavailableError",
    "DiffusivityError",
    "DisconnectedStructureError",
    "NotConvergedError",
]


class DiffusivityError(RuntimeError):
    """η cannot be reported for this structure and axis."""


class DisconnectedStructureError(DiffusivityError):
    """The pore space is empty or does not connect the inlet layer to the outlet layer."""


class NotConvergedError(DiffusivityError):
    """The solver stopped before both convergence criteria were met."""


class CUDAUnavailableError(RuntimeError):
    """Raised when ``arch='cuda'`` is requested but taichi cannot use a CUDA device."""
