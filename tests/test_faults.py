"""Reproducibility and faults: same seed, same numbers (under two different hash seeds); a run killed at an exact
stage resumes from its caches; a damaged cache is rebuilt. No test here waits on a clock: a run is killed by a fault
point in the code (`LNB_FAULT_AT`, see `00_core`), and cache reuse is read from `run.json`, not from printed text."""
import json
import os
import signal
import subprocess
from pathlib import Path
import numpy as np, pandas as pd, pytest
from leukemia_nb.synthetic import make_cnmc_like
from conftest import BIN, ENV

MODELS = 'rf,knn,svm,nb'
CNN_TOL = 1e-4  # CNN probabilities of two runs with the same seed on a CPU with op determinism on: float noise only

@pytest.fixture(scope='module')
def mid_root(tmp_path_factory):
    "A dataset big enough for the feature pass to write several shards (about 300 cells)."
    return make_cnmc_like(tmp_path_factory.mktemp('mid'), seed=7, patients_per_fold=(4, 2), cells_per_patient=14,
                          prelim_patients=(3, 2), prelim_cells_per_patient=6, n_final=0, n_jobs=1, progress=False)

def lnb_run(root, out, cache, *extra, env=None):
    """`lnb_run --quick` in a process group of its own. Its output goes to files, not pipes: the workers of a killed
    run could hold a pipe open. Once the run has ended, its whole group is killed, whatever happened."""
    import tempfile
    cmd = [str(BIN/'lnb_run'), '--data', str(root), '--out', str(out), '--cache', str(cache), '--quick', *extra]
    with tempfile.TemporaryFile('w+') as stdout, tempfile.TemporaryFile('w+') as stderr:
        process = subprocess.Popen(cmd, stdout=stdout, stderr=stderr, text=True, env=env or ENV, start_new_session=True)
        try:
            process.wait(timeout=900)
        finally:
            try: os.killpg(process.pid, signal.SIGKILL)   # workers (joblib, loky) of a killed run go with it
            except ProcessLookupError: pass
            process.wait()
        stdout.seek(0)
        stderr.seek(0)
        return subprocess.CompletedProcess(cmd, process.returncode, stdout.read(), stderr.read())

@pytest.fixture(scope='module')
def reference(mid_root, tmp_path_factory):
    d = tmp_path_factory.mktemp('ref')
    r = lnb_run(mid_root, d/'rep', d/'cache', '--models', MODELS + ',cnn', env=dict(ENV, PYTHONHASHSEED='1'))
    assert r.returncode == 0, r.stderr[-3000:]
    return d/'rep'

def metrics(rep): return pd.read_csv(Path(rep)/'metrics.csv', index_col=0)
def preds(rep): return pd.read_csv(Path(rep)/'predictions.csv').sort_values(['model', 'path']).reset_index(drop=True)
def cache_log(rep): return json.loads((Path(rep)/'run.json').read_text())['cache']

def test_same_seed_same_numbers_under_another_hash_seed(mid_root, reference, tmp_path):
    "Python salts str hashes per process (PYTHONHASHSEED): nothing the results depend on may follow them."
    r = lnb_run(mid_root, tmp_path/'rep', tmp_path/'cache', '--models', MODELS + ',cnn', env=dict(ENV, PYTHONHASHSEED='2'))
    assert r.returncode == 0, r.stderr[-3000:]
    a, b = preds(reference), preds(tmp_path/'rep')
    classical = a.model != 'cnn'
    pd.testing.assert_frame_equal(a[classical], b[classical])                    # classical: identical
    pd.testing.assert_frame_equal(metrics(reference).drop(index='cnn'), metrics(tmp_path/'rep').drop(index='cnn'))
    assert np.allclose(a[~classical].prob, b[~classical].prob, atol=CNN_TOL)      # CNN: within the stated tolerance
    run = json.loads((tmp_path/'rep'/'run.json').read_text())
    assert run['settings']['seed'] == 0 and run['settings']['quick'] is True
    assert run['cache']['features']['cached'] == 0        # a fresh cache: everything was computed
    assert '--seed 0' in (tmp_path/'rep'/'report.md').read_text()

def test_other_seed_other_numbers(mid_root, reference, tmp_path):
    r = lnb_run(mid_root, tmp_path/'rep', tmp_path/'cache', '--models', 'rf', '--seed', '3')
    assert r.returncode == 0, r.stderr[-2000:]
    assert not np.array_equal(preds(reference).query("model == 'rf'").prob, preds(tmp_path/'rep').prob)

def test_killed_during_features_resumes(mid_root, reference, tmp_path):
    cache = tmp_path/'cache'
    killed = lnb_run(mid_root, tmp_path/'rep', cache, '--models', MODELS, env=dict(ENV, LNB_FAULT_AT='feature-shard:2'))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert 'fault point feature-shard reached' in killed.stderr
    assert not (tmp_path/'rep').exists()                   # no half report
    shards = list((cache/'features').glob('features-*/shard-*.npz'))
    assert len(shards) == 2                                # exactly what was written before the kill
    r = lnb_run(mid_root, tmp_path/'rep', cache, '--models', MODELS)
    assert r.returncode == 0, r.stderr[-2000:]
    features = cache_log(tmp_path/'rep')['features']
    assert features['cached'] == 2 * 64 and features['computed'] > 0, features   # the two shards' cells, 64 each
    pd.testing.assert_frame_equal(metrics(reference).drop(index='cnn'), metrics(tmp_path/'rep'))

def test_killed_during_training_resumes(mid_root, reference, tmp_path):
    cache = tmp_path/'cache'
    killed = lnb_run(mid_root, tmp_path/'rep', cache, '--models', MODELS, env=dict(ENV, LNB_FAULT_AT='model-saved:2'))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    saved = sorted(f.name.split('-')[0] for f in (cache/'models').glob('*.joblib'))
    assert saved == ['knn', 'rf']                          # the first two models of the run, saved whole
    r = lnb_run(mid_root, tmp_path/'rep', cache, '--models', MODELS)
    assert r.returncode == 0, r.stderr[-2000:]
    how = {name.split('-')[0]: way for name, way in cache_log(tmp_path/'rep')['models'].items()}
    assert how == {'rf': 'cache', 'knn': 'cache', 'svm': 'fitted', 'nb': 'fitted'}, how
    pd.testing.assert_frame_equal(metrics(reference).drop(index='cnn'), metrics(tmp_path/'rep'))

def test_corrupted_caches_are_rebuilt(mid_root, reference, tmp_path):
    cache = tmp_path/'cache'
    assert lnb_run(mid_root, tmp_path/'rep', cache, '--models', MODELS).returncode == 0
    shard = sorted((cache/'features').glob('features-*/shard-*.npz'))[0]
    shard.write_bytes(shard.read_bytes()[:100])
    model = sorted((cache/'models').glob('rf-*.joblib'))[0]
    model.write_bytes(b'\x80\x04garbage')
    audit = sorted((cache/'audit').glob('*.csv'))[0]
    audit.write_text('nonsense')
    r = lnb_run(mid_root, tmp_path/'rep', cache, '--models', MODELS)
    assert r.returncode == 0, r.stderr[-2000:]
    how = {name.split('-')[0]: way for name, way in cache_log(tmp_path/'rep')['models'].items()}
    assert how['rf'] == 'refitted: cache unreadable' and how['nb'] == 'cache', how
    assert 'corrupted cache shard' in pd.read_csv(tmp_path/'rep'/'audit.csv').problem.tolist()
    pd.testing.assert_frame_equal(metrics(reference).drop(index='cnn'), metrics(tmp_path/'rep'))

def test_ctrl_c_during_cnn_training_then_a_resumed_run(mid_root, reference, tmp_path):
    """Ctrl-C (SIGINT, sent by a fault point at the end of the CNN's second epoch): lnb_run says it was interrupted
    and how to resume (exit 130, no traceback), leaves no report and no half-written file; the same command then
    resumes from the cache (the classical models are not fitted again) and gives the reference's numbers."""
    cache = tmp_path/'cache'
    stopped = lnb_run(mid_root, tmp_path/'rep', cache, '--models', MODELS + ',cnn',
                      env=dict(ENV, LNB_FAULT_AT='cnn-epoch:2:INT'))
    assert 'sending SIGINT' in stopped.stderr, stopped.stderr[-2000:]
    assert stopped.returncode == 130, stopped.stderr[-2000:]
    assert 'interrupted; run the same command again to resume from the cache' in stopped.stderr
    assert 'Traceback' not in stopped.stderr
    assert not (tmp_path/'rep').exists()
    assert not [p for p in cache.rglob('*') if p.name.endswith('.tmp')], 'a half-written file was left in the cache'
    r = lnb_run(mid_root, tmp_path/'rep', cache, '--models', MODELS + ',cnn')
    assert r.returncode == 0, r.stderr[-3000:]
    how = {name.split('-')[0]: way for name, way in cache_log(tmp_path/'rep')['models'].items()}
    assert how == {'rf': 'cache', 'knn': 'cache', 'svm': 'cache', 'nb': 'cache', 'cnn': 'fitted'}, how
    a, b = preds(reference), preds(tmp_path/'rep')
    classical = a.model != 'cnn'
    pd.testing.assert_frame_equal(a[classical], b[classical])
    assert np.allclose(a[~classical].prob, b[~classical].prob, atol=CNN_TOL)
