"Classical models and shared evaluation: the patient guard, hand-checked metrics, save/load, schema mismatch."
import numpy as np, pandas as pd, pytest
from sklearn.base import clone
from leukemia_nb.data import load_cnmc, PatientLeakError, assert_patient_disjoint, PREDICTION_COLUMNS
from leukemia_nb.features import extract_features
from leukemia_nb.classical import (make_classifier, fit_classifier, predict_model, save_model, load_model, FeatureSchemaError,
                                   CLASSIFIERS)
from leukemia_nb.evaluate import score, challenge_split, compare, per_patient
from leukemia_nb.synthetic import make_cnmc_like

@pytest.fixture(scope='module')
def small(tmp_path_factory):
    root = make_cnmc_like(tmp_path_factory.mktemp('cls'), seed=5, patients_per_fold=(2, 2), cells_per_patient=6,
                          prelim_patients=(2, 2), prelim_cells_per_patient=4, n_final=0, n_jobs=1, progress=False)
    man = load_cnmc(root)
    return man, extract_features(man, n_jobs=1, progress=False)

def test_guard_names_shared_patients():
    a = pd.DataFrame({'patient': ['1', '2', 'H5']})
    with pytest.raises(PatientLeakError, match=r'2 patient\(s\).*2, H5'):
        assert_patient_disjoint(a, pd.DataFrame({'patient': ['H5', '2', '9']}))
    assert_patient_disjoint(a, pd.DataFrame({'patient': ['3', None]}))

def test_challenge_split_is_disjoint(small):
    man, _ = small
    tr, te = challenge_split(man)
    assert set(tr.split) == {'train'} and set(te.split) == {'prelim'}
    assert not set(tr.patient) & set(te.patient)
    tr2, te2 = challenge_split(man[man.split == 'train'])  # no prelim: patient-disjoint split of the folds
    assert not set(tr2.patient) & set(te2.patient) and len(te2)

def test_predict_refuses_training_patients(small):
    man, X = small
    tr = man[man.split == 'train']
    m = fit_classifier('nb', X.loc[tr.index], tr, tune=False)
    with pytest.raises(PatientLeakError):
        predict_model(m, X.loc[tr.index[:3]], tr.iloc[:3])
    p = predict_model(m, X.loc[tr.index[:3]], tr.iloc[:3], allow_overlap=True)
    assert list(p.columns) == list(PREDICTION_COLUMNS)

def test_metrics_hand_checked():
    # 8 cells: y = 1 1 1 1 1 0 0 0, predicted (p >= .5) = 1 1 1 0 0 1 0 0 -> TP 3, FN 2, FP 1, TN 2
    y = [1, 1, 1, 1, 1, 0, 0, 0]
    p = [0.9, 0.7, 0.55, 0.3, 0.2, 0.6, 0.1, 0.4]
    s = score(y, p)
    assert (s['tp'], s['fn'], s['fp'], s['tn']) == (3, 2, 1, 2)
    assert s['accuracy'] == pytest.approx(5 / 8)
    assert s['precision'] == pytest.approx(3 / 4) and s['recall'] == pytest.approx(3 / 5)
    assert s['f1'] == pytest.approx(2 * 0.75 * 0.6 / 1.35)
    assert s['specificity'] == pytest.approx(2 / 3) and s['sensitivity'] == pytest.approx(3 / 5)
    f1_hem = 2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3)
    assert s['weighted_f1'] == pytest.approx((5 * s['f1'] + 3 * f1_hem) / 8)
    # AUC: 15 (all, hem) pairs; wrong: 0.55<0.6, 0.3<0.6, 0.3<0.4, 0.2<0.6, 0.2<0.4 -> 10/15
    assert s['roc_auc'] == pytest.approx(10 / 15)

def test_per_patient_diagnosis():
    pp = per_patient([1, 1, 0, 0], [0.9, 0.3, 0.6, 0.7], ['1', '1', 'H2', 'H2'])
    pp = pp.set_index('patient')
    assert pp.loc['1', 'call'] == 1 and pp.loc['H2', 'call'] == 1   # H2 mean 0.65: a wrong diagnosis
    assert pp.loc['1', 'accuracy'] == 0.5 and pp.loc['H2', 'accuracy'] == 0.0

@pytest.mark.parametrize('name', list(CLASSIFIERS))
def test_each_model_is_a_sklearn_estimator(small, name):
    man, X = small
    tr = man[man.split == 'train']
    est = clone(make_classifier(name)).fit(X.loc[tr.index].to_numpy(), tr.y.astype(int))
    prob = est.predict_proba(X.loc[tr.index].to_numpy())
    assert prob.shape == (len(tr), 2) and np.allclose(prob.sum(1), 1)

def test_tuned_fit_save_load_roundtrip(small, tmp_path):
    man, X = small
    tr, te = challenge_split(man)
    m = fit_classifier('svm', X.loc[tr.index], tr, tune=True, n_jobs=1)
    assert m.params and m.cv_score is not None and set(m.train_patients) == set(tr.patient)
    p1 = predict_model(m, X.loc[te.index], te)
    save_model(m, tmp_path/'svm.joblib')
    back = load_model(tmp_path/'svm.joblib')
    p2 = predict_model(back, X.loc[te.index], te)
    pd.testing.assert_frame_equal(p1, p2)
    assert back.train_patients == m.train_patients
    # column order is restored, a different schema is refused
    assert np.allclose(back.predict_proba(X.loc[te.index, X.columns[::-1]]), p1.prob)
    with pytest.raises(FeatureSchemaError, match='lacks 1'):
        back.predict_proba(X.loc[te.index].drop(columns=X.columns[5]))
    with pytest.raises(FeatureSchemaError, match='1 unknown'):
        back.predict_proba(X.loc[te.index].assign(extra=1.0))
    with pytest.raises(PatientLeakError):
        predict_model(back, X.loc[tr.index], tr)

def test_load_refuses_other_files(tmp_path):
    (tmp_path/'x.joblib').write_text('nope')
    with pytest.raises(ValueError, match='not a saved leukemia_nb model'):
        load_model(tmp_path/'x.joblib')

def test_compare_one_row_per_model(small):
    man, X = small
    tr, te = challenge_split(man)
    preds = pd.concat([predict_model(fit_classifier(n, X.loc[tr.index], tr, tune=False), X.loc[te.index], te) for n in ('nb', 'knn')])
    t = compare(preds)
    assert list(t.index) == ['nb', 'knn'] and 'weighted_f1' in t.columns and (t.n == len(te)).all()
