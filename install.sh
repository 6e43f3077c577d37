#!/usr/bin/env bash
# Install spinodoid-design into ./.venv (Python >= 3.10): the CPU build of PyTorch, then the package
# with its test tools. Safe to run again. For a CUDA machine see README, section
# "Running the paper's configuration".
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
    # The CPU build; on machines without a local wheel add
    # --index-url https://download.pytorch.org/whl/cpu
    python -m pip install --quiet "torch==2.13.0"
fi
python -m pip install --quiet -e ".[test]"
echo "installed: $(python -c 'import spinodoid, torch, taichi; print("spinodoid", spinodoid.__version__, "torch", torch.__version__, "taichi", taichi.__version__)' 2>/dev/null | tail -1)"
