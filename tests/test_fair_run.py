"""The fair fight, end to end (issue 19): every model of a run learned from the same training patients, seeds enter
the tables and the intervals, and the transductive variants are reported apart and labelled."""
import json
import numpy as np, pandas as pd
import pytest

def _training_patients(data):
    from leukemia_nb.data import load_cnmc
    from leukemia_nb.evaluate import challenge_split
    train, _ = challenge_split(load_cnmc(data), seed=0)
    return set(train.patient.astype(str))

def test_every_saved_model_learned_from_the_split_training_patients(quick_report, tiny_root):
    from leukemia_nb.classical import load_model
    from leukemia_nb.cnn import load_cnn
    from leukemia_nb.hybrids import load_hybrids
    expected = _training_patients(tiny_root)
    models = quick_report/'models'
    seen = {name: set(load_model(models/f'{name}.joblib').train_patients) for name in ('rf', 'knn', 'svm', 'nb')}
    cnn = load_cnn(models/'cnn.keras')   # copied as models/cnn.keras: its fold networks come with it
    assert len(cnn.fold_models) == 2 and cnn.oof is not None
    seen['cnn'] = set(cnn.train_patients)
    for name, hybrid in load_hybrids(models/'hybrids.joblib').items(): seen[name] = set(hybrid.train_patients)
    assert len(seen) == 9, sorted(seen)
    for name, patients in seen.items(): assert patients == expected, (name, patients ^ expected)
    training = json.loads((quick_report/'run.json').read_text())['training']
    assert sorted(training) == sorted(seen) and all(r['same_as_split'] for r in training.values())
    md = (quick_report/'report.md').read_text()
    assert '## Training patients and selection' in md and 'Every model learned from the same' in md
    assert f"- **CNN served**: {cnn.selection['served']}" in md   # what it serves, as it was measured
    assert cnn.selection['served'] == 'the mean logit of the 2 fold networks, calibrated'

def test_patient_columns_and_labelled_transductive_section(quick_report):
    from leukemia_nb.evaluate import compare
    metrics = pd.read_csv(quick_report/'metrics.csv', index_col=0)
    recomputed = compare(pd.read_csv(quick_report/'predictions.csv'))   # from the predictions the report ships
    for column in ('patient_diagnosis_accuracy', 'patient_balanced_accuracy', 'hem_patient_cell_accuracy',
                   'all_patient_cell_accuracy'):
        np.testing.assert_allclose(metrics[column], recomputed.loc[metrics.index, column], err_msg=column)
        assert metrics[column].notna().all(), column
    assert not metrics.index.str.contains(r'\+').any()   # the corrected variants never enter the main table
    corrected = pd.read_csv(quick_report/'metrics_transductive.csv', index_col=0)
    assert {'rf+nc', 'rf+ncp', 'cnn+nc'} <= set(corrected.index) and corrected.transductive.all()
    md = (quick_report/'report.md').read_text()
    section = md[md.index('## Transductive variants'):]
    assert 'These scores use the other test images' in section and 'rf+nc − rf' in section
    assert md.index('## Published reference points') > md.index('## Transductive variants')

@pytest.fixture(scope='module')
def two_seed_report(tiny_root, tmp_path_factory):
    from leukemia_nb.pipeline import run_pipeline
    d = tmp_path_factory.mktemp('two_seeds')
    run_pipeline(tiny_root, out=d/'report', models='rf,nb,cnn,logreg_cnn', quick=True, seeds=2, cache=d/'cache',
                 n_jobs=1, verbose=False)
    return d/'report'

def test_seeds_give_mean_sd_and_enter_the_intervals(two_seed_report):
    metrics = pd.read_csv(two_seed_report/'metrics.csv', index_col=0)
    assert (metrics.seeds == 2).all() and 'weighted_f1_sd' in metrics
    assert metrics.loc[['rf', 'cnn'], 'roc_auc_sd'].notna().all()
    per_seed = pd.read_csv(two_seed_report/'predictions_seeds.csv')
    assert per_seed.groupby('model').seed.nunique().eq(2).all()
    first = pd.read_csv(two_seed_report/'predictions.csv')
    assert len(first) == len(per_seed) // 2 and 'seed' not in first
    # the CNN of the second seed is another network: its probabilities differ, so seed variance is real
    cnn = per_seed[per_seed.model == 'cnn'].pivot(index='path', columns='seed', values='prob')
    assert not np.allclose(cnn[0], cnn[1])
    md = (two_seed_report/'report.md').read_text()
    assert 'trained 2 times (seeds 0, 1)' in md and 'weighted_f1_sd' in md
    assert json.loads((two_seed_report/'run.json').read_text())['seeds'] == [0, 1]
