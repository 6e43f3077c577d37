"""Tests of the `spinodoid` command line (subcommands owned by this module: generate)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from spinodoid.cli import main
from spinodoid.formats.structure_file import load_structure
from spinodoid.structures.grf import generate_structure


def test_generate_writes_the_structure_of_theta_and_seed(tmp_path, capsys):
    out = tmp_path / "s.h5"
    assert (
        main(
            [
                "generate",
                "--theta",
                "0.1",
                "0.15",
                "0.2",
                "0.6",
                "--seed",
                "4",
                "--size",
                "32",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    loaded = load_structure(out)
    np.testing.assert_array_equal(loaded.voxels, generate_structure((0.1, 0.15, 0.2, 0.6), 4, 32))
    assert "porosity=0.6000" in capsys.readouterr().out


def test_generate_refuses_bad_porosity_with_a_message(tmp_path, capsys):
    code = main(
        [
            "generate",
            "--theta",
            "0.1",
            "0.1",
            "0.1",
            "1.5",
            "--seed",
            "0",
            "--size",
            "16",
            "-o",
            str(tmp_path / "s.npy"),
        ]
    )
    assert code == 2
    assert "porosity eps must be in (0, 1)" in capsys.readouterr().err
    assert not (tmp_path / "s.npy").exists()


def test_help_of_the_installed_entry_point_lists_the_commands():
    result = subprocess.run(
        [sys.executable, "-m", "spinodoid.cli", "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "generate" in result.stdout and "theta" in result.stdout


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "spinodoid.cli", *args], capture_output=True, text=True
    )


def test_diffusivity_json_is_the_only_thing_on_stdout(tmp_path):
    """docs/method.md §7: one JSON object on stdout; sub-voxel walls are the default for an .h5."""
    path = tmp_path / "s.h5"
    assert (
        main(
            [
                "generate",
                "--theta",
                "0.2",
                "0.25",
                "0.3",
                "0.6",
                "--seed",
                "1",
                "--size",
                "24",
                "-o",
                str(path),
            ]
        )
        == 0
    )
    result = run_cli("diffusivity", str(path), "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert set(out["eta"]) == {"x", "y", "z"} and set(out["iterations"]) == {"x", "y", "z"}
    assert all(0 < eta < 0.6 for eta in out["eta"].values())
    assert out["interface"] == "subvoxel"
    assert out["solver"] == "multigrid"  # the fastest solver of the LBM's discretisation


def test_diffusivity_solvers_agree_and_the_default_is_multigrid(tmp_path):
    """multigrid = fv to 1e-6 and = the LBM (``--solver lbm`` stays) to its tolerances."""
    np.save(tmp_path / "v.npy", generate_structure((0.2, 0.25, 0.3, 0.6), 1, 24))
    etas = {}
    for solver in ("multigrid", "fv", "lbm", None):
        options = () if solver is None else ("--solver", solver)
        result = run_cli("diffusivity", str(tmp_path / "v.npy"), *options, "--json")
        out = json.loads(result.stdout)
        etas[out["solver"] if solver else "default"] = out["eta"]
    assert etas["default"] == etas["multigrid"]
    for axis in "xyz":
        assert abs(etas["multigrid"][axis] / etas["fv"][axis] - 1) < 1e-6
        assert abs(etas["lbm"][axis] / etas["multigrid"][axis] - 1) < 1e-3


def test_diffusivity_of_bare_voxels_uses_the_staircase_and_refuses_all_solid(tmp_path):
    np.save(tmp_path / "v.npy", generate_structure((0.2, 0.25, 0.3, 0.6), 1, 24))
    result = run_cli("diffusivity", str(tmp_path / "v.npy"), "--axes", "x", "--json")
    assert json.loads(result.stdout)["interface"] == "voxel"
    np.save(tmp_path / "solid.npy", np.ones((8, 8, 8), np.uint8))
    result = run_cli("diffusivity", str(tmp_path / "solid.npy"))
    assert result.returncode == 2 and "error" in result.stderr and not result.stdout


HEAVY_MODULES = (
    "torch",
    "taichi",
    "zarr",
    "h5py",
    "matplotlib",
    "scipy.signal",
    "skimage",
    "importlib.metadata",  # 0.03–0.07 s: `spinodoid.__version__` is looked up on demand
)


def test_parser_and_help_import_nothing_heavy():
    """build_parser() and `COMMAND --help` load none of the heavy libraries (they load in run)."""
    probe = (
        "import sys\n"
        "from spinodoid.cli import COMMANDS, build_parser\n"
        "parser = build_parser()\n"
        "for name in COMMANDS:\n"
        "    try:\n"
        "        parser.parse_args([name, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        f"print(sorted(m for m in {HEAVY_MODULES!r} if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_the_help_probe_sees_a_heavy_import():
    """The probe above can fail: importing a subcommand's run-time library shows up."""
    probe = "import sys, spinodoid.formats.dataset; print('zarr' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "True"


def test_version_is_the_installed_distributions(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out == f"spinodoid {version('spinodoid')}\n"


class _StoppedDesign:
    """What ``run_design`` returns, reduced to what ``spinodoid design`` reads."""

    def __init__(self, status: str) -> None:
        self.status, self.evaluations = status, 1234
        self.message = f"the design ended with status {status}"

    def posterior_mean(self) -> np.ndarray:
        return np.array([0.1, 0.15, 0.2, 0.6])


@pytest.mark.parametrize(
    ("status", "exit_status"),
    [("completed", 0), ("tolerance_floor", 0), ("budget_exhausted", 3)],
)
def test_design_exit_status_says_how_the_run_ended(monkeypatch, capsys, status, exit_status):
    """A design at its tolerance floor is done (0, with the message); a budget stop is 3."""
    import spinodoid.abc

    monkeypatch.setattr(spinodoid.abc, "run_design", lambda *a, **k: _StoppedDesign(status))
    args = ["design", "--model", "emulator.npz", "--target", "0.3", "0.4", "0.5", "--quiet"]
    assert main([*args, "--schedule", "adaptive"]) == exit_status
    out, err = capsys.readouterr()
    assert json.loads(out)["status"] == status
    assert ("ended with status" in err) == (status != "completed")
