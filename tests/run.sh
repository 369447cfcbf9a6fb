#!/usr/bin/env bash
# The whole test suite, from a clean clone: set up .venv, check notebooks/package/README are in step, nbdev_test, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
export PATH="$PWD/.venv/bin:$PATH"
export MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2 PYTHONHASHSEED=0
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # the package is importable from any working directory (docs processing runs in _proc/)

echo "== notebooks and package in sync (nbdev_export leaves no diff)"
nbdev_export
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  drift=$(git diff --name-only -- leukemia_nb; git ls-files --others --exclude-standard -- leukemia_nb)
  if [ -n "$drift" ]; then echo "nbdev_export changed leukemia_nb/ — export the notebooks and commit:"; echo "$drift"; exit 1; fi
else
  echo "(not a git checkout: sync check skipped)"
fi
python tests/readme.py --check

echo "== nbdev_test"
nbdev_test --n_workers 0   # in-process: the notebooks parallelise inside (joblib), and idle loky workers would hold a pool open for minutes

echo "== docs: nbdev's notebook processing over every notebook (what nbdev_docs runs before Quarto)"
nbdev_proc_nbs --n_workers 0 >/dev/null   # serial, like nbdev_test: no process pool
echo "docs processing: ok"

echo "== the CNN on a second Keras backend (JAX): its notebook and its tests again"
KERAS_BACKEND=jax nbdev_test --path nbs/07_cnn.ipynb --n_workers 0
KERAS_BACKEND=jax python -m pytest -q tests/test_cnn.py

echo "== pytest"
python -m pytest -q tests "$@"
