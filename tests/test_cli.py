"""Tests of the `spinodoid` command line (subcommands owned by this module: generate)."""

import subprocess
import sys

import numpy as np

from spinodoid.cli import main
from spinodoid.io import load_structure
from spinodoid.structure import generate_structure


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
