"""Train the CNN on whatever accelerator the Keras backend sees and print what a GPU user needs to know: images/s,
finite loss, validation AUC, for the compact CNN (128 px) and EfficientNetB0 (224 px) in float32 and mixed precision.
Run by tests/gpu_check.sh; `--small` is a CPU smoke run of the same code."""
import argparse, tempfile, time
from pathlib import Path
import numpy as np, pandas as pd
import keras
from sklearn.metrics import roc_auc_score
from leukemia_nb import cnn as C
from leukemia_nb.synthetic import make_cnmc_like
from leukemia_nb.data import load_cnmc
from leukemia_nb.evaluate import challenge_split

parser = argparse.ArgumentParser()
parser.add_argument('--steps', type=int, default=300, help='timed training steps per configuration')
parser.add_argument('--batch', type=int, default=64)
parser.add_argument('--small', action='store_true', help='CPU smoke run: tiny data, few steps, small images')
args = parser.parse_args()

device = C.accelerator()
mixed = C.auto_policy(device) if device['kind'] != 'cpu' else 'mixed_bfloat16'
print(f'device: {device}; mixed policy used: {mixed}')
work = Path(tempfile.mkdtemp(prefix='lnb-gpu-check-'))
size = dict(patients_per_fold=(2, 1), cells_per_patient=6, prelim_patients=(2, 2), prelim_cells_per_patient=6,
            n_final=2) if args.small else dict(patients_per_fold=(12, 6), cells_per_patient=60, prelim_patients=(8, 6),
                                                prelim_cells_per_patient=30, n_final=10)
start = time.perf_counter()
root = make_cnmc_like(work/'data', seed=0, progress=False, **size)
train, test = challenge_split(load_cnmc(root))
print(f'synthetic data: {len(train)} training and {len(test)} test cells in {time.perf_counter() - start:.0f} s')

configs = [(None, 64 if args.small else 128), ('efficientnetb0', 64 if args.small else 224)]
rows = []
for backbone, img_size in configs:
    cache = work/'pixels'
    start = time.perf_counter()
    train_pixels, _ = C.PixelCache(cache, img_size).get(train.path.tolist())
    test_pixels, _ = C.PixelCache(cache, img_size).get(test.path.tolist())
    decode_rate = (len(train) + len(test)) / (time.perf_counter() - start)
    feed = C.bench_feed(train.path.tolist(), img_size, cache=cache, batch_size=args.batch, epochs=2)
    y = train.y.astype(int).to_numpy()
    for policy in ('float32', mixed):
        C.set_determinism(0)
        model = C.build_cnn(img_size, backbone=backbone, weights=None, policy=policy,
                            learning_rate=1e-3 if backbone is None else 3e-4)
        warm = C.PixelBatches(train_pixels, y, C.balanced_weights(y), args.batch, shuffle=True, max_batches=5)
        model.fit(warm, epochs=1, verbose=0)   # compile
        batches = C.PixelBatches(train_pixels, y, C.balanced_weights(y), args.batch, shuffle=True)
        epochs = max(1, int(np.ceil(args.steps / len(batches))))
        start = time.perf_counter()
        history = model.fit(batches, epochs=epochs, verbose=0)
        seconds = time.perf_counter() - start
        losses = history.history['loss']
        prob = C.tta_predict(model, test_pixels, tta=False, batch_size=256)
        auc = roc_auc_score(test.y.astype(int), prob) if np.isfinite(prob).all() else float('nan')
        rows.append(dict(model=backbone or 'compact', img_size=img_size, policy=policy,
                         steps=epochs * len(batches), train_img_s=round(epochs * len(y) / seconds),
                         loss_finite=bool(np.isfinite(losses).all()), last_loss=round(float(losses[-1]), 4),
                         valid_auc=round(float(auc), 3),
                         feed_img_s=round(feed[f'batch feed, warm cache ({img_size}px)']),
                         decode_img_s=round(decode_rate)))
        print(rows[-1], flush=True)
print(pd.DataFrame(rows).to_string(index=False))
print(f'backend {C.backend()}, keras {keras.__version__}; synthetic data: the AUCs show learning, not real accuracy')
