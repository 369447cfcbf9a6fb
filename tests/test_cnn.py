"""The CNN on the backend in use (CI runs this file under TensorFlow and again under JAX): mixed precision that stays
right, the pixel cache, augmentation, test-time augmentation, Grad-CAM on the predicted class, and saving on one
backend and loading on another."""
import os
import sys
import subprocess
import importlib.util
from pathlib import Path
import numpy as np, pandas as pd, pytest, cv2
from conftest import skip_or_fail
import keras
from leukemia_nb import cnn as C, preprocess as P

BACKEND = keras.backend.backend()
OTHER = 'jax' if BACKEND == 'tensorflow' else 'tensorflow'

@pytest.fixture(scope='module')
def real_pixels(real_data):
    "48 real sample cells as the CNN sees them (64 px)."
    paths = sorted((real_data/'cnmc_sample').rglob('*.bmp'))[:48]
    pixels, ok = C.PixelCache(None, 64).get(paths, n_jobs=1)
    assert ok.all()
    return pixels

def _same_weights(policy, backbone):
    reference = C.build_cnn(64, backbone=backbone, weights=None, augment=False, policy='float32')
    mixed = C.build_cnn(64, backbone=backbone, weights=None, augment=False, policy=policy)
    mixed.set_weights(reference.get_weights())
    return reference, mixed

def _answers(model, pixels) -> tuple:
    """P(all) and the pooled features (what the head sees) of each cell, in one eager call: building EfficientNet's
    prediction graph costs a CPU far more than running it once."""
    both = keras.Model(model.inputs, [model.output, model.get_layer('gap').output])
    prob, pooled = both(pixels, training=False)
    return keras.ops.convert_to_numpy(prob)[:, 0], keras.ops.convert_to_numpy(pooled)

# the compact CNN under both mixed policies; the EfficientNet backbone (minutes to compile on a CPU) under float16,
# the policy whose narrow range can overflow (bfloat16 keeps float32's range)
@pytest.mark.parametrize('policy, backbone', [('mixed_float16', None), ('mixed_bfloat16', None),
                                              ('mixed_float16', 'efficientnetb0')])
def test_mixed_precision_matches_float32(real_pixels, policy, backbone):
    keras.utils.set_random_seed(0)
    reference, mixed = _same_weights(policy, backbone)
    expected, features = _answers(reference, real_pixels)
    got, features_mixed = _answers(mixed, real_pixels)
    assert np.isfinite(got).all()
    assert np.abs(got - expected).max() < 0.05, (policy, backbone, np.abs(got - expected).max())
    # A randomly initialised backbone answers nearly the same for every cell, and a ReLU can hide NaNs as a constant,
    # so the pooled features (what the head sees) must vary across cells and agree with float32 too.
    assert np.isfinite(features_mixed).all()
    assert features.std(0).mean() > 0.05 * np.abs(features).mean()
    assert np.abs(features_mixed - features).max() < 0.05 * np.abs(features).max(), policy
    if backbone is None: assert expected.std() > 1e-3
    y = (np.arange(len(real_pixels)) % 2).astype('float32')
    mixed.run_eagerly = backbone is not None   # the same step, eagerly: EfficientNet's training graph takes 30 s to build
    loss = mixed.train_on_batch(real_pixels[:16], y[:16])
    loss = loss[0] if isinstance(loss, (list, tuple)) else loss
    assert np.isfinite(float(loss)), loss

def test_the_model_compiles_where_the_backend_can(tmp_path):
    """On JAX the whole model, augmentation included, is one compiled function, as built and as loaded (Keras'
    `RandomRotation` alone would make every step run op by op); TensorFlow on a CPU runs a graph without XLA."""
    model = C.build_cnn(32)
    assert model.jit_compile == (BACKEND == 'jax')
    C.save_cnn(C.CNNModel(model, 32, 300, []), tmp_path/'cnn.keras')
    assert C.load_cnn(tmp_path/'cnn.keras').model.jit_compile == (BACKEND == 'jax')

def test_standardize_would_overflow_in_float16(real_pixels):
    "Why the layer is pinned to float32: the same sums in float16 overflow (the bug this guards against)."
    x = keras.ops.cast(real_pixels[:2], 'float16')
    assert not np.isfinite(keras.ops.convert_to_numpy(keras.ops.sum(x, axis=(1, 2)))).all()
    with C.precision('mixed_float16'):
        layer = C.CellStandardize()
    assert np.isfinite(keras.ops.convert_to_numpy(layer(x))).all()

def test_pixel_cache_resumes_after_interruption(tiny_root, tmp_path, monkeypatch):
    paths = sorted(str(p) for p in Path(tiny_root).rglob('*.bmp'))[:40]
    calls = {'n': 0}
    original = P._pixels_work
    def dies_on_third_chunk(chunk, size, canvas):
        calls['n'] += 1
        if calls['n'] == 3: raise KeyboardInterrupt
        return original(chunk, size, canvas)
    monkeypatch.setattr(P, '_pixels_work', dies_on_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        C.PixelCache(tmp_path, 32, shard=8).get(paths, n_jobs=1, chunk=4)   # two chunks saved as a shard, then killed
    monkeypatch.setattr(P, '_pixels_work', original)
    cache = C.PixelCache(tmp_path, 32, shard=8)
    pixels, ok = cache.get(paths, n_jobs=1)
    assert ok.all() and 0 < cache.n_decoded < len(paths)
    fresh, _ = C.PixelCache(None, 32).get(paths, n_jobs=1)
    assert (pixels == fresh).all()

def test_pixel_cache_key_follows_the_file(tiny_copy, tmp_path):
    path = sorted(Path(tiny_copy).rglob('*.bmp'))[0]
    first, _ = C.PixelCache(tmp_path, 32).get([path], n_jobs=1)
    image = cv2.imread(str(path))
    cv2.imwrite(str(path), np.ascontiguousarray(image[::-1]))  # the file changes: the cache must not serve it
    cache = C.PixelCache(tmp_path, 32)
    second, _ = cache.get([path], n_jobs=1)
    assert cache.n_decoded == 1 and not (first == second).all()

def test_balanced_weights_give_each_class_half_the_weight():
    y = np.array([1] * 30 + [0] * 10)
    weights = C.balanced_weights(y)
    assert weights[y == 1].sum() == pytest.approx(weights[y == 0].sum()) == pytest.approx(len(y) / 2)
    assert weights.dtype == np.float32 and len(set(weights[y == 1])) == 1

def test_augmentation_keeps_background_and_draws_per_image(real_pixels):
    x = C.ToFloat()(real_pixels[:16])
    out = keras.ops.convert_to_numpy(C.augmentation(rotate=False, seed=3)(x, training=True))
    x = keras.ops.convert_to_numpy(x)
    # flips and quarter turns move pixels, so compare what is background: the count stays, nothing lifts off black
    assert ((out.max(-1) <= C.CELL_THRESHOLD).sum((1, 2)) == (x.max(-1) <= C.CELL_THRESHOLD).sum((1, 2))).all()
    same = np.repeat(x[:1], 24, axis=0)
    turned = keras.ops.convert_to_numpy(C.RandomRot90(seed=5)(same, training=True))
    assert len({t.tobytes() for t in turned}) >= 3

def blob_cells(n, seed, size=64, bright=256):
    """Cell-like disks on black, each with `bright` bright pixels. In class 1 about 64 of them form a blob somewhere
    inside and the rest are scattered as salt; in class 0 all are salt. The cell's mean and spread (which
    `CellStandardize` divides out) are then the same for both classes, and salt density barely differs: the blob, a
    local pattern, is what decides the class. Returns (x, y, blob centres)."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, size, size, 3), np.uint8)
    y = np.arange(n) % 2
    centres = np.zeros((n, 2), int)
    yy, xx = np.mgrid[:size, :size]
    disk = (yy - size / 2) ** 2 + (xx - size / 2) ** 2 < (size * 0.42) ** 2
    for i in range(n):
        base = np.array([150, 105, 165]) + rng.normal(0, 6, 3)
        x[i][disk] = np.clip(base + rng.normal(0, 10, (disk.sum(), 3)), 20, 255)
        angle, radius = rng.uniform(0, 2 * np.pi), rng.uniform(0, size * 0.22)
        cy, cx = size / 2 + radius * np.sin(angle), size / 2 + radius * np.cos(angle)
        centres[i] = cy, cx
        blob = ((yy - cy) ** 2 + (xx - cx) ** 2 < 4.5 ** 2) if y[i] else np.zeros_like(disk)
        salt_from = np.flatnonzero((disk & ~blob).ravel())
        salt = np.zeros(size * size, bool)
        salt[rng.choice(salt_from, bright - int(blob.sum()), replace=False)] = True
        x[i][blob | salt.reshape(size, size)] = (250, 250, 235)
    return x, y, centres

@pytest.fixture(scope='module')
def blob_model():
    C.set_determinism(0)
    x, y, _ = blob_cells(320, seed=0)
    model = C.build_cnn(64, augment=False, learning_rate=3e-3)
    model.fit(C.PixelBatches(x, y, C.balanced_weights(y), 32, shuffle=True), epochs=8, verbose=0)
    return C.CNNModel(model, 64, 300, [])

def test_tiny_model_goes_the_right_way(blob_model):
    x, y, _ = blob_cells(64, seed=1)
    prob = C.tta_predict(blob_model.model, x)
    assert prob[y == 1].mean() > 0.7 and prob[y == 0].mean() < 0.3, (prob[y == 1].mean(), prob[y == 0].mean())
    assert ((prob >= 0.5) == y).mean() >= 0.9

def test_grad_cam_peaks_on_the_blob(blob_model):
    x, y, centres = blob_cells(32, seed=2)
    hits = []
    for image, label, centre in zip(x, y, centres):
        if not label: continue
        _, heat, prob = C.grad_cam(blob_model, image)
        peak = np.unravel_index(np.argmax(heat), heat.shape)
        hits.append(np.hypot(*(np.array(peak) - centre)) <= 10)  # the feature map has 8-pixel cells
    assert np.mean(hits) >= 0.8, hits

def test_grad_cam_explains_the_predicted_class(blob_model, monkeypatch):
    """For a cell called hem the map shows evidence for hem: the sign of the logit is part of the target. The map of
    the same cell explained as `all` (the call forced) is the other half of the evidence: ReLU(−S) against ReLU(S)."""
    x, y, _ = blob_cells(16, seed=3)
    image = x[np.flatnonzero(y == 0)[0]]
    _, heat, prob = C.grad_cam(blob_model, image)
    assert prob < 0.5 and np.isfinite(heat).all()
    assert heat.max() > 0.9       # scaled to [0, 1] (1 before the bilinear resize): not blank, though P(all) is small
    monkeypatch.setattr(C, 'calibrated', lambda prob, calibration, prior: 0.9)   # as if the call were `all`
    _, heat_all, _ = C.grad_cam(blob_model, image)
    assert np.corrcoef(heat.ravel(), heat_all.ravel())[0, 1] < 0.2, 'the hem map is the map of the `all` evidence'

def test_tta_is_invariant_to_flips_and_turns(blob_model):
    x, _, _ = blob_cells(8, seed=4)
    base = C.tta_predict(blob_model.model, x)
    for k in range(1, 8):
        assert np.abs(C.tta_predict(blob_model.model, C.dihedral(x, k)) - base).max() < 1e-5

def test_tta_makes_even_an_untrained_network_invariant():
    "No network is invariant by itself (an untrained one shows it, cheaply); the mean over the 8 views is."
    x, _, _ = blob_cells(8, seed=4)
    model = C.build_cnn(64, augment=False, seed=0)
    plain = [C.tta_predict(model, C.dihedral(x, k), tta=False) for k in range(8)]
    assert max(np.abs(p - plain[0]).max() for p in plain) > 1e-3   # the views differ without TTA
    base = C.tta_predict(model, x)
    for k in range(1, 8):
        assert np.abs(C.tta_predict(model, C.dihedral(x, k)) - base).max() < 1e-5

def test_train_cnn_end_to_end(tiny_root, tmp_path):
    from leukemia_nb.data import load_cnmc
    from leukemia_nb.evaluate import challenge_split
    train, test = challenge_split(load_cnmc(tiny_root))
    model = C.train_cnn(train, img_size=32, epochs=1, batch_size=8, verbose=0, pixel_cache=tmp_path, n_jobs=1,
                        provenance={'synthetic': True}, folds=2)
    assert list(tmp_path.glob('pixels-*/shard-*.npz'))
    prob = C.predict_cnn(model, test, pixel_cache=tmp_path)
    assert np.isfinite(prob).all() and ((0 <= prob) & (prob <= 1)).all()
    path = C.save_cnn(model, tmp_path/'out'/'cnn.keras')
    back = C.load_cnn(path)
    assert back.provenance == {'synthetic': True} and back.policy == 'float32'
    assert np.abs(C.predict_cnn(back, test) - prob).max() < 1e-5

def test_saved_on_one_backend_loads_on_the_other(tmp_path):
    if importlib.util.find_spec(OTHER) is None: skip_or_fail(f'the {OTHER} backend is not installed')
    x, y, _ = blob_cells(16, seed=5)
    keras.utils.set_random_seed(1)
    model = C.build_cnn(64)
    model.train_on_batch(x, y.astype('float32'))
    cnn_model = C.CNNModel(model, 64, 300, ['1'])
    C.save_cnn(cnn_model, tmp_path/'cnn.keras')
    np.save(tmp_path/'x.npy', x)
    expected = C.tta_predict(model, x)
    script = ("import sys, numpy as np; from leukemia_nb import cnn as C; m = C.load_cnn(sys.argv[1]); "
              "print(C.backend()); np.save(sys.argv[3], C.tta_predict(m.model, np.load(sys.argv[2])))")
    env = dict(os.environ, KERAS_BACKEND=OTHER)
    result = subprocess.run([sys.executable, '-c', script, tmp_path/'cnn.keras', tmp_path/'x.npy', tmp_path/'p.npy'],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == OTHER
    assert np.abs(np.load(tmp_path/'p.npy') - expected).max() < 1e-4

def test_a_cell_gets_the_same_prediction_on_a_450_and_a_600_canvas(real_data, tmp_path):
    """Training cells are 450×450, final-phase cells 600×600: the same cell on either canvas (the 600 one centred,
    or pushed to a corner) is the same input and gets the same P(all), through the pixel cache or without it."""
    from leukemia_nb.data import load_cnmc
    sample = load_cnmc(real_data/'cnmc_sample')
    cells = sample[sample.split == 'train'].groupby('y').head(3)
    rows = []
    for i, path in enumerate(cells.path):
        image = cv2.imread(path)
        assert image.shape[:2] == (450, 450)
        for name, pad in (('centred', ((75, 75), (75, 75))), ('corner', ((0, 150), (150, 0)))):
            target = tmp_path/f'{name}_{i}.bmp'
            cv2.imwrite(str(target), np.pad(image, (*pad, (0, 0))))
            rows.append(dict(path=str(target), original=path))
    on_600 = pd.DataFrame(rows)
    keras.utils.set_random_seed(0)
    cnn = C.CNNModel(C.build_cnn(64), 64, 300, train_patients=[], prior=0.6)
    original = dict(zip(cells.path, C.predict_cnn(cnn, cells, n_jobs=1)))
    for cache in (None, tmp_path/'pixels'):
        moved = C.predict_cnn(cnn, on_600, n_jobs=1, pixel_cache=cache)
        expected = on_600.original.map(original).to_numpy()
        np.testing.assert_allclose(moved, expected, atol=1e-6)
    assert np.ptp(list(original.values())) > 1e-4      # the cells differ: the check is not a constant model's
