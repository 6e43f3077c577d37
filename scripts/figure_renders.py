"""Rule `figure_renders`: a structure at θ̂ at size N and upscaled (paper Fig. 10)."""

import logging

from spinodoid.abc import read_theta_hat
from spinodoid.plotting import renders_figure, save_figure
from spinodoid.structures.grf import generate_structure
from spinodoid.validation import derived_seeds, upscaled_size, upscaled_theta

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

params, name = snakemake.params, snakemake.wildcards.target
theta = read_theta_hat(snakemake.input.theta_hat)
small = generate_structure(
    theta, int(derived_seeds(params.seed, name, "export", 1)[0]), params.size
)
large = generate_structure(
    upscaled_theta(theta, params.factor),
    int(derived_seeds(params.seed, name, "upscale", 1)[0]),
    upscaled_size(params.size, params.factor),
)
save_figure(renders_figure(small, large, theta, params.factor, name), snakemake.output.figure)
