"Shared fixtures: the real-data folder (via LNB_REAL_DATA) and small synthetic datasets."
import os, shutil
from pathlib import Path
import pytest

TINY = dict(patients_per_fold=(2, 1), cells_per_patient=3, prelim_patients=(1, 1), prelim_cells_per_patient=3,
            n_final=3, n_jobs=1, progress=False)

@pytest.fixture(scope='session')
def real_data():
    "The shared real C-NMC material, or a skip saying how to provide it."
    d = os.environ.get('LNB_REAL_DATA')
    if not d: pytest.skip('LNB_REAL_DATA is not set: point it at the folder holding cnmc_file_index.tsv and cnmc_sample/ (.ci/run sets ../shared/data)')
    d = Path(d)
    if not (d/'cnmc_file_index.tsv').exists(): pytest.skip(f'LNB_REAL_DATA={d} holds no cnmc_file_index.tsv')
    return d

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
    "An lnb_run report (quick mode, all five models) on the tiny dataset, made in-process."
    from leukemia_nb.pipeline import run_pipeline
    d = tmp_path_factory.mktemp('quick_report')
    run_pipeline(data=tiny_root, out=d/'report', cache=d/'cache', quick=True, verbose=False)
    return d/'report'
