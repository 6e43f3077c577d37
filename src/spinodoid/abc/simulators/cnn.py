"""The paper's simulator: a fresh structure per θ (torch FFT) and η by the CNN (docs/method.md §5).

A simulator of the protocol in :mod:`spinodoid.abc`, with pruning: one CNN pass per axis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np

from spinodoid.abc.sampler import Simulator
from spinodoid.abc.seeds import evaluation_seeds

__all__ = ["cnn_simulator"]

logger = logging.getLogger(__name__)


def _default_chunk(size: int, device_type: str) -> int:
    """Structures generated per torch call: about 1 GiB (CPU) or 8 GiB (CUDA) of work arrays."""
    budget = (8 if device_type == "cuda" else 1) * 2**30
    return int(max(1, min(256, budget // (40 * size**3))))


def cnn_simulator(
    model_path: str | Path,
    device: str = "auto",
    base_seed: int = 0,
    chunk_size: int | None = None,
    precision: str = "fp32",
) -> Simulator:
    """The paper's simulator: generate a structure per θ (torch FFT) and predict η with the CNN.

    Candidate ``k`` of the run gets the structure seed ``evaluation_seeds(base_seed, k)``, so a
    design run is reproducible from ``base_seed``. Structures are generated ``chunk_size`` at a
    time, with torch FFTs on CUDA and with scipy's (faster there) on the CPU, the two giving the
    same structures (:mod:`spinodoid.structures.grf`); the 2×2×2 block counts of the whole call go
    through the CNN for the three axes in forward passes of ``3 · chunk_size`` samples
    (:func:`spinodoid.surrogates.cnn.predict_eta_all_axes`).
    Given ``prune`` (the protocol in :mod:`spinodoid.abc`), it predicts x, then y and z only
    for the candidates ``prune`` keeps (:func:`spinodoid.surrogates.cnn.predict_eta_pruned`).

    Every structure goes through the dataset's acceptance rule first
    (:func:`spinodoid.structures.connectivity.is_bicontinuous`): the CNN only ever scores
    structures like
    those it was trained on. A rejected candidate gets a NaN row (ρ = ∞, never accepted, counted
    as one evaluation and as ``rejected``) and costs no CNN pass.

    Args:
        model_path: checkpoint written by :func:`spinodoid.surrogates.cnn.save_checkpoint`; its
        meta gives
            the structure size N.
        device: ``"auto"``, ``"cpu"`` or ``"cuda"``.
        base_seed: the run's seed (e.g. :func:`design_seed`).
        chunk_size: structures per torch call (default: sized to the memory of ``device``).
        precision: the CNN's precision, ``fp32``, ``bf16`` or ``fp16`` (autocast).

    Returns:
        ``simulate(theta (B, 4) float64, evaluation_index (B,) int64, prune=None) -> eta (B, 3)
        float64``.
    """
    import torch

    from spinodoid.structures.connectivity import is_bicontinuous
    from spinodoid.structures.grf import generate_structure, generate_structures_torch
    from spinodoid.surrogates.cnn import (
        load_model,
        predict_eta_all_axes,
        predict_eta_pruned,
        resolve_device,
    )
    from spinodoid.surrogates.cnn_input import block_counts

    dev = resolve_device(device)
    model, meta = load_model(model_path, dev)
    size = int(meta["size"])
    chunk = chunk_size or _default_chunk(size, dev.type)
    logger.info("CNN simulator: N=%d on %s, %d structures per chunk", size, dev, chunk)

    def structures(theta: np.ndarray, seeds: np.ndarray) -> torch.Tensor:
        if dev.type == "cpu":  # scipy's FFT beats torch's on the CPU; same structures
            pairs = zip(theta, seeds, strict=True)
            return torch.from_numpy(
                np.stack([generate_structure(t, int(s), size) for t, s in pairs])
            )
        return generate_structures_torch(theta, seeds, size, dev)

    def accepted(voxels: torch.Tensor) -> np.ndarray:
        return np.array([is_bicontinuous(s) for s in voxels.cpu().numpy()], dtype=bool)

    def predict(counts: torch.Tensor, prune: Callable | None) -> torch.Tensor:
        if prune is None:
            return predict_eta_all_axes(
                model, counts, dev, batch_size=3 * chunk, precision=precision
            )

        def keep(eta: torch.Tensor) -> np.ndarray:
            return np.asarray(prune(eta.numpy()), dtype=bool)

        return predict_eta_pruned(
            model, counts, keep, dev, batch_size=3 * chunk, precision=precision
        )

    def simulate(
        theta: np.ndarray,
        evaluation_index: np.ndarray,
        prune: Callable[[np.ndarray], np.ndarray] | None = None,
    ) -> np.ndarray:
        if len(theta) == 0:
            return np.empty((0, 3))
        seeds = evaluation_seeds(base_seed, evaluation_index)
        counts, keep = [], []
        with torch.inference_mode():
            # all block counts first (1/8 byte per voxel), so that the passes pruning leaves
            # for y and z still see the survivors of the whole batch together
            for start in range(0, len(theta), chunk):
                voxels = structures(theta[start : start + chunk], seeds[start : start + chunk])
                ok = accepted(voxels)
                keep.append(ok)
                counts.append(block_counts(voxels[torch.from_numpy(ok).to(voxels.device)]))
            rows = np.flatnonzero(np.concatenate(keep))
            eta = np.full((len(theta), 3), np.nan)
            if len(rows):
                eta[rows] = predict(torch.cat(counts), prune).double().cpu().numpy()
            return eta

    return simulate
