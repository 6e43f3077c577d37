"""Benchmark: how far the CNN's bf16 and fp16 autocast move ρ against fp32, and their speed.

Decides ``design.precision`` (config/README.md). Candidates are the particles of a finished
design run's generations (``results/design/{target}/generations/gen_*.csv``): the θ that ABC-PMC
actually scores near the target. Each candidate gets a fresh structure (seed from its index),
its block counts go through the trained CNN once per precision, and the script prints, per
precision against fp32:

- the largest |Δη| over candidates and axes;
- the ρ shift bound 100 · mean_i |Δη_i| / η_i (percentage points; |Δρ| never exceeds it, whatever
  the target), median, 99th percentile and maximum: compare with the last tolerance, 1 %;
- at each tolerance 10^2 … 10^0 of the paper, how many candidates pass with fp32 and how many
  change side (accepted-set difference) for the run's own target;
- seconds per evaluation (three axes) on the device.

Usage: python benchmarks/precision.py --model results/model/best.pt
       --generations results/design/case1/generations --target 0.40 0.50 0.60
       [--candidates 48] [--device cpu|cuda] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from spinodoid.abc import discrepancy, evaluation_seeds, read_generations
from spinodoid.structures.connectivity import is_bicontinuous
from spinodoid.structures.grf import generate_structure
from spinodoid.surrogates.cnn import PRECISIONS, load_model, predict_eta_all_axes, resolve_device
from spinodoid.surrogates.cnn_input import block_counts

PAPER_TOLERANCES = [10.0**x for x in (2.0, 1.75, 1.5, 1.25, 1.0, 0.75, 0.5, 0.25, 0.0)]


def candidates(generations: Path, count: int) -> np.ndarray:
    """Up to ``count`` particles (θ, (M, 4)), the latest generations first."""
    gens = read_generations(generations)
    if not gens:
        raise SystemExit(f"no generation files in {generations}")
    theta = np.concatenate([gen.theta for gen in reversed(gens)])
    return theta[:count]


def structure_counts(theta: np.ndarray, size: int) -> torch.Tensor:
    """Block counts of the accepted structures of ``theta`` (seeds from the candidate index)."""
    seeds = evaluation_seeds(1, np.arange(len(theta)))
    structures = [generate_structure(t, int(s), size) for t, s in zip(theta, seeds, strict=True)]
    kept = np.stack([s for s in structures if is_bicontinuous(s)])
    return torch.as_tensor(block_counts(kept))


def compare(eta: np.ndarray, reference: np.ndarray, target: np.ndarray) -> dict[str, object]:
    """Shift of η and ρ of one precision against fp32 (the measures in the module docstring)."""
    bound = 100.0 * np.mean(np.abs(eta - reference) / reference, axis=1)
    rho, rho_ref = discrepancy(eta, target), discrepancy(reference, target)
    flips = {
        f"{tol:.4g}": {
            "pass_fp32": int(np.sum(rho_ref <= tol)),
            "changed": int(np.sum((rho <= tol) != (rho_ref <= tol))),
        }
        for tol in PAPER_TOLERANCES
    }
    return {
        "max_abs_eta_shift": float(np.max(np.abs(eta - reference))),
        "rho_shift_bound_median": float(np.median(bound)),
        "rho_shift_bound_p99": float(np.quantile(bound, 0.99)),
        "rho_shift_bound_max": float(np.max(bound)),
        "max_abs_rho_shift": float(np.max(np.abs(rho - rho_ref))),
        "accepted_set": flips,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--generations", type=Path, required=True)
    parser.add_argument("--target", type=float, nargs=3, required=True)
    parser.add_argument("--candidates", type=int, default=48)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    device = resolve_device(args.device)
    model, meta = load_model(args.model, device)
    counts = structure_counts(candidates(args.generations, args.candidates), int(meta["size"]))
    target = np.asarray(args.target, dtype=np.float64)
    eta, seconds = {}, {}
    for precision in PRECISIONS:
        predict_eta_all_axes(model, counts[:1], device, precision=precision)  # warm-up
        start = time.perf_counter()
        out = predict_eta_all_axes(model, counts, device, 48, precision=precision)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds[precision] = (time.perf_counter() - start) / len(counts)
        eta[precision] = out.double().cpu().numpy()
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    result = {
        "device": name,
        "threads": torch.get_num_threads(),
        "candidates": len(counts),
        "seconds_per_evaluation": seconds,
        **{p: compare(eta[p], eta["fp32"], target) for p in PRECISIONS if p != "fp32"},
    }
    print(json.dumps(result, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
