"Seeds and patients in the scores: `compare`, `bootstrap_ci`, `paired_bootstrap` with a `seed` column; patient figures."
import numpy as np, pandas as pd, pytest
from leukemia_nb.evaluate import (compare, bootstrap_ci, paired_bootstrap, score, METRIC_ORDER, SEED_SD_METRICS,
                                  BOOT_METRICS, FEATURE_FAMILIES, family_of)

def cells(n_patients=12, per_patient=15):
    "Test cells: patients '1', '2', … (all) and 'H0', 'H3', … (hem, every third), `per_patient` cells each."
    patients = np.repeat([f'H{i}' if i % 3 == 0 else f'{i}' for i in range(n_patients)], per_patient)
    y = np.array([0 if p.startswith('H') else 1 for p in patients])
    return pd.DataFrame({'path': [f'/c/{i}.bmp' for i in range(len(y))], 'patient': patients, 'y': y,
                         'label': np.where(y == 1, 'all', 'hem'), 'split': 'prelim'})

def rows(model, cell_table, prob, seed=None):
    "Predictions-table rows of one model (and one training seed when given)."
    prob = np.clip(np.asarray(prob, dtype=float), 0, 1)
    out = cell_table.assign(model=model, prob=prob, pred=(prob >= 0.5).astype(int), correct=True,
                            pred_label=np.where(prob >= 0.5, 'all', 'hem'))
    return out if seed is None else out.assign(seed=seed)

def skilled(cell_table, right, rng):
    "P(all) of a model right on a share `right` of the cells, with a shift of its own for each patient."
    y = cell_table.y.to_numpy()
    ok = rng.random(len(y)) < right
    patient_shift = cell_table.patient.map(dict(zip(cell_table.patient.unique(),
                                                    rng.normal(0, 0.1, cell_table.patient.nunique()))))
    return np.where(ok, y, 1 - y) * 0.6 + 0.2 + patient_shift.to_numpy() + rng.normal(0, 0.05, len(y))

def test_a_model_against_itself_relabelled_with_seeds_gives_a_nondegenerate_interval_around_zero():
    "Model x with seeds 0, 1, 2 whose P(all) differ by noise; y = the same rows relabelled: x and y pick seeds apart."
    c = cells()
    rng = np.random.default_rng(0)
    base = skilled(c, 0.8, rng)
    runs_x = pd.concat([rows('x', c, base + rng.normal(0, 0.12, len(c)), seed=s) for s in range(3)], ignore_index=True)
    r = paired_bootstrap(pd.concat([runs_x, runs_x.assign(model='y')], ignore_index=True), n_boot=2000).iloc[0]
    assert (r.seeds_a, r.seeds_b, r.cells, r.patients) == (3, 3, len(c), 12)
    assert r['diff'] == 0 and r.lo < 0 < r.hi and r.lo != r.hi and not r.separated
    one_run = runs_x[runs_x.seed == 0]
    one = paired_bootstrap(pd.concat([one_run, one_run.assign(model='y')]), n_boot=2000).iloc[0]
    assert one.lo == one.hi == 0   # one run against itself: degenerate, as before

def test_two_sets_of_runs_of_one_model_are_not_separated():
    "Model x with seeds 0, 1, 2; model y: three other runs of the same model (the same base, noise of their own)."
    c = cells()
    rng = np.random.default_rng(0)
    base = skilled(c, 0.8, rng)
    runs_x = [rows('x', c, base + rng.normal(0, 0.12, len(c)), seed=s) for s in range(3)]
    runs_y = [rows('y', c, base + rng.normal(0, 0.12, len(c)), seed=s) for s in range(3, 6)]
    r = paired_bootstrap(pd.concat(runs_x + runs_y, ignore_index=True), n_boot=2000).iloc[0]
    assert r.lo < 0 < r.hi and r.lo != r.hi and not r.separated

def test_identical_predictions_under_every_seed_give_the_one_seed_result():
    c = cells()
    rng = np.random.default_rng(1)
    one_seed = pd.concat([rows('a', c, skilled(c, 0.85, rng)), rows('b', c, skilled(c, 0.7, rng))], ignore_index=True)
    three = pd.concat([one_seed.assign(seed=s) for s in (4, 8, 15)], ignore_index=True)
    t1, t3 = compare(one_seed), compare(three)
    np.testing.assert_allclose(t3[METRIC_ORDER].astype(float), t1[METRIC_ORDER].astype(float), rtol=1e-12)
    assert (t3.seeds == 3).all() and (t1.seeds == 1).all()
    assert (t3[[f'{m}_sd' for m in SEED_SD_METRICS]].astype(float) < 1e-12).all().all()
    assert t1[[f'{m}_sd' for m in SEED_SD_METRICS]].isna().all().all()   # one seed: no spread
    metrics = ['weighted_f1', 'roc_auc', 'brier', 'patient_balanced_accuracy']
    ci1, ci3 = bootstrap_ci(one_seed, metrics, n_boot=500), bootstrap_ci(three, metrics, n_boot=500)
    np.testing.assert_allclose(ci3[['value', 'lo', 'hi']], ci1[['value', 'lo', 'hi']], rtol=1e-12)
    p1, p3 = paired_bootstrap(one_seed, n_boot=500), paired_bootstrap(three, n_boot=500)
    columns = ['a', 'b', 'diff', 'lo', 'hi', 'p', 'lo_simul', 'hi_simul']
    np.testing.assert_allclose(p3[columns].astype(float), p1[columns].astype(float), rtol=1e-12)

def test_a_seed_column_with_one_seed_changes_nothing():
    c = cells(n_patients=9)
    rng = np.random.default_rng(2)
    t = pd.concat([rows('a', c, skilled(c, 0.8, rng)), rows('b', c, skilled(c, 0.75, rng))], ignore_index=True)
    seeded = t.assign(seed=42)
    pd.testing.assert_frame_equal(compare(seeded), compare(t), check_exact=True)
    for metric in ('weighted_f1', 'roc_auc', 'patient_diagnosis_accuracy'):
        pd.testing.assert_frame_equal(paired_bootstrap(seeded, metric, n_boot=300, seed=3),
                                      paired_bootstrap(t, metric, n_boot=300, seed=3), check_exact=True)
    pd.testing.assert_frame_equal(bootstrap_ci(seeded, ['accuracy', 'sens_at_spec90'], n_boot=50),
                                  bootstrap_ci(t, ['accuracy', 'sens_at_spec90'], n_boot=50), check_exact=True)

def test_an_interval_over_disagreeing_seeds_is_wider_than_over_patients_alone():
    c = cells(n_patients=15)
    rng = np.random.default_rng(3)
    runs = [rows('x', c, skilled(c, right, rng), seed=s) for s, right in enumerate((0.95, 0.8, 0.65))]
    seeded = pd.concat(runs, ignore_index=True)
    over_seeds = bootstrap_ci(seeded, ['weighted_f1', 'accuracy'], n_boot=2000).set_index('metric')
    for metric in ('weighted_f1', 'accuracy'):
        alone = [bootstrap_ci(run, metric, n_boot=2000).iloc[0] for run in runs]
        assert over_seeds.loc[metric, 'hi'] - over_seeds.loc[metric, 'lo'] > max(r.hi - r.lo for r in alone)
        assert over_seeds.loc[metric, 'value'] == pytest.approx(np.mean([r.value for r in alone]))
    other = rows('y', c, skilled(c, 0.8, rng))   # one seed
    both = paired_bootstrap(pd.concat([seeded, other], ignore_index=True), n_boot=2000).iloc[0]
    first_run_only = paired_bootstrap(pd.concat([runs[0], other], ignore_index=True), n_boot=2000).iloc[0]
    assert (both.seeds_a, both.seeds_b, first_run_only.seeds_a) == (3, 1, 1)
    assert both.hi - both.lo > first_run_only.hi - first_run_only.lo

def test_compare_reports_the_mean_and_sd_over_seeds():
    c = cells(n_patients=6, per_patient=4)   # 2 hem patients (H0, H3), 4 all patients, 24 cells
    right = c.y.to_numpy().astype(float)
    wrong_on_h0 = np.where(c.patient == 'H0', 1 - right, right)   # seed 1 misses the 4 cells of H0
    t = pd.concat([rows('m', c, right, seed=0), rows('m', c, wrong_on_h0, seed=1)], ignore_index=True)
    row = compare(t).loc['m']
    assert row.seeds == 2
    assert row.accuracy == pytest.approx((1 + 20 / 24) / 2)
    assert row.accuracy_sd == pytest.approx(np.std([1, 20 / 24], ddof=1))
    assert row.patient_diagnosis_accuracy == pytest.approx((1 + 5 / 6) / 2)
    assert row.hem_patient_cell_accuracy == pytest.approx((1 + 0.5) / 2)
    assert row.all_patient_cell_accuracy == 1 and row.all_patient_cell_accuracy_sd == 0
    assert row.patient_balanced_accuracy == pytest.approx((1 + (1 + 0.5) / 2) / 2)

def test_seeds_that_predict_different_cells_and_duplicate_rows():
    c = cells(n_patients=6, per_patient=5)
    rng = np.random.default_rng(4)
    full = rows('m', c, skilled(c, 0.8, rng), seed=0)
    part = rows('m', c, skilled(c, 0.8, rng), seed=1).iloc[:20]   # seed 1 predicted only the first 20 cells
    t = pd.concat([full, part], ignore_index=True)
    expected = np.mean([score(full.y, full.prob)['accuracy'], score(part.y, part.prob)['accuracy']])
    assert compare(t).loc['m', 'accuracy'] == pytest.approx(expected)
    assert bootstrap_ci(t, 'accuracy', n_boot=100).iloc[0].value == pytest.approx(expected)
    with pytest.raises(ValueError, match='two rows for one cell and seed'):
        bootstrap_ci(pd.concat([full, full]), n_boot=10)

def test_patient_figures_by_hand():
    # all patients A1 (3 of 4 cells right, called all), A2 (1 of 2, called hem: wrong), A3 (1 of 1);
    # hem patients H1 (2 of 3, called hem), H2 (0 of 2, called all: wrong)
    s = score([1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0], [0.9, 0.8, 0.3, 0.7, 0.2, 0.6, 0.9, 0.1, 0.2, 0.6, 0.6, 0.7],
              patients=['A1'] * 4 + ['A2'] * 2 + ['A3'] + ['H1'] * 3 + ['H2'] * 2)
    assert s['all_patient_cell_accuracy'] == pytest.approx((3 / 4 + 1 / 2 + 1) / 3)
    assert s['hem_patient_cell_accuracy'] == pytest.approx(1 / 3)
    assert s['patient_diagnosis_accuracy'] == pytest.approx(3 / 5)
    assert s['patient_balanced_accuracy'] == pytest.approx((2 / 3 + 1 / 2) / 2)
    # one class of patients only: the balanced accuracy is that class's share called right; the other class is NaN
    one_class = score([1, 1, 1, 1], [0.9, 0.8, 0.2, 0.1], patients=['A', 'A', 'B', 'B'])
    assert one_class['patient_balanced_accuracy'] == pytest.approx(one_class['patient_diagnosis_accuracy'])
    assert np.isnan(one_class['hem_patient_cell_accuracy'])
    assert 'patient_balanced_accuracy' not in score([1, 0], [0.9, 0.2])   # no patients: no patient figures

def test_patient_figures_are_shown_compared_and_bootstrapped():
    new = ['patient_balanced_accuracy', 'all_patient_cell_accuracy', 'hem_patient_cell_accuracy']
    assert METRIC_ORDER.index('f1_hem') < min(METRIC_ORDER.index(m) for m in new) < METRIC_ORDER.index('n')
    assert set(new) <= set(BOOT_METRICS) and set(new) <= set(SEED_SD_METRICS)
    c = cells()
    rng = np.random.default_rng(5)
    t = pd.concat([rows('good', c, skilled(c, 0.95, rng)), rows('poor', c, skilled(c, 0.55, rng))], ignore_index=True)
    assert set(new) <= set(compare(t).columns)
    ci = bootstrap_ci(t, new, n_boot=300)
    assert ((ci.lo <= ci.value) & (ci.value <= ci.hi)).all() and (ci.hi > ci.lo).any()
    paired = paired_bootstrap(t, 'hem_patient_cell_accuracy', n_boot=1000).iloc[0]
    assert paired['diff'] > 0 and paired.lo > 0   # the better model is better on the hem patients' cells

def test_hed_is_a_feature_family():
    assert 'hed' in FEATURE_FAMILIES and family_of('hed_h_mean') == 'hed' and family_of('heed_x') == 'other'
