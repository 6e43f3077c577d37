#!/usr/bin/env bash
# Install, then run the small demo end to end (config/demo.yaml) and build the report.
# About 7 minutes on 2 CPU cores after the install (README, "What the demo shows"). Results land in
# results/, logs in logs/.
set -euo pipefail
cd "$(dirname "$0")"
bash install.sh
. .venv/bin/activate
snakemake --cores "${CORES:-2}" --configfile config/demo.yaml
snakemake --cores 1 --configfile config/demo.yaml --report results/report.html
echo "demo done: open results/report.html"
