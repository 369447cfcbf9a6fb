"""Issue 16, done when: `lnb_run`, then `lnb_predict` on one file or on the whole folder, give every prelim and
final-phase cell the same P(all): within 1e-6 for the classical models, 1e-5 for the CNN and the hybrid heads on its
embedding (issue 19). On real cells."""
from pathlib import Path
import cv2, numpy as np, pandas as pd, pytest

def _run_probabilities(out):
    "`{(file, model): P(all)}` of the prelim cells (predictions.csv) and the final cells (final_predictions.csv)."
    prelim = pd.read_csv(out/'predictions.csv')
    prelim = prelim[prelim.split == 'prelim']
    final = pd.read_csv(out/'submission'/'final_predictions.csv')
    return {**{(_key(p), m): v for p, m, v in zip(prelim.path, prelim.model, prelim.prob)},
            **{(_key(p), m): v for p, m, v in zip(final.path, final.model, final.prob) if isinstance(p, str)}}

def _key(path): return str(Path(path).resolve())

def _tolerance(model): return 1e-5 if 'cnn' in model else 1e-6   # the CNN and the heads on its embedding

def test_every_path_gives_the_same_answer(real_run):
    from leukemia_nb.predict import predict_cells
    root, out = real_run
    expected = _run_probabilities(out)
    files = sorted({path for path, _ in expected})
    assert sum('final_phase' in f for f in files) == 8 and sum('prelim_phase' in f for f in files) == 5
    whole, _ = predict_cells(out, [root])             # the whole folder in one call
    whole = {(_key(p), m): v for p, m, v in zip(whole.path, whole.model, whole.prob)}
    for name in files:
        alone, _ = predict_cells(out, [name])         # the file on its own
        for model, prob in zip(alone.model, alone.prob):
            assert abs(prob - expected[name, model]) <= _tolerance(model), (name, model, prob, expected[name, model])
            assert abs(whole[name, model] - expected[name, model]) <= _tolerance(model), (name, model)
    assert {model for _, model in expected} == {'rf', 'knn', 'svm', 'nb', 'cnn', 'svm_cnn', 'knn_cnn', 'logreg_cnn',
                                                'svm_cnn_hc'}

def test_a_model_of_another_contract_is_refused(real_run, tmp_path):
    import joblib
    from leukemia_nb.classical import load_model
    from leukemia_nb.features import ContractError
    _, out = real_run
    bundle = joblib.load(out/'models'/'rf.joblib')
    bundle['contract'] = dict(bundle['contract'], version='3')
    joblib.dump(bundle, tmp_path/'rf.joblib')
    with pytest.raises(ContractError, match='was made with features v3'):
        load_model(tmp_path/'rf.joblib')

def test_the_report_shows_both_layers_and_the_contract(real_run):
    _, out = real_run
    report = (out/'report.md').read_text()
    assert "normalize='none' (one image at a time)" in report
    assert '## Unusual cells (out of distribution)' in report and '| final | 8 |' in report
    cells = pd.read_csv(out/'unusual_cells.csv')
    assert set(cells.split) == {'test', 'final'} and cells.distance.notna().all()
