"Reproducibility and faults: same seed, same numbers; a killed run resumes from its caches; a damaged cache is rebuilt."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np, pandas as pd, pytest
from leukemia_nb.synthetic import make_cnmc_like

BIN = Path(sys.executable).parent
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', MPLBACKEND='Agg', PYTHONUNBUFFERED='1')
MODELS = 'rf,knn,svm,nb'
CNN_TOL = 1e-4  # stated tolerance on CNN probabilities between two runs with the same seed (CPU, op determinism on)

@pytest.fixture(scope='module')
def mid_root(tmp_path_factory):
    "A dataset big enough for a run to be caught in the middle (about 300 cells)."
    return make_cnmc_like(tmp_path_factory.mktemp('mid'), seed=7, patients_per_fold=(4, 2), cells_per_patient=14,
                          prelim_patients=(3, 2), prelim_cells_per_patient=6, n_final=0, n_jobs=1, progress=False)

def lnb_run(root, out, cache, *extra):
    return subprocess.run([str(BIN/'lnb_run'), '--data', str(root), '--out', str(out), '--cache', str(cache), '--quick', *extra],
                          capture_output=True, text=True, timeout=900, env=ENV)

@pytest.fixture(scope='module')
def reference(mid_root, tmp_path_factory):
    d = tmp_path_factory.mktemp('ref')
    r = lnb_run(mid_root, d/'rep', d/'cache', '--models', MODELS + ',cnn')
    assert r.returncode == 0, r.stderr[-3000:]
    return d/'rep'

def metrics(rep): return pd.read_csv(Path(rep)/'metrics.csv', index_col=0)
def preds(rep): return pd.read_csv(Path(rep)/'predictions.csv').sort_values(['model', 'path']).reset_index(drop=True)

def test_same_seed_same_numbers(mid_root, reference, tmp_path):
    r = lnb_run(mid_root, tmp_path/'rep', tmp_path/'cache', '--models', MODELS + ',cnn')   # a fresh cache: everything recomputed
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = preds(reference), preds(tmp_path/'rep')
    cl = a.model != 'cnn'
    pd.testing.assert_frame_equal(a[cl], b[cl])                                   # classical: identical
    pd.testing.assert_frame_equal(metrics(reference).drop(index='cnn'), metrics(tmp_path/'rep').drop(index='cnn'))
    assert np.allclose(a[~cl].prob, b[~cl].prob, atol=CNN_TOL)                   # CNN: within the stated tolerance
    run = json.loads((tmp_path/'rep'/'run.json').read_text())
    for k in ('data', 'models', 'seed', 'quick', 'epochs', 'img_size'): assert k in run['settings']
    for k in ('leukemia_nb', 'numpy', 'scikit_learn', 'tensorflow'): assert k in run['versions']
    assert '--seed 0' in (tmp_path/'rep'/'report.md').read_text()

def test_other_seed_other_numbers(mid_root, reference, tmp_path):
    r = lnb_run(mid_root, tmp_path/'rep', tmp_path/'cache', '--models', 'rf', '--seed', '3')
    assert r.returncode == 0
    assert not np.array_equal(preds(reference).query("model == 'rf'").prob, preds(tmp_path/'rep').prob)

def kill_when(cmd, ready, timeout=300):
    "Start `cmd` in its own process group and SIGKILL the group as soon as `ready()` is true."
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=ENV, start_new_session=True)
    t0 = time.time()
    while time.time() - t0 < timeout and p.poll() is None:
        if ready(): os.killpg(p.pid, signal.SIGKILL); break
        time.sleep(0.02)
    p.wait(30)
    return p

def run_cmd(root, out, cache, models=MODELS):
    return [str(BIN/'lnb_run'), '--data', str(root), '--out', str(out), '--cache', str(cache), '--quick', '--models', models]

def test_killed_during_features_resumes(mid_root, reference, tmp_path):
    cache = tmp_path/'cache'
    shards = lambda: list((cache/'features').glob('features-*/shard-*.npz'))   # feature shards, not the Lab pass's
    p = kill_when(run_cmd(mid_root, tmp_path/'rep', cache), lambda: len(shards()) >= 1)
    assert p.returncode == -signal.SIGKILL, 'the run finished before it could be killed'
    assert not (tmp_path/'rep').exists()
    r = lnb_run(mid_root, tmp_path/'rep', cache, '--models', MODELS)
    assert r.returncode == 0, r.stderr[-2000:]
    n_cached = int(r.stdout.split(' from the cache,')[0].split()[-1])
    assert n_cached > 0, r.stdout
    pd.testing.assert_frame_equal(metrics(reference).drop(index='cnn'), metrics(tmp_path/'rep'))

def test_killed_during_training_resumes(mid_root, reference, tmp_path):
    cache = tmp_path/'cache'
    models = lambda: [f.name.split('-')[0] for f in (cache/'models').glob('*.joblib')] if (cache/'models').exists() else []
    p = kill_when(run_cmd(mid_root, tmp_path/'rep', cache), lambda: len(models()) >= 2)
    assert p.returncode == -signal.SIGKILL
    done = set(models())
    r = lnb_run(mid_root, tmp_path/'rep', cache, '--models', MODELS)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.count('  from the cache') >= len(done) >= 2
    pd.testing.assert_frame_equal(metrics(reference).drop(index='cnn'), metrics(tmp_path/'rep'))

def test_corrupted_caches_are_rebuilt(mid_root, reference, tmp_path):
    cache = tmp_path/'cache'
    assert lnb_run(mid_root, tmp_path/'rep', cache, '--models', MODELS).returncode == 0
    shard = sorted((cache/'features').glob('features-*/shard-*.npz'))[0]; shard.write_bytes(shard.read_bytes()[:100])
    model = sorted((cache/'models').glob('rf-*.joblib'))[0]; model.write_bytes(b'\x80\x04garbage')
    audit = sorted((cache/'audit').glob('*.csv'))[0]; audit.write_text('nonsense')
    r = lnb_run(mid_root, tmp_path/'rep', cache, '--models', MODELS)
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'cached model unreadable: retraining' in r.stdout
    assert 'corrupted cache shard' in pd.read_csv(tmp_path/'rep'/'audit.csv').problem.tolist()
    pd.testing.assert_frame_equal(metrics(reference).drop(index='cnn'), metrics(tmp_path/'rep'))
