"Brier score, operating points, the paired patient bootstrap, grouped permutation importance."
import numpy as np, pandas as pd, pytest
from sklearn import metrics as skm
import inspect
from leukemia_nb.evaluate import (score, compare, paired_bootstrap, sensitivity_at_specificity, _from_counts,
                                  grouped_permutation_importance, plot_reliability, plot_paired, bootstrap_ci,
                                  plot_metric_bars, patient_draws, patient_classes, BOOT_METRICS, _boot_values,
                                  _loop_values)

def table(models, n_patients=12, cells=15, seed=0):
    "A predictions table: `models` maps a name to the chance of each cell's call being right."
    rng = np.random.default_rng(seed)
    pats = np.repeat([f'{i}' if i % 3 else f'H{i}' for i in range(n_patients)], cells)
    y = np.array([0 if p.startswith('H') else 1 for p in pats])
    out = []
    for name, right in models.items():
        ok = rng.random(len(y)) < right
        prob = np.clip(np.where(ok, y, 1 - y) * 0.8 + 0.1 + rng.normal(0, 0.05, len(y)), 0, 1)
        out.append(pd.DataFrame({'path': [f'/c/{i}.bmp' for i in range(len(y))], 'model': name, 'prob': prob,
                                 'pred': (prob >= 0.5).astype(int), 'pred_label': '', 'y': y,
                                 'label': np.where(y == 1, 'all', 'hem'), 'correct': True, 'patient': pats,
                                 'split': 'prelim'}))
    return pd.concat(out, ignore_index=True)

def test_paired_interval_of_a_model_against_itself_is_zero():
    t = table({'a': 0.8, 'b': 0.7})
    r = paired_bootstrap(t, pairs=[('a', 'a'), ('b', 'b')], n_boot=500)
    assert (r.lo == 0).all() and (r.hi == 0).all() and (r['diff'] == 0).all()

def test_paired_interval_excludes_zero_when_one_model_is_clearly_better():
    t = table({'good': 0.95, 'poor': 0.6})
    r = paired_bootstrap(t, n_boot=1000).iloc[0]
    assert (r.model_a, r.model_b) == ('good', 'poor') and r.lo > 0 and r.hi > r.lo and r.separated
    same = paired_bootstrap(table({'x': 0.8, 'y': 0.8}, seed=1), n_boot=1000).iloc[0]
    assert same.lo < 0 < same.hi and not same.separated   # two equally good models: the interval straddles 0

def test_enough_draws_by_default():
    for function in (bootstrap_ci, paired_bootstrap, plot_metric_bars, patient_draws):
        assert inspect.signature(function).parameters['n_boot'].default >= 2000, function.__name__

def test_every_fast_metric_matches_score_on_the_drawn_samples():
    t = table({'a': 0.75}, n_patients=7, cells=9, seed=4)
    y, prob = t.y.to_numpy(), t.prob.round(1).to_numpy()   # rounded: ties
    patients, of = np.unique(t.patient, return_inverse=True)
    draws = patient_draws(patient_classes(y, of, len(patients)), n_boot=8, seed=2)
    for metric in BOOT_METRICS:
        np.testing.assert_allclose(_boot_values(metric, y, prob, of, draws), _loop_values(metric, y, prob, of, draws),
                                   atol=1e-12, err_msg=metric)

def test_holm_verdicts_are_consistent_with_the_intervals():
    r = paired_bootstrap(table({'a': 0.95, 'b': 0.9, 'c': 0.75, 'd': 0.7}, n_patients=15), n_boot=2000)
    assert len(r) == 6 and r.separated.any() and not r.separated.all()
    assert (r.p_holm >= r.p).all() and (r.lo_simul <= r.lo).all() and (r.hi <= r.hi_simul).all()
    simultaneous_excludes_0 = (r.lo_simul > 0) | (r.hi_simul < 0)
    assert (r.separated >= simultaneous_excludes_0).all()           # simultaneous interval without 0 -> separated
    assert (~r.separated | (r.lo > 0) | (r.hi < 0)).all()            # separated -> its own interval excludes 0

def test_paired_resamples_patients_not_cells():
    "A model wrong on every cell of one patient: resampling patients sees that, resampling cells would not."
    t = table({'a': 0.9, 'b': 0.9}, n_patients=6, cells=40)
    flip = (t.model == 'a') & (t.patient == '1')
    t.loc[flip, 'prob'] = 1 - t.loc[flip, 'prob']
    by_patient = paired_bootstrap(t, n_boot=2000).iloc[0]
    by_cell = paired_bootstrap(t.assign(patient=t.path), n_boot=2000).iloc[0]   # every cell its own "patient"
    assert by_patient.patients == 6 and by_patient.cells == 240 and by_cell.patients == 240
    assert by_patient.hi - by_patient.lo > 1.5 * (by_cell.hi - by_cell.lo)

def test_counts_reproduce_sklearn():
    rng = np.random.default_rng(3)
    for _ in range(20):
        y, yhat = rng.integers(0, 2, 50), rng.integers(0, 2, 50)
        tn, fp, fn, tp = skm.confusion_matrix(y, yhat, labels=[0, 1]).ravel()
        assert _from_counts('weighted_f1', tp, fp, fn, tn) == pytest.approx(
            skm.f1_score(y, yhat, average='weighted', zero_division=0))
        assert _from_counts('accuracy', tp, fp, fn, tn) == pytest.approx(skm.accuracy_score(y, yhat))

def test_brier_and_operating_points_by_hand():
    # 5 all, 5 hem; the hem probabilities 0.1 … 0.5, the all ones 0.3 … 0.9
    y = [0] * 5 + [1] * 5
    p = [0.1, 0.2, 0.3, 0.4, 0.5, 0.3, 0.45, 0.6, 0.8, 0.9]
    s = score(y, p)
    assert s['brier'] == pytest.approx(np.mean((np.array(p) - np.array(y)) ** 2))
    # specificity ≥ 90% of 5 hem cells allows no false positive: threshold above 0.5 -> 0.6, 0.8, 0.9: 3/5
    assert s['sens_at_spec90'] == pytest.approx(3 / 5) and s['sens_at_spec95'] == pytest.approx(3 / 5)
    # specificity ≥ 80% allows one: threshold 0.45 finds 4 of 5 (0.45 ≥ 0.45 > 0.4)
    assert sensitivity_at_specificity(y, p, 0.8) == pytest.approx(4 / 5)
    assert np.isnan(sensitivity_at_specificity([1, 1], [0.2, 0.9]))
    t = compare(table({'a': 0.9}))
    assert {'brier', 'sens_at_spec90', 'sens_at_spec95'} <= set(t.columns)

def test_grouped_importance_permutes_a_family_jointly():
    rng = np.random.default_rng(0)
    y = np.array([1] * 80 + [0] * 40)
    signal = y + rng.normal(0, 0.3, len(y))
    # the label is in the DIFFERENCE of two shape columns: permuting one alone would also break it,
    # but permuting the family with one row permutation keeps the two columns consistent only with each other
    X = pd.DataFrame({'shape_a': signal + 5, 'shape_b': np.full(len(y), 5.0), 'glcm_x': rng.normal(size=len(y)),
                      'lbp_y': rng.normal(size=len(y))})
    model = lambda d: 1 / (1 + np.exp(-3 * ((d.shape_a - d.shape_b).to_numpy() - 0.5)))
    imp = grouped_permutation_importance(model, X, y, n_repeats=4).set_index('family')
    assert imp.loc['shape', 'drop'] > 0.3 and imp.loc['shape', 'n_columns'] == 2
    assert imp.loc['glcm', 'drop'] == 0 and imp.loc['lbp', 'drop'] == 0
    with pytest.raises(ValueError, match='metric'): grouped_permutation_importance(model, X, y, metric='recall')

def test_figures_draw_what_they_say():
    "Each model's reliability curve is sklearn's `calibration_curve` of its cells; each pair has its point and interval."
    from sklearn.calibration import calibration_curve
    t = table({'a': 0.9, 'b': 0.7})
    fig = plot_reliability(t)
    assert [ax.get_title().split(':')[0] for ax in fig.axes] == ['a', 'b']   # one panel per model
    for ax, model in zip(fig.axes, ('a', 'b')):
        curve, = [line for line in ax.get_lines() if line.get_label() == model]
        cells = t[t.model == model]
        frac_all, mean_prob = calibration_curve(cells.y, cells.prob, n_bins=10)
        np.testing.assert_allclose(curve.get_xydata(), np.column_stack([mean_prob, frac_all]))
        assert len(ax.patches) == 10                                    # the cells per bin, every bin
    paired = paired_bootstrap(t, n_boot=100)
    ax, = plot_paired(paired).axes
    points = ax.collections[-1].get_offsets()
    np.testing.assert_allclose(sorted(points[:, 0]), sorted(paired['diff']))
    assert [label.get_text() for label in ax.get_yticklabels()] == [f'{a} − {b}' for a, b in
                                                                     zip(paired.model_a, paired.model_b)]

def test_score_weights_the_f1_of_each_class_by_its_cells():
    "The challenge's metric, by hand: each class's F1 weighted by its number of cells, not the plain mean of the two."
    y = np.array([1] * 9 + [0] * 3)
    prob = np.array([0.9] * 8 + [0.2] + [0.8, 0.3, 0.1])   # all: 8 right, 1 missed; hem: 2 right, 1 called all
    f1_all, f1_hem = 16 / 18, 4 / 6                          # 2TP / (2TP + FP + FN) of each class
    result = score(y, prob)
    assert result['weighted_f1'] == pytest.approx((9 * f1_all + 3 * f1_hem) / 12)   # 0.833
    assert result['weighted_f1'] != pytest.approx((f1_all + f1_hem) / 2)           # 0.778, the macro average

def test_patient_table_counts_cells_once_and_diagnoses_by_the_mean():
    "Every model's call on every patient is its mean P(all) against 0.5, cells counted once whatever the seeds."
    from leukemia_nb.evaluate import patient_table, few_patients
    one = table({'good': 0.9, 'coin': 0.5}, n_patients=9, cells=7, seed=3)
    one = one[~((one.patient == 'H3') & (one.path.str.len() % 2 == 0))]   # patients of unequal size
    seeded = pd.concat([one.assign(seed=0), one.assign(seed=1, prob=1 - one.prob)])   # seed 1: every P(all) flipped
    for rows in (one, seeded):
        patients = patient_table(rows).set_index('patient')
        for model, cells in rows.groupby('model'):
            mean = cells.groupby('patient').prob.mean()
            truth = cells.groupby('patient').y.first()
            assert (patients.loc[mean.index, model] == mean.round(3)).all(), model
            assert (patients.loc[mean.index, f'{model} right'] == ((mean >= 0.5).astype(int) == truth)).all(), model
        assert (patients.cells == one[one.model == 'good'].groupby('patient').size().loc[patients.index]).all()
    assert patient_table(seeded)['good'].between(0.499, 0.501).all()   # the two seeds' means averaged
    assert few_patients(patient_table(one))['hem'][1] == 3
