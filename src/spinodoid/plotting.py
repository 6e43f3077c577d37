"""Figures of the report (docs/method.md §6): one function per figure, each returning a Figure.

Figures are built on :class:`matplotlib.figure.Figure` with the Agg canvas (no pyplot, no
display), and kept cheap: a cube render shows the three visible faces of a structure as
coloured quads, sub-sampled to at most ``max_side`` quads per edge, instead of a full 3D
surface. :func:`save_figure` writes a PNG via a temporary name.

- :func:`examples_figure`: three example structures (paper Fig. 2).
- :func:`dataset_figures`: η histograms, η_x–η_y scatter and θ marginals (paper Fig. 3).
- :func:`parity_figure`: true vs predicted η on the test set (paper Fig. 5).
- :func:`posterior_figure`: ABC-PMC marginals per generation (paper Figs. 6–7).
- :func:`validation_figure`: CNN vs solver η at θ̂ (paper Figs. 8–9).
- :func:`renders_figure`: a designed structure at N and upscaled (paper Fig. 10).
- :func:`table_html`: a table as a standalone HTML page (the report embeds HTML, not CSV).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from spinodoid import AXES
from spinodoid.formats.atomic import atomic_write

__all__ = [
    "DATASET_FIGURE_NAMES",
    "EXAMPLE_THETAS",
    "SOLID_COLOUR",
    "PORE_COLOUR",
    "save_figure",
    "draw_cube",
    "dataset_figures",
    "examples_figure",
    "learning_curve_figure",
    "parity_figure",
    "posterior_figure",
    "validation_figure",
    "renders_figure",
    "table_html",
]

#: Three θ = (a_x, a_y, a_z, ε) spanning the prior (docs/method.md §2): isotropic, elongated
#: along z, and fine, porous and elongated along x (the paper's Fig. 2 shows such a spread).
EXAMPLE_THETAS: tuple[tuple[float, float, float, float], ...] = (
    (0.10, 0.10, 0.10, 0.50),
    (0.06, 0.10, 0.20, 0.40),
    (0.15, 0.05, 0.07, 0.75),
)
SOLID_COLOUR = np.array([0.80, 0.80, 0.78, 1.0])
PORE_COLOUR = np.array([0.12, 0.20, 0.38, 1.0])
_PARAM_LABELS = {"a_x": "a_x", "a_y": "a_y", "a_z": "a_z", "eps": "ε"}


def save_figure(fig: Figure, path: str | os.PathLike[str], dpi: int = 110) -> None:
    """Write ``fig`` as PNG to ``path`` (temporary name, then rename)."""
    FigureCanvasAgg(fig)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")


def _face_colours(face: np.ndarray) -> np.ndarray:
    """RGBA float64 (n, m, 4) of a uint8 face (n, m): solid light, pore dark."""
    return np.where(face[..., None].astype(bool), SOLID_COLOUR, PORE_COLOUR)


def draw_cube(ax, voxels: np.ndarray, max_side: int = 96, title: str = "") -> None:
    """Draw the three faces x = N, y = N, z = N of a structure on a 3D axes.

    Args:
        ax: a matplotlib 3D axes (``projection="3d"``).
        voxels: uint8 (N, N, N), axes (x, y, z), 1 = solid (light), 0 = pore (dark).
        max_side: quads per cube edge at most (the faces are sub-sampled by striding).
        title: axes title.
    """
    n = voxels.shape[0]
    step = max(1, int(np.ceil(n / max_side)))
    grid = np.arange(0, n + 1, step, dtype=np.float64)
    grid[-1] = n
    u, v = np.meshgrid(grid, grid, indexing="ij")
    full = np.full_like(u, float(n))
    faces = (
        (full, u, v, voxels[-1, ::step, ::step], 0.85),
        (u, full, v, voxels[::step, -1, ::step], 1.0),
        (u, v, full, voxels[::step, ::step, -1], 0.7),
    )
    for x, y, z, face, shade in faces:
        colours = _face_colours(face[: len(grid) - 1, : len(grid) - 1])
        colours[..., :3] *= shade
        ax.plot_surface(
            x,
            y,
            z,
            facecolors=colours,
            rstride=1,
            cstride=1,
            shade=False,
            linewidth=0,
            antialiased=False,
        )
    ax.set(xlim=(0, n), ylim=(0, n), zlim=(0, n), xlabel="x", ylabel="y", zlabel="z")
    ax.set_box_aspect((1, 1, 1))
    ax.view_init(elev=25, azim=35)
    ax.tick_params(labelsize=6)
    ax.set_title(title, fontsize=9)


def examples_figure(
    structures: Sequence[np.ndarray], thetas: Sequence[Sequence[float]], max_side: int = 96
) -> Figure:
    """Example structures side by side, θ in each title (paper Fig. 2).

    Args:
        structures: uint8 (N, N, N) arrays, 1 = solid.
        thetas: (a_x, a_y, a_z, ε) of each.
        max_side: see :func:`draw_cube`.
    """
    fig = Figure(figsize=(4 * len(structures), 4.2), layout="constrained")
    for k, (voxels, theta) in enumerate(zip(structures, thetas, strict=True)):
        ax = fig.add_subplot(1, len(structures), k + 1, projection="3d")
        a_x, a_y, a_z, eps = theta
        title = f"a = ({a_x:.3g}, {a_y:.3g}, {a_z:.3g}), ε = {eps:.3g}\nN = {voxels.shape[0]}"
        draw_cube(ax, voxels, max_side, title)
    fig.suptitle("Example spinodoid structures (solid light, pore dark)")
    return fig


def _weighted_histogram(values: np.ndarray, weights: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Density histogram of weighted samples on ``edges``."""
    counts, _ = np.histogram(values, bins=edges, weights=weights)
    return counts / max(counts.sum(), 1e-300) / np.diff(edges)


def posterior_figure(
    generations: Sequence,
    param_names: Sequence[str],
    theta_hat: Sequence[float],
    paper_theta: Sequence[float] | None = None,
    title: str = "",
) -> Figure:
    """Weighted marginals of θ per ABC-PMC generation (paper Figs. 6–7).

    Args:
        generations: :class:`spinodoid.abc.Generation` objects in order (``theta`` (P, d),
            ``weights`` (P,), ``tolerance``).
        param_names: names of the d parameters.
        theta_hat: the posterior mean (d,), drawn as a solid line.
        paper_theta: the paper's θ̂ (dashed line) or None.
        title: figure title.
    """
    fig = Figure(figsize=(3.2 * len(param_names), 3.4), layout="constrained")
    axes = fig.subplots(1, len(param_names))
    cmap = colormaps["viridis"]
    for j, (ax, name) in enumerate(zip(axes, param_names, strict=True)):
        values = np.concatenate([g.theta[:, j] for g in generations])
        edges = np.linspace(values.min(), values.max(), 31)
        for t, gen in enumerate(generations):
            colour = cmap(t / max(len(generations) - 1, 1))
            density = _weighted_histogram(gen.theta[:, j], gen.weights, edges)
            ax.stairs(density, edges, color=colour, label=f"τ = {gen.tolerance:.3g} %")
        ax.axvline(theta_hat[j], color="k", lw=1.2, label="θ̂ (this run)")
        if paper_theta is not None:
            ax.axvline(paper_theta[j], color="C3", lw=1.2, ls="--", label="θ̂ (paper)")
        ax.set_xlabel(_PARAM_LABELS.get(name, name))
    axes[0].set_ylabel("posterior density")
    axes[-1].legend(fontsize=6, loc="upper right")
    fig.suptitle(title or "ABC-PMC posterior marginals per generation")
    return fig


def validation_figure(
    frame: pd.DataFrame, target: Sequence[float], paper: Mapping[str, Sequence[float]] | None
) -> Figure:
    """CNN vs solver η of the structures at θ̂, one panel per direction (paper Figs. 8–9); the
    solver's η per structure against the target when ``frame`` has no CNN columns.

    Args:
        frame: rows of :func:`spinodoid.validation.validate_structures` with ``eta_solver_*``
            and, when a CNN scored them, ``eta_cnn_*``.
        target: the target (η_x, η_y, η_z), drawn as dotted lines.
        paper: the paper's means (``"solver"`` and ``"cnn"``) drawn as a red cross, or None.
    """
    if "eta_cnn_x" not in frame:
        return _solver_validation_figure(frame, target, paper)
    fig = Figure(figsize=(10.5, 3.7), layout="constrained")
    for k, ax in enumerate(fig.subplots(1, 3)):
        axis = AXES[k]
        solver = frame[f"eta_solver_{axis}"].to_numpy()
        cnn = frame[f"eta_cnn_{axis}"].to_numpy()
        lo = min(solver.min(), cnn.min(), target[k]) - 0.02
        hi = max(solver.max(), cnn.max(), target[k]) + 0.02
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=0.8)
        ax.axvline(target[k], color="0.3", ls=":", lw=1)
        ax.axhline(target[k], color="0.3", ls=":", lw=1)
        ax.scatter(solver, cnn, s=12, alpha=0.7, color=f"C{k}", label="structures")
        ax.plot(solver.mean(), cnn.mean(), "k+", ms=12, mew=2, label="mean")
        if paper is not None:
            ax.plot(paper["solver"][k], paper["cnn"][k], "x", color="C3", ms=9, label="paper")
        ax.set(xlim=(lo, hi), ylim=(lo, hi), aspect="equal")
        ax.set(xlabel=f"solver η_{axis}", ylabel=f"CNN η_{axis}")
        ax.set_title(f"{axis}: target {target[k]:.3g}, {len(solver)} structures", fontsize=9)
    fig.axes[0].legend(fontsize=7, loc="lower right")
    return fig


def _solver_validation_figure(
    frame: pd.DataFrame, target: Sequence[float], paper: Mapping[str, Sequence[float]] | None
) -> Figure:
    """Solver η of each structure at θ̂ (one panel per direction), its mean and the target."""
    fig = Figure(figsize=(10.5, 3.2), layout="constrained")
    for k, ax in enumerate(fig.subplots(1, 3)):
        axis = AXES[k]
        solver = frame[f"eta_solver_{axis}"].to_numpy()
        ax.plot(solver, np.arange(len(solver)), "o", ms=4, color=f"C{k}", label="structures")
        ax.axvline(solver.mean(), color="k", lw=1.5, label="mean")
        ax.axvline(target[k], color="0.3", ls=":", lw=1, label="target")
        if paper is not None:
            ax.axvline(paper["solver"][k], color="C3", ls="--", lw=1, label="paper")
        error = 100 * (solver.mean() / target[k] - 1)
        ax.set(xlabel=f"solver η_{axis}", ylabel="structure", yticks=[])
        ax.set_title(f"{axis}: target {target[k]:.3g}, mean {error:+.2f} %", fontsize=9)
    fig.axes[0].legend(fontsize=7, loc="best")
    return fig


def renders_figure(
    small: np.ndarray, large: np.ndarray, theta: Sequence[float], factor: float, name: str
) -> Figure:
    """A structure at θ̂ (side N) next to an upscaled one (side N·factor, a / factor) (Fig. 10).

    Both are drawn in their own voxel units, so the upscaled domain shows ``factor``³ as many
    features of the same size in voxels.
    """
    fig = Figure(figsize=(8.5, 4.4), layout="constrained")
    a_small = ", ".join(f"{v:.3g}" for v in theta[:3])
    a_large = ", ".join(f"{v / factor:.3g}" for v in theta[:3])
    for k, (voxels, a) in enumerate(((small, a_small), (large, a_large))):
        ax = fig.add_subplot(1, 2, k + 1, projection="3d")
        draw_cube(ax, voxels, title=f"N = {voxels.shape[0]}, a = ({a}), ε = {theta[3]:.3g}")
    fig.suptitle(f"{name}: designed structure at N and upscaled ×{factor:g}")
    return fig


def table_html(frame: pd.DataFrame, title: str, note: str = "", digits: int = 4) -> str:
    """A standalone HTML page showing ``frame`` with a title and a note, numbers rounded.

    Floats are shown with ``digits`` significant digits; NaN as an empty cell.
    """
    body = frame.to_html(index=False, na_rep="", float_format=lambda v: f"{v:.{digits}g}", border=0)
    style = (
        "body{font-family:sans-serif;font-size:13px;margin:12px}"
        "table{border-collapse:collapse}th,td{padding:3px 9px;text-align:right}"
        "th{border-bottom:1px solid #444}tr:nth-child(even){background:#f2f2f2}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{style}</style></head><body><h3>{title}</h3><p>{note}</p>{body}</body></html>"
    )


#: File names of :func:`dataset_figures` (paper Fig. 3).
DATASET_FIGURE_NAMES: tuple[str, str, str] = (
    "eta_hist.png",
    "eta_xy_scatter.png",
    "theta_dist.png",
)
_THETA_NAMES = ("a_x", "a_y", "a_z", "eps")


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if len(a) > 1 else float("nan")


def _eta_hist_figure(eta: np.ndarray) -> Figure:
    fig = Figure(figsize=(10, 3.2), layout="constrained")
    bins = np.linspace(0, 1, 41)
    for axis, ax in enumerate(fig.subplots(1, 3, sharey=True)):
        ax.hist(eta[:, axis], bins=bins, color=f"C{axis}")
        ax.set_xlabel(f"η_{AXES[axis]}")
    fig.axes[0].set_ylabel("structures")
    fig.suptitle("Effective diffusivity per direction (paper Fig. 3)")
    return fig


def _eta_scatter_figure(eta: np.ndarray) -> Figure:
    fig = Figure(figsize=(4.5, 4.5), layout="constrained")
    ax = fig.subplots()
    ax.scatter(eta[:, 0], eta[:, 1], s=4, alpha=0.5)
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8)
    ax.set(xlim=(0, 1), ylim=(0, 1), xlabel="η_x", ylabel="η_y", aspect="equal")
    ax.set_title(f"Pearson r = {_pearson(eta[:, 0], eta[:, 1]):.3f} (paper: r ≈ 0.88)")
    return fig


def _theta_figure(theta: np.ndarray) -> Figure:
    fig = Figure(figsize=(12, 3.2), layout="constrained")
    for k, ax in enumerate(fig.subplots(1, 4)):
        ax.hist(theta[:, k], bins=30, color=f"C{k}")
        ax.set_xlabel(_THETA_NAMES[k])
    fig.axes[0].set_ylabel("accepted structures")
    fig.suptitle("θ after the connectivity rejection")
    return fig


def dataset_figures(eta: np.ndarray, theta: np.ndarray, figure_dir: str | os.PathLike[str]) -> None:
    """Write the dataset's figures (paper Fig. 3) as ``DATASET_FIGURE_NAMES`` in ``figure_dir``.

    η histograms per direction, the η_x–η_y scatter with Pearson r in its title (paper:
    r ≈ 0.88), and the θ marginals after the connectivity rejection.

    Args:
        eta: η along (x, y, z), float (n, 3) (:func:`spinodoid.formats.dataset.read_labels`).
        theta: (a_x, a_y, a_z, eps), float (n, 4).
        figure_dir: directory (created).
    """
    out = Path(figure_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = (_eta_hist_figure(eta), _eta_scatter_figure(eta), _theta_figure(theta))
    for name, fig in zip(DATASET_FIGURE_NAMES, figures, strict=True):
        save_figure(fig, out / name, dpi=120)


def parity_figure(predictions: pd.DataFrame, split: str = "test") -> Figure:
    """True vs predicted η for one split, all three directions (paper Fig. 5).

    ``predictions`` is the output of :func:`spinodoid.surrogates.evaluation.predict_splits`.
    """
    import torch

    from spinodoid.surrogates.evaluation import mape_percent, mse_logit

    part = predictions[predictions["split"] == split]
    fig = Figure(figsize=(4.8, 4.8), layout="constrained")
    ax = fig.subplots()
    for k, direction in enumerate(AXES):
        sel = part[part["direction"] == direction]
        ax.scatter(sel["eta_true"], sel["eta_pred"], s=5, alpha=0.6, color=f"C{k}", label=direction)
    ax.plot([0, 1], [0, 1], color="0.4", lw=0.8)
    pred = torch.tensor(part["eta_pred"].to_numpy())
    true = torch.tensor(part["eta_true"].to_numpy())
    title = f"{split}: {len(part)} samples"
    if len(part):
        title += f", MSE {mse_logit(pred, true):.2e}, MAPE {mape_percent(pred, true):.2f} %"
    ax.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", xlabel="true η", ylabel="predicted η")
    ax.set_title(title, fontsize=9)
    ax.legend(title="direction", loc="upper left")
    return fig


def learning_curve_figure(points: Sequence[Mapping[str, float | str]]) -> Figure:
    """Test MAPE (%) against training structures, one line per model, log–log.

    ``points`` are the records of ``benchmarks/learning_curve.py``: ``model``, ``train`` (the
    number of training structures), ``test_mape`` (%), ``seconds`` (fitting time, written
    beside each point) and, for a CNN, ``samples`` (its training budget: one line per model
    and budget).
    """
    frame = pd.DataFrame(list(points))
    if "samples" in frame:
        budget = frame["samples"].map(lambda s: "" if pd.isna(s) else f", {s / 1000:g} k samples")
        frame["model"] = frame["model"] + budget
    fig = Figure(figsize=(5.6, 4.2), layout="constrained")
    ax = fig.subplots()
    for k, (model, part) in enumerate(frame.groupby("model", sort=False)):
        part = part.sort_values("train")
        ax.plot(part["train"], part["test_mape"], "o-", color=f"C{k}", label=model)
        for n, mape, seconds in part[["train", "test_mape", "seconds"]].itertuples(index=False):
            ax.annotate(f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.0f} s",
                        (n, mape), textcoords="offset points", xytext=(4, 4), fontsize=7,
                        color=f"C{k}")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="training structures", ylabel="test MAPE (%)")
    ticks = sorted(frame["train"].unique())
    ax.set_xticks(ticks, [str(int(t)) for t in ticks])
    ax.yaxis.set_major_formatter(ScalarFormatter())
    ax.yaxis.set_minor_formatter(ScalarFormatter())
    ax.legend(title="fitting time beside each point", fontsize=8, title_fontsize=8)
    return fig
