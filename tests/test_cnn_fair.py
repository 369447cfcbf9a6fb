"""The CNN's fair training rule: fold networks on patient-disjoint parts of the training patients, a fixed schedule,
the calibration fitted on their out-of-fold predictions, and the served CNN is those very networks (served = measured);
embeddings, hybrid heads on them that never learn from a cell their network trained on; the two recipes, the stain
input and the distribution scope. Tiny images, few steps: the CPU is shared."""
import numpy as np, pandas as pd, pytest
import keras
from leukemia_nb import cnn as C
from leukemia_nb import hybrids as H
from leukemia_nb.classical import predictions_table

@pytest.fixture(scope='module')
def tiny_split(tiny_root):
    from leukemia_nb.data import load_cnmc
    from leukemia_nb.evaluate import challenge_split
    return challenge_split(load_cnmc(tiny_root))

@pytest.fixture(scope='module')
def crossfit(tiny_split):
    """A cross-fitted CNN on the tiny set, with a record of every network `train_cnn` trained (its cells and held-out
    cells) and of what the calibration was fitted on."""
    train, _ = tiny_split
    calls, fitted_on = [], {}
    fit_network, fit_calibration = C._fit_network, C.fit_calibration
    def recording_fit(s, pixels, y, held=None, **kwargs):
        calls.append(dict(n=len(pixels), held=None if held is None else len(held[0]), kwargs=kwargs))
        return fit_network(s, pixels, y, held, **kwargs)
    def recording_calibration(prob, y):
        fitted_on.update(prob=np.asarray(prob).copy(), y=np.asarray(y).copy())
        return fit_calibration(prob, y)
    C._fit_network, C.fit_calibration = recording_fit, recording_calibration
    try:
        cnn = C.train_cnn(train, img_size=32, epochs=2, batch_size=8, steps_per_epoch=2, verbose=0, n_jobs=1, seed=0,
                          folds=2)
    finally:
        C._fit_network, C.fit_calibration = fit_network, fit_calibration
    return cnn, calls, fitted_on

def test_fold_networks_never_trained_on_the_part_they_predict(crossfit, tiny_split):
    cnn, calls, _ = crossfit
    train, _ = tiny_split
    assert cnn.selection['folds'] == 2 == len(cnn.fold_models) == len(cnn.fold_patients)
    for k, trained_on in enumerate(cnn.fold_patients):
        held_out = set(cnn.oof.patient[cnn.oof.fold == k])
        assert held_out and not held_out & set(trained_on)
        assert held_out | set(trained_on) == set(train.patient)   # the part and the rest: every training patient
    assert [call['n'] + call['held'] for call in calls] == [len(train)] * 2   # two networks, each with its part out

def test_each_fold_network_trains_as_if_alone(tiny_split):
    """One compiled network (`SharedLearner`) trains every fold network, restarted from the seed's state before each:
    fold network k comes out exactly as if trained alone, never as one that went on from another fold network, whose
    cells include the part that k predicts."""
    from leukemia_nb.preprocess import PixelCache
    train, _ = tiny_split
    pixels, ok = PixelCache(None, 32).get(train.path.tolist(), n_jobs=1)
    s = {**C.recipe_settings(img_size=32, epochs=1, batch_size=8), 'seed': 0, 'verbose': 0, 'steps_per_epoch': 2,
         'policy': None}
    alone, together = (C._cross_fitted(s, train[ok], pixels[ok], 2, shared=shared) for shared in (False, True))
    for network_alone, network in zip(alone['networks'], together['networks']):
        for mine, expected in zip(network.get_weights(), network_alone.get_weights()):
            np.testing.assert_allclose(mine, expected, atol=1e-6)

def test_every_training_cell_has_one_out_of_fold_prediction(crossfit, tiny_split):
    cnn, _, _ = crossfit
    train, _ = tiny_split
    assert sorted(cnn.oof.index) == sorted(train.index) and not cnn.oof.index.duplicated().any()
    assert (cnn.oof.path == train.loc[cnn.oof.index, 'path']).all()
    assert cnn.oof_embedding.shape == (len(train), cnn.fold_models[0].get_layer('gap').output.shape[-1])
    assert np.isfinite(cnn.oof_embedding).all() and cnn.oof.prob.between(0, 1).all()

def test_no_epoch_is_chosen_on_the_cells_that_fit_the_calibration(crossfit):
    """A fixed schedule: every fold network trains the recipe's epochs at `cosine_rates`, its part's AUC only recorded
    (no early stopping, no plateau rule), so the out-of-fold cells choose nothing before they fit the calibration."""
    cnn, calls, _ = crossfit
    rates = C.cosine_rates(2, C.TRAIN_DEFAULTS['learning_rate'])
    assert all(not call['kwargs'].get('select') and call['kwargs'].get('rates') == rates for call in calls)
    for history in cnn.selection['fold_histories']:
        assert len(history['loss']) == 2 and np.allclose(history['learning_rate'], rates)
        assert len(history['val_auc']) == 2                              # recorded, every epoch
    assert cnn.selection['held_auc'] == [h['val_auc'] for h in cnn.selection['fold_histories']]

def test_cosine_rates():
    rates = C.cosine_rates(8, 1e-3)
    assert rates[0] == pytest.approx(1e-3) and rates[-1] == pytest.approx(5e-5)
    assert all(a > b for a, b in zip(rates, rates[1:])) and C.cosine_rates(1, 1e-3) == [pytest.approx(1e-3)]

def _served_as_measured(cnn, train, test):
    """Served = measured, recomputed from the networks' own Keras outputs: each fold network's out-of-fold P(all) is
    `cnn.oof.prob`, the calibration is the one those predictions give, and `predict_cnn` is that calibration applied
    to the mean logit of those same networks."""
    def tta_logit(net, rows):
        pixels, _ = C.PixelCache(None, cnn.img_size, cnn.canvas).get(rows.path.tolist(), n_jobs=1)
        return np.mean([net.predict(C.dihedral(pixels, k), verbose=0)[:, 0] for k in range(8)], axis=0)
    for k, net in enumerate(cnn.fold_models):
        part = cnn.oof[cnn.oof.fold == k]
        np.testing.assert_allclose(1 / (1 + np.exp(-tta_logit(net, part))), part.prob, atol=1e-5)
    assert cnn.calibration == C.fit_calibration(cnn.oof.prob, cnn.oof.y)
    mean_logit = np.mean([tta_logit(net, test) for net in cnn.fold_models], axis=0)
    served = C.calibrated(1 / (1 + np.exp(-mean_logit)), cnn.calibration, cnn.prior)
    np.testing.assert_allclose(C.predict_cnn(cnn, test, n_jobs=1), served, atol=1e-5)
    np.testing.assert_allclose(C.tta_predict(cnn.model, C.PixelCache(None, cnn.img_size, cnn.canvas).get(
        test.path.tolist(), n_jobs=1)[0]), 1 / (1 + np.exp(-mean_logit)), atol=1e-5)   # `cnn.model` is the same

def test_the_served_cnn_is_the_one_whose_calibration_was_measured(crossfit, tiny_split):
    cnn, calls, _ = crossfit
    train, test = tiny_split
    assert set(cnn.train_patients) == set(train.patient.astype(str))
    assert all(call['held'] is not None for call in calls)              # no network trained on every training cell
    _served_as_measured(cnn, train, test)

def test_a_planted_miscalibrated_served_model_fails_the_check(crossfit, tiny_split):
    """Serve another network under the same calibration (fold network 0 twice, as a refit network would be: one the
    calibration never saw) or another calibration under the same networks: the check above must fail."""
    cnn, _, _ = crossfit
    train, test = tiny_split
    other = C.CNNModel([cnn.fold_models[0], cnn.fold_models[0]], cnn.img_size, cnn.canvas, cnn.train_patients,
                       prior=cnn.prior, calibration=cnn.calibration, oof=cnn.oof, fold_patients=cnn.fold_patients)
    with pytest.raises(AssertionError): _served_as_measured(other, train, test)
    slope, intercept = cnn.calibration or (1.0, 0.0)
    shifted = C.CNNModel(cnn.fold_models, cnn.img_size, cnn.canvas, cnn.train_patients, prior=cnn.prior,
                         calibration=(slope, intercept + 1.0), oof=cnn.oof, fold_patients=cnn.fold_patients)
    with pytest.raises(AssertionError): _served_as_measured(shifted, train, test)

def test_calibration_comes_from_the_out_of_fold_predictions(crossfit, tiny_split):
    cnn, _, fitted_on = crossfit
    train, _ = tiny_split
    assert np.array_equal(fitted_on['prob'], cnn.oof.prob.to_numpy())    # every training cell's out-of-fold P(all)
    assert np.array_equal(fitted_on['y'], train.loc[cnn.oof.index, 'y'].astype(int).to_numpy())
    assert cnn.calibration == C.fit_calibration(cnn.oof.prob, cnn.oof.y)
    expected = 'out-of-fold P(all) of every training cell' if cnn.calibration else 'training prior'
    assert cnn.selection['calibration'] == expected and cnn.selection['rule'].startswith('Cross-fitting inside')

def test_saved_and_loaded_it_keeps_everything(crossfit, tiny_split, tmp_path):
    cnn, _, _ = crossfit
    train, test = tiny_split
    path = C.save_cnn(cnn, tmp_path/'models'/'cnn-key.keras')
    assert sorted(p.name for p in path.parent.iterdir()) == ['cnn-key.keras', 'cnn-key.keras.json', 'cnn-key.oof.npz']
    back = C.load_cnn(path)
    assert np.abs(C.predict_cnn(back, test, n_jobs=1) - C.predict_cnn(cnn, test, n_jobs=1)).max() < 1e-6
    for k in range(2):
        assert np.abs(C.embed_cnn(back, test, k, n_jobs=1) - C.embed_cnn(cnn, test, k, n_jobs=1)).max() < 1e-5
    assert (back.selection, back.fold_patients, back.train_patients, back.calibration, back.prior) == \
           (cnn.selection, cnn.fold_patients, cnn.train_patients, cnn.calibration, cnn.prior)
    pd.testing.assert_frame_equal(back.oof, cnn.oof, check_dtype=False)
    assert np.array_equal(back.oof_embedding, cnn.oof_embedding)
    _served_as_measured(back, train, test)

def test_too_few_patients_of_a_class_is_a_clear_error(tiny_split, capsys):
    train, _ = tiny_split
    hem = sorted(train.patient[train.y == 0].unique())
    with pytest.raises(ValueError, match='pass `valid`'):
        C.patient_parts(train[~train.patient.isin(hem[1:])], 2)          # one hem patient left
    assert len(C.patient_parts(train, 5)) == len(hem)                   # fewer hem patients than folds: fewer parts
    assert 'parts instead of 5' in capsys.readouterr().out

def test_cross_fitted_cnn_learns_the_blob_and_its_heads_too(tmp_path):
    """Where the answer is known (a bright blob makes a cell `all`, see test_cnn_learner.py): the served CNN (the fold
    networks together) learns it and is calibrated to the training share, the fold networks' out-of-fold predictions
    rank well, and so does a head fitted on their out-of-fold embeddings: the rows, labels and embeddings it learns
    from belong together."""
    from sklearn.metrics import roc_auc_score
    from test_cnn_learner import _cells
    train = _cells(tmp_path/'train', 8, 4, 16, seed=1)                  # 2/3 of the training cells are `all`
    test = _cells(tmp_path/'test', 4, 2, 16, seed=3)
    cnn = C.train_cnn(train, img_size=64, canvas=64, epochs=8, batch_size=16, learning_rate=3e-3, verbose=0, n_jobs=1,
                      seed=0, folds=2)
    prob = C.predict_cnn(cnn, test, n_jobs=1)
    assert roc_auc_score(test.y, prob) >= 0.9, roc_auc_score(test.y, prob)
    assert abs(prob.mean() - 2 / 3) < 0.1, prob.mean()                  # calibrated to the share it trained on
    assert roc_auc_score(cnn.oof.y, cnn.oof.prob) >= 0.8
    head = H.predict_hybrids(H.fit_hybrids(cnn, train, names=['logreg_cnn']), cnn, test)['logreg_cnn']
    assert roc_auc_score(test.y, head) >= 0.9, roc_auc_score(test.y, head)

# hybrid heads

@pytest.fixture(scope='module')
def handcrafted(tiny_split):
    from leukemia_nb.features import extract_features
    train, test = tiny_split
    return (extract_features(train, n_jobs=1, progress=False).set_axis(train.index),
            extract_features(test, n_jobs=1, progress=False).set_axis(test.index))

@pytest.fixture(scope='module')
def hybrids(crossfit, tiny_split, handcrafted):
    cnn, _, _ = crossfit
    train, _ = tiny_split
    return H.fit_hybrids(cnn, train, handcrafted[0])

def test_a_head_never_learns_from_a_cell_its_network_trained_on(hybrids, crossfit):
    cnn, _, _ = crossfit
    assert set(hybrids) == set(H.HYBRID_HEADS)
    for hybrid in hybrids.values():
        assert len(hybrid.heads) == len(cnn.fold_models) and hybrid.rule == H.HYBRID_RULE
        for k, patients in enumerate(hybrid.head_patients):
            assert patients and not set(patients) & set(cnn.fold_patients[k])
            assert set(patients) <= set(cnn.oof.patient[cnn.oof.fold == k])
        assert hybrid.train_patients == cnn.train_patients

def test_hybrid_predictions_are_probabilities_and_survive_saving(hybrids, crossfit, tiny_split, handcrafted,
                                                                 tmp_path):
    cnn, _, _ = crossfit
    _, test = tiny_split
    broken = pd.concat([test, pd.DataFrame({'path': ['/no/such/cell.bmp']}, index=[-1])])
    X_test = handcrafted[1].copy()
    X_test.iloc[0, 0] = np.nan                                          # a handcrafted feature that failed
    probs = H.predict_hybrids(hybrids, cnn, broken, X_test)
    for name, prob in probs.items():
        predicted = ~np.isnan(prob)
        assert len(prob) == len(broken) and not predicted[-1]           # undecodable image: no prediction
        assert predicted[0] == (name != 'svm_cnn_hc') and predicted[1:-1].all()   # only the head reading X loses row 0
        assert ((0 <= prob[predicted]) & (prob[predicted] <= 1)).all()
    H.save_hybrids(hybrids, tmp_path/'hybrids.joblib')
    back = H.predict_hybrids(H.load_hybrids(tmp_path/'hybrids.joblib'), cnn, broken, X_test)
    for name, prob in probs.items(): np.testing.assert_array_equal(back[name], prob)
    table = predictions_table('svm_cnn', test, probs['svm_cnn'][:-1])
    assert len(table) == len(test) and table.prob.notna().all()

def test_a_head_that_reads_handcrafted_features_needs_them(crossfit, tiny_split):
    cnn, _, _ = crossfit
    train, _ = tiny_split
    with pytest.raises(ValueError, match='X_train'):
        H.fit_hybrids(cnn, train, names=['svm_cnn_hc'])
    with pytest.raises(ValueError, match='cross-fitted'):
        H.fit_hybrids(C.CNNModel(cnn.fold_models, 32, 300, []), train, names=['svm_cnn'])

# embeddings, recipes, stain input, devices

@pytest.fixture(scope='module')
def real_cells(real_data):
    paths = sorted((real_data/'cnmc_sample').rglob('*.bmp'))[:6]
    pixels, ok = C.PixelCache(None, 64).get(paths, n_jobs=1)
    assert ok.all()
    return pixels, paths

def test_embeddings_are_invariant_to_flips_and_quarter_turns(real_cells):
    pixels, _ = real_cells
    keras.utils.set_random_seed(0)
    model = C.build_cnn(64)
    base = C.cnn_embeddings(model, pixels)
    assert base.shape == (len(pixels), 64) and base.std(0).mean() > 1e-3
    for k in range(1, 8):
        assert np.abs(C.cnn_embeddings(model, C.dihedral(pixels, k)) - base).max() < 1e-4 * np.abs(base).max()
    plain = C.cnn_embeddings(model, pixels, tta=False)                    # without TTA a turn changes the embedding
    assert np.abs(C.cnn_embeddings(model, C.dihedral(pixels, 1), tta=False) - plain).max() > 1e-3 * np.abs(plain).max()

@pytest.fixture(scope='module')
def native_cells(real_data):
    "Two real cells, one per class, at the full recipe's native 300 px."
    paths = [sorted((real_data/'cnmc_sample').rglob(f'*_{label}.bmp'))[0] for label in ('all', 'hem')]
    pixels, ok = C.PixelCache(None, 300, 300).get(paths, n_jobs=1)
    assert ok.all()
    return pixels

@pytest.mark.parametrize('policy', ['float32'])   # the mixed policies of the backbone: test_cnn.py (at 64 px)
def test_full_recipe_trains_a_step(native_cells, policy):
    full = C.recipe_settings('full', weights='random')                    # no download
    assert (full['img_size'], full['canvas'], full['backbone']) == (300, 300, 'efficientnetb0')
    keras.utils.set_random_seed(0)
    model = C.build_cnn(full['img_size'], full['backbone'], full['weights'], full['learning_rate'], policy=policy)
    model.run_eagerly = True   # the same step, eagerly: building EfficientNet's training graph takes a CPU 30 s
    loss = model.train_on_batch(native_cells, np.array([1, 0], 'float32'))
    loss = loss[0] if isinstance(loss, (list, tuple)) else loss
    assert np.isfinite(float(loss)), (policy, loss)

def test_full_recipe_augmentation_keeps_the_background_black_at_300px(native_cells):
    x = C.ToFloat()(native_cells)
    out = keras.ops.convert_to_numpy(C.augmentation(seed=5)(x, training=True))
    x = keras.ops.convert_to_numpy(x)
    yy, xx = np.mgrid[:300, :300]
    corners = (yy - 149.5) ** 2 + (xx - 149.5) ** 2 > 150 ** 2            # outside the circle any rotation keeps
    assert x[:, corners].max() <= C.CELL_THRESHOLD                        # the cells fit inside it...
    assert out[:, corners].max() <= C.CELL_THRESHOLD                      # ...and nothing lights up outside it
    cell_in, cell_out = ((v.max(-1) > C.CELL_THRESHOLD).sum((1, 2)) for v in (x, out))
    assert (np.abs(cell_out - cell_in) < 0.03 * cell_in).all()            # turned, not grown: the background stays

def test_default_recipe_follows_the_device():
    assert C.default_recipe(dict(kind='gpu', count=1, name='H200', capability=(9, 0))) == 'full'
    assert C.default_recipe(dict(kind='tpu', count=8, name='TPU', capability=None)) == 'full'
    assert C.default_recipe(dict(kind='cpu', count=1, name='CPU', capability=None)) == 'small'
    assert C.recipe_settings('small', img_size=64)['img_size'] == 64      # explicit arguments win

def test_hed_input_matches_scikit_image(real_data):
    from skimage.color import rgb2hed
    paths = sorted((real_data/'cnmc_sample').rglob('*.bmp'))[:8]
    pixels, _ = C.PixelCache(None, 128).get(paths, n_jobs=1)
    hed = keras.ops.convert_to_numpy(C.RGBToHED()(pixels))
    cell = pixels.max(-1) > C.CELL_THRESHOLD
    assert cell.sum() > 1000
    np.testing.assert_allclose(hed[cell], rgb2hed(pixels)[cell], atol=1e-4)
    assert hed[~cell].max() == 0

def test_hed_model_saves_and_loads(real_cells, tmp_path):
    pixels, _ = real_cells
    keras.utils.set_random_seed(0)
    model = C.build_cnn(64, input_mode='hed')
    cnn = C.CNNModel(model, 64, 300, ['1'], input_mode='hed')
    back = C.load_cnn(C.save_cnn(cnn, tmp_path/'hed.keras'))
    assert back.input_mode == 'hed' and isinstance(back.fold_models[0].get_layer('hed'), C.RGBToHED)
    assert np.abs(C.tta_predict(back.model, pixels) - C.tta_predict(model, pixels)).max() < 1e-6

def test_distribution_scope_is_a_no_op_on_cpu():
    device = C.accelerator()
    assert device['kind'] == 'cpu'
    with C.distribution_scope(device):
        assert keras.distribution.distribution() is None and C.devices_per_batch() == 1
        if C.backend() == 'tensorflow':
            import tensorflow as tf
            assert not tf.distribute.has_strategy()
    assert keras.distribution.distribution() is None
    with C.distribution_scope(dict(device, count=2)):                   # several CPU devices: still nothing
        assert keras.distribution.distribution() is None

MULTI_DEVICE = """
import os, sys, tempfile
import numpy as np, keras
from leukemia_nb import cnn as C
from leukemia_nb.synthetic import make_cnmc_like
from leukemia_nb.data import load_cnmc
from leukemia_nb.evaluate import challenge_split
assert len(keras.distribution.list_devices()) == 2
gpus = dict(backend='jax', kind='gpu', count=2, name='two host devices shown as GPUs', capability=(9, 0))
C.accelerator = lambda: gpus
root = make_cnmc_like(tempfile.mkdtemp(), seed=3, patients_per_fold=(2, 1), cells_per_patient=3,
                      prelim_patients=(1, 1), prelim_cells_per_patient=3, n_final=3, n_jobs=1, progress=False)
train, test = challenge_split(load_cnmc(root))
rows, original = [], C.PixelBatches.__getitem__
def recording(self, index):
    batch = original(self, index)
    rows.append((len(batch[0]), C.devices_per_batch()))
    return batch
C.PixelBatches.__getitem__ = recording
cnn = C.train_cnn(train, img_size=32, epochs=1, batch_size=7, steps_per_epoch=2, verbose=0, n_jobs=1, policy='float32',
                  folds=2)
assert {devices for _, devices in rows} == {2} and all(n % 2 == 0 for n, _ in rows), rows   # split evenly
assert keras.distribution.distribution() is None                    # the scope ended with train_cnn
pixels, _ = C.PixelCache(None, 32).get(test.path.tolist(), n_jobs=1)
with C.distribution_scope(gpus):
    prob = C.tta_predict(cnn.model, pixels)                          # 7 cells over 2 devices: padded, then cut
assert prob.shape == (len(test),) and np.isfinite(prob).all()
print('ok')
"""

def test_data_parallel_over_two_jax_devices(tmp_path):
    """Two host devices that JAX is told to make (XLA_FLAGS), presented to `train_cnn` as two GPUs: it trains and
    predicts under `DataParallel`, every batch split evenly. A simulation of the code path, not a GPU measurement."""
    import importlib.util, os, subprocess, sys
    from conftest import skip_or_fail
    if importlib.util.find_spec('jax') is None: skip_or_fail('the jax backend is not installed')
    env = dict(os.environ, KERAS_BACKEND='jax', XLA_FLAGS='--xla_force_host_platform_device_count=2',
               TF_CPP_MIN_LOG_LEVEL='3')
    done = subprocess.run([sys.executable, '-c', MULTI_DEVICE], env=env, capture_output=True, text=True, timeout=600,
                          cwd=tmp_path)
    assert done.returncode == 0 and done.stdout.strip().endswith('ok'), done.stderr[-3000:]

def test_batches_pad_to_the_device_count(real_cells):
    pixels, _ = real_cells
    x, y, w = C.PixelBatches(pixels, np.ones(6), batch_size=4, multiple=4)[1]    # 2 cells left, padded to 4
    assert len(x) == len(y) == len(w) == 4 and w.tolist() == [1, 1, 0, 0] and x[2:].max() == 0
    assert len(C.PixelBatches(pixels, batch_size=4, multiple=1)[1][0]) == 2       # one device: no padding
