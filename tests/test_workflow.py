"""Tests of the Snakemake workflow: config schema, dry runs, linting and formatting."""

import copy
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
CONFIGS = [
    "config/config.yaml",
    "config/demo.yaml",
    "config/paper-cpu.yaml",
    "config/learning-curve.yaml",
]


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def snakemake(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["snakemake", *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("name", CONFIGS)
def test_shipped_configs_are_valid(name):
    validate(load(name), schema=SCHEMA)


def test_smallest_size_of_the_schema_is_the_cnns_smallest_input():
    """N below the schema's minimum would fail in `train`, not before the run starts."""
    from spinodoid.surrogates.cnn import feature_size

    smallest = load(SCHEMA)["properties"]["size"]["minimum"]
    assert feature_size(smallest // 2) >= 1
    with pytest.raises(ValueError, match="input too small"):
        feature_size((smallest - 2) // 2)


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (("size",), 65, "multiple of 2"),
        (("size",), -4, "minimum"),
        (("size",), 48, "minimum"),
        (("simulate", "solver"), "magic", "is not one of"),
        (("design", "particles"), 2, "minimum"),
        (("targets", 0, "eta"), [0.4, 1.2, 0.5], "maximum"),
        (("targets", 0, "eta"), [0.4, 0.5], "too short"),
        (("train", "momentum"), 1.0, "exclusiveMaximum"),
        (("unknown_key",), 1, "Additional properties"),
    ],
)
def test_schema_rejects_bad_values_naming_the_key(path, value, message):
    config = copy.deepcopy(load("config/demo.yaml"))
    node = config
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(WorkflowError) as error:
        validate(config, schema=SCHEMA)
    text = str(error.value)
    assert message in text
    assert str(path[-1]) in text or path[-1] == "unknown_key"


@pytest.mark.parametrize("name", CONFIGS)
def test_dry_run_plans_the_whole_pipeline(name, tmp_path):
    result = snakemake("-n", "--forceall", "--configfile", name)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "sample" in result.stdout


def test_a_bad_config_stops_before_any_job(tmp_path):
    config = load("config/demo.yaml")
    config["size"] = 7
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(config))
    result = snakemake("-n", "--configfile", str(bad))
    assert result.returncode != 0
    assert "size" in result.stderr + result.stdout
    assert "Job stats" not in result.stdout


def test_lint_is_clean():
    result = snakemake("--lint", "--configfile", "config/demo.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_snakemake_files_are_formatted():
    files = ["Snakefile", *map(str, sorted((ROOT / "workflow" / "rules").glob("*.smk")))]
    result = subprocess.run(
        ["snakefmt", "--check", *files], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


def _rule_blocks() -> dict[str, str]:
    """Each rule's text in workflow/rules/*.smk, by name (``use rule`` aliases not included)."""
    blocks = {}
    for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"(?m)^(?=rule |use rule |def |[A-Z_]+ =)", path.read_text()):
            match = re.match(r"rule (\w+):", block)
            if match:
                blocks[match.group(1)] = block
    return blocks


def test_every_job_writes_a_log_and_a_benchmark():
    """run_summary.py and a SLURM user read each job's wall time from benchmarks/."""
    blocks = _rule_blocks()
    assert {"sample", "simulate", "design", "report_validation"} <= set(blocks)
    missing = [
        name for name, text in blocks.items() if not ("log:" in text and "benchmark:" in text)
    ]
    assert missing == []


def _job_counts(output: str) -> dict[str, int]:
    """Jobs per rule from a dry run's "Job stats" table."""
    rows = output.split("Job stats:", 1)[1].splitlines()[3:]
    counts = {}
    for row in rows:
        fields = row.split()
        if len(fields) != 2 or not fields[1].isdigit() or fields[0] == "total":
            break
        counts[fields[0]] = int(fields[1])
    return counts


def test_the_paper_config_designs_both_cases_with_both_simulators():
    result = snakemake("-n", "--forceall", "--configfile", "config/config.yaml")
    assert result.returncode == 0, result.stderr + result.stdout
    jobs = _job_counts(result.stdout)
    assert jobs["design"] == jobs["design_compare"] == 2  # case1, case2 by the CNN and emulator
    assert jobs["validate"] == jobs["validate_compare"] == 2
    assert jobs["emulate"] == jobs["report_comparison"] == jobs["check_designs"] == 1
    planned = re.findall(r"wildcards: (.*)", result.stdout)
    assert {"target=case1, simulator=emulator", "target=case2, simulator=emulator"} <= set(planned)
