"""Training of the paper's CNN with resume (docs/method.md §4; evaluation in
spinodoid.surrogates.evaluation).

SGD with momentum on the MSE of logit(η) (eq. 13), the paper's learning-rate schedule written
as phases of (epochs, log10 LR), random lateral flips/swaps/shifts of every batch, the model
with the lowest validation loss kept. Beyond the paper: AdamW (``optimizer``) with a linear
warm-up and a cosine decay (``lr_schedule: cosine``), and the joint model of all three axes
(``joint_axes``, trained on the cube's symmetries with the labels permuted,
:func:`spinodoid.surrogates.training_data.augment_joint_batch`). Everything needed to resume
lives in ``out_dir/checkpoint.pt``, rewritten atomically after every epoch: model, optimizer,
scheduler, epoch, metrics so far, the best weights and the RNG states (torch, numpy, python,
CUDA, and the shuffling and augmentation generators). Restarting :func:`train` with the same
arguments resumes from it; on the CPU a resumed run ends with the same weights, bit for bit, as
an uninterrupted one. At the end the checkpoint is renamed to ``last.pt``.

Outputs in ``out_dir``: ``best.pt`` (lowest validation loss, loadable by
:func:`spinodoid.surrogates.cnn.load_model`), ``last.pt`` (final full checkpoint), ``metrics.csv``
(one row
per epoch).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from spinodoid import __version__
from spinodoid.formats.atomic import atomic_write
from spinodoid.surrogates.cnn import NORMALIZATIONS, SpinodoidCNN, resolve_device, save_checkpoint
from spinodoid.surrogates.cnn_input import to_model_input
from spinodoid.surrogates.evaluation import mape_percent, mse_logit
from spinodoid.surrogates.training_data import (
    SpinodoidDataset,
    augment_batch,
    augment_joint_batch,
)

__all__ = [
    "METRIC_COLUMNS",
    "CosineLR",
    "PhaseLR",
    "TrainConfig",
    "TrainResult",
    "learning_rate",
    "total_epochs",
    "train",
]

log = logging.getLogger(__name__)

#: Columns of metrics.csv, one row per epoch (epoch counts from 1; losses are MSE of logit η).
METRIC_COLUMNS: tuple[str, ...] = (
    "epoch",
    "log10_lr",
    "train_loss",
    "val_loss",
    "val_mape",
    "is_best",
    "seconds",
    "samples_per_second",
)


@dataclass(frozen=True)
class TrainConfig:
    """The ``train`` section of the config plus the master seed.

    ``schedule`` is a tuple of (epochs, log10 LR) phases; the paper's is 6 × 25 warm-up epochs
    at −4 … −2.75, then 1600 at −2.5, 875 at −2.75 and 875 at −3 (3500 epochs).
    ``mixed_precision``, ``channels_last`` and ``compile`` (``torch.compile`` of the training
    forward pass) apply on CUDA only. Measured on one H100 at 96³, batch 16
    (benchmarks/train.py): fp32 124 s per paper epoch, bf16 66 s, bf16 + compile 54 s;
    channels-last made both fp32 and bf16 slower (0.75× and 0.71×).

    ``optimizer`` is ``sgd`` (the paper's, with ``momentum``) or ``adamw`` (decoupled weight
    decay ``weight_decay``); ``lr_schedule`` is ``phases`` (the rate of each phase) or
    ``cosine`` (:class:`CosineLR`: ``warmup_epochs`` of linear warm-up to the highest phase
    rate, then a cosine decay over the remaining epochs of the schedule). ``joint_axes``
    trains the joint model of η_x, η_y, η_z; ``normalization`` (``none`` or ``batch``) is the
    network's (:class:`SpinodoidCNN`).
    """

    schedule: tuple[tuple[int, float], ...]
    batch_size: int = 16
    momentum: float = 0.9
    device: str = "auto"
    mixed_precision: bool = True
    channels_last: bool = True
    deterministic: bool = False
    num_workers: int = 0
    seed: int = 0
    compile: bool = False
    joint_axes: bool = False
    optimizer: str = "sgd"
    weight_decay: float = 0.0
    lr_schedule: str = "phases"
    warmup_epochs: int = 0
    normalization: str = "none"

    def __post_init__(self) -> None:
        if self.optimizer not in ("sgd", "adamw"):
            raise ValueError(f"optimizer must be sgd or adamw, got {self.optimizer!r}")
        if self.normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {self.normalization!r}"
            )
        if self.lr_schedule not in ("phases", "cosine"):
            raise ValueError(f"lr_schedule must be phases or cosine, got {self.lr_schedule!r}")
        if not 0 <= self.warmup_epochs < total_epochs(self.schedule):
            raise ValueError(
                f"warmup_epochs = {self.warmup_epochs} must be below the schedule's "
                f"{total_epochs(self.schedule)} epochs"
            )

    @classmethod
    def from_config(cls, train: Mapping[str, Any], seed: int = 0) -> TrainConfig:
        """Build from ``config["train"]`` (schedule as a list of {epochs, log10_lr})."""
        fields = {k: v for k, v in train.items() if k != "schedule"}
        schedule = tuple((int(p["epochs"]), float(p["log10_lr"])) for p in train["schedule"])
        return cls(schedule=schedule, seed=int(seed), **fields)


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` did: epochs completed, best epoch (1-based) and its validation loss."""

    epochs_done: int
    total_epochs: int
    best_epoch: int
    best_val_loss: float
    finished: bool


def total_epochs(schedule: Sequence[tuple[int, float]]) -> int:
    """Number of epochs of a phase schedule (3500 for the paper's)."""
    return sum(int(epochs) for epochs, _ in schedule)


def learning_rate(schedule: Sequence[tuple[int, float]], epoch: int) -> float:
    """SGD learning rate of 0-based ``epoch``: 10 ** log10_lr of the phase containing it.

    Epochs past the end keep the last phase's rate.
    """
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0, got {epoch}")
    end = 0
    for epochs, log10_lr in schedule:
        end += int(epochs)
        if epoch < end:
            return 10.0**log10_lr
    return 10.0 ** schedule[-1][1]


class PhaseLR:
    """Multiplier for ``torch.optim.lr_scheduler.LambdaLR`` (base LR 1) giving the phase LR."""

    def __init__(self, schedule: Sequence[tuple[int, float]]) -> None:
        self.schedule = [(int(e), float(lr)) for e, lr in schedule]

    def __call__(self, epoch: int) -> float:
        """Learning rate of 0-based ``epoch``."""
        return learning_rate(self.schedule, epoch)


class CosineLR:
    """Linear warm-up then cosine decay, as a ``LambdaLR`` multiplier (base LR 1).

    Over the ``total_epochs(schedule)`` epochs: epoch ``e < warmup`` has ``peak · (e + 1) /
    warmup``, later ones ``peak · (1 + cos(π (e − warmup) / (total − warmup))) / 2``, with
    ``peak`` the highest rate of the schedule's phases.
    """

    def __init__(self, schedule: Sequence[tuple[int, float]], warmup_epochs: int) -> None:
        self.total = total_epochs(schedule)
        self.peak = max(10.0 ** float(lr) for _, lr in schedule)
        self.warmup = int(warmup_epochs)

    def __call__(self, epoch: int) -> float:
        """Learning rate of 0-based ``epoch``."""
        if epoch < self.warmup:
            return self.peak * (epoch + 1) / self.warmup
        progress = min(1.0, (epoch - self.warmup) / (self.total - self.warmup))
        return self.peak * 0.5 * (1.0 + math.cos(math.pi * progress))


@contextlib.contextmanager
def _determinism(enabled: bool, device: torch.device) -> Iterator[None]:
    """Deterministic algorithms and no cuDNN autotuning inside the block, restored after."""
    previous = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
    )
    if enabled and device.type == "cuda":
        # cuBLAS needs a fixed workspace to be reproducible; effective before its first use.
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.benchmark = not enabled
    torch.backends.cudnn.deterministic = enabled
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(previous[0])
        torch.backends.cudnn.benchmark = previous[1]
        torch.backends.cudnn.deterministic = previous[2]


def _rng_state(generators: Mapping[str, torch.Generator]) -> dict[str, Any]:
    """Global torch/numpy/python/CUDA RNG states and the named generators' states."""
    # The legacy global numpy state is saved too: code outside this module may draw from it.
    np_state = np.random.get_state(legacy=False)  # noqa: NPY002
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "bit_generator": np_state["bit_generator"],
            "key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
            "pos": int(np_state["state"]["pos"]),
            "has_gauss": int(np_state["has_gauss"]),
            "gauss": float(np_state["gauss"]),
        },
        "python": random.getstate(),
        "generators": {name: g.get_state() for name, g in generators.items()},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _seed_global_rngs(seed: int) -> None:
    """Seed the global torch, numpy and python RNGs, so a run's saved RNG state is reproducible."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002
    random.seed(seed)


def _restore_rng_state(state: Mapping[str, Any], generators: Mapping[str, torch.Generator]) -> None:
    """Inverse of :func:`_rng_state`."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    np.random.set_state(  # noqa: NPY002
        {
            "bit_generator": np_state["bit_generator"],
            "state": {"key": np_state["key"].numpy().astype(np.uint32), "pos": np_state["pos"]},
            "has_gauss": np_state["has_gauss"],
            "gauss": np_state["gauss"],
        }
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    for name, g in generators.items():
        g.set_state(state["generators"][name])


def _fingerprint(
    cfg: TrainConfig, device: torch.device, input_size: int, n_train: int, n_val: int
) -> dict[str, Any]:
    """What a checkpoint must match to be resumed (not the worker count or precision flags)."""
    return {
        "schedule": [list(p) for p in cfg.schedule],
        "batch_size": cfg.batch_size,
        "momentum": cfg.momentum,
        "seed": cfg.seed,
        "device": device.type,
        "input_size": input_size,
        "n_train": n_train,
        "n_val": n_val,
        **_recipe_changes(cfg),
    }


def _recipe_changes(cfg: TrainConfig) -> dict[str, Any]:
    """The recipe fields beyond the paper's that differ from their defaults (so a checkpoint of
    the paper's recipe written before they existed still resumes)."""
    default = TrainConfig(schedule=cfg.schedule)
    names = (
        "joint_axes",
        "optimizer",
        "weight_decay",
        "lr_schedule",
        "warmup_epochs",
        "normalization",
    )
    return {
        name: getattr(cfg, name) for name in names if getattr(cfg, name) != getattr(default, name)
    }


def _write_metrics(history: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Write the per-epoch metrics to ``path`` (CSV, columns :data:`METRIC_COLUMNS`) atomically."""
    with atomic_write(path) as tmp:
        pd.DataFrame(list(history), columns=list(METRIC_COLUMNS)).to_csv(tmp, index=False)


class _Run:
    """State of one training run: model, optimizer, scheduler, generators, history, best."""

    def __init__(self, cfg: TrainConfig, input_size: int, size: int, device: torch.device) -> None:
        self.cfg, self.size, self.device = cfg, size, device
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            self.model = SpinodoidCNN(
                input_size, joint_axes=cfg.joint_axes, normalization=cfg.normalization
            ).to(device)
        if self._channels_last:
            self.model = self.model.to(memory_format=torch.channels_last_3d)
        compiled = cfg.compile and device.type == "cuda"
        self.forward = torch.compile(self.model) if compiled else self.model
        self.optimizer = _optimizer(cfg, self.model)
        rate = CosineLR(cfg.schedule, cfg.warmup_epochs) if cfg.lr_schedule == "cosine" else None
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, rate or PhaseLR(cfg.schedule)
        )
        self.shuffle_gen = torch.Generator().manual_seed(cfg.seed + 1)
        self.augment_gen = torch.Generator(device=device).manual_seed(cfg.seed + 2)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.best_val = math.inf
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] = {}

    @property
    def _channels_last(self) -> bool:
        return self.cfg.channels_last and self.device.type == "cuda"

    @property
    def _bf16(self) -> bool:
        return self.cfg.mixed_precision and self.device.type == "cuda"

    @property
    def generators(self) -> dict[str, torch.Generator]:
        return {"shuffle": self.shuffle_gen, "augment": self.augment_gen}

    def meta(self) -> dict[str, Any]:
        """Meta stored with every saved model (see :func:`spinodoid.surrogates.cnn.load_model`)."""
        return {
            "size": self.size,
            "epoch": self.best_epoch,
            "val_loss": self.best_val,
            "train_config": {**asdict(self.cfg), "schedule": [list(p) for p in self.cfg.schedule]},
            "package_version": __version__,
        }

    def save(self, path: Path, fingerprint: Mapping[str, Any]) -> None:
        """Write the full resumable state to ``path`` atomically."""
        save_checkpoint(
            path,
            self.model,
            self.meta(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict(),
            epoch=self.epoch,
            history=self.history,
            best_val=self.best_val,
            best_epoch=self.best_epoch,
            best_state=self.best_state,
            rng=_rng_state(self.generators),
            fingerprint=dict(fingerprint),
        )

    def restore(self, path: Path, fingerprint: Mapping[str, Any]) -> None:
        """Load the state saved by :meth:`save`; refuse a checkpoint of another configuration."""
        payload = torch.load(path, map_location="cpu", weights_only=True)
        if payload["fingerprint"] != dict(fingerprint):
            raise ValueError(
                f"{path} was written by a run with another configuration or dataset "
                f"({payload['fingerprint']} != {dict(fingerprint)}); delete it to start afresh"
            )
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        self.epoch = int(payload["epoch"])
        self.history = list(payload["history"])
        self.best_val = float(payload["best_val"])
        self.best_epoch = int(payload["best_epoch"])
        self.best_state = dict(payload["best_state"])
        _restore_rng_state(payload["rng"], self.generators)

    def save_best(self, path: Path) -> None:
        """Write the best weights so far as a model file (``best.pt``)."""
        best = SpinodoidCNN(
            self.model.input_size,
            joint_axes=self.model.joint_axes,
            normalization=self.model.normalization,
        )
        best.load_state_dict(self.best_state)
        save_checkpoint(path, best, self.meta())

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (B, n, n, n) → float32 (B, 1, n, n, n) in [−1/2, 1/2] on the device."""
        inputs = to_model_input(x)
        if self._channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last_3d)
        return inputs

    def _loss(self, x: torch.Tensor, eta: torch.Tensor) -> torch.Tensor:
        """MSE between predicted and true logit(η) (eq. 13) of one batch, in float32 (the
        network's last layer runs in float32 under autocast, :class:`SpinodoidCNN`); η is (B,)
        per axis, (B, 3) joint."""
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self._bf16):
            pred = self.forward(self._inputs(x))
        return torch.mean((pred.float() - torch.logit(eta.float())) ** 2)

    def train_epoch(self, loader: DataLoader, bar: tqdm) -> float:
        """One epoch over augmented batches; returns the mean training loss."""
        self.model.train()
        total = torch.zeros((), device=self.device, dtype=torch.float64)
        count = 0
        for step, (x, eta) in enumerate(loader):
            x = torch.as_tensor(x).to(self.device, non_blocking=True)
            eta = torch.as_tensor(eta).to(self.device, non_blocking=True)
            if self.cfg.joint_axes:
                x, eta = augment_joint_batch(x, eta, self.augment_gen)
            else:
                x = augment_batch(x, self.augment_gen)
            loss = self._loss(x, eta)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += loss.detach().double() * len(eta)
            count += len(eta)
            bar.update(len(eta))
            if step % 20 == 0:
                bar.set_postfix(loss=f"{float(total) / count:.4g}", refresh=False)
        return float(total) / max(count, 1)

    def validate(self, loader: DataLoader) -> tuple[float, float]:
        """Validation MSE (logit) and MAPE (%) without augmentation, in float32 (the
        precision of evaluation and design), whatever the training's precision."""
        self.model.eval()
        preds, trues = [], []
        with torch.inference_mode():
            for x, eta in loader:
                x = torch.as_tensor(x).to(self.device, non_blocking=True)
                pred = self.model(self._inputs(x))
                preds.append(torch.sigmoid(pred).cpu())
                trues.append(torch.as_tensor(eta).float())
        pred_eta, true_eta = torch.cat(preds), torch.cat(trues)
        return mse_logit(pred_eta, true_eta), mape_percent(pred_eta, true_eta)


def _optimizer(cfg: TrainConfig, model: SpinodoidCNN) -> torch.optim.Optimizer:
    """The configured optimizer at base rate 1 (the scheduler sets the rate)."""
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=1.0, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=1.0, momentum=cfg.momentum)


def _loaders(
    cfg: TrainConfig,
    train_set: Dataset,
    val_set: Dataset,
    device: torch.device,
    gen: torch.Generator,
) -> tuple[DataLoader, DataLoader]:
    """Shuffled training loader (its order from ``gen``) and an ordered validation loader."""
    common = {
        "num_workers": cfg.num_workers,
        "pin_memory": device.type == "cuda",
        "persistent_workers": cfg.num_workers > 0,
    }
    train_loader = DataLoader(
        train_set, batch_size=cfg.batch_size, shuffle=True, generator=gen, **common
    )
    val_loader = DataLoader(val_set, batch_size=4 * cfg.batch_size, shuffle=False, **common)
    return train_loader, val_loader


def train(
    train_config: TrainConfig,
    dataset_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    stop_after_epochs: int | None = None,
    train_set: Dataset | None = None,
    val_set: Dataset | None = None,
) -> TrainResult:
    """Train (or resume training of) the CNN on a dataset store.

    Parameters
    ----------
    train_config
        Schedule, optimizer and device settings and the seed.
    dataset_path
        ``results/dataset.zarr``, read through
        :class:`spinodoid.surrogates.training_data.SpinodoidDataset` into
        memory (uint8, (N/2)³ bytes per structure: 7.2 GB for the paper's training split).
    out_dir
        Folder for ``checkpoint.pt`` (while running), ``best.pt``, ``last.pt``, ``metrics.csv``.
    stop_after_epochs
        Return after this many epochs of this call, leaving the checkpoint to resume from
        (used to test resumption; None runs to the end of the schedule).
    train_set, val_set
        Datasets of (uint8 (n, n, n) counts, float32 η) items to use instead of the store's
        ``train`` and ``val`` splits.

    Returns
    -------
    TrainResult
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = train_config
    device = resolve_device(cfg.device)
    if train_set is None:
        train_set = SpinodoidDataset(dataset_path, "train", True, cfg.joint_axes)
    if val_set is None:
        val_set = SpinodoidDataset(dataset_path, "val", True, cfg.joint_axes)
    input_size = int(torch.as_tensor(train_set[0][0]).shape[-1])
    fingerprint = _fingerprint(cfg, device, input_size, len(train_set), len(val_set))
    checkpoint, n_epochs = out / "checkpoint.pt", total_epochs(cfg.schedule)
    with _determinism(cfg.deterministic, device):
        _seed_global_rngs(cfg.seed)
        run = _Run(cfg, input_size, 2 * input_size, device)
        if checkpoint.exists():
            run.restore(checkpoint, fingerprint)
            log.info("resuming from %s at epoch %d of %d", checkpoint, run.epoch, n_epochs)
            if run.best_state:
                run.save_best(out / "best.pt")
            _write_metrics(run.history, out / "metrics.csv")
        train_loader, val_loader = _loaders(cfg, train_set, val_set, device, run.shuffle_gen)
        log.info(
            "training %d epochs on %s: %d train / %d val samples of %d³, batch %d",
            n_epochs, device, len(train_set), len(val_set), input_size, cfg.batch_size,
        )  # fmt: skip
        done_now = 0
        while run.epoch < n_epochs and (stop_after_epochs is None or done_now < stop_after_epochs):
            _run_epoch(run, train_loader, val_loader, out, fingerprint, n_epochs)
            done_now += 1
    finished = run.epoch >= n_epochs
    if finished:
        os.replace(checkpoint, out / "last.pt")
        log.info("done: best epoch %d, validation MSE %.4g", run.best_epoch, run.best_val)
    return TrainResult(run.epoch, n_epochs, run.best_epoch, run.best_val, finished)


def _run_epoch(
    run: _Run,
    train_loader: DataLoader,
    val_loader: DataLoader,
    out: Path,
    fingerprint: Mapping[str, Any],
    n_epochs: int,
) -> None:
    """Train one epoch, validate, keep the best, checkpoint and write the metrics."""
    lr = run.optimizer.param_groups[0]["lr"]
    n_samples = len(train_loader.dataset)  # type: ignore[arg-type]
    start = time.perf_counter()
    desc = f"epoch {run.epoch + 1}/{n_epochs} lr {lr:.2g}"
    with tqdm(total=n_samples, desc=desc, unit="sample", leave=False) as bar:
        train_loss = run.train_epoch(train_loader, bar)
    if not math.isfinite(train_loss):
        raise FloatingPointError(f"training loss is {train_loss} at epoch {run.epoch + 1}")
    val_loss, val_mape = run.validate(val_loader)
    seconds = time.perf_counter() - start
    run.scheduler.step()
    run.epoch += 1
    is_best = val_loss < run.best_val
    if is_best:
        run.best_val, run.best_epoch = val_loss, run.epoch
        run.best_state = {k: v.detach().cpu().clone() for k, v in run.model.state_dict().items()}
        run.save_best(out / "best.pt")
    run.history.append(
        {
            "epoch": run.epoch,
            "log10_lr": math.log10(lr),
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_mape": val_mape,
            "is_best": is_best,
            "seconds": seconds,
            "samples_per_second": n_samples / seconds,
        }
    )
    run.save(out / "checkpoint.pt", fingerprint)
    _write_metrics(run.history, out / "metrics.csv")
    log.info(
        "epoch %d/%d: train %.4g, val %.4g (MAPE %.2f %%), %.1f s%s",
        run.epoch, n_epochs, train_loss, val_loss, val_mape, seconds, " *" if is_best else "",
    )  # fmt: skip
