#!/usr/bin/env bash
# Everything that needs a GPU, in one run of under 8 minutes on one H100: the CUDA tests and the CUDA
# part of every benchmark, printing the figures (copy them into docs/performance.md with the card).
# Run from the repository root on a CUDA machine with python3 + torch. Python packages missing there
# (taichi, zarr, pyamg, ...) may travel as wheels in .whl/ (see docs/performance.md).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
out="${OUT:-/tmp}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
# Each step gets at most 150 s and never more than what is left of 470 s since the start, so the
# whole script ends within 8 minutes; a step that no longer fits is skipped, and says so.
deadline=$((SECONDS + 470))
step() {
    local left=$((deadline - SECONDS))
    if [ "$left" -lt 20 ]; then echo; echo "=== skipped, the 8 minutes are spent: $*"; return; fi
    echo; echo "=== $*"
    timeout $((left < 150 ? left : 150)) "$@" 2>&1 | tee -a "$out/gpu.log"
}
step python3 -m pytest -q -m cuda -p no:cacheprovider tests/test_structure.py tests/test_lbm.py tests/test_multigrid.py tests/test_data.py tests/test_model.py tests/test_train.py tests/test_abc.py
step python3 benchmarks/lbm.py --arch cuda
step python3 benchmarks/solvers.py --arch cuda --sizes 192 --solvers multigrid lbm taufactor
step python3 benchmarks/solvers.py --arch cuda --sizes 576 --axes 0 --solvers multigrid lbm
step python3 benchmarks/structures.py --device cuda --batch 32 --repeats 3 --profile
step python3 benchmarks/abc.py --device cuda --batches 64 --evaluations 512 --compile
step python3 benchmarks/train.py --devices cuda --steps 30
step python3 benchmarks/refinement.py --arch cuda --sizes 96 --cases theta_hat_1 --out "$out"
step python3 benchmarks/lbm.py --arch cuda --equal-accuracy 96
