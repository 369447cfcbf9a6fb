"Neighbourhood correction (`NeighbourhoodCorrection`, `correct_table`): properties on synthetic embeddings."
import numpy as np, pandas as pd, pytest
from hypothesis import given, settings, strategies as st
from leukemia_nb.evaluate import NeighbourhoodCorrection, correct_table, paired_bootstrap, compare
from leukemia_nb.data import PREDICTION_COLUMNS

DIMS = 3
# P(all) away from the threshold 0.5 itself, where a vote can land exactly on it
probability = st.one_of(st.floats(0.0, 0.49), st.floats(0.51, 1.0))

def tight_reference(rng, n=200):
    "Training cells' embedding: standard normal, so one standardised unit is one raw unit."
    return rng.normal(0, 1, (n, DIMS))

def table(prob, patients, y=None, model='m'):
    "A predictions table of one model for cells 0 … n − 1."
    prob = np.asarray(prob, dtype=float)
    y = (prob >= 0.5).astype(int) if y is None else np.asarray(y)
    return pd.DataFrame({'path': [f'c{i}' for i in range(len(prob))], 'model': model, 'prob': prob,
                         'pred': (prob >= 0.5).astype(int), 'pred_label': np.where(prob >= 0.5, 'all', 'hem'),
                         'y': y, 'label': np.where(y == 1, 'all', 'hem'), 'correct': True,
                         'patient': np.asarray(patients), 'split': 'prelim'})[list(PREDICTION_COLUMNS)]

@settings(max_examples=60)
@given(st.data())
def test_tight_far_apart_patients_take_their_majority_call(data):
    "Each patient's cells near-identical, patients far apart, k ≥ cells per patient − 1: the patient's majority."
    sizes = data.draw(st.lists(st.integers(2, 9), min_size=1, max_size=5), label='cells per patient')
    probs = [np.array(data.draw(st.lists(probability, min_size=m, max_size=m))) for m in sizes]
    for p in probs:   # a majority that is not exactly 50%: flip one cell's side of 0.5 when it is
        if (p >= 0.5).mean() == 0.5: p[0] = 1 - p[0]
    k = data.draw(st.integers(max(sizes) - 1, max(sizes) + 6), label='k')
    patients_known = data.draw(st.booleans(), label='patients known')
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label='seed'))
    patients = np.repeat(np.arange(len(sizes)), sizes)
    centres = 50.0 * np.arange(len(sizes))[:, None] * np.ones(DIMS)   # far apart, on a diagonal
    embedding = centres[patients] + rng.normal(0, 1e-3, (len(patients), DIMS))
    corrector = NeighbourhoodCorrection(k=k).fit(tight_reference(rng))
    prob = np.concatenate(probs)
    corrected = corrector.correct(prob, embedding, patients if patients_known else None)
    for patient, p in enumerate(probs):
        majority = (p >= 0.5).mean() > 0.5
        assert ((corrected[patients == patient] >= 0.5) == majority).all(), (patient, p, corrected)

@settings(max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(10, 400), k=st.integers(1, 20), patients_known=st.booleans())
def test_cells_spread_far_apart_are_left_almost_alone(seed, n, k, patients_known):
    "Cells scattered at random over a box much larger than the bandwidth learned from a tight reference."
    rng = np.random.default_rng(seed)
    corrector = NeighbourhoodCorrection(k=k).fit(tight_reference(rng))
    embedding = rng.uniform(-1000, 1000, (n, DIMS))
    prob = rng.uniform(0, 1, n)
    patients = rng.integers(0, 5, n)
    corrected = corrector.correct(prob, embedding, patients if patients_known else None)
    assert ((corrected >= 0.5) == (prob >= 0.5)).mean() >= 0.99
    assert (np.abs(corrected - prob) < 1e-6).mean() >= 0.99

@settings(max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(5, 120), k=st.integers(1, 12), patients_known=st.booleans())
def test_no_label_is_read(seed, n, k, patients_known):
    "Shuffling (or inventing) the labels of the test cells changes no corrected probability."
    rng = np.random.default_rng(seed)
    prob = rng.uniform(0, 1, n)
    patients = rng.integers(0, 4, n).astype(str)
    embedding = pd.DataFrame(rng.normal(0, 1, (n, DIMS)), index=[f'c{i}' for i in range(n)])
    corrector = NeighbourhoodCorrection(k=k).fit(tight_reference(rng))
    labelled = table(prob, patients, y=rng.integers(0, 2, n))
    first = correct_table(labelled, embedding, corrector, patients_known)
    shuffled = labelled.assign(y=rng.permutation(labelled.y.to_numpy()))
    second = correct_table(shuffled, embedding, corrector, patients_known)
    unlabelled = labelled.assign(y=pd.array([None] * n, dtype='Int64'), label=None)
    third = correct_table(unlabelled, embedding, corrector, patients_known)
    np.testing.assert_array_equal(first.prob, second.prob)
    np.testing.assert_array_equal(first.prob, third.prob)

@settings(max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 150), k=st.integers(1, 15), n_patients=st.integers(1, 6))
def test_the_patient_known_variant_never_uses_another_patients_cell(seed, n, k, n_patients):
    "Cells of all patients mixed in one small cloud: neighbours, and hence votes, still come from the own patient."
    rng = np.random.default_rng(seed)
    patients = rng.integers(0, n_patients, n)
    embedding = rng.normal(0, 0.5, (n, DIMS))
    corrector = NeighbourhoodCorrection(k=k).fit(tight_reference(rng))
    _, neighbours = corrector.neighbours(embedding, patients)
    found = neighbours >= 0
    assert (patients[np.where(found, neighbours, 0)] == patients[:, None])[found].all()
    assert (found.sum(axis=1) == np.minimum(k, np.bincount(patients)[patients] - 1)).all()   # as many as there are
    prob = rng.uniform(0, 1, n)
    patient = patients[0]
    others = patients != patient
    changed = prob.copy()
    changed[others] = 1 - changed[others]   # every other patient's calls flipped
    np.testing.assert_array_equal(corrector.correct(prob, embedding, patients)[~others],
                                  corrector.correct(changed, embedding, patients)[~others])

def test_the_bandwidth_is_learned_from_the_reference_only():
    rng = np.random.default_rng(0)
    reference = rng.normal(5, 3, (120, DIMS))
    corrector = NeighbourhoodCorrection(k=4).fit(reference)
    standardised = (reference - reference.mean(axis=0)) / reference.std(axis=0)
    distances = np.sqrt(((standardised[:, None] - standardised[None]) ** 2).sum(axis=-1))
    fourth = np.sort(distances, axis=1)[:, 4]   # column 0 is the cell itself
    assert corrector.bandwidth_ == pytest.approx(np.median(fourth))
    before = corrector.bandwidth_, corrector.mean_.copy(), corrector.scale_.copy()
    corrector.correct(rng.uniform(0, 1, 50), rng.normal(0, 100, (50, DIMS)))   # test cells: learn nothing
    assert corrector.bandwidth_ == before[0] and (corrector.mean_ == before[1]).all()
    assert NeighbourhoodCorrection(bandwidth=0.7).fit(reference).bandwidth_ == 0.7
    with pytest.raises(ValueError, match='at least two'): NeighbourhoodCorrection().fit(reference[:1])

def test_the_vote_by_hand():
    "Cell 1 (0.2) has two neighbours at distance 1 calling all, each weighing e^−1 (bandwidth 1)."
    corrector = NeighbourhoodCorrection(k=2, bandwidth=1.0).fit([[-1.0], [1.0]])
    prob = np.array([0.9, 0.2, 0.7, np.nan])
    corrected = corrector.correct(prob, [[0.0], [1.0], [2.0], [1.5]])
    w1, w2 = np.exp(-1.0), np.exp(-4.0)
    assert corrected[1] == pytest.approx((0.2 + 2 * w1) / (1 + 2 * w1))
    assert corrected[0] == pytest.approx((0.9 + w2) / (1 + w1 + w2))   # neighbour 0.2 votes 0, 0.7 votes 1
    assert np.isnan(corrected[3])   # no prediction: it neither changes nor votes (else cell 1 would see it)
    with pytest.raises(ValueError, match='probabilities but'): corrector.correct(prob, [[0.0]])

def test_correct_table_rows_names_seeds_and_pairing():
    rng = np.random.default_rng(1)
    n = 60
    patients = np.repeat(['1', '2', 'H1', 'H2'], 15)
    y = np.array([0 if p.startswith('H') else 1 for p in patients])
    centres = {'1': 0.0, '2': 10.0, 'H1': 20.0, 'H2': 30.0}
    embedding = {f'c{i}': [centres[p] + rng.normal(0, 0.3), rng.normal(0, 0.3)] for i, p in enumerate(patients)}
    corrector = NeighbourhoodCorrection(k=5).fit(np.c_[rng.normal(0, 10, 200), rng.normal(0, 0.3, 200)])
    prob = np.clip(0.5 + 0.3 * (2 * y - 1) + rng.normal(0, 0.3, n), 0, 1)
    prob[7] = np.nan   # a cell without a prediction
    runs = pd.concat([table(prob, patients, y).assign(seed=0),
                      table(np.clip(prob + rng.normal(0, 0.2, n), 0, 1), patients, y).assign(seed=1)],
                     ignore_index=True)
    nc = correct_table(runs, embedding, corrector)
    assert list(nc.columns) == list(runs.columns) and nc.model.unique().tolist() == ['m+nc']
    assert correct_table(runs, embedding, corrector, patients_known=True).model.unique().tolist() == ['m+ncp']
    assert correct_table(runs, embedding, corrector, suffix='*').model.unique().tolist() == ['m*']
    assert (nc.path == runs.path).all() and (nc.seed == runs.seed).all()
    assert np.isnan(nc.prob[7]) and pd.isna(nc.pred[7]) and pd.isna(nc.pred_label[7]) and not nc.correct[7]
    known = nc.prob.notna()
    assert (nc.pred[known] == (nc.prob[known] >= 0.5).astype(int)).all()
    assert (nc.correct[known] == (nc.pred[known] == nc.y[known])).all()
    # each seed is corrected on its own: seed 0's rows do not depend on seed 1's
    alone = correct_table(runs[runs.seed == 0], embedding, corrector)
    np.testing.assert_array_equal(alone.prob, nc.prob[nc.seed == 0])
    # the corrected rows pair with the base rows on the same cells
    paired = paired_bootstrap(pd.concat([runs, nc], ignore_index=True), pairs=[('m+nc', 'm')], n_boot=300).iloc[0]
    assert (paired.cells, paired.seeds_a, paired.seeds_b) == (n - 1, 2, 2)   # cell 7 has no P(all) in either run
    assert compare(pd.concat([runs, nc])).loc['m+nc', 'accuracy'] > compare(runs).loc['m', 'accuracy']
    with pytest.raises(ValueError, match='no embedding'):
        correct_table(runs, {k: v for k, v in embedding.items() if k != 'c3'}, corrector)
