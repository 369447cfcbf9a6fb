"Issue 12, part A (and 16): colour as imaged, the transductive per-patient mode, unique columns, cache keys, non-finite features."
import os, time
import cv2, numpy as np, pandas as pd, pytest
import leukemia_nb.features as F
from leukemia_nb.features import extract_features, features_from_files, FEATURE_COLUMNS
from leukemia_nb.data import load_cnmc, name_problems
from leukemia_nb.preprocess import read_cell, cell_mask, bbox

COLOR = [c for c in FEATURE_COLUMNS if c.startswith('color_')]
TEXTURE = [c for c in FEATURE_COLUMNS if c.startswith(('glcm_', 'lbp_'))]

@pytest.fixture
def man(tiny_copy):
    m = load_cnmc(tiny_copy)
    return m[m.patient.notna()].reset_index(drop=True)

def test_columns_are_unique_and_keep_rgb_blue():
    assert len(set(FEATURE_COLUMNS)) == len(FEATURE_COLUMNS)
    assert {'color_rgb_b_mean', 'color_rgb_b_std', 'color_lab_b_mean', 'color_lab_b_std'} <= set(COLOR)
    families = {c.split('_')[0] for c in FEATURE_COLUMNS}
    assert families == {'shape', 'glcm', 'lbp', 'color', 'nuc', 'spatial'}

def test_normalize_values_and_old_booleans(man):
    sub = man.head(4)
    X = {mode: extract_features(sub, n_jobs=1, progress=False, normalize=mode) for mode in ('patient', 'cell', 'none')}
    pd.testing.assert_frame_equal(extract_features(sub, n_jobs=1, progress=False, normalize=True), X['cell'])
    pd.testing.assert_frame_equal(extract_features(sub, n_jobs=1, progress=False, normalize=False), X['none'])
    with pytest.raises(ValueError, match='normalize='):
        extract_features(sub, n_jobs=1, progress=False, normalize='slide')
    # colour and brightness are measured as imaged: the same whatever the normalisation
    for mode in ('patient', 'cell'):
        pd.testing.assert_frame_equal(X[mode][COLOR], X['none'][COLOR])
        assert not np.allclose(X[mode][TEXTURE].values, X['none'][TEXTURE].values)

def test_colour_follows_the_stain_not_the_normaliser(man, tmp_path):
    # a cell darkened by 30%: its colour features change (they used to be normalised away), its shape does not
    p = man.path.iloc[0]
    img = cv2.imread(p)
    dark = tmp_path/'dark.bmp'
    cv2.imwrite(str(dark), (img * 0.7).astype(np.uint8))
    (a, _), (b, _) = features_from_files([p, dark], normalize='cell')
    assert abs(a['color_lab_l_mean'] - b['color_lab_l_mean']) > 3
    assert abs(a['color_rgb_b_mean'] - b['color_rgb_b_mean']) > 0.03
    assert abs(a['shape_area'] - b['shape_area']) / a['shape_area'] < 0.02

def test_patient_statistics_come_from_the_patients_own_cells(man):
    X = extract_features(man, n_jobs=1, progress=False, normalize='patient')  # transductive, never the default
    pats = man.patient.tolist()
    # the same as describing the files with their patient ids, and independent of the labels
    direct = features_from_files(man.path.tolist(), normalize='patient', patients=pats)
    assert all(e is None for _, e in direct)
    assert np.allclose(pd.DataFrame([f for f, _ in direct])[FEATURE_COLUMNS].values, X.values)
    flipped = man.assign(label=man.label.map({'all': 'hem', 'hem': 'all'}), y=1 - man.y)
    assert np.array_equal(extract_features(flipped, n_jobs=1, progress=False, normalize='patient').values, X.values)
    # a patient's cells do not depend on another patient's cells
    first = man.patient.iloc[0]
    alone = man[man.patient == first]
    alone_X = extract_features(alone, n_jobs=1, progress=False, normalize='patient')
    assert np.array_equal(alone_X.values, X[man.patient == first].values)
    # per patient differs from per cell where a patient has two or more cells
    Xc = extract_features(man, n_jobs=1, progress=False, normalize='cell')
    assert not np.allclose(X[TEXTURE].values, Xc[TEXTURE].values)

def test_missing_patient_is_its_own_group(man):
    sub = man.head(6).copy()
    assert sub.patient.value_counts().max() > 1
    no_patient = sub.assign(patient=None)
    pd.testing.assert_frame_equal(extract_features(no_patient, n_jobs=1, progress=False, normalize='patient'),
                                  extract_features(sub, n_jobs=1, progress=False, normalize='cell'))
    no_column = sub[['path']]
    pd.testing.assert_frame_equal(extract_features(no_column, n_jobs=1, progress=False, normalize='patient'),
                                  extract_features(sub, n_jobs=1, progress=False, normalize='cell'))
    single = [f for f, _ in features_from_files(sub.path.tolist(), normalize='patient')]
    assert np.allclose(pd.DataFrame(single)[FEATURE_COLUMNS].values,
                       extract_features(sub, n_jobs=1, progress=False, normalize='cell').values)

def test_patient_cache_recomputes_exactly_the_changed_patient(man, tmp_path, monkeypatch):
    cache = tmp_path/'cache'
    X1 = extract_features(man, n_jobs=1, cache=cache, progress=False, normalize='patient')
    assert X1.attrs['n_computed'] == len(man)
    calls = {'n': 0}
    real = F._lab_job
    def counting(paths, scale):
        calls['n'] += len(paths)
        return real(paths, scale)
    monkeypatch.setattr(F, '_lab_job', counting)
    X2 = extract_features(man, n_jobs=1, cache=cache, progress=False, normalize='patient')
    assert X2.attrs['n_computed'] == 0 and calls['n'] == 0 and np.array_equal(X1.values, X2.values)
    # darken one cell: its patient's statistics change, so all of that patient's cells are described again
    p = man.path.iloc[0]
    cv2.imwrite(p, (cv2.imread(p) * 0.8).astype(np.uint8))
    os.utime(p, ns=(time.time_ns(), time.time_ns() + 10**9))
    X3 = extract_features(man, n_jobs=1, cache=cache, progress=False, normalize='patient')
    same_patient = (man.patient == man.patient.iloc[0]).to_numpy()
    assert calls['n'] == 1 and X3.attrs['n_computed'] == same_patient.sum() > 1
    assert np.array_equal(X3[~same_patient].values, X1[~same_patient].values)
    assert not np.allclose(X3[same_patient].values[1:], X1[same_patient].values[1:])  # the unchanged cells too
    assert np.allclose(X3.values, extract_features(man, n_jobs=1, progress=False, normalize='patient').values)

@pytest.mark.parametrize('what', ['numpy', 'cv2', 'skimage'])
def test_library_versions_are_in_the_cache_key(man, tmp_path, monkeypatch, what):
    sub = man.head(4)
    cache = tmp_path/'cache'
    extract_features(sub, n_jobs=1, cache=cache, progress=False)
    assert extract_features(sub, n_jobs=1, cache=cache, progress=False).attrs['n_computed'] == 0
    monkeypatch.setattr(getattr(F, {'numpy': 'np'}.get(what, what)), '__version__', '0.0-test')
    assert extract_features(sub, n_jobs=1, cache=cache, progress=False).attrs['n_computed'] == len(sub)

def test_every_setting_is_in_the_cache_key(man, tmp_path):
    sub = man.head(4)
    cache = tmp_path/'cache'
    for kw in (dict(normalize='patient'), dict(normalize='cell'), dict(normalize='none'), dict(scale=0.25)):
        assert extract_features(sub, n_jobs=1, cache=cache, progress=False, **kw).attrs['n_computed'] == len(sub)
        assert extract_features(sub, n_jobs=1, cache=cache, progress=False, **kw).attrs['n_computed'] == 0

def _middle_crop(img, side=103):
    "The middle of the cell, `side` pixels square: no black anywhere, like a crop of a blood smear."
    y0, y1, x0, x1 = bbox(cell_mask(img))
    cy, cx = (y0 + y1) // 2, (x0 + x1) // 2
    return img[cy - side // 2:cy - side // 2 + side, cx - side // 2:cx - side // 2 + side]

def test_crops_without_black_background_give_finite_features(man, tmp_path):
    # 103x103 JPEG crops, as a user gave lnb_predict: every value finite (distance transform and Fourier fixes)
    paths = []
    for k, p in enumerate(man.path.head(6)):
        crop = _middle_crop(read_cell(p))
        assert crop.min() > 12 and crop.shape == (103, 103, 3)
        q = tmp_path/f'crop{k}.jpg'
        cv2.imwrite(str(q), crop[..., ::-1]); paths.append(q)
    q = tmp_path/'square.jpg'; cv2.imwrite(str(q), np.full((103, 103, 3), (150, 90, 160), np.uint8)); paths.append(q)
    for mode in ('patient', 'cell', 'none'):
        res = features_from_files(paths, normalize=mode)
        assert all(e is None for _, e in res), [e for _, e in res if e]
        assert all(np.isfinite(list(f.values())).all() for f, _ in res)

def test_nonfinite_features_are_an_error_for_that_file_only(man, monkeypatch):
    paths = man.path.head(3).tolist()
    real = F._finish
    def poisoned(parts):
        out = real(parts)
        if len(out) > 1: out[1] = dict(out[1], nuc_rim_width=np.inf, shape_fourier3=1e39, glcm_energy_d1=np.nan)
        return out
    monkeypatch.setattr(F, '_finish', poisoned)
    res = features_from_files(paths)
    assert res[0][1] is None and res[2][1] is None
    f, msg = res[1]
    assert f is None and paths[1] in msg and 'non-finite' in msg
    assert all(c in msg for c in ('nuc_rim_width', 'shape_fourier3', 'glcm_energy_d1'))
    X = extract_features(man.head(3), n_jobs=1, progress=False, normalize='cell')
    probs = name_problems(X)
    assert list(probs.file) == [paths[1]] and 'nuc_rim_width' in probs.detail.iloc[0]
    assert X.iloc[1].isna().all() and np.isfinite(X.iloc[[0, 2]].values).all()

def test_patients_list_must_match_paths(man):
    with pytest.raises(ValueError, match='patient ids for'):
        features_from_files(man.path.head(3).tolist(), patients=['1', '2'])
