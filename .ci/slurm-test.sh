#!/usr/bin/env bash
# SLURM integration test (issue 9): starts the one-node SLURM cluster of ../shared/slurm (needs
# root on Debian; the tests skip with the reason otherwise), runs the demo's default target
# through workflow/profiles/slurm with one sample job cancelled mid-run, and compares every
# output with a local run.
#
#   .ci/slurm-test.sh [LOCAL_DEMO_DIR]
#
# LOCAL_DEMO_DIR: the working directory of a finished local run of config/demo.yaml (for
# example the repository after the CI's demo run); its results/ are compared with the SLURM
# run's instead of running the local demo a second time. Run from anywhere, in the project's
# Python environment. Exit status: pytest's.
set -euo pipefail
cd "$(dirname "$0")/.."
# The SLURM daemons and slurmd -C live in sbin, which a minimal PATH may lack.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
if [ $# -ge 1 ]; then
    SPINODOID_LOCAL_DEMO_DIR=$(realpath "$1")
    export SPINODOID_LOCAL_DEMO_DIR
fi
# A private base directory: other pytest sessions on the machine prune the shared one.
basetemp=$(mktemp -d "${TMPDIR:-/tmp}/spinodoid-slurm-test.XXXXXX")
start=$SECONDS
status=0
python -m pytest tests/test_slurm.py -m slurm -p no:cacheprovider --basetemp "$basetemp" || status=$?
echo "[slurm-test] pytest exit status $status after $((SECONDS - start)) s; run directories in $basetemp"
if [ "$status" -eq 0 ]; then
    rm -rf "$basetemp"
fi
exit "$status"
