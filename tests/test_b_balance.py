"Class balance once, calibration to the training prior, grids that fit small data, dropped rows counted."
import numpy as np, pandas as pd, pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import make_classification
from sklearn.utils.class_weight import compute_class_weight
from leukemia_nb.classical import (make_classifier, fit_classifier, PatientCalibrated, CLASSIFIERS, PARAM_GRIDS,
                                   BALANCING, adapt_grid)

class Spy(ClassifierMixin, BaseEstimator):
    "Records the labels, sample weights, class weights and priors each fit receives."
    seen = []
    def __init__(self, class_weight=None, priors=None): self.class_weight, self.priors = class_weight, priors
    def fit(self, X, y, sample_weight=None):
        Spy.seen.append((np.asarray(y), sample_weight, self.class_weight, self.priors))
        self.classes_ = np.unique(y)
        return self
    def decision_function(self, X): return np.asarray(X)[:, 0]

def class_totals(y, sample_weight, class_weight, priors):
    "Effective total weight of the hem (0) and all (1) cells, from every place a model can be weighted."
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if class_weight is not None:
        kind = 'balanced' if class_weight == 'balanced_subsample' else class_weight  # balanced within each bootstrap
        w = w * compute_class_weight(kind, classes=np.array([0, 1]), y=y)[y]
    if priors is not None:  # a prior replaces the class frequency: weight prior / frequency
        freq = np.bincount(y, minlength=2) / len(y)
        w = w * (np.asarray(priors) / freq)[y]
    return w[y == 0].sum(), w[y == 1].sum()

def data(n=240, seed=0):
    X, y = make_classification(n, 8, n_informative=4, weights=[0.32], random_state=seed)
    return X, y

@pytest.mark.parametrize('name', list(CLASSIFIERS))
def test_each_model_is_balanced_exactly_once(name):
    X, y = data()
    pipe = make_classifier(name)
    real = pipe.named_steps['clf'].estimator.get_params()
    Spy.seen = []
    pipe.set_params(clf__estimator=Spy(class_weight=real.get('class_weight'), priors=real.get('priors')))
    pipe.fit(X, y, clf__groups=np.where(y == 1, 'a', 'h') + (np.arange(len(y)) % 6).astype(str))
    assert len(Spy.seen) == 3
    for yy, sw, cw, priors in Spy.seen:
        assert sw is None, 'a sample weight reached the estimator'
        hem, all_ = class_totals(yy, sw, cw, priors)
        if name == 'knn':   # no weighting hook: the cells count as they are (documented in BALANCING)
            assert 'none' in BALANCING['knn'] and hem / all_ == pytest.approx((yy == 0).sum() / (yy == 1).sum())
        else:               # balanced once: both classes weigh the same in total (twice would give n(all)/n(hem))
            assert hem / all_ == pytest.approx(1.0)

def test_no_sample_weight_through_tuning(monkeypatch):
    "The whole fit_classifier path (grid search, patient folds, calibration) passes no sample weight."
    X, y = data(120, 1)
    man = pd.DataFrame({'y': pd.array(y, dtype='Int64'), 'fold': pd.array([None] * len(y), dtype='Int64'),
                        'patient': [('' if v else 'H') + str(i % 5) for i, v in enumerate(y)]})
    monkeypatch.setitem(CLASSIFIERS, 'rf', ('spy', lambda: Spy(class_weight='balanced')))
    monkeypatch.setitem(PARAM_GRIDS, 'rf', {'clf__estimator__class_weight': ['balanced']})
    Spy.seen = []
    fit_classifier('rf', pd.DataFrame(X), man, tune=True, n_jobs=1)
    assert len(Spy.seen) >= 6 and all(sw is None for _, sw, _, _ in Spy.seen)

@pytest.mark.parametrize('name', ['rf', 'svm', 'nb'])
def test_probabilities_follow_the_training_prior(name):
    X, y = data(400, 2)
    groups = np.where(y == 1, 'a', 'h') + (np.arange(len(y)) % 8).astype(str)
    p = make_classifier(name).fit(X, y, clf__groups=groups).predict_proba(X)[:, 1]
    # balanced-prior calibration (the old behaviour) puts the mean near 0.5; the training prior is about 0.68
    assert abs(p.mean() - y.mean()) < 0.05, (p.mean(), y.mean())

def test_calibration_folds_fit_the_patients():
    y = np.array([1] * 20 + [0] * 10)
    groups = np.array(['1'] * 10 + ['2'] * 10 + ['H1'] * 5 + ['H2'] * 5)   # two patients per class: two folds
    folds = PatientCalibrated(n_splits=3).calibration_splits(y, groups)
    assert len(folds) == 2
    for fit_rows, cal_rows in folds: assert not set(groups[fit_rows]) & set(groups[cal_rows])
    one_hem = np.array(['1'] * 10 + ['2'] * 10 + ['H1'] * 10)   # one hem patient: folds over cells instead
    assert len(PatientCalibrated(n_splits=3).calibration_splits(y, one_hem)) == 3

def test_grids_adapt_and_dropped_rows_are_counted():
    assert adapt_grid(PARAM_GRIDS['knn'], 12, 102)['clf__estimator__n_neighbors'] == [7]
    X, y = data(60, 3)
    X = pd.DataFrame(X)
    X.iloc[0, 0], X.iloc[1, 1] = np.nan, np.inf
    man = pd.DataFrame({'y': pd.array(y, dtype='Int64'), 'fold': pd.array([None] * 60, dtype='Int64'),
                        'patient': [('' if v else 'H') + str(i % 4) for i, v in enumerate(y)]})
    man.loc[2, 'y'] = pd.NA
    m = fit_classifier('knn', X, man, tune=True, n_jobs=1)   # the full grid would ask for 31 of ~20 cells
    assert m.dropped == {'no label': 1, 'missing or infinite feature': 2}
    assert m.params['clf__estimator__n_neighbors'] <= 15
    prob = m.predict_proba(X)
    assert np.isnan(prob[:2]).all() and np.isfinite(prob[2:]).all()   # one bad row costs only itself
