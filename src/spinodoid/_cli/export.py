"""``spinodoid export``: the solid phase of a structure as a watertight STL or VTK mesh."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register", "run"]

_EPILOG = """\
examples:
  spinodoid generate --theta 0.092 0.135 0.245 0.666 --seed 0 --size 192 -o case1.h5
  spinodoid export case1.h5 -o case1.stl
  spinodoid export voxels.npy -o voxels.vtk --smooth 1.0 --voxel-size 0.05

The surface is the zero level of the GRF level set (regenerated from the theta and seed
stored in an .h5, or a float .npy), or of the binary image (a uint8 .npy, or --binary).
The mesh covers one period [0, N]^3 of the periodic structure and is closed on the box
faces, so it is watertight (every edge shared by two triangles) and can be 3D printed
or opened in ParaView. Coordinates: voxel (i, j, k) centre at (i, j, k) x voxel size.
"""


def register(subparsers: Any) -> None:
    """Add the ``export`` subcommand to ``subparsers``."""
    parser = subparsers.add_parser(
        "export",
        help="write a structure's solid surface as a watertight STL or VTK mesh",
        description="Marching cubes on the level set (or binary image) of a structure file.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", metavar="FILE", help="structure file (.h5 or .npy)")
    parser.add_argument("-o", "--output", required=True, help="OUT.stl or OUT.vtk")
    parser.add_argument(
        "--smooth",
        type=float,
        default=0.0,
        metavar="SIGMA",
        help="periodic Gaussian smoothing, std in voxels, keeping the solid volume (default 0)",
    )
    parser.add_argument(
        "--refine",
        type=int,
        default=1,
        metavar="K",
        help="spectral refinement factor of the field before meshing (default 1)",
    )
    parser.add_argument(
        "--binary", action="store_true", help="mesh the binary image even if a level set exists"
    )
    parser.add_argument(
        "--voxel-size", type=float, default=1.0, help="output length per voxel (default 1)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the mesh and print its size and enclosed volume; exit status 0."""
    from spinodoid.formats.meshes import export_mesh

    if args.smooth < 0 or args.refine < 1 or args.voxel_size <= 0:
        raise ValueError("need --smooth >= 0, --refine >= 1 and --voxel-size > 0")
    report = export_mesh(
        args.file,
        args.output,
        smooth=args.smooth,
        refine=args.refine,
        use_level_set=not args.binary,
        voxel_size=args.voxel_size,
    )
    print(
        f"wrote {args.output}: {report.triangles} triangles, {report.vertices} vertices, "
        f"watertight, enclosed volume {report.volume:.6g}"
    )
    return 0
