"""Shared fixtures and helpers: the real C-NMC material (shipped with the package), small synthetic datasets, a quick
report, and the way every test runs an installed command.

Hermetic under any caller: `pytest tests/test_x.py` alone points the package's default folders (demo data, runs, the
real sample, artifacts, Hypothesis' storage) at a scratch folder of its own and removes it afterwards, as
`tests/run.sh` does for the whole suite. Under pytest-xdist the workers share that scratch folder, and the expensive
session fixtures (`tiny_root`, `real_data`, `quick_report`) are built once per run by whichever worker asks first."""
import os, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent          # where the installed commands (lnb_run, lnb_predict, ...) live
FOLDERS = {'LNB_DEMO_DIR': 'demo', 'LNB_RUNS_DIR': 'runs', 'LNB_SAMPLE_DIR': 'real_sample',
           'LNB_ARTIFACTS': 'artifacts', 'HYPOTHESIS_STORAGE_DIRECTORY': 'hypothesis'}

if not os.environ.get('LNB_TEST_SCRATCH'):  # the first pytest process of a run (not an xdist worker) owns it
    os.environ['LNB_TEST_SCRATCH'] = tempfile.mkdtemp(prefix='lnb-pytest-')
    os.environ['LNB_TEST_SCRATCH_OWNER'] = str(os.getpid())
SCRATCH = Path(os.environ['LNB_TEST_SCRATCH'])
for _variable, _name in FOLDERS.items(): os.environ.setdefault(_variable, str(SCRATCH/_name))
if os.environ.get('PYTEST_XDIST_WORKER'):   # one thread per worker (and per command it runs): no oversubscription
    for _variable in ('OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'TF_NUM_INTRAOP_THREADS',
                      'TF_NUM_INTEROP_THREADS', 'LOKY_MAX_CPU_COUNT'):
        os.environ.setdefault(_variable, '1')
    os.environ.setdefault('XLA_FLAGS', '--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1')

import pytest
from hypothesis import settings, HealthCheck

# Hypothesis: the same examples on every run in CI (derandomized, no example database written into the checkout)
settings.register_profile('ci', derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile('dev', database=None, deadline=None)
settings.load_profile('ci' if os.environ.get('CI') else os.environ.get('HYPOTHESIS_PROFILE', 'dev'))

TIMEOUT = 900   # seconds a test may take, its fixtures included (pytest-timeout), unless it says otherwise
# The seconds they took with two workers on 2 cores (the durations table of a CI run of run.sh, rounded): the order
# of a parallel run is planned from them (`plan`). A whole module, with its module fixtures; or each test of a module
# whose tests share no module fixture. Anything else counts as 2 s a test.
MODULE_COST = {'test_faults.py': 130, 'test_jax.py': 115, 'test_cnn_fair.py': 90, 'test_weights.py': 90,
               'test_bad_input.py': 85, 'test_readme_command.py': 75, 'test_cnn.py': 45, 'test_pipeline.py': 45,
               'test_one_answer.py': 37, 'test_docs_pages.py': 35, 'test_dask_backend.py': 24,
               'test_b_small_data.py': 21, 'test_b_submission.py': 21, 'test_cnn_learner.py': 20,
               'test_explorer_browser.py': 17, 'test_fair_run.py': 15}   # seconds (tests/durations.py), the last CI run
TEST_COST = {'[10_pipeline.ipynb]': 79, '[tutorials/feature_ablation.ipynb]': 62, '[07_cnn.ipynb]': 52,
             '[tutorials/tutorial.ipynb]': 42, '[06_evaluate.ipynb]': 38, '[tutorials/tutorial.ipynb (real cells)]': 30,
             '[08_explorer.ipynb]': 29, '[tutorials/fair_fight.ipynb]': 27, '[07a_hybrids.ipynb]': 20,
             '[tutorials/real_cells.ipynb]': 18, '[12_bench.ipynb]': 15, '[11_predict.ipynb]': 11,
             '[calibration prior (CNN)]': 17, '[Grad-CAM of the predicted class]': 15,
             '[shared learner not restarted]': 13, '[early stopping monitor]': 11, '[early stopping restore]': 8,
             'test_mutations.py::': 6}
SPLIT = ('test_notebooks.py', 'test_mutations.py')

@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    config.addinivalue_line('markers', 'notebook: runs a notebook in a process of its own (tests/notebooks.py)')
    if 's' not in (config.option.reportchars or ''): config.option.reportchars = (config.option.reportchars or '') + 's'

def _unit_cost(key:str, group:list) -> float:
    if '::' in key: return next((cost for name, cost in TEST_COST.items() if name in key), 2)
    return MODULE_COST.get(key.split('/')[-1], 2 * len(group))

def plan(items:list, workers:int) -> list:
    """The items in the order that balances `workers` xdist workers under `--dist worksteal`, which hands the first
    `len(items) // workers` items to the first worker, the next ones to the next, and lets an idle worker take the
    tail of another's queue. Units (a whole module, so that its module fixtures are built once; or one test of the
    modules in `SPLIT`) go, the costliest first, to the worker with the least work so far; the cheap tests then make
    each worker's share up to its number of items."""
    units = {}
    for item in items:
        module = item.nodeid.split('::')[0]
        units.setdefault(item.nodeid if module.endswith(SPLIT) else module, []).append(item)
    sizes = [len(items) // workers] * (workers - 1)
    sizes.append(len(items) - sum(sizes))
    shares, work = [[] for _ in range(workers)], [0.0] * workers
    for key in sorted(units, key=lambda k: -_unit_cost(k, units[k])):
        group, cost = units[key], _unit_cost(key, units[key])
        if cost <= 2 * len(group): break                    # only the cheap rest is left
        room = [w for w in range(workers) if len(shares[w]) + len(group) <= sizes[w]]
        if not room: continue
        target = min(room, key=lambda w: work[w])
        shares[target] += group
        work[target] += cost
    placed = {id(item) for share in shares for item in share}
    rest = [item for item in items if id(item) not in placed]
    for w in range(workers):
        take = sizes[w] - len(shares[w])
        shares[w], rest = shares[w] + rest[:take], rest[take:]
    return [item for share in shares for item in share]

def pytest_collection_modifyitems(config, items):
    "A timeout for every test; on an xdist worker, the order that balances the workers (the same on each of them)."
    for item in items:
        if not item.get_closest_marker('timeout'): item.add_marker(pytest.mark.timeout(TIMEOUT))
    workers = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT') or 1)
    if workers > 1: items[:] = plan(items, workers)

def pytest_unconfigure(config):
    if os.environ.get('LNB_TEST_SCRATCH_OWNER') == str(os.getpid()): shutil.rmtree(SCRATCH, ignore_errors=True)

TINY = dict(patients_per_fold=(2, 1), cells_per_patient=3, prelim_patients=(1, 1), prelim_cells_per_patient=3,
            n_final=3, n_jobs=1, progress=False)

# the environment of every installed command a test runs: quiet TensorFlow, no display
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', MPLBACKEND='Agg', PYTHONUNBUFFERED='1')

def run(command:str, *args, timeout:int=900, env:dict=None) -> subprocess.CompletedProcess:
    "Run an installed leukemia_nb command (`lnb_run`, `lnb_predict`, ...) as a user would; its output captured."
    return subprocess.run([str(BIN/command), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          env=env or ENV)

def skip_or_fail(reason:str):
    "A test that cannot run: a visible skip on a developer's machine, a failure in CI (`CI=true`)."
    if os.environ.get('CI'): pytest.fail(f'cannot run in CI: {reason}')
    pytest.skip(reason)

def built_once(name:str, build) -> Path:
    """`build(folder)` once per test run into `SCRATCH/shared/name`, whichever xdist worker asks first (the others
    wait for it); the folder is then read-only for tests. A build that fails is tried again by the next asker."""
    from filelock import FileLock
    shared = SCRATCH/'shared'
    shared.mkdir(parents=True, exist_ok=True)
    folder, done = shared/name, shared/f'{name}.built'
    with FileLock(str(shared/f'{name}.lock')):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder

def _processed(folder:Path):
    shutil.copytree(ROOT/'nbs', folder/'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints', '_proc'))
    shutil.copy(ROOT/'settings.ini', folder)
    done = subprocess.run([str(BIN/'nbdev_proc_nbs'), '--n_workers', '0'], cwd=folder, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

def docs_processed() -> Path:
    """Every notebook processed as `nbdev_docs` does before Quarto (`nbdev_proc_nbs`), in a copy, once per test run:
    the `_proc` folder, pages and images."""
    return built_once('docs', _processed)/'_proc'

@pytest.fixture(scope='session')
def real_data():
    """The real C-NMC material: the 96 real cells shipped with leukemia_nb, extracted and checked byte for byte
    (`$LNB_REAL_DATA` instead, when set: a folder of the same layout, such as the project's shared data)."""
    from leukemia_nb.data import real_material
    if os.environ.get('LNB_REAL_DATA'): return real_material()
    return built_once('real_material', lambda folder: real_material(folder/'real'))/'real'

def _sample_features(real_data, folder:Path, extra):
    from leukemia_nb.data import load_cnmc
    from leukemia_nb.features import extract_features
    rows = extract_features(load_cnmc(real_data/'cnmc_sample'), n_jobs=2, progress=False, extra=extra)
    rows.to_pickle(folder/'rows.pkl')

@pytest.fixture(scope='session')
def sample_features(real_data):
    "The default feature rows of the 96 shipped real cells (`extract_features`), computed once per test run."
    import pandas as pd
    return pd.read_pickle(built_once('sample_features', lambda f: _sample_features(real_data, f, None))/'rows.pkl')

@pytest.fixture(scope='session')
def sample_features_hed(real_data):
    "The same rows with the optional stain-deconvolution family (`extra='hed'`), computed once per test run."
    import pandas as pd
    return pd.read_pickle(built_once('sample_features_hed', lambda f: _sample_features(real_data, f, 'hed'))/'rows.pkl')

@pytest.fixture(scope='session')
def tiny_root():
    "A tiny synthetic dataset (read-only for tests: copy it before changing anything)."
    from leukemia_nb.synthetic import make_cnmc_like
    return built_once('tiny', lambda folder: make_cnmc_like(folder, seed=3, **TINY))/'C-NMC_Leukemia'

@pytest.fixture
def tiny_copy(tiny_root, tmp_path):
    "A private, writable copy of the tiny dataset."
    dst = tmp_path/'data'/'C-NMC_Leukemia'
    shutil.copytree(tiny_root, dst)
    return dst

def snapshot(root):
    "Every file under root with its bytes' digest, to prove a folder was left unchanged."
    import hashlib
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(Path(root).rglob('*'))
            if p.is_file()}

def _quick_report(tiny_root, folder:Path):
    before = snapshot(tiny_root)
    done = run('lnb_run', '--data', tiny_root, '--out', folder/'report', '--cache', folder/'cache', '--quick')
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert snapshot(tiny_root) == before, 'lnb_run changed the data folder'
    (folder/'run_output.txt').write_text(done.stdout)

@pytest.fixture(scope='session')
def quick_report(tiny_root):
    """An lnb_run report (quick mode, every model) on the tiny dataset, made once per test run by the installed
    command, as a user would; what it printed is in `run_output.txt` beside the report. Read it, never change it:
    a test that changes a report works on a copy."""
    return built_once('quick_report', lambda folder: _quick_report(tiny_root, folder))/'report'

def _real_run(real_data, folder:Path):
    import cv2, numpy as np
    root = folder/'data'/'C-NMC_Leukemia'
    shutil.copytree(real_data/'cnmc_sample'/'C-NMC_Leukemia', root)
    final = root/'testing_data'/'C-NMC_test_final_phase_data'
    final.mkdir(parents=True)
    training = sorted((root/'training_data').rglob('*.bmp'))
    for number, source in enumerate(training[::12][:8], start=1):   # cells of several patients, odd offset 75
        image = cv2.imread(str(source))
        cv2.imwrite(str(final/f'{number}.bmp'), np.pad(image, ((75, 75), (75, 75), (0, 0))))
    done = run('lnb_run', '--data', root, '--out', folder/'report', '--cache', folder/'cache', '--quick',
               '--final_count', 0)   # 8 final cells, not the 2,586 of the real final phase
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

@pytest.fixture(scope='session')
def real_run(real_data):
    """`(data folder, report folder)` of one quick `lnb_run` (every model) on the real sample, with 8 of its training
    cells also put on 600×600 canvases as a final phase; made once per test run. Read it, never change it."""
    folder = built_once('real_run', lambda f: _real_run(real_data, f))
    return folder/'data'/'C-NMC_Leukemia', folder/'report'
