#!/usr/bin/env bash
# Everything that needs a GPU, in one run of under 8 minutes: the CUDA tests and the CUDA part of
# every benchmark, in order of value, each step's output appended to $OUT/gpu.log as it runs (copy
# the figures into docs/performance.md with the card's name).
#
#   bash benchmarks/gpu.sh          # on a CUDA machine: the real sizes
#   bash benchmarks/gpu.sh cpu      # the same steps on tiny sizes on the CPU, to check the script
#
# Run from the repository root with python3 + torch. Python packages missing there (taichi, zarr,
# pyamg, ...) may travel as wheels in .whl/ (see docs/performance.md).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONUNBUFFERED=1
arch="${1:-cuda}"
if [ -d .whl ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
out="${OUT:-/tmp}"
mkdir -p "$out"
if [ "$arch" = cuda ]; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$out/gpu.log"
    small=192 large=576 cnn=192 refine=96 equal=96 batch=32 abc_batches=64 abc_evals=512 steps=30 compile=--compile
else
    echo "CPU check of the GPU script" | tee "$out/gpu.log"
    small=32 large=48 cnn=64 refine=24 equal=48 batch=2 abc_batches=2 abc_evals=4 steps=2 compile=
fi
# Each step gets at most 150 s and never more than what is left of 470 s since the start, so the
# whole script ends within 8 minutes; a step that no longer fits is skipped, and says so.
deadline=$((SECONDS + 470))
step() {
    local left=$((deadline - SECONDS))
    if [ "$left" -lt 20 ]; then echo "=== skipped, the 8 minutes are spent: $*" | tee -a "$out/gpu.log"; return; fi
    echo "=== $*" | tee -a "$out/gpu.log"
    timeout $((left < 150 ? left : 150)) "$@" 2>&1 | tee -a "$out/gpu.log"
    echo "=== exit ${PIPESTATUS[0]}" | tee -a "$out/gpu.log"
}
step python3 -m pytest -q -m cuda -p no:cacheprovider tests/
step python3 benchmarks/lbm.py --arch "$arch" --sizes "$small" "$large"
step python3 benchmarks/solvers.py --arch "$arch" --sizes "$small" --solvers multigrid lbm taufactor
step python3 benchmarks/solvers.py --arch "$arch" --sizes "$large" --axes 0 --solvers multigrid lbm --interfaces subvoxel
step python3 benchmarks/structures.py --device "$arch" --size "$small" --batch "$batch" --repeats 3 --profile
step python3 benchmarks/abc.py --device "$arch" --size "$cnn" --batches "$abc_batches" --evaluations "$abc_evals" --skip-emulator $compile
step python3 benchmarks/train.py --devices "$arch" --steps "$steps" --cpu-steps "$steps"
step python3 benchmarks/refinement.py --arch "$arch" --sizes "$refine" --cases theta_hat_1 --out "$out"
step python3 benchmarks/lbm.py --arch "$arch" --equal-accuracy "$equal"
