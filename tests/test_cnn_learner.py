"""`train_cnn` as a learner, end to end on files, where the answer is known: a bright blob inside the cell makes it
`all` (see `blob_cells` in test_cnn.py). It must learn the blob, return the model of its best validation epoch, and
give probabilities calibrated to the share of `all` it was trained on."""
import cv2, numpy as np, pandas as pd, pytest
from sklearn.metrics import roc_auc_score
from leukemia_nb import cnn as C
from test_cnn import blob_cells

def _write(folder, x, y, patients):
    "Blob cells as BMP files, one row per cell in a manifest of the project's shape."
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (pixels, label, patient) in enumerate(zip(x, y, patients)):
        path = folder/f'UID_{patient}_{i}_1_{"all" if label else "hem"}.bmp'
        cv2.imwrite(str(path), pixels[..., ::-1])
        rows.append(dict(path=str(path), y=int(label), label='all' if label else 'hem', patient=str(patient),
                         split='train'))
    return pd.DataFrame(rows)

def _cells(folder, n_patients_all, n_patients_hem, per_patient, seed, inverted=False):
    "Single-class patients as in C-NMC: an `all` patient's cells carry the blob (unless `inverted`)."
    x, y, _ = blob_cells(2 * (n_patients_all + n_patients_hem) * per_patient, seed=seed)
    with_blob, without = x[y == 1], x[y == 0]
    cells, labels, patients = [], [], []
    for k in range(n_patients_all + n_patients_hem):
        is_all = k < n_patients_all
        source = (without if inverted else with_blob) if is_all else (with_blob if inverted else without)
        cells += list(source[k * per_patient:(k + 1) * per_patient])
        labels += [int(is_all)] * per_patient
        patients += [f'{seed}{k}' if is_all else f'H{seed}{k}'] * per_patient
    return _write(folder, np.stack(cells), np.array(labels), patients)

@pytest.fixture(scope='module')
def learned(tmp_path_factory):
    folder = tmp_path_factory.mktemp('blobs')
    train = _cells(folder/'train', 8, 4, 16, seed=1)      # 2/3 of the training cells are `all`
    valid = _cells(folder/'valid', 4, 2, 16, seed=2)
    test = _cells(folder/'test', 4, 2, 16, seed=3)        # patients never seen
    cnn = C.train_cnn(train, valid, img_size=64, canvas=64, epochs=8, batch_size=16, learning_rate=3e-3,
                      patience=3, verbose=0, n_jobs=1, seed=0)
    return cnn, train, valid, test

def test_it_learns_the_blob(learned):
    cnn, _, _, test = learned
    prob = C.predict_cnn(cnn, test, n_jobs=1)
    assert roc_auc_score(test.y, prob) >= 0.9, roc_auc_score(test.y, prob)

def test_calibrated_to_the_training_share(learned):
    "Mean P(all) on new patients with the training mix: 2/3. A model left at a 50:50 prior would give about 0.5."
    cnn, train, _, test = learned
    assert cnn.prior == pytest.approx(train.y.mean())       # 2/3, the share it was trained on
    mean_prob = C.predict_cnn(cnn, test, n_jobs=1).mean()
    assert abs(mean_prob - 2 / 3) < 0.1, mean_prob          # half the distance to 0.5: a regression fails

def test_returns_the_best_validation_epoch_not_the_last(tmp_path, monkeypatch):
    """Early stopping on the validation AUC: the weights returned are those of the first epoch of
    `max(history['val_auc'])`, recorded independently at the end of every epoch. Blob cells are easy: the validation
    AUC reaches its best early while the validation loss goes on falling, so a stopping rule on another monitor
    (the loss) or one that keeps the last epoch returns other weights."""
    import keras
    weights_by_epoch = []
    fit = keras.Model.fit
    def recording_fit(model, *args, callbacks=None, **kwargs):
        record = keras.callbacks.LambdaCallback(
            on_epoch_end=lambda epoch, logs: weights_by_epoch.append([w.copy() for w in model.get_weights()]))
        return fit(model, *args, callbacks=[*(callbacks or []), record], **kwargs)
    monkeypatch.setattr(keras.Model, 'fit', recording_fit)
    train = _cells(tmp_path/'train', 4, 4, 16, seed=4)
    valid = _cells(tmp_path/'valid', 2, 2, 16, seed=5)
    cnn = C.train_cnn(train, valid, img_size=64, canvas=64, epochs=12, batch_size=16, learning_rate=3e-3,
                      patience=3, verbose=0, n_jobs=1, seed=0)
    history = cnn.history['val_auc']
    best = int(np.argmax(history))                 # the first epoch of the highest validation AUC
    assert len(weights_by_epoch) == len(history) and best < len(history) - 1, history
    assert cnn.selection['best_epochs'] == [best + 1]   # counted from 1
    returned = cnn.fold_models[0].get_weights()   # the one network, as `valid` chose its epoch
    for mine, recorded in zip(returned, weights_by_epoch[best]): np.testing.assert_array_equal(mine, recorded)
    assert any(not np.array_equal(mine, last) for mine, last in zip(returned, weights_by_epoch[-1]))

def test_trained_networks_leave_no_cells_behind():
    "TensorFlow's Keras keeps every fit's and predict's batch object alive: ours let go of their cells once used."
    import gc
    import leukemia_nb.cnn as cnn
    def cells_held():   # batch objects alive that still hold cells, or a view of them
        gc.collect()
        return [b for b in gc.get_objects()
                if isinstance(b, cnn.PixelBatches) and (b.pixels.size or b.pixels.base is not None)]
    before = len(cells_held())
    rng = np.random.default_rng(0)
    rows = pd.DataFrame({'path': [f'{i}.bmp' for i in range(48)], 'patient': [str(i % 8) for i in range(48)],
                         'y': [int(i % 8 < 4) for i in range(48)]})
    s = cnn.recipe_settings('small', img_size=32, epochs=1, weights='none', batch_size=16)
    s.update(seed=0, verbose=0, steps_per_epoch=None, policy='float32')
    cnn._cross_fitted(s, rows, rng.integers(0, 255, (48, 32, 32, 3), dtype=np.uint8), 2)
    assert len(cells_held()) == before   # no fit, held-out or prediction batches left holding cells
