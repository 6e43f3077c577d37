"""Benchmark: ABC-PMC evaluations per second (structure generation + CNN) and projected wall times.

One evaluation = one structure generated at θ with a fresh seed, its 2×2×2 block counts, and the
CNN's η along x, y and z (three forward passes). Measured through the library's own simulator
(:func:`spinodoid.abc.cnn_simulator`) with a random-weight paper network (SpinodoidCNN(N/2);
weights do not change the cost). The baseline, measured in the same run, is one candidate at a
time in float32 (the paper's loop: generate, predict, compare). Printed: seconds of each stage,
evaluations per second per batch size and its ratio to the baseline, and the projected wall time
of the paper's two cases (~130 000 and ~1.5 M evaluations; paper: 6.2 h and 69 h on 128 threads).

Pruned evaluations (spinodoid.abc, "Pruned evaluations"): the simulator predicts y only for the
candidates still able to pass after x, and z only for those still able after y. How many survive
depends on the run; ``--survive X Y`` sets the fractions of candidates that go on to y and to z
(default: a whole measured design run, docs/performance.md), and the "pruned" rates are measured
with exactly those fractions.

``--joint`` also measures the joint CNN of η_x, η_y, η_z (``train.joint_axes``: one pass per
evaluation instead of three, or 1 + the survival fractions when pruned) through the same
simulator, random weights of the same network with three outputs, in the same run.

On CUDA, ``--compile`` adds a variant with the network compiled by ``torch.compile`` (minutes of
compilation, so it is off by default).

The emulator of η(θ) (:mod:`spinodoid.surrogates.emulator`,
:mod:`spinodoid.abc.simulators.emulator`) is
measured
beside the CNN: its evaluations per second through the simulator the sampler calls (sample mode,
seeds included; per batch of ``--emulator-batch``; pruned with the same survival fractions), and
one whole design per target of ``--targets`` with ``--particles`` (paper 512) and the paper's
nine tolerances 10^2 … 10^0 %, in sample and in mean mode, timed. ``--emulator FILE`` uses a
fitted emulator (e.g. ``results/emulator/emulator.npz``); without it, one is fitted on
``--emulator-structures`` synthetic structures (the cost of a prediction depends only on that
number; the design figures then describe the synthetic η(θ)). ``--skip-cnn`` measures the
emulator alone, ``--skip-emulator`` the CNN alone (the GPU script: the emulator runs on the CPU).

Usage: python benchmarks/abc.py [--size 192] [--device cpu|cuda] [--batches 1 8]
       [--evaluations 16] [--survive 0.30 0.16] [--compile] [--json OUT.json]
       [--emulator FILE | --emulator-structures 192] [--emulator-batch 4096]
       [--targets 0.40 0.50 0.60 0.25 0.375 0.50] [--particles 512] [--skip-cnn | --skip-emulator]
       [--threads 2] [--joint]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from spinodoid.abc import abc_pmc, cnn_simulator, emulator_simulator
from spinodoid.structures.grf import generate_structure, generate_structures_torch
from spinodoid.structures.prior import in_support, prior_density, sample_prior
from spinodoid.surrogates import emulator as emu
from spinodoid.surrogates.cnn import (
    SpinodoidCNN,
    predict_eta_all_axes,
    resolve_device,
    save_checkpoint,
)
from spinodoid.surrogates.cnn_input import block_counts, to_model_input

# Fractions of candidates that went on to the y and z passes over a whole pruned design run
# (demo CNN, tolerances 10^2 -> 10^0, 6 848 evaluations; docs/performance.md).
DEFAULT_SURVIVAL = (0.30, 0.16)
PAPER_CASES = {"case 1": (130_000, 6.2), "case 2": (1_500_000, 69.0)}  # evaluations, hours
PAPER_TARGETS = (0.40, 0.50, 0.60, 0.25, 0.375, 0.50)  # the paper's cases 1 and 2, flattened
PAPER_LOG10_TOLERANCES = (2.0, 1.75, 1.5, 1.25, 1.0, 0.75, 0.5, 0.25, 0.0)


def cnn_flop_per_evaluation(size: int) -> float:
    """Floating-point operations of the CNN for one evaluation (three axes) at structure size N,
    counted by torch's FlopCounterMode on a meta-device copy of the network (no memory, no
    compute): 189 GFLOP at N = 192, set by the paper's architecture."""
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        network = SpinodoidCNN(input_size=size // 2)
        sample = torch.empty(3, 1, size // 2, size // 2, size // 2)
    with FlopCounterMode(display=False) as counter:
        network(sample)
    return float(counter.get_total_flops())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(function, device: torch.device, repeats: int) -> float:
    """Median seconds of ``function()`` after one warm-up call."""
    function()
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _oriented_input(counts: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The three orientations of a batch as one channels-last model input (3B, 1, n, n, n)."""
    oriented = torch.cat([torch.movedim(counts, a + 1, 1) for a in range(3)]).to(device)
    return to_model_input(oriented).contiguous(memory_format=torch.channels_last_3d)


def _cuda_cnn_variants(model: SpinodoidCNN, counts, device, compile_: bool) -> dict:
    """Seconds per structure of the CNN forward passes on CUDA: channels-last with cuDNN
    autotuning in bf16 and fp16, and (``compile_``) both again with the network compiled by
    torch.compile."""
    batch = len(counts)
    torch.backends.cudnn.benchmark = True
    tuned = copy.deepcopy(model).to(memory_format=torch.channels_last_3d)
    networks = {"": tuned}
    if compile_:
        networks[" compiled"] = torch.compile(tuned)
    out = {}
    for suffix, network in networks.items():
        for name, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):

            def forward(network=network, dtype=dtype):
                with torch.no_grad(), torch.autocast("cuda", dtype=dtype):
                    return torch.sigmoid(network(_oriented_input(counts, device)).float())

            try:
                out[f"cnn_{name}_cl_tuned{suffix}"] = _timed(forward, device, 3) / batch
            except Exception as error:  # a compiler failure must not cost the other figures
                if not suffix:
                    raise
                print(f"  torch.compile variant {name} failed: {type(error).__name__}: {error}")
    torch.backends.cudnn.benchmark = False
    return out


def _stage_times(
    size: int, device: torch.device, model: SpinodoidCNN, batch: int, compile_: bool
) -> dict:
    """Seconds per structure of generation and of the CNN variants for one batch."""
    theta = sample_prior(np.random.default_rng(0), batch)
    seeds = np.arange(batch)
    if device.type == "cpu":

        def numpy_batch():
            return np.stack(
                [generate_structure(t, int(s), size) for t, s in zip(theta, seeds, strict=True)]
            )

        gen = _timed(numpy_batch, device, 1)
        structures = torch.from_numpy(numpy_batch())
    else:
        gen = _timed(lambda: generate_structures_torch(theta, seeds, size, device), device, 2)
        structures = generate_structures_torch(theta, seeds, size, device)
    counts = block_counts(structures)
    out = {"generation": gen / batch}
    for bf16 in (False, True) if device.type == "cuda" else (False,):
        cnn = _timed(
            lambda bf16=bf16: predict_eta_all_axes(
                model, counts, device, 3 * batch, "bf16" if bf16 else "fp32"
            ),
            device,
            2,
        )
        out["cnn_bf16" if bf16 else "cnn_fp32"] = cnn / batch
    if device.type == "cuda":
        out |= _cuda_cnn_variants(model, counts, device, compile_)
    return out


def survival_pruner(go_on_to_y: float, go_on_to_z: float):
    """A ``prune`` callback that lets exactly the fractions ``go_on_to_y`` of all candidates on to
    the y pass and ``go_on_to_z`` on to the z pass (0 ≤ z ≤ y ≤ 1), spread evenly over the rows
    it sees (a running quota, so small batches get the right fractions too)."""
    seen = {"x": 0, "y": 0}

    def quota(stage: str, count: int, fraction: float) -> np.ndarray:
        index = seen[stage] + np.arange(count)
        seen[stage] += count
        return np.floor((index + 1) * fraction) > np.floor(index * fraction)

    def prune(eta: np.ndarray) -> np.ndarray:
        if np.isnan(eta[:, 1]).all():  # after the x pass
            return quota("x", len(eta), go_on_to_y)
        keep = np.zeros(len(eta), dtype=bool)
        has_y = ~np.isnan(eta[:, 1])
        keep[has_y] = quota("y", int(has_y.sum()), go_on_to_z / go_on_to_y)
        return keep

    return prune


def _rate(
    checkpoint: Path,
    device: torch.device,
    batch: int,
    evaluations: int,
    bf16: bool,
    survive: tuple[float, float] | None = None,
):
    """Evaluations per second of the simulator in batches of ``batch`` (after a warm-up batch),
    pruned with the survival fractions ``survive`` when given."""
    precision = "bf16" if bf16 else "fp32"
    simulate = cnn_simulator(checkpoint, str(device), 1, chunk_size=batch, precision=precision)
    kwargs = {} if survive is None else {"prune": survival_pruner(*survive)}
    theta = sample_prior(np.random.default_rng(1), max(evaluations, batch))
    simulate(theta[:batch], np.arange(batch), **kwargs)
    _sync(device)
    start = time.perf_counter()
    done = 0
    while done < evaluations:
        n = min(batch, evaluations - done)
        simulate(theta[done : done + n], np.arange(done, done + n) + batch, **kwargs)
        done += n
    _sync(device)
    return done / (time.perf_counter() - start)


def synthetic_emulator(structures: int) -> emu.Emulator:
    """An emulator fitted on ``structures`` synthetic structures with a smooth logit η(θ) and a
    seed spread of 0.08 in logit η (stands in for a fitted one: same prediction cost)."""
    rng = np.random.default_rng(0)
    theta = sample_prior(rng, structures)
    f = emu.direction_features(theta)
    logit_eta = 0.9 * f[..., 0] - 0.35 * f[..., 1] - 0.3 * f[..., 2] + 3.0 * f[..., 3] - 1.6
    eta = 1.0 / (1.0 + np.exp(-(logit_eta.T + 0.08 * rng.standard_normal((structures, 3)))))
    return emu.fit_emulator(theta, eta, restarts=0, meta={"dataset": "synthetic"})


def emulator_rate(model: emu.Emulator, batch: int, seconds: float, survive=None) -> float:
    """Evaluations per second of the emulator simulator (sample mode) in batches of ``batch``
    over at least ``seconds`` s, pruned with the survival fractions ``survive`` when given."""
    simulate = emulator_simulator(model, base_seed=1)
    theta = sample_prior(np.random.default_rng(2), batch)
    kwargs = {} if survive is None else {"prune": survival_pruner(*survive)}
    simulate(theta, np.arange(batch), **kwargs)
    done, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        simulate(theta, np.arange(done, done + batch), **kwargs)
        done += batch
    return done / elapsed


def emulator_design(model: emu.Emulator, target, particles: int, batch: int, mode: str) -> dict:
    """One whole ABC-PMC design with the emulator and the paper's nine tolerances, timed."""
    start = time.perf_counter()
    result = abc_pmc(
        emulator_simulator(model, base_seed=7, mode=mode),
        target,
        sample_prior,
        prior_density,
        in_support,
        particles,
        [10.0**x for x in PAPER_LOG10_TOLERANCES],
        np.random.default_rng(7),
        batch,
        50_000_000,
        pilot_size=particles,
        progress=False,
    )
    wall = time.perf_counter() - start
    mean, _ = model.predict(result.posterior_mean()[None])
    return {
        "target": list(target),
        "mode": mode,
        "status": result.status,
        "generations": len(result.generations),
        "final_tolerance": result.final_tolerance,
        "evaluations": result.evaluations,
        "wall_s": wall,
        "evaluations_per_s": result.evaluations / wall,
        "theta_hat": result.posterior_mean().tolist(),
        "posterior_std": result.posterior_std().tolist(),
        "emulator_eta_at_theta_hat": mean[0].tolist(),
    }


def _emulator_section(args) -> dict:
    """Rates and designs of the emulator (printed); returns the JSON record."""
    if args.emulator:
        model, source = emu.load_emulator(args.emulator), str(args.emulator)
    else:
        model = synthetic_emulator(args.emulator_structures)
        source = f"synthetic, {args.emulator_structures} structures"
    rows = len(model.train_z)
    print(f"emulator ({source}; {rows} training rows), torch threads {torch.get_num_threads()}")
    rates = {
        "sample": emulator_rate(model, args.emulator_batch, 2.0),
        "sample pruned": emulator_rate(model, args.emulator_batch, 2.0, tuple(args.survive)),
    }
    for label, rate in rates.items():
        print(f"  emulator, batch {args.emulator_batch}, {label:<14} {rate:12.0f} evaluations/s")
    targets = np.asarray(args.targets, dtype=np.float64).reshape(-1, 3)
    designs = []
    for target in targets:
        for mode in ("sample", "mean"):
            record = emulator_design(model, target, args.particles, args.emulator_batch, mode)
            designs.append(record)
            print(
                f"  design {np.round(target, 3).tolist()} ({mode}): {record['status']}, "
                f"{record['generations']} generations to {record['final_tolerance']:.3g} %, "
                f"{record['evaluations']} evaluations in {record['wall_s']:.1f} s "
                f"({record['evaluations_per_s']:.0f}/s); theta_hat "
                f"{np.round(record['theta_hat'], 4).tolist()}"
            )
    return {"source": source, "rates_per_s": rates, "designs": designs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=192)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--evaluations", type=int, default=8, help="per batch size measured")
    parser.add_argument(
        "--survive",
        type=float,
        nargs=2,
        default=DEFAULT_SURVIVAL,
        metavar=("TO_Y", "TO_Z"),
        help="fractions of candidates predicted along y and along z when pruning",
    )
    parser.add_argument("--compile", action="store_true", help="also time torch.compile (CUDA)")
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    parser.add_argument("--emulator", type=Path, help="a fitted emulator (.npz)")
    parser.add_argument("--emulator-structures", type=int, default=192)
    parser.add_argument("--emulator-batch", type=int, default=4096)
    parser.add_argument("--targets", type=float, nargs="+", default=list(PAPER_TARGETS))
    parser.add_argument("--particles", type=int, default=512)
    parser.add_argument("--skip-cnn", action="store_true", help="measure the emulator only")
    parser.add_argument("--skip-emulator", action="store_true", help="measure the CNN only")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's)")
    parser.add_argument("--joint", action="store_true", help="also time the joint CNN")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    emulator_record = None if args.skip_emulator else _emulator_section(args)
    if args.skip_cnn:
        if args.json:
            args.json.write_text(json.dumps({"emulator": emulator_record}, indent=1))
        return
    device = resolve_device(args.device)
    torch.manual_seed(0)
    model = SpinodoidCNN(input_size=args.size // 2)
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "random.pt"
        save_checkpoint(checkpoint, model, {"size": args.size})
        joint_checkpoint = Path(tmp) / "random-joint.pt"
        if args.joint:
            joint = SpinodoidCNN(input_size=args.size // 2, joint_axes=True)
            save_checkpoint(joint_checkpoint, joint, {"size": args.size})
        model = model.to(device).eval()
        stages = _stage_times(args.size, device, model, max(args.batches), args.compile)
        baseline = _rate(checkpoint, device, 1, max(2, args.evaluations // 4), bf16=False)
        rates = {}
        survive = tuple(args.survive)
        for batch in args.batches:
            for bf16 in (False, True) if device.type == "cuda" else (False,):
                label = f"batch {batch}{' bf16' if bf16 else ''}"
                rates[label] = _rate(checkpoint, device, batch, args.evaluations, bf16)
                rates[f"{label} pruned"] = _rate(
                    checkpoint, device, batch, args.evaluations, bf16, survive
                )
                if args.joint:
                    rates[f"{label} joint"] = _rate(
                        joint_checkpoint, device, batch, args.evaluations, bf16
                    )
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"N = {args.size}, device {name}, torch threads {torch.get_num_threads()}")
    flop = cnn_flop_per_evaluation(args.size)
    print(f"  CNN work: {flop / 1e9:.1f} GFLOP per evaluation (3 axes)")
    for stage, seconds in stages.items():
        line = f"  {stage:<30} {seconds * 1e3:9.2f} ms/structure (batch {max(args.batches)})"
        if stage.startswith("cnn"):
            line += f", {flop / seconds / 1e12:7.1f} TFLOP/s"
        print(line)
    cnn = min(v for k, v in stages.items() if k.startswith("cnn"))
    projected = 1.0 / (stages["generation"] + cnn)
    print(f"  projected from the stage times with the fastest CNN: {projected:.1f}/s")
    passes = 1.0 + sum(args.survive)
    pruned = 1.0 / (stages["generation"] + cnn * passes / 3.0)
    print(f"  the same, pruned ({passes:.2f} CNN passes per evaluation): {pruned:.1f}/s")
    if args.joint:
        print("  CNN passes per evaluation: per axis 3 (pruned 1 + survivors), joint 1")
    print(f"  baseline: one candidate at a time, fp32: {baseline:10.2f} evaluations/s")
    for label, rate in rates.items():
        print(f"  {label:<16} {rate:10.2f} evaluations/s   {rate / baseline:6.2f}x baseline")
    best = max(rates.values())
    for case, (evals, hours) in PAPER_CASES.items():
        projected = evals / best / 3600
        print(
            f"  {case}: {evals} evaluations -> {projected:8.3f} h at {best:.1f}/s "
            f"(paper {hours} h on 128 threads, {hours / projected:7.1f}x)"
        )
    if args.json:
        record = {"size": args.size, "device": name, "stages_s": stages, "cnn_flop": flop}
        record |= {"projected_per_s": projected, "projected_pruned_per_s": pruned}
        record |= {"baseline_per_s": baseline, "rates_per_s": rates}
        record |= {"emulator": emulator_record}
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
