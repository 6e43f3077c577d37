"""Tests of spinodoid.validation: seeds, upscaling sizes, statistics."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from spinodoid.abc import read_design_status, read_theta_hat
from spinodoid.solvers.plan import MemoryPlanError, SolverSettings
from spinodoid.structures.connectivity import is_bicontinuous
from spinodoid.structures.grf import generate_structure
from spinodoid.surrogates.cnn import SpinodoidCNN, predict_eta_all_axes
from spinodoid.surrogates.cnn_input import block_counts
from spinodoid.validation import (
    PAPER_RESULTS,
    IncompleteDesignError,
    NotEnoughStructuresError,
    ResumableRows,
    accepted_rows,
    combined_table,
    comparison_table,
    derived_seeds,
    design_status_table,
    make_solver,
    paper_results_for,
    rejected_rows,
    solver_eta,
    spread_table,
    summarize,
    upscale_structures,
    upscaled_size,
    upscaled_theta,
    validate_structures,
    write_table,
)
from tests.stand_ins import SOMETIMES_DISCONNECTED, KilledAfter, porosity_solver

THETA = (0.1, 0.12, 0.2, 0.6)


class RecordingSolver:
    """Records the shape, porosity and level set agreement of every structure it is given."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], float, bool]] = []

    def __call__(self, voxels: np.ndarray, level_set: np.ndarray | None, axis: int) -> float:
        agrees = level_set is not None and np.array_equal(voxels, (level_set >= 0).view(np.uint8))
        self.calls.append((voxels.shape, float(1.0 - voxels.mean()), agrees))
        return 0.5


def refuse_to_solve(voxels: np.ndarray, level_set: np.ndarray | None, axis: int) -> float:
    raise AssertionError("the solver must not run when the plan is refused")


def test_derived_seeds_are_deterministic_and_stream_specific():
    first = derived_seeds(7, "case1", "validate", 5)
    assert first.dtype == np.int64 and first.shape == (5,)
    assert np.array_equal(first, derived_seeds(7, "case1", "validate", 5))
    assert np.array_equal(first[:3], derived_seeds(7, "case1", "validate", 3))
    assert len(np.unique(first)) == 5
    assert ((first >= 0) & (first < 2**32)).all()
    others = [
        derived_seeds(7, "case1", "upscale", 5),
        derived_seeds(7, "case2", "validate", 5),
        derived_seeds(8, "case1", "validate", 5),
    ]
    for other in others:
        assert not np.intersect1d(first, other).size
    with pytest.raises(ValueError, match="stream"):
        derived_seeds(7, "case1", "train", 1)


@pytest.mark.parametrize(
    ("size", "factor", "expected"), [(64, 1.5, 96), (192, 3, 576), (32, 3, 96)]
)
def test_upscaled_size_accepts_even_integers(size, factor, expected):
    assert upscaled_size(size, factor) == expected


@pytest.mark.parametrize(("size", "factor"), [(64, 1.4), (33, 3), (64, 1.51)])
def test_upscaled_size_refuses_odd_or_fractional_sizes(size, factor):
    with pytest.raises(ValueError, match="even integer"):
        upscaled_size(size, factor)


def test_upscaled_theta_divides_length_scales_only():
    np.testing.assert_allclose(upscaled_theta(THETA, 2.0), (0.05, 0.06, 0.1, 0.6))


def test_upscale_refuses_before_generating_anything():
    settings = SolverSettings(interface="subvoxel", arch="cpu")
    with pytest.raises(MemoryPlanError):
        upscale_structures(THETA, [1], 64, 8, refuse_to_solve, settings, max_memory_gib=1)
    with pytest.raises(ValueError, match="even integer"):
        upscale_structures(THETA, [1], 64, 1.4, refuse_to_solve, settings, max_memory_gib=64)


def test_upscaled_structures_have_the_right_size_and_porosity():
    solver = RecordingSolver()
    settings = SolverSettings()
    frame = upscale_structures(THETA, [3, 4], 16, 2, solver, settings, max_memory_gib=1)
    assert len(solver.calls) == 6  # 2 structures x 3 axes
    for shape, porosity, agrees in solver.calls:
        assert shape == (32, 32, 32)
        assert porosity == pytest.approx(THETA[3], abs=1 / 32**3)
        assert agrees
    assert list(frame.columns[:5]) == [
        "seed",
        "porosity",
        "eta_solver_x",
        "eta_solver_y",
        "eta_solver_z",
    ]
    assert (frame["size"] == 32).all() and frame["seed"].tolist() == [3, 4]
    assert "eta_cnn_x" not in frame


def test_validate_structures_regenerates_each_seed_and_predicts_all_axes():
    torch.manual_seed(0)
    model = SpinodoidCNN(input_size=36).eval()
    seeds = [11, 12]
    frame = validate_structures(THETA, seeds, 72, porosity_solver, model, "cpu")
    structures = np.stack([generate_structure(THETA, s, 72) for s in seeds])
    expected_cnn = predict_eta_all_axes(model, torch.as_tensor(block_counts(structures))).numpy()
    np.testing.assert_allclose(
        frame[["eta_cnn_x", "eta_cnn_y", "eta_cnn_z"]], expected_cnn, rtol=1e-6
    )
    porosity = 1.0 - structures.mean(axis=(1, 2, 3))
    np.testing.assert_allclose(frame["porosity"], porosity)
    np.testing.assert_allclose(frame["eta_solver_z"], porosity + 0.02)
    assert (frame["solver_seconds"] >= 0).all()


def test_solver_eta_asks_each_axis_once_in_order():
    asked: list[int] = []

    def solve(voxels, level_set, axis):
        asked.append(axis)
        return 0.1 * (axis + 1)

    np.testing.assert_allclose(
        solver_eta(np.zeros((4, 4, 4), np.uint8), None, solve), (0.1, 0.2, 0.3)
    )
    assert asked == [0, 1, 2]


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "seed": [1, 2],
            "eta_solver_x": [0.3, 0.5],
            "eta_solver_y": [0.5, 0.7],
            "eta_solver_z": [0.6, 0.6],
            "eta_cnn_x": [0.40, 0.42],
            "eta_cnn_y": [0.50, 0.50],
            "eta_cnn_z": [0.57, 0.61],
        }
    )


def test_summarize_matches_hand_computed_statistics():
    summary = summarize(_frame(), (0.40, 0.50, 0.60), "solver").set_index(["method", "direction"])
    x = summary.loc[("solver", "x")]
    assert x["mean"] == pytest.approx(0.4)
    assert x["std"] == pytest.approx(math.sqrt(0.02))  # ((0.1² + 0.1²) / (2 − 1))^½
    assert x["error"] == pytest.approx(0.0, abs=1e-12)
    y = summary.loc[("solver", "y")]
    assert (y["mean"], y["error"], y["error_percent"]) == pytest.approx((0.6, 0.1, 20.0))
    assert summary.loc[("solver", "z"), "std"] == pytest.approx(0.0)
    z_cnn = summary.loc[("cnn", "z")]
    assert (z_cnn["mean"], z_cnn["std"]) == pytest.approx((0.59, math.sqrt(0.0008)))
    assert z_cnn["error_percent"] == pytest.approx(-100 * 0.01 / 0.6)
    assert (summary["structures"] == 2).all() and (summary["paper_case"] == "case1").all()
    assert summary.loc[("solver", "y"), "paper_mean"] == PAPER_RESULTS["case1"]["solver"][1]
    assert summary.loc[("cnn", "x"), "paper_mean"] == PAPER_RESULTS["case1"]["cnn"][0]


def test_summarize_upscale_uses_the_papers_upscaled_numbers_and_nan_elsewhere():
    frame = _frame().drop(columns=["eta_cnn_x", "eta_cnn_y", "eta_cnn_z"])
    summary = summarize(frame.iloc[:1], (0.25, 0.375, 0.50), "upscale")
    assert summary["method"].tolist() == ["solver"] * 3
    assert summary["paper_mean"].tolist() == list(PAPER_RESULTS["case2"]["upscale"])
    assert summary["std"].isna().all()  # one structure: no sample std
    other = summarize(frame, (0.3, 0.3, 0.3), "solver")
    assert other["paper_mean"].isna().all() and (other["paper_case"] == "").all()


def test_paper_results_lookup_by_target():
    assert paper_results_for((0.25, 0.375, 0.5))[0] == "case2"
    assert paper_results_for([0.4, 0.5, 0.6])[0] == "case1"
    assert paper_results_for((0.4, 0.5, 0.61)) is None


def test_theta_hat_and_tables_round_trip(tmp_path):
    path = tmp_path / "theta_hat.json"
    path.write_text(json.dumps({"a_x": 0.1, "a_y": 0.2, "a_z": 0.3, "eps": 0.6, "status": "ok"}))
    np.testing.assert_array_equal(read_theta_hat(path), (0.1, 0.2, 0.3, 0.6))
    summary = summarize(_frame(), (0.4, 0.5, 0.6), "solver")
    table = combined_table({("case1", "validate"): summary, ("case1", "upscale"): summary})
    assert list(table.columns[:3]) == ["target_name", "stage", "method"] and len(table) == 12
    write_table(table, tmp_path / "t.csv")
    back = pd.read_csv(tmp_path / "t.csv", keep_default_na=False, na_values=[""])
    np.testing.assert_array_equal(back["mean"].to_numpy(), table["mean"].to_numpy())
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_make_solver_calls_the_configured_solver_on_a_straight_channel():
    structure = np.ones((8, 8, 8), dtype=np.uint8)
    structure[:, 2:5, 3:6] = 0  # a 3 x 3 pore channel along x: η_x = porosity exactly
    solve = make_solver(SolverSettings(solver="fv", interface="voxel"))
    assert solve(structure, None, 0) == pytest.approx(9 / 64, rel=1e-6)


# θ̂ whose structures at N = 24 percolate for some seeds only: seeds 0-11 give
# rejected, rejected, accepted, rejected, rejected, rejected, accepted, rejected, ... (pore phase).
def test_validation_draws_fresh_seeds_until_enough_structures_are_accepted():
    frame = validate_structures(SOMETIMES_DISCONNECTED, range(40), 24, porosity_solver, count=3)
    accepted = accepted_rows(frame)
    assert len(accepted) == 3
    assert accepted["seed"].tolist() == [2, 6, 10]
    assert frame["seed"].tolist() == list(range(11))  # stops at the third accepted structure
    assert "accepted" not in accepted
    rejected = frame[~frame["accepted"]]
    assert rejected[["eta_solver_x", "eta_solver_y", "eta_solver_z"]].isna().all().all()
    assert rejected_rows(frame)["seed"].tolist() == [0, 1, 3, 4, 5, 7, 8, 9]
    for seed in rejected["seed"]:
        assert not is_bicontinuous(generate_structure(SOMETIMES_DISCONNECTED, seed, 24))
    summary = summarize(frame, (0.4, 0.5, 0.6), "solver")
    assert (summary["structures"] == 3).all()
    np.testing.assert_allclose(summary["mean"].iloc[0], accepted["porosity"].mean())


def test_validation_refuses_when_the_seeds_run_out():
    with pytest.raises(NotEnoughStructuresError, match="only 1 of 4 structures"):
        validate_structures(SOMETIMES_DISCONNECTED, range(4), 24, porosity_solver, count=2)


def test_validation_resumes_from_the_rows_it_kept(tmp_path):
    path = tmp_path / "rows.json"
    signature = {"theta": list(SOMETIMES_DISCONNECTED), "size": 24}
    with pytest.raises(KeyboardInterrupt):  # killed during the second accepted structure
        validate_structures(
            SOMETIMES_DISCONNECTED,
            range(40),
            24,
            KilledAfter(4),
            count=3,
            rows=ResumableRows(path, signature),
        )
    kept = ResumableRows(path, signature).rows
    assert [row["seed"] for row in kept] == [0, 1, 2, 3, 4, 5]
    counting = RecordingSolver()
    resumed = validate_structures(
        SOMETIMES_DISCONNECTED,
        range(40),
        24,
        counting,
        count=3,
        rows=ResumableRows(path, signature),
    )
    assert len(counting.calls) == 6  # seeds 6 and 10 only, three axes each
    assert accepted_rows(resumed)["seed"].tolist() == [2, 6, 10]
    assert resumed["eta_solver_x"].iloc[2] == pytest.approx(kept[2]["eta_solver_x"])
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind
    other = ResumableRows(path, {**signature, "size": 32})
    assert other.rows == []  # another job's rows are not reused


def _theta_hat_file(tmp_path, name: str, status: str) -> str:
    path = tmp_path / f"{name}.json"
    values = {"a_x": 0.1, "a_y": 0.2, "a_z": 0.3, "eps": 0.6, "status": status}
    values |= {"message": "stopped after 1500 evaluations", "final_tolerance": 17.8}
    path.write_text(json.dumps(values))
    return str(path)


def test_an_incomplete_design_fails_the_run_naming_the_target_unless_accepted(tmp_path):
    statuses = {
        "case1": read_design_status(_theta_hat_file(tmp_path, "case1", "completed")),
        "film": read_design_status(_theta_hat_file(tmp_path, "film", "budget_exhausted")),
    }
    with pytest.raises(IncompleteDesignError, match=r"film: budget_exhausted at tolerance 17.8"):
        design_status_table(statuses, accept_incomplete=False)
    table = design_status_table(statuses, accept_incomplete=True)
    assert table["status"].tolist() == ["completed", "budget_exhausted"]
    complete = {"case1": statuses["case1"]}
    assert len(design_status_table(complete, accept_incomplete=False)) == 1


def test_a_design_at_its_tolerance_floor_is_marked_but_does_not_fail_the_run(tmp_path):
    statuses = {
        "case1": read_design_status(_theta_hat_file(tmp_path, "case1", "completed")),
        "far": read_design_status(_theta_hat_file(tmp_path, "far", "tolerance_floor")),
    }
    table = design_status_table(statuses, accept_incomplete=False)
    assert table["status"].tolist() == ["completed", "tolerance_floor"]


def test_the_validation_table_marks_an_incomplete_design():
    summary = summarize(_frame(), (0.4, 0.5, 0.6), "solver")
    table = combined_table(
        {("case1", "validate"): summary, ("film", "validate"): summary},
        {"case1": "completed", "film": "budget_exhausted"},
    )
    assert list(table.columns[:3]) == ["target_name", "stage", "design_status"]
    marked = table.groupby("target_name")["design_status"].unique()
    assert marked["film"].tolist() == ["budget_exhausted"]
    assert marked["case1"].tolist() == ["completed"]


def test_comparison_table_puts_the_designs_side_by_side():
    frame = _frame().assign(accepted=[True, True])
    theta_hat = {"a_x": 0.1, "a_y": 0.2, "a_z": 0.3, "eps": 0.6, "status": "completed"}
    theta_hat |= {"posterior_std": {"a_x": 0.01}, "evaluations": 1000, "wall_time_s": 2.5}
    table = comparison_table(
        [("case1", "emulator", theta_hat, frame), ("case1", "cnn", theta_hat, frame.iloc[:1])],
        {"case1": (0.4, 0.5, 0.6)},
    )
    assert table["simulator"].tolist() == ["emulator", "cnn"]
    first = table.iloc[0]
    assert (first["eta_x"], first["eta_y"], first["eta_z"]) == pytest.approx((0.4, 0.6, 0.6))
    assert first["mape_of_mean_percent"] == pytest.approx(100 * (0.1 / 0.5) / 3)
    per_structure = [0.25, 0.0, 0.0, 0.25, 0.4, 0.0]  # |η − target| / target, two structures
    assert first["mape_percent"] == pytest.approx(100 * np.mean(per_structure))
    assert table.iloc[1]["structures"] == 1 and math.isnan(first["std_a_y"])


def test_spread_table_sets_measured_against_predicted_spread():
    rng = np.random.default_rng(0)
    eta = np.array([0.4, 0.5, 0.6]) + rng.normal(0.0, [0.004, 0.008, 0.006], size=(30, 3))
    frame = pd.DataFrame({f"eta_solver_{axis}": eta[:, k] for k, axis in enumerate("xyz")})
    frame["accepted"] = True
    frame.loc[29, ["eta_solver_x", "eta_solver_y", "eta_solver_z", "accepted"]] = [
        np.nan,
        np.nan,
        np.nan,
        False,
    ]
    table = spread_table(frame, np.array([0.4, 0.5, 0.6]), np.array([0.004, 0.004, 0.012]))
    assert table["structures"].tolist() == [29, 29, 29]
    np.testing.assert_allclose(table["measured_std"], eta[:29].std(axis=0, ddof=1))
    np.testing.assert_allclose(table["measured_std_se"], table["measured_std"] / np.sqrt(56))
    np.testing.assert_allclose(table["ratio"], [0.004, 0.004, 0.012] / table["measured_std"])
    assert table["ratio"].iloc[0] == pytest.approx(1.0, abs=0.35)  # right within its noise
    assert table["ratio"].iloc[1] < 0.7 and table["ratio"].iloc[2] > 1.4  # under, over
