"""Tests of spinodoid.plotting: each report figure shows the data it is given."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection
from mpl_toolkits.mplot3d.art3d import Poly3DCollection

from spinodoid import plotting
from spinodoid.structures.grf import generate_structure

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _surfaces(ax) -> list[Poly3DCollection]:
    return [c for c in ax.collections if isinstance(c, Poly3DCollection)]


def test_draw_cube_colours_each_face_by_phase():
    voxels = np.zeros((8, 8, 8), dtype=np.uint8)
    voxels[-1, :4, :] = 1  # half of the x = N face is solid
    fig = plotting.examples_figure([voxels], [(0.1, 0.1, 0.1, 0.5)])
    faces = _surfaces(fig.axes[0])
    assert len(faces) == 3
    x_face = faces[0].get_facecolor()
    assert len(x_face) == 64
    light = np.isclose(x_face[:, 0], plotting.SOLID_COLOUR[0] * 0.85)
    assert light.sum() == 32  # the 32 solid quads of the 8 x 8 face
    z_face = faces[2].get_facecolor()
    assert np.isclose(z_face[:, 0], plotting.PORE_COLOUR[0] * 0.7).sum() == 60


def test_draw_cube_subsamples_large_structures():
    voxels = generate_structure((0.1, 0.1, 0.1, 0.5), 0, 64)
    fig = plotting.renders_figure(voxels[:32, :32, :32], voxels, (0.1, 0.1, 0.1, 0.5), 2, "t")
    sizes = [len(_surfaces(ax)[0].get_facecolor()) for ax in fig.axes[:2]]
    assert sizes == [32 * 32, 64 * 64]
    small = fig.add_subplot(projection="3d")
    plotting.draw_cube(small, voxels, max_side=16)
    assert len(_surfaces(small)[0].get_facecolor()) == 16 * 16


def test_examples_figure_is_written_as_png(tmp_path):
    structures = [generate_structure(t, 1, 16) for t in plotting.EXAMPLE_THETAS]
    fig = plotting.examples_figure(structures, plotting.EXAMPLE_THETAS)
    assert len(fig.axes) == 3 and "ε = 0.75" in fig.axes[2].get_title()
    plotting.save_figure(fig, tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:8] == PNG_MAGIC
    assert not list(tmp_path.glob(".*"))


def test_posterior_figure_draws_one_histogram_per_generation_and_parameter():
    rng = np.random.default_rng(0)
    generations = [
        SimpleNamespace(
            theta=rng.normal(0.1 + 0.01 * t, 0.02, (50, 4)),
            weights=np.full(50, 0.02),
            tolerance=100.0 / (t + 1),
        )
        for t in range(3)
    ]
    fig = plotting.posterior_figure(generations, ("a_x", "a_y", "a_z", "eps"), (0.1, 0.2, 0.3, 0.4))
    assert len(fig.axes) == 4
    for j, ax in enumerate(fig.axes):
        assert len(ax.patches) == 3  # one stairs per generation
        assert ax.lines[0].get_xdata()[0] == pytest.approx((0.1, 0.2, 0.3, 0.4)[j])
        values, edges = ax.patches[0].get_data()[:2]
        assert np.sum(values * np.diff(edges)) == pytest.approx(1.0)  # a density
    assert fig.axes[3].get_xlabel() == "ε"


def test_validation_figure_plots_solver_against_cnn():
    frame = pd.DataFrame(
        {
            "eta_solver_x": [0.38, 0.41],
            "eta_solver_y": [0.5, 0.52],
            "eta_solver_z": [0.6, 0.58],
            "eta_cnn_x": [0.39, 0.4],
            "eta_cnn_y": [0.49, 0.51],
            "eta_cnn_z": [0.61, 0.59],
        }
    )
    fig = plotting.validation_figure(frame, (0.4, 0.5, 0.6), None)
    for k, axis in enumerate("xyz"):
        points = [c for c in fig.axes[k].collections if isinstance(c, PathCollection)][0]
        np.testing.assert_allclose(
            points.get_offsets(), frame[[f"eta_solver_{axis}", f"eta_cnn_{axis}"]].to_numpy()
        )
    paper = {"solver": (0.4, 0.498, 0.598), "cnn": (0.401, 0.499, 0.599)}
    with_paper = plotting.validation_figure(frame, (0.4, 0.5, 0.6), paper)
    crosses = [line for line in with_paper.axes[1].lines if line.get_label() == "paper"]
    assert (crosses[0].get_xdata()[0], crosses[0].get_ydata()[0]) == (0.498, 0.499)


def test_validation_figure_without_a_cnn_shows_the_solver_against_the_target():
    frame = pd.DataFrame(
        {"eta_solver_x": [0.38, 0.41], "eta_solver_y": [0.5, 0.52], "eta_solver_z": [0.6, 0.58]}
    )
    fig = plotting.validation_figure(frame, (0.4, 0.5, 0.6), None)
    for k, axis in enumerate("xyz"):
        points, mean, target = fig.axes[k].lines[:3]
        np.testing.assert_allclose(points.get_xdata(), frame[f"eta_solver_{axis}"])
        assert mean.get_xdata()[0] == pytest.approx(frame[f"eta_solver_{axis}"].mean())
        assert target.get_xdata()[0] == (0.4, 0.5, 0.6)[k]
    assert fig.axes[0].get_title() == "x: target 0.4, mean -1.25 %"


def test_table_html_shows_rounded_values_and_blank_nan():
    frame = pd.DataFrame({"direction": ["x"], "mean": [0.401234567], "paper_mean": [np.nan]})
    html = plotting.table_html(frame, "Mean η", "a note", digits=3)
    assert "<h3>Mean η</h3>" in html and "a note" in html
    assert "0.401" in html and "0.4012" not in html and "NaN" not in html


def test_learning_curve_figure_draws_one_line_per_model_through_its_points():
    points = [
        {"model": model, "train": n, "test_mape": mape, "seconds": 30.0 * n / 72}
        for model, mapes in (("joint CNN", (8.0, 5.0, 3.0)), ("emulator", (3.0, 2.0, 1.5)))
        for n, mape in zip((72, 256, 1024), mapes, strict=True)
    ]
    ax = plotting.learning_curve_figure(points).axes[0]
    lines = {line.get_label(): line for line in ax.get_lines()}
    assert set(lines) == {"joint CNN", "emulator"}
    assert list(lines["joint CNN"].get_ydata()) == [8.0, 5.0, 3.0]
    budgets = [{**p, "samples": 15_000} if p["model"] != "emulator" else p for p in points]
    budgets.append({"model": "joint CNN", "train": 1024, "test_mape": 2.0, "seconds": 9.0,
                    "samples": 40_960})  # fmt: skip
    labels = {line.get_label() for line in plotting.learning_curve_figure(budgets).axes[0].lines}
    assert labels == {"joint CNN, 15 k samples", "joint CNN, 40.96 k samples", "emulator"}
    assert list(lines["emulator"].get_xdata()) == [72, 256, 1024]
    assert {t.get_text() for t in ax.texts} >= {"30 s", "7.1 min"}
