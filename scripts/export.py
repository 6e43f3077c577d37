"""Rule `export`: a watertight STL of one structure at θ̂ (marching cubes on Ψ − T)."""

import logging

from spinodoid.abc import read_theta_hat
from spinodoid.formats.meshes import default_refine, mesh_structure, write_mesh
from spinodoid.structures.grf import level_set
from spinodoid.validation import derived_seeds

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

size = snakemake.params.size
seed = int(derived_seeds(snakemake.params.seed, snakemake.wildcards.target, "export", 1)[0])
psi = level_set(read_theta_hat(snakemake.input.theta_hat), seed, size)
mesh, report = mesh_structure((psi >= 0).view("uint8"), psi, refine=default_refine(size))
write_mesh(mesh, snakemake.output.mesh)
logging.info("seed %d: %s (solid volume %d voxels)", seed, report, int((psi >= 0).sum()))
