"""End to end: the demo config runs the whole pipeline in a fresh copy of the repository.

The copy lives in a temporary folder, or in ``$SPINODOID_E2E_DIR`` when that is set (CI keeps it
there so the SLURM integration test can compare its outputs with this local run).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

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
