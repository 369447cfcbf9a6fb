"""Measurements on real cells at scale, behind the numbers quoted in 03_preprocess and 04_features (not a test).

    tar xJf ../shared/data/cnmc_fold0.tar.xz -C /tmp/cnmc_fold0      # Kaggle training fold_0, 3,496 cells, 28 patients
    python tests/measure_fold0.py /tmp/cnmc_fold0/C-NMC_Leukemia normalisation   # patient-grouped CV per stain mode
    python tests/measure_fold0.py /tmp/cnmc_fold0/C-NMC_Leukemia unusual         # image checks on rescaled cells

`normalisation`: features in each mode ('none', 'cell', 'patient'), then 4-fold patient-grouped cross-validation
repeated twice (StratifiedGroupKFold, shuffled with seeds 0 and 1) of a 300-tree balanced Random Forest and a balanced
RBF SVM on standardised columns; prints ROC-AUC and weighted F1, mean ± SD over the 8 folds.
`unusual`: every 7th cell shown 0.6, 0.8, 1.2 and 1.5 times as large on the same canvas, and untouched; prints the
share that `unusual_cell_reasons` flags."""
import sys, tempfile, time, warnings
import numpy as np

def normalisation(folder):
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.svm import SVC
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.metrics import roc_auc_score, f1_score
    from leukemia_nb.data import load_cnmc
    from leukemia_nb.features import extract_features
    warnings.filterwarnings('ignore')
    manifest = load_cnmc(folder)
    y, groups = (manifest.label == 'all').astype(int).to_numpy(), manifest.patient.astype(str).to_numpy()
    print(f'{len(manifest)} cells of {manifest.patient.nunique()} patients')
    for mode in ('none', 'cell', 'patient'):
        start = time.time()
        X = extract_features(manifest, n_jobs=2, normalize=mode, progress=False, cache=tempfile.mkdtemp()).to_numpy()
        scores = {'rf': [], 'svm': []}
        for seed in (0, 1):
            for fit, held in StratifiedGroupKFold(4, shuffle=True, random_state=seed).split(X, y, groups):
                models = {'rf': RandomForestClassifier(300, n_jobs=2, random_state=seed, class_weight='balanced'),
                          'svm': make_pipeline(StandardScaler(), SVC(probability=True, class_weight='balanced',
                                                                     random_state=seed))}
                for name, model in models.items():
                    prob = model.fit(X[fit], y[fit]).predict_proba(X[held])[:, 1]
                    scores[name].append((roc_auc_score(y[held], prob),
                                         f1_score(y[held], prob >= 0.5, average='weighted')))
        for name, values in scores.items():
            values = np.array(values)
            print(f'{mode:8} {name:4} AUC {values[:, 0].mean():.3f} ± {values[:, 0].std():.3f}   weighted F1 '
                  f'{values[:, 1].mean():.3f} ± {values[:, 1].std():.3f}   ({len(values)} folds, {time.time() - start:.0f} s)')

def _rescaled(img, factor):
    import cv2
    h, w = img.shape[:2]
    big = cv2.resize(img, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
    bh, bw = big.shape[:2]
    if factor >= 1: return big[(bh - h) // 2:(bh - h) // 2 + h, (bw - w) // 2:(bw - w) // 2 + w].copy()
    out = np.zeros_like(img)
    out[(h - bh) // 2:(h - bh) // 2 + bh, (w - bw) // 2:(w - bw) // 2 + bw] = big
    return out

def unusual(folder):
    from leukemia_nb.data import load_cnmc
    from leukemia_nb.preprocess import read_cell, unusual_cell_reasons
    paths = load_cnmc(folder).path.iloc[::7]
    for factor in (1.0, 0.6, 1.5, 0.8, 1.2):
        flagged = [bool(unusual_cell_reasons(_rescaled(read_cell(p), factor))) for p in paths]
        print(f'x{factor}: {np.mean(flagged):.1%} of {len(flagged)} cells flagged')

if __name__ == '__main__':
    {'normalisation': normalisation, 'unusual': unusual}[sys.argv[2]](sys.argv[1])
