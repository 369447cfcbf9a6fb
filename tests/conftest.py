"""Shared fixtures: the real C-NMC material (shipped with the package), small synthetic datasets, a quick report.

Every test writes under pytest's temporary folders only; `tests/run.sh` also points the package's default folders
(demo data, runs, the real sample) at a temporary folder and checks afterwards that the repository is untouched."""
import os, shutil
from pathlib import Path
import pytest
from hypothesis import settings, HealthCheck

# Hypothesis: the same examples on every run in CI (derandomized, no example database written into the checkout)
settings.register_profile('ci', derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile('dev', database=None, deadline=None)
settings.load_profile('ci' if os.environ.get('CI') else os.environ.get('HYPOTHESIS_PROFILE', 'dev'))

TINY = dict(patients_per_fold=(2, 1), cells_per_patient=3, prelim_patients=(1, 1), prelim_cells_per_patient=3,
            n_final=3, n_jobs=1, progress=False)

def skip_or_fail(reason:str):
    "A test that cannot run: a visible skip on a developer's machine, a failure in CI (`CI=true`)."
    if os.environ.get('CI'): pytest.fail(f'cannot run in CI: {reason}')
    pytest.skip(reason)

@pytest.fixture(scope='session')
def real_data(tmp_path_factory):
    """The real C-NMC material: the 96 real cells shipped with leukemia_nb, extracted and checked byte for byte
    (`$LNB_REAL_DATA` instead, when set: a folder of the same layout, such as the project's shared data)."""
    from leukemia_nb.data import real_material
    if os.environ.get('LNB_REAL_DATA'): return real_material()
    return real_material(tmp_path_factory.mktemp('real_material')/'real')

@pytest.fixture(scope='session')
def tiny_root(tmp_path_factory):
    "A tiny synthetic dataset (read-only for tests: copy it before changing anything)."
    from leukemia_nb.synthetic import make_cnmc_like
    return make_cnmc_like(tmp_path_factory.mktemp('tiny'), seed=3, **TINY)

@pytest.fixture
def tiny_copy(tiny_root, tmp_path):
    "A private, writable copy of the tiny dataset."
    dst = tmp_path/'data'/'C-NMC_Leukemia'
    shutil.copytree(tiny_root, dst)
    return dst

def snapshot(root):
    "Every file under root with its bytes' digest, to prove a folder was left unchanged."
    import hashlib
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest() for p in sorted(Path(root).rglob('*')) if p.is_file()}

@pytest.fixture(scope='session')
def quick_report(tiny_root, tmp_path_factory):
    """An lnb_run report (quick mode, all five models) on the tiny dataset, made once per session by the installed
    command, as a user would; what it printed is in `run_output.txt` beside the report. Read it, never change it:
    a test that changes a report works on a copy."""
    import subprocess, sys
    d = tmp_path_factory.mktemp('quick_report')
    before = snapshot(tiny_root)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', MPLBACKEND='Agg')
    done = subprocess.run([str(Path(sys.executable).parent/'lnb_run'), '--data', str(tiny_root), '--out', str(d/'report'),
                           '--cache', str(d/'cache'), '--quick'], capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert snapshot(tiny_root) == before, 'lnb_run changed the data folder'
    (d/'run_output.txt').write_text(done.stdout)
    return d/'report'
