"""End to end: the demo config runs the whole pipeline in a fresh copy of the repository.

The copy lives in a temporary folder, or in ``$SPINODOID_E2E_DIR`` when that is set (CI keeps it
there so the SLURM integration test can compare its outputs with this local run).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(
    ".venv",
    ".git",
    "results",
    "logs",
    ".snakemake",
    "benchmarks",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    "*.egg-info",
)
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    kept = os.environ.get("SPINODOID_E2E_DIR")
    work = Path(kept) if kept else tmp_path_factory.mktemp("demo") / "repo"
    shutil.copytree(ROOT, work, ignore=IGNORE, dirs_exist_ok=True)
    result = subprocess.run(
        [SNAKEMAKE, "--cores", "2", "--configfile", "config/demo.yaml"],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert result.returncode == 0, result.stderr[-5000:]
    return work


@pytest.mark.e2e
def test_demo_produces_every_promised_output(demo_run):
    for path in [
        "results/sample/rejection_stats.csv",
        "results/dataset.zarr",
        "results/model/best.pt",
        "results/model/metrics.csv",
        "results/design/case1/posterior.csv",
        "results/design/case1/theta_hat.json",
        "results/validate/case1.csv",
        "results/upscale/case1.csv",
    ]:
        assert (demo_run / path).exists(), path
    validation = pd.read_csv(demo_run / "results/validate/case1.csv")
    assert {"seed", "eta_solver_x", "eta_cnn_x"} <= set(validation.columns)
    assert validation["eta_solver_x"].between(0, 1).all()
    assert list((demo_run / "logs").rglob("*.log"))


@pytest.mark.e2e
def test_demo_rerun_has_nothing_to_do_and_the_report_builds(demo_run):
    rerun = subprocess.run(
        [SNAKEMAKE, "-n", "--configfile", "config/demo.yaml"],
        cwd=demo_run,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Nothing to be done" in rerun.stdout + rerun.stderr
    report = subprocess.run(
        [
            SNAKEMAKE,
            "--cores",
            "1",
            "--configfile",
            "config/demo.yaml",
            "--report",
            "results/report.html",
        ],
        cwd=demo_run,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert report.returncode == 0, report.stderr[-3000:]
    assert (demo_run / "results/report.html").stat().st_size > 100_000


# --- What a config edit reruns (a dry run on a copy of the finished demo) --------------------

PER_TARGET_RULES = {
    "design",
    "validate",
    "upscale",
    "export",
    "figure_posterior",
    "report_generations",
    "figure_renders",
    "design_compare",
    "validate_compare",
    "check_spread",
}
#: A target's sequential emulator rounds (workflow/rules/rounds.smk): one job per round each.
ROUND_RULES = {"round_design", "round_solve", "round_emulate"}
#: The tables that list every target: they rerun when one is added.
ALL_TARGET_REPORTS = {"report_validation", "report_comparison", "check_designs"}


@pytest.fixture(scope="module")
def finished_demo(demo_run, tmp_path_factory) -> Path:
    """A copy of the finished demo (results, logs and Snakemake's metadata, mtimes kept)."""
    copy = tmp_path_factory.mktemp("finished") / "repo"
    shutil.copytree(demo_run, copy, symlinks=True)
    return copy


def planned_jobs(repo: Path, edit) -> tuple[dict[str, int], set[str]]:
    """Dry-run the demo config changed by ``edit(config)``; (jobs per rule, targets planned)."""
    config = yaml.safe_load((repo / "config/demo.yaml").read_text())
    edit(config)
    edited = repo / "edited.yaml"
    edited.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [SNAKEMAKE, "-n", "--configfile", str(edited)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout + result.stderr
    jobs: dict[str, int] = {}
    if "Job stats:" in text:
        table = text.split("Job stats:", 1)[1].splitlines()[3:]
        for line in table:
            fields = line.split()
            if len(fields) != 2 or not fields[1].isdigit() or fields[0] == "total":
                break
            jobs[fields[0]] = int(fields[1])
    targets = set(re.findall(r"wildcards: target=([A-Za-z0-9_-]+)", text))
    return jobs, targets


def set_key(path: tuple[str, str], value):
    def edit(config):
        config[path[0]][path[1]] = value

    return edit


@pytest.mark.e2e
def test_a_new_target_plans_only_its_own_jobs_and_the_reports(finished_demo):
    def add_target(config):
        config["targets"].append({"name": "film", "eta": [0.45, 0.5, 0.55]})

    jobs, targets = planned_jobs(finished_demo, add_target)
    rounds = yaml.safe_load((finished_demo / "config/demo.yaml").read_text())["rounds"]["count"]
    assert rounds >= 1
    assert targets == {"film"}
    assert set(jobs) - {"all"} <= PER_TARGET_RULES | ROUND_RULES | ALL_TARGET_REPORTS
    assert {"design", "validate", "upscale"} | ROUND_RULES <= set(jobs)
    assert all(jobs[rule] == rounds for rule in ROUND_RULES), jobs
    assert all(count == 1 for rule, count in jobs.items() if rule not in ROUND_RULES), jobs


@pytest.mark.e2e
def test_one_more_round_plans_only_that_round_and_the_emulator_design_after_it(finished_demo):
    def one_more_round(config):
        config["rounds"]["count"] += 1

    jobs, targets = planned_jobs(finished_demo, one_more_round)
    assert targets == {"case1"}
    assert all(jobs[rule] == 1 for rule in ROUND_RULES), jobs
    assert jobs["design"] == 1 and "design_compare" not in jobs  # the CNN's design stays
    assert {"sample", "simulate", "assemble", "train", "emulate"}.isdisjoint(jobs)


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("train", "num_workers"), 2),
        (("train", "compile"), True),
        (("train", "channels_last"), True),
        (("train", "device"), "auto"),
        (("design", "device"), "auto"),
        (("simulate", "arch"), "cuda"),
        (("upscale", "max_memory_gib"), 4),
    ],
)
def test_where_a_job_runs_is_never_a_rerun_reason(finished_demo, path, value):
    jobs, _ = planned_jobs(finished_demo, set_key(path, value))
    assert jobs == {}, f"changing {'.'.join(path)} plans {jobs}"


@pytest.mark.e2e
def test_a_larger_training_split_plans_the_dataset_and_everything_after(finished_demo):
    # 96 + 12 + 12 structures need a fourth shard of 32: sample and simulate it, keep the others
    jobs, targets = planned_jobs(finished_demo, set_key(("dataset", "n_train"), 96))
    assert jobs["sample"] == jobs["simulate"] == 1
    assert {"sample", "simulate", "assemble", "train", "evaluate", "design", "validate"} <= set(
        jobs
    )
    assert targets == {"case1"}
