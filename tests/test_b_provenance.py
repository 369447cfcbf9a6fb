"Provenance: what models were trained on, the synthetic flag, lnb_predict's warnings and marks, the disclaimer."
import json
from pathlib import Path
import joblib
import numpy as np
import pandas as pd
from leukemia_nb.classical import load_model
import leukemia_nb.predict as P
from conftest import run

DISCLAIMER = 'for research and teaching; not a diagnostic device'


def test_saved_models_record_their_data(quick_report, tiny_root):
    m = load_model(quick_report/'models'/'rf.joblib')
    prov = m.provenance
    assert prov['synthetic'] is True and Path(prov['data']) == Path(tiny_root).resolve()
    assert prov['cells'] == sum(prov['classes'].values()) and prov['patients'] == len(m.train_patients)
    assert len(prov['manifest_digest']) == 16 and prov['leukemia_nb']
    run_json = json.loads((quick_report/'run.json').read_text())
    assert run_json['provenance'] == prov

def test_old_model_files_load_without_provenance(quick_report, tmp_path):
    bundle = joblib.load(quick_report/'models'/'nb.joblib')
    for k in ('provenance', 'dropped'): bundle.pop(k)
    joblib.dump(bundle, tmp_path/'nb.joblib')
    old = load_model(tmp_path/'nb.joblib')
    assert old.provenance is None and old.dropped == {}
    assert P.trained_on_synthetic(old) is None

def test_csvs_and_report_carry_the_synthetic_flag(quick_report):
    assert pd.read_csv(quick_report/'metrics.csv').synthetic.tolist() == [True] * 9
    assert pd.read_csv(quick_report/'predictions.csv').synthetic.all()
    md = (quick_report/'report.md').read_text()
    assert DISCLAIMER in md and '## Model card' in md and 'Intended use' in md and 'Limits' in md

def test_training_note_only_for_the_same_kind_of_data():
    assert P._training_note('S20', {'S20'}, True) == 'patient was in the training set'
    assert P._training_note('20', {'20'}, False) == 'patient was in the training set'
    assert P._training_note('20', {'20'}, True) == ''   # a real id among synthetic training ids: a coincidence
    assert P._training_note('21', {'20'}, False) == ''
    assert 'not recorded' in P._training_note('20', {'20'}, None)

def odd_images(folder):
    "Images of another origin: a 103×103 JPEG smear crop without black background, and a plain grey square."
    import cv2
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    smear = np.clip(rng.normal(200, 20, (103, 103, 3)), 0, 255).astype(np.uint8)
    cv2.circle(smear, (51, 51), 30, (150, 60, 120), -1)
    cv2.imwrite(str(folder/'smear.jpg'), smear)
    return [folder/'smear.jpg']

def test_lnb_predict_warns_and_marks(quick_report, tiny_root, tmp_path):
    good = sorted((tiny_root/'validation_data').rglob('*.bmp'))[:2]
    odd = odd_images(tmp_path/'odd')
    r = run('lnb_predict', quick_report, *good, *odd, '--models', 'rf,nb', '--csv', tmp_path/'p.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    assert DISCLAIMER in r.stderr and 'SYNTHETIC' in r.stderr
    odd_line = [l for l in r.stdout.splitlines() if l.startswith(str(odd[0]))]
    assert len(odd_line) == 1 and '[unusual:' in odd_line[0] and 'rf=' in odd_line[0]   # still predicted, marked
    assert 'does not look like a segmented C-NMC cell' in r.stderr
    for g in good: assert any(l.startswith(str(g)) and 'unusual' not in l for l in r.stdout.splitlines())
    p = pd.read_csv(tmp_path/'p.csv', keep_default_na=False)
    assert (p[p.path == str(odd[0])].unusual != '').all() and (p[p.path != str(odd[0])].unusual == '').all()
    r = run('lnb_predict', quick_report, *good, *odd, '--models', 'nb', '--skip_unusual')
    assert r.returncode == 0 and str(odd[0]) not in r.stdout and 'skipped: unusual image' in r.stderr

def test_one_non_finite_row_costs_only_itself(quick_report, tiny_root, monkeypatch):
    import leukemia_nb.features as F
    cells = [str(p) for p in sorted((tiny_root/'validation_data').rglob('*.bmp'))[:3]]
    real = F.features_from_files
    def with_inf(paths, *args, **kw):
        res = real(paths, *args, **kw)
        f, e = res[1]
        return [res[0], ({**f, F.FEATURE_COLUMNS[0]: float('inf')}, None), *res[2:]]   # as if the guard missed it
    monkeypatch.setattr(F, 'features_from_files', with_inf)
    preds, probs = P.predict_cells(quick_report, cells, models='rf,svm')
    assert set(preds.path) == {cells[0], cells[2]} and preds.prob.notna().all()
    assert probs.file.tolist() == [cells[1]] and 'non-finite' in probs.detail.iloc[0]
