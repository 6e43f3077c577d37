"""The SLURM and local Snakemake profiles and the per-rule conda environments (issue 9).

Two kinds of test live here:

- Fast checks of `workflow/profiles/{slurm,local}` and `envs/*.yaml` (no cluster needed): every
  rule of the workflow has SLURM resources, every request fits a partition at every retry, the
  profiles parse in a dry run of the paper config, the environments list the package's
  dependencies.
- `@pytest.mark.slurm`: the demo (config/demo.yaml, the default target) run through the real
  SLURM profile on the single-node cluster started by ../shared/slurm/start-local-slurm.sh,
  with one running `sample` job killed by `scancel` mid-run. It checks that the run completes,
  that every job went through SLURM (sacct and .snakemake/slurm_logs), that the killed job was
  retried, and that the outputs equal those of a local run. Set SPINODOID_LOCAL_DEMO_DIR to the
  working directory of a finished local demo run (e.g. the repository after `.ci/run`'s demo)
  to compare against it instead of running the local demo again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
START_SCRIPT = REPO.parent / "shared" / "slurm" / "start-local-slurm.sh"
SLURM_PROFILE = REPO / "workflow" / "profiles" / "slurm"
LOCAL_PROFILE = REPO / "workflow" / "profiles" / "local"
ENVS = REPO / "envs"
WORKFLOW_FILES = ("Snakefile", "workflow", "scripts", "config", "envs")
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# Rules the finished workflow has (README, docs/method.md §7); the profile must cover each of them.
PIPELINE_RULES = (
    "sample",
    "rejection_stats",
    "simulate",
    "assemble",
    "train",
    "evaluate",
    "design",
    "validate",
    "upscale",
    "export",
    "report",
)
# conda-forge names of PyPI distributions the environments take from conda-forge.
CONDA_NAMES = {"matplotlib-base": "matplotlib"}
# Names of datasets, columns and keys that hold wall times, dates, hosts, versions or paths.
VOLATILE = re.compile(
    r"second|time|elapsed|duration|date|created|modified|host|version|path", re.IGNORECASE
)
# The local cluster is one node with 2 CPUs and the machine's memory; cap each job's request.
TEST_MEM_CAP_MB = 4000
SLURM_TIMEOUT_S = int(os.environ.get("SPINODOID_SLURM_TIMEOUT", "3600"))


def load_profile(profile: Path) -> dict:
    """The profile's config.yaml as a mapping."""
    return yaml.safe_load((profile / "config.yaml").read_text())


def eval_resource(expression: object, attempt: int) -> int:
    """Value (int) of a profile resource expression such as ``"30 * attempt"`` at `attempt`."""
    return int(eval(str(expression), {"attempt": attempt}))


def workflow_rules() -> set[str]:
    """Rule names of the workflow as it stands (demo config), without the `all` target."""
    out = subprocess.run(
        [SNAKEMAKE, "--list-rules", "--configfile", "config/demo.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.strip() for line in out.splitlines() if line.strip()} - {"all"}


def pyproject_dependencies() -> set[str]:
    """Distribution names of the package's runtime dependencies (pyproject.toml)."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return {re.split(r"[<>=!~ \[]", dep, maxsplit=1)[0].lower() for dep in project["dependencies"]}


def env_packages(env_file: Path) -> set[str]:
    """Lower-case package names a conda environment file installs (conda and pip sections)."""
    spec = yaml.safe_load(env_file.read_text())
    names = set()
    for dep in spec["dependencies"]:
        entries = dep["pip"] if isinstance(dep, dict) else [dep]
        for entry in entries:
            if not entry.startswith("-"):
                name = re.split(r"[<>=!~ \[]", entry, maxsplit=1)[0].lower()
                names.add(CONDA_NAMES.get(name, name))
    return names


# ---------------------------------------------------------------- fast checks (no cluster)


def test_slurm_profile_covers_every_rule():
    """A rule without SLURM resources would run with the defaults; the profile names them all."""
    profiled = set(load_profile(SLURM_PROFILE)["set-resources"])
    assert set(PIPELINE_RULES) <= profiled
    assert workflow_rules() <= profiled, "rules without set-resources in the SLURM profile"


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_slurm_requests_fit_a_partition_at_every_attempt(attempt):
    """Runtime and memory grow with `attempt`; every retry must still fit a listed partition.

    A grouped rule is bounded by its group job: all members side by side (memory) and all of
    them one after another (runtime).
    """
    profile = load_profile(SLURM_PROFILE)
    assert attempt <= int(profile["retries"]) + 1
    partitions = yaml.safe_load((SLURM_PROFILE / profile["slurm-partition-config"]).read_text())
    limits = partitions["partitions"].values()
    defaults = profile["default-resources"]
    for rule, resources in profile["set-resources"].items():
        merged = {**defaults, **resources}
        group = profile["groups"].get(rule)
        members = profile["group-components"][group] if group else 1
        runtime = members * eval_resource(merged["runtime"], attempt)
        mem_mb = members * eval_resource(merged["mem_mb"], attempt)
        assert any(
            runtime <= part["max_runtime"] and mem_mb <= part["max_mem_mb"] for part in limits
        ), f"{rule} attempt {attempt}: {runtime} min, {mem_mb} MB fits no partition"


def test_slurm_partitions_separate_cpu_and_gpu():
    """GPU jobs need a partition with GPUs; CPU jobs one without, so they do not queue there."""
    profile = load_profile(SLURM_PROFILE)
    partitions = yaml.safe_load((SLURM_PROFILE / profile["slurm-partition-config"]).read_text())
    gpus = [part.get("max_gpu", 0) for part in partitions["partitions"].values()]
    assert any(g > 0 for g in gpus) and any(g == 0 for g in gpus)


def test_slurm_profile_groups_per_shard_rules():
    """`sample` and `simulate` run many shards per SLURM job."""
    profile = load_profile(SLURM_PROFILE)
    for rule in ("sample", "simulate"):
        group = profile["groups"][rule]
        assert profile["group-components"][group] > 1


@pytest.mark.parametrize("profile", [SLURM_PROFILE, LOCAL_PROFILE], ids=["slurm", "local"])
def test_profile_parses_in_paper_dry_run(profile, tmp_path):
    """Snakemake accepts every profile key; the paper config plans all its jobs (dry run)."""
    workdir = copy_workflow(tmp_path)
    result = subprocess.run(
        [SNAKEMAKE, "-n", "--quiet", "rules", "--workflow-profile", str(profile)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "sample" in result.stdout


@pytest.mark.parametrize("env", ["cpu", "gpu"])
def test_env_installs_package_dependencies(env):
    """`--sdm conda` builds each environment with every runtime dependency of the package."""
    missing = pyproject_dependencies() - {"snakemake"} - env_packages(ENVS / f"{env}.yaml")
    assert not missing, f"envs/{env}.yaml lacks {sorted(missing)}"
    deploy = ENVS / f"{env}.post-deploy.sh"
    assert "pip install" in deploy.read_text() and "--no-deps" in deploy.read_text()


def test_env_torch_builds():
    """The CPU environment takes torch's CPU wheels; the GPU one the CUDA wheels of PyPI."""
    cpu = (ENVS / "cpu.yaml").read_text()
    gpu = (ENVS / "gpu.yaml").read_text()
    assert "download.pytorch.org/whl/cpu" in cpu
    assert "download.pytorch.org/whl/cpu" not in gpu


def test_every_rule_uses_a_project_env():
    """Each rule's `conda:` names one of envs/*.yaml, so `--sdm conda` can deploy all rules."""
    envs = {path.name for path in ENVS.glob("*.yaml")}
    for smk in (REPO / "workflow" / "rules").glob("*.smk"):
        for match in re.finditer(r'conda:\s*\n\s*"([^"]+)"', smk.read_text()):
            assert Path(match.group(1)).name in envs, f"{smk.name}: {match.group(1)}"


# ---------------------------------------------------------------- comparison of results


def _volatile(name: str) -> bool:
    return bool(VOLATILE.search(name))


def _clean(value: object) -> object:
    """`value` with volatile mapping keys dropped, recursively (JSON-like data)."""
    if isinstance(value, Mapping):
        return {k: _clean(v) for k, v in value.items() if not _volatile(str(k))}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _same_array(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal shape and values; NaN equals NaN in floating arrays."""
    a, b = np.asarray(a), np.asarray(b)
    floating = a.dtype.kind in "fc" and b.dtype.kind in "fc"
    return np.array_equal(a, b, equal_nan=floating)


def _attrs(obj) -> dict:
    return {k: np.asarray(v).tolist() for k, v in obj.attrs.items() if not _volatile(k)}


def _h5_differences(a: Path, b: Path) -> list[str]:
    """Datasets (exact values) and attributes of two HDF5 files that differ."""
    diffs: list[str] = []
    with h5py.File(a, "r") as fa, h5py.File(b, "r") as fb:
        names_a, names_b = [], []
        fa.visit(names_a.append)
        fb.visit(names_b.append)
        if sorted(names_a) != sorted(names_b):
            return [f"{a.name}: members {sorted(names_a)} != {sorted(names_b)}"]
        for name in ["/", *names_a]:
            if _attrs(fa[name]) != _attrs(fb[name]):
                diffs.append(f"{a.name}:{name} attributes differ")
            if isinstance(fa[name], h5py.Dataset) and not _volatile(name):
                if not _same_array(fa[name][()], fb[name][()]):
                    diffs.append(f"{a.name}:{name} values differ")
    return diffs


def _zarr_differences(a: Path, b: Path) -> list[str]:
    """Arrays (exact values) and attributes of two zarr stores that differ."""
    import zarr

    ga, gb = zarr.open_group(str(a), mode="r"), zarr.open_group(str(b), mode="r")
    arrays_a, arrays_b = dict(ga.arrays()), dict(gb.arrays())
    diffs = []
    if sorted(arrays_a) != sorted(arrays_b):
        return [f"{a.name}: arrays {sorted(arrays_a)} != {sorted(arrays_b)}"]
    if _clean(dict(ga.attrs)) != _clean(dict(gb.attrs)):
        diffs.append(f"{a.name}: group attributes differ")
    for name, arr in arrays_a.items():
        if not _volatile(name) and not _same_array(arr[...], arrays_b[name][...]):
            diffs.append(f"{a.name}/{name} values differ")
    for name in ga.group_keys():
        diffs += _zarr_differences(a / name, b / name)
    return diffs


def _csv_differences(a: Path, b: Path) -> list[str]:
    """Cells of two CSV tables that differ (volatile columns dropped)."""
    ta, tb = pd.read_csv(a), pd.read_csv(b)
    keep = [c for c in ta.columns if not _volatile(c)]
    if list(ta.columns) != list(tb.columns) or ta.shape != tb.shape:
        return [f"{a.name}: shape or columns differ"]
    if not ta[keep].equals(tb[keep]):
        return [f"{a.name}: values differ"]
    return []


def _torch_differences(a: Path, b: Path) -> list[str]:
    """Tensors and numbers of two torch checkpoints that differ (volatile keys dropped)."""
    import torch

    def flatten(obj: object, prefix: str = "") -> Iterator[tuple[str, object]]:
        if isinstance(obj, Mapping):
            for key, value in obj.items():
                if not _volatile(str(key)):
                    yield from flatten(value, f"{prefix}/{key}")
        elif isinstance(obj, list | tuple):
            for i, value in enumerate(obj):
                yield from flatten(value, f"{prefix}/{i}")
        else:
            yield prefix, obj

    ca = dict(flatten(torch.load(a, map_location="cpu", weights_only=False)))
    cb = dict(flatten(torch.load(b, map_location="cpu", weights_only=False)))
    if sorted(ca) != sorted(cb):
        return [f"{a.name}: keys differ"]
    diffs = []
    for key, value in ca.items():
        other = cb[key]
        same = (
            torch.equal(value, other)
            if isinstance(value, torch.Tensor)
            else repr(value) == repr(other)
        )
        if not same:
            diffs.append(f"{a.name}:{key} differs")
    return diffs


def result_differences(a: Path, b: Path) -> list[str]:
    """Every difference between two `results/` trees.

    The same files must exist in both. Contents are compared where they are results: HDF5
    datasets and zarr arrays bit for bit, CSV and JSON values exactly, torch checkpoints tensor
    by tensor; wall times, hosts and versions are ignored, and so are figures and reports
    (existence only).
    """

    def listing(root: Path) -> set[str]:
        # report.html comes from `snakemake --report`, which only the local run may have made.
        files = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
        files.discard("report.html")
        return {f for f in files if ".zarr/" not in f} | {
            str(p.relative_to(root)) for p in root.rglob("*.zarr") if p.is_dir()
        }

    files_a, files_b = listing(a), listing(b)
    diffs = [f"only in one run: {sorted(files_a ^ files_b)}"] if files_a != files_b else []
    for rel in sorted(files_a & files_b):
        fa, fb = a / rel, b / rel
        if rel.endswith(".zarr"):
            diffs += _zarr_differences(fa, fb)
        elif rel.endswith(".h5"):
            diffs += _h5_differences(fa, fb)
        elif rel.endswith(".csv"):
            diffs += _csv_differences(fa, fb)
        elif rel.endswith(".json"):
            if _clean(json.loads(fa.read_text())) != _clean(json.loads(fb.read_text())):
                diffs.append(f"{rel}: values differ")
        elif rel.endswith(".pt"):
            diffs += _torch_differences(fa, fb)
    return diffs


def test_result_differences_sees_changed_structure(tmp_path):
    """The comparison used against the SLURM run finds one flipped voxel and ignores wall times."""
    for run, flip in (("a", 0), ("b", 1)):
        shards = tmp_path / run / "shards"
        shards.mkdir(parents=True)
        structures = np.zeros((2, 4, 4, 4), dtype=np.uint8)
        structures[1, 2, 2, 2] = flip
        with h5py.File(shards / "shard_00000.h5", "w") as f:
            f["structures"] = structures
            f["seconds"] = np.array([1.0 + flip])
            f.attrs["size"] = 4
        pd.DataFrame({"eta_x": [0.5], "seconds": [flip]}).to_csv(tmp_path / run / "t.csv")
    assert result_differences(tmp_path / "a", tmp_path / "a") == []
    diffs = result_differences(tmp_path / "a", tmp_path / "b")
    assert diffs == ["shard_00000.h5:structures values differ"]


# ---------------------------------------------------------------- the SLURM integration test


def copy_workflow(dest: Path, source: Path = REPO) -> Path:
    """Copy the workflow (Snakefile, rules, scripts, config, envs) of `source` into `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        src = source / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, dest / name)
    return dest


@pytest.fixture(scope="module")
def slurm_cluster() -> None:
    """Start (or find running) the single-node SLURM cluster of ../shared/slurm."""
    if not START_SCRIPT.is_file():
        pytest.skip(f"no SLURM start script at {START_SCRIPT}")
    if os.geteuid() != 0 or shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        pytest.skip("start-local-slurm.sh needs root on a Debian-based machine (apt-get, dpkg)")
    result = subprocess.run(
        ["bash", str(START_SCRIPT)], capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"start-local-slurm.sh failed:\n{result.stderr[-4000:]}"


@dataclass
class SlurmRun:
    """A finished demo run through the SLURM profile."""

    workdir: Path
    returncode: int
    log: str
    run_uuid: str
    cancelled_job: str


def slurm_overrides(partitions_file: Path) -> list[str]:
    """Command-line settings that adapt the SLURM profile to the 2-CPU test cluster.

    What a user edits for their site (the partitions), plus: a 2 s first status check, at most
    2 cores per job, and each rule's profile memory capped at TEST_MEM_CAP_MB (the profile's
    runtime and memory expressions are otherwise passed on unchanged).
    """
    profile = load_profile(SLURM_PROFILE)
    set_resources = []
    for rule, resources in profile["set-resources"].items():
        for name, expression in resources.items():
            if name == "mem_mb":
                expression = f"min({expression}, {TEST_MEM_CAP_MB})"
            set_resources.append(f"{rule}:{name}={expression}")
    return [
        "--slurm-partition-config",
        str(partitions_file),
        "--slurm-init-seconds-before-status-checks",
        "2",
        "--slurm-keep-successful-logs",
        "--cores",
        "2",
        "--max-threads",
        "2",
        "--set-resources",
        *set_resources,
    ]


def running_sample_jobs(run_uuid: str) -> list[str]:
    """SLURM job ids of this run's RUNNING `sample` jobs (comment rule_sample...)."""
    out = subprocess.run(
        ["squeue", "-h", "--name", run_uuid, "--states", "RUNNING", "-o", "%i|%k"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = (line.split("|", 1) for line in out.splitlines() if "|" in line)
    return [job for job, comment in rows if comment.startswith("rule_sample")]


def cancel_first_sample_job(process: subprocess.Popen, log_path: Path) -> tuple[str, str]:
    """Wait for a `sample` job of the run to be RUNNING, scancel it; return (run id, job id)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        found = re.search(r"SLURM run ID: (\S+)", log_path.read_text())
        running = running_sample_jobs(found.group(1)) if found else []
        if running:
            time.sleep(3)
            subprocess.run(["scancel", running[0]], check=True)
            return found.group(1), running[0]
        time.sleep(1)
    raise AssertionError(f"no running sample job to cancel:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory) -> SlurmRun:
    """The demo's default target run through the SLURM profile, one sample job cancelled."""
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm_run"))
    partitions = workdir / "test-partitions.yaml"
    partitions.write_text(
        "partitions:\n  debug:\n    max_runtime: 1440\n    max_threads: 2\n"
        f"    max_mem_mb: {2 * TEST_MEM_CAP_MB}\n"
    )
    log_path = workdir / "snakemake-slurm.log"
    command = [
        SNAKEMAKE,
        "--workflow-profile",
        "workflow/profiles/slurm",
        "--configfile",
        "config/demo.yaml",
        *slurm_overrides(partitions),
    ]
    with log_path.open("w") as log:
        process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        try:
            run_uuid, cancelled = cancel_first_sample_job(process, log_path)
            returncode = process.wait(timeout=SLURM_TIMEOUT_S)
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=60)
    return SlurmRun(workdir, returncode, log_path.read_text(), run_uuid, cancelled)


@pytest.fixture(scope="module")
def local_results(slurm_run, tmp_path_factory) -> Path:
    """`results/` of the demo run locally (the local profile), or of SPINODOID_LOCAL_DEMO_DIR.

    The local run uses the SLURM run's copy of the workflow, so both run the same rules even
    while the repository changes underneath.
    """
    given = os.environ.get("SPINODOID_LOCAL_DEMO_DIR")
    if given:
        return Path(given) / "results"
    workdir = copy_workflow(tmp_path_factory.mktemp("local_run"), source=slurm_run.workdir)
    result = subprocess.run(
        [
            SNAKEMAKE,
            "--workflow-profile",
            "workflow/profiles/local",
            "--configfile",
            "config/demo.yaml",
            "--cores",
            "2",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=SLURM_TIMEOUT_S,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir / "results"


def sacct_states(run_uuid: str) -> dict[str, str]:
    """SLURM job id -> state (first word) of every job of this run, from the accounting DB."""
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "--name", run_uuid, "--format", "JobID,State"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = (line.split("|") for line in out.splitlines() if line)
    return {job: state.split()[0] for job, state in rows}


def slurm_logs(workdir: Path) -> dict[str, str]:
    """SLURM job id -> name of the log folder (rule_<rule> or group_<group>_...) it wrote to."""
    root = workdir / ".snakemake" / "slurm_logs"
    return {log.stem: log.relative_to(root).parts[0] for log in root.rglob("*.log")}


@pytest.mark.slurm
def test_slurm_demo_completes(slurm_run):
    assert slurm_run.returncode == 0, slurm_run.log[-4000:]
    dry = subprocess.run(
        [SNAKEMAKE, "-n", "--configfile", "config/demo.yaml"],
        cwd=slurm_run.workdir,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Nothing to be done" in dry.stdout + dry.stderr


@pytest.mark.slurm
def test_slurm_jobs_went_through_slurm(slurm_run):
    """Every rule of the run (but `all`) ran as a SLURM job recorded by sacct as COMPLETED."""
    states = sacct_states(slurm_run.run_uuid)
    logs = slurm_logs(slurm_run.workdir)
    assert logs and set(logs) <= set(states)
    completed = {job for job, state in states.items() if state == "COMPLETED"}
    assert set(states) - completed == {slurm_run.cancelled_job}
    stats = re.search(r"Job stats:\n(.*?)\ntotal", slurm_run.log, re.DOTALL)
    planned = {line.split()[0] for line in stats.group(1).splitlines()[2:]} - {"all"}
    ran = {
        re.sub(r"^(rule|group)_", "", folder) for job, folder in logs.items() if job in completed
    }
    assert all(any(rule in name for name in ran) for rule in planned), (planned, ran)


@pytest.mark.slurm
def test_slurm_cancelled_job_was_retried(slurm_run):
    """The `sample` job killed with scancel is CANCELLED in sacct and its rule ran again."""
    states = sacct_states(slurm_run.run_uuid)
    assert states[slurm_run.cancelled_job] == "CANCELLED"
    logs = slurm_logs(slurm_run.workdir)
    folder = logs[slurm_run.cancelled_job]
    retried = [
        job
        for job, name in logs.items()
        if name == folder and int(job) > int(slurm_run.cancelled_job)
    ]
    assert retried and all(states[job] == "COMPLETED" for job in retried)


@pytest.mark.slurm
def test_slurm_outputs_equal_local_run(slurm_run, local_results):
    """Same files as a local run; shard structures bit for bit, every result value equal."""
    assert slurm_run.returncode == 0
    assert result_differences(slurm_run.workdir / "results", local_results) == []
