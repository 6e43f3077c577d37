"""SplitMix64, the one hash of the package (Steele, Lea & Flood, OOPSLA 2014).

It makes the counter-based white noise of the structures (docs/method.md, section 1) and the
structure seeds of a design run (docs/method.md, section 6). The finaliser is a bijection of
64-bit words; :func:`splitmix64` is one step of the generator: add the golden-ratio increment,
then finalise. numpy arrays (uint64), Python ints and torch int64 tensors (the same bits,
two's complement) give identical words.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

__all__ = [
    "GOLDEN",
    "MASK64",
    "as_signed",
    "file_digest",
    "mix64_inplace",
    "mix64_int",
    "mix64_torch",
    "splitmix64",
    "srl_torch",
]

GOLDEN = 0x9E3779B97F4A7C15  # the generator's increment, 2^64 / golden ratio
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB
MASK64 = (1 << 64) - 1


def mix64_inplace(z: np.ndarray) -> np.ndarray:
    """The SplitMix64 finaliser on a uint64 array, in place (wrapping arithmetic); returns ``z``."""
    shifted = z >> np.uint64(30)
    z ^= shifted
    z *= np.uint64(_MIX1)
    np.right_shift(z, np.uint64(27), out=shifted)
    z ^= shifted
    z *= np.uint64(_MIX2)
    np.right_shift(z, np.uint64(31), out=shifted)
    z ^= shifted
    return z


def splitmix64(x: np.ndarray) -> np.ndarray:
    """One SplitMix64 step ``mix(x + golden)`` of a uint64 array, as a new uint64 array."""
    with np.errstate(over="ignore"):
        return mix64_inplace(np.asarray(x, dtype=np.uint64) + np.uint64(GOLDEN))


def mix64_int(z: int) -> int:
    """The SplitMix64 finaliser of one 64-bit word given as a Python int in [0, 2^64)."""
    z = ((z ^ (z >> 30)) * _MIX1) & MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & MASK64
    return z ^ (z >> 31)


def as_signed(value: int) -> int:
    """A uint64 constant as the int64 with the same bits (torch has no full uint64 arithmetic)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def srl_torch(z, shift: int):
    """Logical right shift of an int64 tensor (torch's ``>>`` is arithmetic)."""
    return (z >> shift) & ((1 << (64 - shift)) - 1)


def mix64_torch(z):
    """The SplitMix64 finaliser on an int64 torch tensor (the bits of :func:`mix64_inplace`)."""
    z = (z ^ srl_torch(z, 30)) * as_signed(_MIX1)
    z = (z ^ srl_torch(z, 27)) * as_signed(_MIX2)
    return z ^ srl_torch(z, 31)


def file_digest(path: str | os.PathLike[str]) -> str:
    """Short SHA-256 (16 hex digits) of a file's bytes: identifies a checkpoint or an emulator
    in a resume signature, so that rows computed with another model are never reused."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]
