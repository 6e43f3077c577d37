"""The taichi back-end set-up shared by every taichi solver (LBM, sub-voxel faces, multigrid).

Taichi runs one backend per process. :func:`init_backend` starts it once for 'cpu' or 'cuda'
(float32 default); asking for the other arch resets taichi, which frees every field, so the
modules that cache taichi objects register a callback with :func:`on_reset` and drop them.

Importing this module also makes taichi's translation of kernels cheaper (see
:func:`_short_source_positions`): the first solve of a process translates every kernel it uses
from Python to taichi IR, and taichi 1.7 spends about half of that formatting a caret-underlined
excerpt of the source for each of the thousands of syntax nodes, in case one fails.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import taichi as ti
from taichi.lang.ast import ast_transformer_utils

from spinodoid.solvers.errors import CUDAUnavailableError

__all__ = ["CUDAUnavailableError", "current_arch", "ensure_backend", "init_backend", "on_reset"]

log = logging.getLogger(__name__)

_ARCH: str | None = None
_RESET_CALLBACKS: list[Callable[[], None]] = []


def _short_position(context: ast_transformer_utils.ASTTransformerContext, node) -> str:
    """Where ``node`` of a kernel's source is: file, line, function and the source line."""
    line = node.lineno + context.lineno_offset
    name = context.func.func.__name__
    return f'File "{context.file}", line {line}, in {name}:\n{context.src[node.lineno - 1]}\n'


def _short_source_positions() -> None:
    """Replace taichi's per-node source position (a wrapped excerpt with a caret line under the
    node's columns) by :func:`_short_position`.

    Taichi formats the position of every statement and expression while it translates a
    kernel, for the error message it would print if that node failed. The caret excerpt cost
    0.13 s of the 0.28 s of translating the multigrid kernels at the first solve of a process
    (docs/performance.md, "cold"); an error still names the file, line, function and source
    line. Compiled kernels and their results are unchanged.
    """
    ast_transformer_utils.ASTTransformerContext.get_pos_info = _short_position


_short_source_positions()


def on_reset(callback: Callable[[], None]) -> None:
    """Call ``callback()`` whenever :func:`init_backend` resets taichi (its fields are gone)."""
    _RESET_CALLBACKS.append(callback)


def init_backend(arch: str = "cpu", cpu_threads: int | None = None) -> None:
    """Initialise taichi once per process for ``arch`` ('cpu' or 'cuda'); float32 default.

    ``cpu_threads``: threads of taichi's CPU backend (default: every core of the machine); a
    Snakemake job passes its ``threads`` so that it uses the CPUs it was given. Calling again
    with the same arch is a no-op; another arch resets taichi (all fields are lost, and the
    :func:`on_reset` callbacks run). Raises :class:`CUDAUnavailableError` if CUDA is asked for
    and not available, rather than falling back to the CPU.
    """
    global _ARCH
    if arch not in ("cpu", "cuda"):
        raise ValueError(f"arch must be 'cpu' or 'cuda', got {arch!r}")
    if cpu_threads is not None and cpu_threads < 1:
        raise ValueError(f"cpu_threads must be at least 1, got {cpu_threads}")
    if _ARCH == arch:
        return
    if _ARCH is not None:
        ti.reset()
        for callback in _RESET_CALLBACKS:
            callback()
    threads = {} if cpu_threads is None else {"cpu_max_num_threads": int(cpu_threads)}
    ti.init(
        arch=ti.cuda if arch == "cuda" else ti.cpu, default_fp=ti.f32, log_level=ti.WARN, **threads
    )
    if arch == "cuda" and ti.lang.impl.current_cfg().arch != ti.cuda:
        ti.reset()
        _ARCH = None
        raise CUDAUnavailableError("arch='cuda' requested but taichi found no usable CUDA device")
    _ARCH = arch
    log.info(
        "taichi backend initialised: %s, %d CPU threads",
        arch,
        ti.lang.impl.current_cfg().cpu_max_num_threads,
    )


def ensure_backend() -> None:
    """Start taichi on the CPU unless a backend is already running."""
    if _ARCH is None:
        init_backend("cpu")


def current_arch() -> str | None:
    """The arch taichi was initialised with by :func:`init_backend`, or None."""
    return _ARCH
