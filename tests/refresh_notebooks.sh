#!/usr/bin/env bash
# Refresh the saved outputs of the notebooks (the docs site shows saved outputs only): execute each notebook in place,
# top to bottom as nbdev_test does (skipping notest/slow/cuda cells), then nbdev_clean strips metadata, keeps outputs.
#   bash tests/refresh_notebooks.sh                  # every notebook under nbs/
#   bash tests/refresh_notebooks.sh nbs/07_cnn.ipynb  # some of them
# Figures of real cells use the real sample that ships with the package (`real_sample()`, extracted once under
# data/). Run it after `bash tests/run.sh` has set up .venv, on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export TF_CPP_MIN_LOG_LEVEL=3 PYTHONWARNINGS="ignore::DeprecationWarning,ignore::FutureWarning"
unset MPLBACKEND   # the kernel's inline backend draws the figures into the notebook
unset LNB_REAL_DATA PYTHONHASHSEED
if [ $# -gt 0 ]; then notebooks=("$@"); else mapfile -t notebooks < <(ls nbs/*.ipynb nbs/tutorials/*.ipynb); fi
python tests/refresh_notebooks.py "${notebooks[@]}"   # executes as nbdev_test does, skipping notest/slow/cuda cells
nbdev_clean
# the explorer screenshot of the docs (README, tutorial, 08_explorer) is taken by the browser test itself
if [ $# -eq 0 ] || [[ " $* " == *"08_explorer"* ]]; then
  MPLBACKEND=Agg LNB_UPDATE_SCREENSHOT=1 python -m pytest -q -p no:cacheprovider tests/test_explorer_browser.py
fi
