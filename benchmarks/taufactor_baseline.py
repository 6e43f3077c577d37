"""The TauFactor baseline of the benchmarks: its import and one η solve, with numpy only (no
taichi, no spinodoid), so a "whole TauFactor script" pays for nothing but TauFactor."""

from __future__ import annotations

import importlib
import sys
import time
import types

import numpy as np


def import_taufactor():
    """Import taufactor, registering stand-ins for its notebook-only imports if missing."""
    for _ in range(3):
        try:
            return importlib.import_module("taufactor")
        except ModuleNotFoundError as error:
            if error.name not in ("IPython", "IPython.display", "pyvista"):
                raise
            ipython = types.ModuleType("IPython")
            ipython.display = types.ModuleType("IPython.display")
            ipython.display.clear_output = lambda wait=False: None
            sys.modules.setdefault("IPython", ipython)
            sys.modules.setdefault("IPython.display", ipython.display)
            sys.modules.setdefault("pyvista", types.ModuleType("pyvista"))
    return importlib.import_module("taufactor")


def taufactor_eta(pore: np.ndarray, device: str) -> tuple[float, float]:
    """η of a pore mask (transport axis first) by TauFactor, and its wall time (s)."""
    taufactor = import_taufactor()
    t0 = time.perf_counter()
    solver = taufactor.Solver(pore.astype(np.float32), device=device)
    solver.solve(verbose=False, conv_crit=1e-4, iter_limit=100_000)
    tau = float(np.asarray(solver.tau).ravel()[0])
    return float(pore.mean()) / tau, time.perf_counter() - t0
