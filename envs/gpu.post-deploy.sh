#!/usr/bin/env bash
# Run by `snakemake --sdm conda` once, right after it creates this environment, inside the
# environment and in the workflow's working directory, which must be the repository root
# (where the Snakefile is). Installs the spinodoid package without touching the conda-resolved
# dependencies; editable, so later edits of src/ need no rebuild.
set -euo pipefail
if ! grep -qs '^name = "spinodoid"' pyproject.toml; then
    echo "envs post-deploy: run snakemake from the spinodoid repository root (found no pyproject.toml of spinodoid in $PWD)" >&2
    exit 1
fi
python -m pip install --no-deps --no-build-isolation -e .
