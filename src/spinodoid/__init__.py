"""spinodoid-design: inverse design of anisotropic spinodoid materials with prescribed diffusivity.

A reimplementation of Röding, Wählstrand Skärström & Lorén, *Sci Rep* 12, 17413 (2022):
Gaussian-random-field structures, a taichi lattice-Boltzmann diffusion solver, a 3D CNN
surrogate and ABC-PMC inverse design. See docs/architecture.md for the module map.
"""

import functools

AXES: tuple[str, str, str] = ("x", "y", "z")

__all__ = ["AXES", "__version__"]


@functools.cache
def _installed_version() -> str:
    """The installed distribution's version (importlib.metadata: 0.03–0.07 s, so looked up
    only when asked for)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("spinodoid")
    except PackageNotFoundError:  # running from a source tree that was not installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> str:
    """``spinodoid.__version__``, resolved on first access (PEP 562)."""
    if name == "__version__":
        return _installed_version()
    raise AttributeError(f"module 'spinodoid' has no attribute {name!r}")
