"""Tests of spinodoid.solvers.plan: settings from the config and the memory plan of a solve."""

import pytest

from spinodoid.solvers.plan import (
    FV_BYTES_PER_CELL,
    HOST_BYTES_PER_CELL,
    LBM_BYTES_PER_CELL,
    LBM_HOST_BYTES_PER_CELL,
    LBM_SUBVOXEL_BYTES_PER_CELL,
    MULTIGRID_BYTES_PER_CELL,
    MULTIGRID_HOST_BYTES_PER_CELL,
    MemoryPlanError,
    SolverSettings,
    check_memory,
    plan_memory,
)


def test_memory_plan_counts_lbm_fields_and_host_arrays():
    voxel_cuda = plan_memory(10, SolverSettings(interface="voxel", arch="cuda"))
    assert voxel_cuda.device_bytes == 1000 * LBM_BYTES_PER_CELL == 57_000
    assert voxel_cuda.host_bytes == 1000 * (HOST_BYTES_PER_CELL + LBM_HOST_BYTES_PER_CELL)
    voxel_cpu = plan_memory(10, SolverSettings(interface="voxel", arch="cpu"))
    assert voxel_cpu.host_bytes == voxel_cuda.host_bytes + 57_000
    subvoxel = plan_memory(10, SolverSettings(interface="subvoxel", arch="cuda"))
    assert subvoxel.device_bytes == 1000 * LBM_SUBVOXEL_BYTES_PER_CELL == 60_000
    refined = plan_memory(10, SolverSettings(interface="subvoxel", arch="cuda", subvoxel_refine=2))
    assert refined.device_bytes == 20**3 * LBM_SUBVOXEL_BYTES_PER_CELL  # the 2x refined grid
    extrapolated = plan_memory(
        10, SolverSettings(interface="subvoxel", arch="cuda", subvoxel_refine=2, extrapolate=True)
    )
    assert extrapolated.device_bytes == 40**3 * LBM_SUBVOXEL_BYTES_PER_CELL  # its finer solve
    fv = plan_memory(10, SolverSettings(solver="fv"))
    assert fv.device_bytes == 0 and fv.host_bytes == 1000 * (
        HOST_BYTES_PER_CELL + FV_BYTES_PER_CELL
    )
    paper = plan_memory(576, SolverSettings(interface="voxel", arch="cuda"))
    assert 10 < paper.device_bytes / 1024**3 < 11  # 576³ · 57 B ≈ 10.1 GiB of LBM fields


def test_memory_plan_of_the_multigrid_solver():
    cuda = plan_memory(10, SolverSettings(solver="multigrid", arch="cuda"))
    assert cuda.device_bytes == 1000 * MULTIGRID_BYTES_PER_CELL
    assert cuda.host_bytes == 1000 * (HOST_BYTES_PER_CELL + MULTIGRID_HOST_BYTES_PER_CELL)
    cpu = plan_memory(576, SolverSettings(solver="multigrid", arch="cpu"))
    assert cpu.device_bytes == cpu.host_bytes - 576**3 * (
        HOST_BYTES_PER_CELL + MULTIGRID_HOST_BYTES_PER_CELL
    )
    assert cpu.peak_gib < 24  # the 576³ target of docs/performance.md


def test_check_memory_refuses_an_impossible_size_with_a_clear_message():
    settings = SolverSettings(interface="subvoxel", arch="cpu")
    with pytest.raises(MemoryPlanError, match=r"1024³.*max_memory_gib = 8"):
        check_memory(1024, settings, 8)
    assert check_memory(48, settings, 8).peak_gib < 0.2


def test_solver_settings_from_config():
    simulate = {
        "solver": "fv",
        "interface": "voxel",
        "arch": "cpu",
        "flux_change_tol": 1e-6,
        "flux_uniformity_tol": 1e-4,
        "max_steps_per_voxel": 50,
        "subvoxel_refine": 2,
    }
    assert SolverSettings.from_config(simulate) == SolverSettings(
        "fv", "voxel", "cpu", 1e-6, 1e-4, 50, 2
    )
