"""spinodoid-design: inverse design of anisotropic spinodoid materials with prescribed diffusivity.

A reimplementation of Röding, Wählstrand Skärström & Lorén, *Sci Rep* 12, 17413 (2022):
Gaussian-random-field structures, a taichi lattice-Boltzmann diffusion solver, a 3D CNN
surrogate and ABC-PMC inverse design. See docs/architecture.md for the module map.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("spinodoid")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

AXES: tuple[str, str, str] = ("x", "y", "z")

__all__ = ["AXES", "__version__"]
