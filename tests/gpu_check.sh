#!/usr/bin/env bash
# The CNN on a GPU machine without TensorFlow: Keras 3 on JAX (default) or PyTorch (KERAS_BACKEND=torch).
#   bash tests/gpu_check.sh --fetch-wheels   # here, with network: the small wheels such a machine lacks, into .whl/
#   bash tests/gpu_check.sh [--steps 300]    # there: install .whl/ if present, make synthetic data, train, print figures
# It trains the compact CNN at 128 px and EfficientNetB0 (random weights) at 224 px, in float32 and in the mixed policy
# the device calls for, and prints images/s, whether the loss stayed finite, and the validation AUC (synthetic data:
# these AUCs say the model learns, nothing about real leukemia cells).
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS="keras namex optree fastcore"
if [ "${1:-}" = "--fetch-wheels" ]; then
  mkdir -p .whl
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d .whl $WHEELS
  ls -la .whl
  exit 0
fi
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/lnb-site .whl/*.whl
  export PYTHONPATH="/tmp/lnb-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" KERAS_BACKEND="${KERAS_BACKEND:-jax}" PYTHONUNBUFFERED=1
export TF_CPP_MIN_LOG_LEVEL=2 MPLBACKEND=Agg
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
python3 tests/gpu_check.py "$@"
