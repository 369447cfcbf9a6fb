"""Measurements on real cells at scale, behind the numbers quoted in 03_preprocess and 04_features (not a test).

    tar xJf ../shared/data/cnmc_fold0.tar.xz -C /tmp/cnmc_fold0      # Kaggle training fold_0, 3,496 cells, 28 patients
    python tests/measure_fold0.py /tmp/cnmc_fold0/C-NMC_Leukemia normalisation   # patient-grouped CV per stain mode
    python tests/measure_fold0.py /tmp/cnmc_fold0/C-NMC_Leukemia unusual         # image checks on rescaled cells
    python tests/measure_fold0.py /tmp/cnmc_fold0/C-NMC_Leukemia hed             # ablation of the hed_ family

`normalisation`: features in each mode ('none', 'cell', 'patient'), then 4-fold patient-grouped cross-validation
repeated twice (StratifiedGroupKFold, shuffled with seeds 0 and 1) of a 300-tree balanced Random Forest and a balanced
RBF SVM on standardised columns; prints ROC-AUC and weighted F1, mean ± SD over the 8 folds.
`hed`: the same protocol (the same folds for every column set) on today's default columns, today's + the optional
`hed_` family (`extra=('hed',)`), and the `hed_` columns alone; prints AUC and weighted F1, mean ± SD over the 8 folds,
and the paired per-fold difference (with hed minus without), mean ± SD.
`unusual`: every 7th cell shown 0.6, 0.8, 1.2 and 1.5 times as large on the same canvas, and untouched; prints the
share that `unusual_cell_reasons` flags."""
import sys, tempfile, time, warnings
import numpy as np

def _cv_scores(X, y, groups) -> dict:
    "Model name -> (8, 2) array of (AUC, weighted F1) over 4-fold patient-grouped CV repeated with seeds 0 and 1."
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.svm import SVC
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.metrics import roc_auc_score, f1_score
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
    return {name: np.array(values) for name, values in scores.items()}

def normalisation(folder):
    from leukemia_nb.data import load_cnmc
    from leukemia_nb.features import extract_features
    warnings.filterwarnings('ignore')
    manifest = load_cnmc(folder)
    y, groups = (manifest.label == 'all').astype(int).to_numpy(), manifest.patient.astype(str).to_numpy()
    print(f'{len(manifest)} cells of {manifest.patient.nunique()} patients')
    for mode in ('none', 'cell', 'patient'):
        start = time.time()
        X = extract_features(manifest, n_jobs=2, normalize=mode, progress=False, cache=tempfile.mkdtemp()).to_numpy()
        scores = _cv_scores(X, y, groups)
        for name, values in scores.items():
            print(f'{mode:8} {name:4} AUC {values[:, 0].mean():.3f} ± {values[:, 0].std():.3f}   weighted F1 '
                  f'{values[:, 1].mean():.3f} ± {values[:, 1].std():.3f}   ({len(values)} folds, {time.time() - start:.0f} s)')

def hed(folder):
    from leukemia_nb.data import load_cnmc
    from leukemia_nb.features import extract_features, FEATURE_COLUMNS, OPTIONAL_COLUMNS
    warnings.filterwarnings('ignore')
    manifest = load_cnmc(folder)
    y, groups = (manifest.label == 'all').astype(int).to_numpy(), manifest.patient.astype(str).to_numpy()
    print(f'{len(manifest)} cells of {manifest.patient.nunique()} patients')
    start = time.time()
    cache = tempfile.mkdtemp(prefix='lnb_hed_')  # under the system's temporary folder, never in the repository
    today = extract_features(manifest, n_jobs=2, progress=False, cache=cache)
    with_hed = extract_features(manifest, n_jobs=2, progress=False, cache=cache, extra=('hed',))
    assert np.array_equal(with_hed[FEATURE_COLUMNS].to_numpy(), today.to_numpy()), 'the option changed a column'
    n_hed = len(OPTIONAL_COLUMNS['hed'])
    print(f'features: {today.shape[1]} default + {n_hed} hed columns ({time.time() - start:.0f} s)')
    sets = {'today': FEATURE_COLUMNS, 'today + hed': FEATURE_COLUMNS + OPTIONAL_COLUMNS['hed'],
            'hed only': OPTIONAL_COLUMNS['hed']}
    scores = {}
    for label, columns in sets.items():
        scores[label] = _cv_scores(with_hed[columns].to_numpy(), y, groups)
        for name, values in scores[label].items():
            print(f'{label:12} {name:4} AUC {values[:, 0].mean():.3f} ± {values[:, 0].std():.3f}   weighted F1 '
                  f'{values[:, 1].mean():.3f} ± {values[:, 1].std():.3f}   ({len(values)} folds, '
                  f'{time.time() - start:.0f} s)')
    for name in ('rf', 'svm'):
        gain = scores['today + hed'][name] - scores['today'][name]  # the same folds: paired per fold
        print(f'paired (today + hed) - today  {name:4} AUC {gain[:, 0].mean():+.3f} ± {gain[:, 0].std():.3f}   '
              f'weighted F1 {gain[:, 1].mean():+.3f} ± {gain[:, 1].std():.3f}   '
              f'(AUC higher in {int((gain[:, 0] > 0).sum())} of {len(gain)} folds)')

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
    {'normalisation': normalisation, 'unusual': unusual, 'hed': hed}[sys.argv[2]](sys.argv[1])
