"""Rule `figure_examples`: three example structures (paper Fig. 2)."""

import logging

from spinodoid.plotting import EXAMPLE_THETAS, examples_figure, save_figure
from spinodoid.structures.grf import generate_structure
from spinodoid.validation import derived_seeds

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

seeds = derived_seeds(snakemake.params.seed, "examples", "export", len(EXAMPLE_THETAS))
structures = [
    generate_structure(theta, int(seed), snakemake.params.size)
    for theta, seed in zip(EXAMPLE_THETAS, seeds, strict=True)
]
save_figure(examples_figure(structures, EXAMPLE_THETAS), snakemake.output.figure)
