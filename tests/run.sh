#!/usr/bin/env bash
# The whole test suite, from a clean clone: set up .venv, check notebooks/package/README are in step, run every
# notebook (one process each), the docs processing, the CNN on a second backend, and pytest. Hermetic: everything the
# suite writes goes under one temporary folder, and tests/hermetic.py proves the checkout (with a planted user report)
# is byte for byte the same afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
export PATH="$PWD/.venv/bin:$PATH"
export MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2 PYTHONDONTWRITEBYTECODE=1
unset PYTHONHASHSEED   # users' processes hash strings with random salts: so do the tests (test_faults uses two)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # the package is importable from any working directory
SCRATCH=$(mktemp -d -t lnb-tests-XXXXXX)
trap 'rm -rf "$SCRATCH"' EXIT
export LNB_DEMO_DIR="$SCRATCH/demo" LNB_RUNS_DIR="$SCRATCH/runs" LNB_SAMPLE_DIR="$SCRATCH/real_sample"
export LNB_ARTIFACTS="${LNB_ARTIFACTS:-$SCRATCH/artifacts}"
export HYPOTHESIS_STORAGE_DIRECTORY="$SCRATCH/hypothesis"   # its example and constants caches, out of the checkout

echo "== notebooks and package in sync (nbdev_export leaves no diff)"
nbdev_export
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  drift=$(git diff --name-only -- leukemia_nb; git ls-files --others --exclude-standard -- leukemia_nb)
  if [ -n "$drift" ]; then echo "nbdev_export changed leukemia_nb/ — export the notebooks and commit:"; echo "$drift"; exit 1; fi
else
  echo "(not a git checkout: sync check skipped)"
fi
python tests/readme.py --check
python tests/hermetic.py before "$SCRATCH/hermetic.json"

echo "== nbdev_test: every notebook in a process of its own (no Keras, TF or environment state leaks between them)"
for notebook in nbs/*.ipynb nbs/tutorials/*.ipynb; do
  echo "-- $notebook"
  nbdev_test --path "$notebook" --n_workers 0
done

echo "== the tutorial in real-data mode, on the real cells that ship with the package (as on Colab, without download)"
sample=$(python -c "from leukemia_nb.data import real_sample; print(real_sample())")
LNB_TUTORIAL_REAL=1 LNB_DATA="$sample" nbdev_test --path nbs/tutorials/tutorial.ipynb --n_workers 0

echo "== docs: nbdev's notebook processing over every notebook (what nbdev_docs runs before Quarto), in a copy"
mkdir -p "$SCRATCH/docs" && cp -r nbs settings.ini "$SCRATCH/docs/"
(cd "$SCRATCH/docs" && nbdev_proc_nbs --n_workers 0 >/dev/null)   # serial, like nbdev_test: no process pool
echo "docs processing: ok"

echo "== the CNN on a second Keras backend (JAX): its notebook and its tests again"
KERAS_BACKEND=jax nbdev_test --path nbs/07_cnn.ipynb --n_workers 0
KERAS_BACKEND=jax python -m pytest -q -p no:cacheprovider tests/test_cnn.py tests/test_cnn_learner.py

echo "== pytest"
python -m pytest -q -p no:cacheprovider tests "$@"

echo "== hermetic: the checkout is as it was"
python tests/hermetic.py after "$SCRATCH/hermetic.json"
