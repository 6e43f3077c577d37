"""Tests of spinodoid.formats.meshes: watertight periodic meshes, enclosed volume, STL/VTK files,
CLI."""

from __future__ import annotations

import argparse
import math
import struct

import numpy as np
import pytest

from spinodoid._cli import export as export_cli
from spinodoid.formats.meshes import (
    Mesh,
    default_refine,
    export_mesh,
    mesh_report,
    mesh_structure,
    periodic_mesh,
    surface_field,
    write_stl,
    write_vtk,
)
from spinodoid.formats.structure_file import save_structure
from spinodoid.structures.grf import level_set

THETA = (0.1, 0.12, 0.2, 0.6)


def _coordinates(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.meshgrid(*(np.arange(n, dtype=np.float64),) * 3, indexing="ij")


def _read_stl(path) -> tuple[np.ndarray, np.ndarray]:
    """Normals (F, 3) and triangles (F, 3, 3) of a binary STL."""
    data = path.read_bytes()
    (count,) = struct.unpack("<I", data[80:84])
    assert len(data) == 84 + 50 * count
    record = np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    rows = np.frombuffer(data[84:], dtype=record)
    return rows["normal"].astype(np.float64), rows["v"].astype(np.float64)


def test_tetrahedron_report_and_orientation():
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=np.float64)
    outward = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    report = mesh_report(Mesh(vertices, outward))
    assert report.watertight and report.volume == pytest.approx(1 / 6)
    flipped = outward.copy()
    flipped[0] = flipped[0, ::-1]
    assert mesh_report(Mesh(vertices, flipped)).misoriented_edges == 3
    open_mesh = mesh_report(Mesh(vertices, outward[:3]))
    assert open_mesh.boundary_edges == 3 and not open_mesh.watertight


def test_sphere_is_watertight_and_encloses_its_volume():
    x, y, z = _coordinates(32)
    radius = 9.0
    field = (radius - np.sqrt((x - 15.5) ** 2 + (y - 15.5) ** 2 + (z - 15.5) ** 2)).astype(
        np.float32
    )
    report = mesh_report(periodic_mesh(field))
    assert report.watertight
    assert report.volume == pytest.approx(4 / 3 * math.pi * radius**3, rel=0.01)


def test_slab_through_the_faces_is_closed_on_the_box_exactly():
    x, y, z = _coordinates(16)
    field = (3.0 - np.minimum(z, 16 - z)).astype(np.float32)  # solid where z <= 3 or z >= 13
    mesh = periodic_mesh(field, voxel_size=0.5)
    report = mesh_report(mesh)
    assert report.watertight
    assert report.volume == pytest.approx(16 * 16 * 6 * 0.5**3, rel=1e-5)
    assert mesh.vertices.min() == 0.0 and mesh.vertices.max() == 8.0


def test_spinodoid_mesh_is_watertight_and_encloses_the_solid_volume():
    psi = level_set(THETA, 3, 32)
    voxels = (psi >= 0).view(np.uint8)
    solid = int(voxels.sum())
    _, refined = mesh_structure(voxels, psi, refine=2)
    assert refined.watertight
    assert refined.volume == pytest.approx(solid, rel=0.01)
    _, smoothed = mesh_structure(voxels, None, smooth=1.0)
    assert smoothed.watertight
    assert smoothed.volume == pytest.approx(solid, rel=0.01)


def test_binary_mesh_of_fine_structure_is_watertight():
    voxels = (level_set((0.05, 0.05, 0.05, 0.5), 1, 24) >= 0).view(np.uint8)
    _, report = mesh_structure(voxels)
    assert report.watertight and report.triangles > 1000


def test_volume_preserving_smoothing_keeps_the_solid_sample_count():
    voxels = (level_set(THETA, 5, 24) >= 0).view(np.uint8)
    field = surface_field(voxels, smooth=1.5)
    assert int((field >= 0).sum()) == int(voxels.sum())
    assert surface_field(voxels, level_set(THETA, 5, 24), refine=2).shape == (48, 48, 48)


def test_default_refine_reaches_128_samples():
    assert [default_refine(n) for n in (32, 64, 96, 128, 192)] == [4, 2, 2, 1, 1]


def test_stl_and_vtk_files(tmp_path):
    psi = level_set(THETA, 2, 16)
    mesh, report = mesh_structure((psi >= 0).view(np.uint8), psi)
    write_stl(mesh, tmp_path / "m.stl")
    normals, triangles = _read_stl(tmp_path / "m.stl")
    assert len(triangles) == report.triangles
    volume = np.einsum("ij,ij->", triangles[:, 0], np.cross(triangles[:, 1], triangles[:, 2])) / 6
    assert volume == pytest.approx(report.volume, rel=1e-4)
    areas = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    assert np.einsum("ij,ij->i", areas, normals).min() >= 0  # normals follow the winding
    write_vtk(mesh, tmp_path / "m.vtk")
    text = (tmp_path / "m.vtk").read_bytes()
    assert text.startswith(b"# vtk DataFile Version 3.0")
    assert f"POINTS {report.vertices} float".encode() in text
    assert f"POLYGONS {report.triangles} {4 * report.triangles}".encode() in text
    assert not list(tmp_path.glob(".*"))


def test_export_mesh_from_h5_uses_the_level_set(tmp_path):
    psi = level_set(THETA, 4, 16)
    voxels = (psi >= 0).view(np.uint8)
    save_structure(tmp_path / "s.h5", voxels, theta=THETA, seed=4)
    report = export_mesh(tmp_path / "s.h5", tmp_path / "s.stl")
    expected = mesh_report(periodic_mesh(psi))
    assert report.volume == pytest.approx(expected.volume) and report.watertight
    binary = export_mesh(tmp_path / "s.h5", tmp_path / "b.vtk", use_level_set=False)
    assert binary.volume != pytest.approx(report.volume)
    with pytest.raises(ValueError, match=r"\.stl or \.vtk"):
        export_mesh(tmp_path / "s.h5", tmp_path / "s.obj")


def test_cli_writes_the_mesh(tmp_path, capsys):
    voxels = (level_set(THETA, 6, 16) >= 0).view(np.uint8)
    np.save(tmp_path / "v.npy", voxels)
    parser = argparse.ArgumentParser()
    export_cli.register(parser.add_subparsers())
    args = parser.parse_args(
        ["export", str(tmp_path / "v.npy"), "-o", str(tmp_path / "v.stl"), "--smooth", "1"]
    )
    assert args.func(args) == 0
    assert "watertight" in capsys.readouterr().out
    assert (tmp_path / "v.stl").stat().st_size > 84
    bad = parser.parse_args(["export", str(tmp_path / "v.npy"), "-o", "x.stl", "--refine", "0"])
    with pytest.raises(ValueError, match="refine"):
        bad.func(bad)
