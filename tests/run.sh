#!/usr/bin/env bash
# The whole test suite, from a clean clone: set up .venv; check that the notebooks export the package and the README;
# then one pytest session on every core (pytest-xdist): every notebook in a process of its own (tests/notebooks.py),
# nbdev's docs processing, the CNN on a second Keras backend, the tests, and the mutation gate (tests/mutations.py).
# Hermetic: everything the suite writes goes under one temporary folder, and tests/hermetic.py proves the checkout
# (with a planted user report) is byte for byte the same afterwards, on a red run too. The ten slowest steps and tests
# are printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
SCRATCH=$(mktemp -d -t lnb-tests-XXXXXX)
TIMES="$SCRATCH/times.tsv"
HERMETIC="$SCRATCH/hermetic.json"

finish() {   # on every exit, green or red: the checkout compared with its digest, the planted report removed
  local status=$?
  if [ -f "$HERMETIC" ]; then
    echo "== hermetic: the checkout is as it was"
    python tests/hermetic.py after "$HERMETIC" || status=1
  fi
  [ -f "$SCRATCH/junit.xml" ] && python tests/durations.py "$SCRATCH/junit.xml" >> "$TIMES"
  if [ -f "$TIMES" ]; then
    echo "== the ten slowest steps and tests (seconds)"
    sort -t$'\t' -k2,2 -g -r "$TIMES" | awk -F'\t' 'NR <= 10 {printf "%8.1f  %s\n", $2, $1}'
    [ -n "${LNB_TIMES_OUT:-}" ] && cp "$TIMES" "$LNB_TIMES_OUT"   # every step's and test's time, kept if asked
  fi
  [ -f "$SCRATCH/mutations.md" ] && { echo "== mutations"; cat "$SCRATCH/mutations.md"; }
  rm -rf "$SCRATCH"
  exit $status
}
trap finish EXIT

step() {   # step NAME COMMAND...: run it and record its time
  local name=$1 started=$EPOCHREALTIME; shift
  echo "== $name"
  "$@"
  printf 'step %s\t%s\n' "$name" "$(python -c "import sys; print(round(float(sys.argv[2]) - float(sys.argv[1]), 1))" \
    "$started" "$EPOCHREALTIME")" >> "$TIMES"
}

[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[dev]"
export PATH="$PWD/.venv/bin:$PATH"
export MPLBACKEND=Agg TF_CPP_MIN_LOG_LEVEL=2 PYTHONDONTWRITEBYTECODE=1
unset PYTHONHASHSEED   # users' processes hash strings with random salts: so do the tests (test_faults uses two)
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"   # the package is importable from any working directory
export LNB_TEST_SCRATCH="$SCRATCH/pytest" LNB_DEMO_DIR="$SCRATCH/demo" LNB_RUNS_DIR="$SCRATCH/runs"
export LNB_SAMPLE_DIR="$SCRATCH/real_sample" LNB_ARTIFACTS="${LNB_ARTIFACTS:-$SCRATCH/artifacts}"
export HYPOTHESIS_STORAGE_DIRECTORY="$SCRATCH/hypothesis"   # its example and constants caches, out of the checkout
export LNB_MUTATION_TABLE="$SCRATCH/mutations.md"
mkdir -p "$LNB_TEST_SCRATCH"

python tests/hermetic.py before "$HERMETIC"          # before anything runs, the export included
step "notebooks export the package" python tests/sync.py
step "README is index.ipynb" python tests/readme.py --check

# two workers on two cores, one thread each (conftest caps them and plans the order that balances them)
step "pytest" python -m pytest -n "${LNB_TEST_WORKERS:-2}" --dist worksteal -p no:cacheprovider tests \
  --basetemp "$SCRATCH/tmp" --junitxml "$SCRATCH/junit.xml" "$@"
