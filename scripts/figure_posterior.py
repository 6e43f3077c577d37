"""Rule `figure_posterior`: ABC-PMC marginals per generation (paper Figs. 6–7)."""

import logging
from pathlib import Path

from spinodoid.abc import read_generations, read_theta_hat
from spinodoid.plotting import posterior_figure, save_figure
from spinodoid.validation import paper_results_for

logging.basicConfig(filename=snakemake.log[0], level=logging.INFO)

generations = read_generations(Path(snakemake.input.theta_hat).parent / "generations")
paper = paper_results_for(snakemake.params.target)
figure = posterior_figure(
    generations,
    ("a_x", "a_y", "a_z", "eps"),
    read_theta_hat(snakemake.input.theta_hat),
    paper[1]["theta_hat"] if paper else None,
    title=f"{snakemake.wildcards.target}: posterior marginals per generation, target η = "
    f"{tuple(snakemake.params.target)}",
)
save_figure(figure, snakemake.output.figure)
