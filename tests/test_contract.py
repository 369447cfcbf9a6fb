"Issue 16: one cell, one answer. The feature contract on real cells: orientation, canvas, redundancy, independence."
import cv2, numpy as np, pandas as pd, pytest
from leukemia_nb.data import load_cnmc
from leukemia_nb.features import features_from_files, FeatureContract, FEATURE_COLUMNS

@pytest.fixture(scope='module')
def sample(real_data):
    return load_cnmc(real_data/'cnmc_sample')

@pytest.fixture(scope='module')
def base(sample_features):
    return sample_features

def _rows(paths):
    out = features_from_files([str(p) for p in paths])
    assert all(error is None for _, error in out), [error for _, error in out if error]
    return pd.DataFrame([row for row, _ in out], columns=FEATURE_COLUMNS)

def _written(sample, folder, transform, name):
    paths = []
    for i, path in enumerate(sample.path):
        target = folder/f'{name}_{i}.bmp'
        cv2.imwrite(str(target), np.ascontiguousarray(transform(cv2.imread(path))))
        paths.append(target)
    return paths

TURNS = {'mirror left-right': lambda a: a[:, ::-1], 'mirror up-down': lambda a: a[::-1],
         'quarter turn': lambda a: np.rot90(a), 'three quarter turns': lambda a: np.rot90(a, 3)}

@pytest.mark.parametrize('turn', list(TURNS))
def test_features_do_not_depend_on_orientation(sample, base, tmp_path, turn):
    "A cell has no orientation: every column moves by at most 0.1 of its spread across cells (measured: 0.002)."
    turned = _rows(_written(sample, tmp_path, TURNS[turn], 'turned'))
    spread = base.std().replace(0, np.nan)
    change = ((turned.values - base.values).__abs__().mean(0) / spread.values)
    worst = pd.Series(change, FEATURE_COLUMNS).fillna(0).sort_values()
    assert worst.iloc[-1] <= 0.1, worst.tail(5).to_dict()

def test_the_same_cell_on_a_600_canvas_gets_the_same_row(sample, base, tmp_path):
    "Final-phase cells come on 600×600 canvases at the training magnification: the canvas must change nothing."
    pad = lambda a: np.pad(a, ((75, 75), (75, 75), (0, 0)))  # an odd offset: pixel pairs would shift if resized whole
    wide = _rows(_written(sample, tmp_path, pad, 'wide'))
    np.testing.assert_allclose(wide.values, base.values.astype(np.float64), rtol=1e-6, atol=0)

def test_no_two_columns_say_the_same(base):
    corr = base.drop(columns='nuc_found').corr().abs().to_numpy().copy()
    np.fill_diagonal(corr, 0)
    worst = np.unravel_index(np.nanargmax(corr), corr.shape)
    columns = base.drop(columns='nuc_found').columns
    assert corr[worst] <= 0.99, (columns[worst[0]], columns[worst[1]], corr[worst])

def test_a_row_depends_on_its_own_image_only(sample, base):
    "One at a time, all together in a shuffled order, or with patient ids: the same numbers (the default contract)."
    contract = FeatureContract()
    assert not contract.transductive
    paths = sample.path.tolist()
    order = np.random.default_rng(0).permutation(len(paths))
    together = contract.rows([paths[i] for i in order], patients=sample.patient.iloc[order].tolist())
    alone = [contract.rows([paths[i]])[0][0] for i in order[:12]]
    shuffled = pd.DataFrame([row for row, _ in together], columns=FEATURE_COLUMNS).to_numpy(np.float32)
    np.testing.assert_array_equal(shuffled, base.to_numpy(np.float32)[order])
    np.testing.assert_array_equal(pd.DataFrame(alone, columns=FEATURE_COLUMNS).to_numpy(np.float32), shuffled[:12])
