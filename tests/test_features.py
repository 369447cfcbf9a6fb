"Feature table schema, the cache (reuse, invalidation, corruption, interruption) and failing images."
from pathlib import Path
import cv2, numpy as np, pandas as pd, pytest
import leukemia_nb.features as F
from leukemia_nb.features import extract_features, FEATURE_COLUMNS
from leukemia_nb.data import load_cnmc, name_problems
from leukemia_nb.core import UnsafeOutputError

@pytest.fixture
def man(tiny_copy):
    return load_cnmc(tiny_copy)

def test_schema_order_and_index(man, tmp_path):
    shuffled = man.sample(frac=1, random_state=0).set_index(pd.Index([f'r{i}' for i in range(len(man))]))
    X = extract_features(shuffled, n_jobs=2, progress=False)
    assert list(X.columns) == FEATURE_COLUMNS and len(FEATURE_COLUMNS) > 80
    assert list(X.index) == list(shuffled.index)
    assert all(X.dtypes == 'float64') and np.isfinite(X.values).all()
    families = {c.split('_')[0] for c in FEATURE_COLUMNS}
    assert families == {'shape', 'glcm', 'lbp', 'color', 'nuc', 'spatial'}
    # row k describes image k: recompute one directly
    k = 3
    f, err = F.features_from_files(shuffled.path.tolist(), patients=shuffled.patient.tolist())[k]
    assert err is None and np.allclose([f[c] for c in FEATURE_COLUMNS], X.iloc[k].values)
    f, err = F.features_from_file(shuffled.path.iloc[k])  # alone: the same row (one image, one row)
    assert err is None and np.array_equal(np.float32([f[c] for c in FEATURE_COLUMNS]), X.iloc[k].values.astype(np.float32))

def test_cache_reuse_and_invalidation(man, tmp_path, monkeypatch):
    cache = tmp_path/'cache'
    X1 = extract_features(man, n_jobs=1, cache=cache, progress=False)
    assert X1.attrs['n_computed'] == len(man)
    X2 = extract_features(man, n_jobs=1, cache=cache, progress=False)
    assert X2.attrs['n_computed'] == 0 and np.array_equal(X1.values, X2.values)
    # change one image's pixels: only that one is recomputed, and its features change
    p = man.path.iloc[0]
    img = cv2.imread(p); cv2.imwrite(p, (img * 0.8).astype(np.uint8))  # darken it (new bytes)
    X3 = extract_features(man, n_jobs=1, cache=cache, progress=False)
    assert X3.attrs['n_computed'] == 1
    assert not np.array_equal(X3.iloc[0].values, X1.iloc[0].values)
    assert np.array_equal(X3.iloc[1:].values, X1.iloc[1:].values)
    # a new feature-code version invalidates everything
    monkeypatch.setattr(F, 'FEATURE_VERSION', F.FEATURE_VERSION + '-test')
    assert extract_features(man, n_jobs=1, cache=cache, progress=False).attrs['n_computed'] == len(man)
    # other settings are other entries
    monkeypatch.undo()
    assert extract_features(man, n_jobs=1, cache=cache, progress=False, normalize='cell').attrs['n_computed'] == len(man)

def test_corrupted_shard_is_rebuilt(man, tmp_path):
    cache = tmp_path/'cache'
    X1 = extract_features(man, n_jobs=1, cache=cache, progress=False, shard=8)
    shards = sorted(cache.rglob('shard-*.npz'))
    assert len(shards) >= 2
    b = shards[0].read_bytes(); shards[0].write_bytes(b[:len(b) // 2])  # a torn write
    X2 = extract_features(man, n_jobs=1, cache=cache, progress=False, shard=8)
    probs = name_problems(X2)
    assert (probs.problem == 'corrupted cache shard').sum() == 1
    assert 0 < X2.attrs['n_computed'] < len(man)
    assert np.allclose(X1.values, X2.values)
    assert extract_features(man, n_jobs=1, cache=cache, progress=False).attrs['n_computed'] == 0

def test_interrupted_run_resumes(man, tmp_path, monkeypatch):
    cache = tmp_path/'cache'
    calls = {'n': 0}
    real = F._work
    def dying(paths, normalize, scale, sources=None):
        calls['n'] += 1
        if calls['n'] > 2: raise KeyboardInterrupt
        return real(paths, normalize, scale, sources)
    monkeypatch.setattr(F, '_work', dying)
    with pytest.raises(KeyboardInterrupt):
        extract_features(man, n_jobs=1, cache=cache, progress=False, chunk=4, shard=4)
    monkeypatch.setattr(F, '_work', real)
    X = extract_features(man, n_jobs=1, cache=cache, progress=False, chunk=4, shard=4)
    assert X.attrs['n_computed'] == len(man) - 8
    assert np.allclose(X.values, extract_features(man, n_jobs=1, progress=False).values)

def test_failing_image_is_a_problem_row(man, tmp_path):
    bad = man.copy()
    Path(bad.path.iloc[2]).write_bytes(b'garbage')
    blank = tmp_path/'blank.bmp'; cv2.imwrite(str(blank), np.zeros((450, 450, 3), np.uint8))
    bad.loc[bad.index[4], 'path'] = str(blank)
    X = extract_features(bad, n_jobs=2, progress=False)
    probs = name_problems(X)
    assert set(probs.file) == {bad.path.iloc[2], str(blank)}
    assert X.iloc[[2, 4]].isna().all(axis=1).all()
    assert X.drop(index=bad.index[[2, 4]]).notna().all().all()
    assert any('no cell' in d for d in probs.detail)

def test_cache_never_inside_data(man):
    with pytest.raises(UnsafeOutputError):
        extract_features(man, cache=Path(man.attrs['root'])/'cache', progress=False)
    assert not (Path(man.attrs['root'])/'cache').exists()
