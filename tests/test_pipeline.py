"lnb_run and lnb_predict from the command line, in quick mode: synthetic data, the real sample, caching, atomic reports."
import json
import subprocess
import shutil
import pandas as pd, pytest
from conftest import BIN, ENV, run



@pytest.fixture
def quick_run(quick_report):
    "The session's quick report (see conftest) and what lnb_run printed while making it."
    return quick_report.parent, subprocess.CompletedProcess([], 0, (quick_report.parent/'run_output.txt').read_text(), '')

def test_report_folder(quick_run):
    d, r = quick_run
    rep = d/'report'
    for f in ('report.md', 'metrics.csv', 'metric_ci.csv', 'predictions.csv', 'audit.csv', 'run.json',
              'figures/confusion.png', 'figures/roc.png', 'figures/patient_accuracy.png', 'figures/metric_bars.png',
              'models/rf.joblib', 'models/knn.joblib', 'models/svm.joblib', 'models/nb.joblib', 'models/cnn.keras',
              'models/cnn.keras.json', 'figures/reliability.png', 'figures/paired.png', 'paired_differences.csv',
              'patients.csv', 'submission/rf.txt', 'submission/cnn.txt', 'submission/final_predictions.csv'):
        assert (rep/f).exists() and (rep/f).stat().st_size > 0, f
    m = pd.read_csv(rep/'metrics.csv', index_col=0)
    assert list(m.index) == ['rf', 'knn', 'svm', 'nb', 'cnn', 'svm_cnn', 'knn_cnn', 'logreg_cnn', 'svm_cnn_hc']
    assert {'weighted_f1', 'accuracy', 'precision', 'recall', 'f1', 'roc_auc', 'sensitivity', 'specificity'} <= set(m.columns)
    p = pd.read_csv(rep/'predictions.csv')
    assert set(p.model) == set(m.index) and p.prob.between(0, 1).all()
    from sklearn.metrics import f1_score, roc_auc_score
    for model, cells in p.groupby('model'):       # the table's figures are those of the predictions it ships
        assert (cells.pred == (cells.prob >= 0.5).astype(int)).all(), model
        assert m.loc[model, 'weighted_f1'] == pytest.approx(f1_score(cells.y, cells.pred, average='weighted')), model
        assert m.loc[model, 'roc_auc'] == pytest.approx(roc_auc_score(cells.y, cells.prob)), model
    patients = pd.read_csv(rep/'patients.csv', dtype={'patient': str}).set_index('patient')   # every test patient
    from leukemia_nb.evaluate import per_patient
    for model, cells in p.groupby('model'):   # diagnosed right: the mean P(all) of its cells on the right side of 0.5
        mine = per_patient(cells.y, cells.prob, cells.patient.astype(str)).set_index('patient')
        assert (patients.loc[mine.index, f'{model} right'] == (mine.call == mine.y)).all(), model
        assert (patients.loc[mine.index, 'cells'] == mine.cells).all(), model
    md = (rep/'report.md').read_text()
    ranked = m.assign(name=m.index).sort_values(['patient_balanced_accuracy', 'weighted_f1', 'name'],
                                                ascending=[False, False, True])   # the answer's stated rule
    assert f'**Recommended: `{ranked.index[0]}`**' in md and md.index('## The answer') < md.index('## Results')
    assert '## Patients' in md and f"| {patients.index[0]} | {patients.label.iloc[0]} |" in md
    assert 'This run used synthetic data' in md and 'weighted_f1' in md and 'figures/confusion.png' in md
    from leukemia_nb.report import FIGURE_TEXT
    for figure in sorted(f.name for f in (rep/'figures').glob('*.png')):   # every figure says what to look at in it
        assert f'(figures/{figure})' in md and md.index(FIGURE_TEXT[figure]) < md.index(f'(figures/{figure})'), figure
    run_json = json.loads((rep/'run.json').read_text())
    assert run_json['settings']['seed'] == 0 and 'scikit_learn' in run_json['versions'] and 'tensorflow' in run_json['versions']
    for stage in ('data', 'audit', 'features', 'model rf', 'model cnn', 'evaluate'):
        assert stage in run_json['times_s'] and f'{stage}:' in r.stdout
    peaks = run_json['peak_memory_gb']   # the whole process tree's peak per stage: Keras and a model at least 0.3 GB
    assert set(peaks) == set(run_json['times_s']) and min(peaks.values()) > 0.1 and peaks['model cnn'] > 0.3, peaks
    assert run_json['machine']['cpus'] >= 1 and run_json['machine']['accelerator'] == 'cpu', run_json['machine']
    assert f"peak memory {max(peaks.values()):.2f} GB" in md and 'Stage times and peak memory' in md
    assert 'report:' in r.stdout  # the report's own time is printed, not recorded inside it

def test_second_run_reuses_cache_and_replaces_report(quick_report, tiny_root, tmp_path):
    d = tmp_path
    shutil.copytree(quick_report, d/'report')
    shutil.copytree(quick_report.parent/'cache', d/'cache')
    first = pd.read_csv(d/'report'/'metrics.csv', index_col=0)
    r = run('lnb_run', '--data', tiny_root, '--out', d/'report', '--cache', d/'cache', '--quick')
    assert r.returncode == 0, r.stderr[-2000:]
    cache = json.loads((d/'report'/'run.json').read_text())['cache']   # what came from the cache, as the run recorded it
    assert cache['features']['computed'] == 0 and set(cache['models'].values()) == {'cache'}, cache
    assert len(cache['models']) == 5
    pd.testing.assert_frame_equal(first, pd.read_csv(d/'report'/'metrics.csv', index_col=0))
    assert not [p for p in d.iterdir() if p.name.startswith('.report')], 'temporary report folders left behind'

def test_lnb_predict(quick_run, tiny_root, tmp_path):
    d, _ = quick_run
    cells = sorted((tiny_root/'validation_data').rglob('*.bmp'))[:3]
    bad = tmp_path/'bad.bmp'; bad.write_text('not an image')
    r = run('lnb_predict', d/'report', *cells, bad, '--csv', tmp_path/'p.csv')
    assert r.returncode == 0, r.stderr
    for c in cells: assert str(c) in r.stdout
    assert 'rf=' in r.stdout and 'cnn=' in r.stdout
    assert str(bad) in r.stderr and 'ERROR' in r.stderr and 'Traceback' not in r.stderr
    assert 'not a diagnostic device' in r.stderr and 'SYNTHETIC' in r.stderr
    p = pd.read_csv(tmp_path/'p.csv')
    assert len(p) == 3 * 9 and set(p.pred_label) <= {'all', 'hem'}   # 9 models: the hybrid heads too
    # a training cell is flagged
    train_cell = sorted((tiny_root/'training_data').rglob('*.bmp'))[0]
    r = run('lnb_predict', d/'report', train_cell, '--models', 'nb')
    assert 'patient was in the training set' in r.stdout

def test_lnb_predict_nothing_usable(quick_run, tmp_path):
    d, _ = quick_run
    r = run('lnb_predict', d/'report', tmp_path/'missing.bmp')
    assert r.returncode != 0 and 'missing' in r.stderr and 'Traceback' not in r.stderr
    r = run('lnb_predict', tmp_path, tmp_path/'missing.bmp')
    assert r.returncode != 0 and 'no saved models' in r.stderr

def test_lnb_run_refuses_output_inside_data(tiny_root):
    r = run('lnb_run', '--data', tiny_root, '--out', tiny_root/'report', '--quick', '--models', 'nb')
    assert r.returncode != 0 and 'inside the data folder' in r.stderr and 'Traceback' not in r.stderr
    assert not (tiny_root/'report').exists()

def test_lnb_run_on_real_sample(real_run):
    "The real sample, every model (quick): a real-data report, the 5 real prelim cells predicted by each model."
    _, out = real_run
    md = (out/'report.md').read_text()
    assert 'This run used real data' in md and 'This run used synthetic data' not in md
    m = pd.read_csv(out/'metrics.csv', index_col=0)
    assert list(m.index) == ['rf', 'knn', 'svm', 'nb', 'cnn', 'svm_cnn', 'knn_cnn', 'logreg_cnn', 'svm_cnn_hc']
    assert (~m.synthetic).all()
    p = pd.read_csv(out/'predictions.csv')
    assert set(p.split) == {'prelim'} and len(p) == len(m) * 5 and p.prob.notna().all()

def test_real_data_run_never_generates_the_demo(tiny_root, tmp_path):
    # without --out the report goes to runs/<data folder name>; choosing that name must not build the synthetic demo
    env = dict(ENV, LNB_DEMO_DIR=str(tmp_path/'demo'), LNB_RUNS_DIR=str(tmp_path/'runs'))   # never the project's runs/
    r = subprocess.run([str(BIN/'lnb_run'), '--data', str(tiny_root), '--cache', str(tmp_path/'cache'), '--quick', '--models', 'nb'],
                       capture_output=True, text=True, timeout=600, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    assert not (tmp_path/'demo').exists()
    assert str(tmp_path/'runs'/'C-NMC_Leukemia'/'report.md') in r.stdout

def test_the_reproduce_line_is_the_command_that_repeats_the_run(quick_report):
    "The report's Reproduce line parses as lnb_run's own arguments and gives back every setting run.json records."
    import re, shlex
    from pathlib import Path
    from fastcore.script import anno_parser
    from leukemia_nb.pipeline import lnb_run
    md = (quick_report/'report.md').read_text()
    argv = shlex.split(re.search(r'## Reproduce\n\n```sh\n(.*)\n```', md).group(1))
    assert argv[0] == 'lnb_run'
    args = anno_parser(lnb_run.__wrapped__).parse_args(argv[1:])
    settings = json.loads((quick_report/'run.json').read_text())['settings']
    assert Path(args.out).resolve() == quick_report.resolve()
    assert Path(args.data).resolve() == Path(settings['data']).resolve()
    assert Path(args.cache).resolve() == Path(settings['cache']).resolve()
    assert args.models.split(',') == settings['models']
    for name in ('seed', 'seeds', 'quick', 'recipe', 'epochs', 'img_size', 'correction', 'fill_gaps', 'refit_all',
                 'final_count', 'weights', 'allow_random_init'):
        assert getattr(args, name) == settings[name], name
    assert args.cnn_folds == settings['cnn_folds'] or (args.cnn_folds is None and not settings['cnn_folds'])
    files = re.search(r'^Files: (.*)$', md, re.M).group(1)
    for name in re.findall(r'`([^`]+)`', files): assert (quick_report/name.rstrip('/')).exists(), name
    assert '`predictions_seeds.csv`' not in files                      # one seed: not written, not listed

def test_the_transductive_differences_have_one_sign_in_the_csv_and_the_report(quick_report):
    "paired_transductive.csv is variant minus model, as the report's table says, row for row."
    import re
    paired = pd.read_csv(quick_report/'paired_transductive.csv')
    assert len(paired) and paired.model_a.str.contains(r'\+').all() and not paired.model_b.str.contains(r'\+').any()
    md = (quick_report/'report.md').read_text()
    for row in paired.itertuples():
        shown = re.search(rf'^\| {re.escape(row.model_a)} − {re.escape(row.model_b)} \| ([+-]\d\.\d+) \[([+-]\d\.\d+), '
                          rf'([+-]\d\.\d+)\]', md, re.M)
        assert shown, row.model_a
        assert [float(x) for x in shown.groups()] == pytest.approx([row.diff, row.lo, row.hi], abs=5e-4)

def test_the_training_side_is_reported(quick_run):
    """Each model's score inside its training patients beside its test score, the CNN's learning curves, and
    thresholds chosen on its out-of-fold training predictions with what they give on the test cells."""
    import numpy as np
    from leukemia_nb.cnn import load_cnn, calibrated
    from leukemia_nb.evaluate import score, threshold_at_specificity, operating_point
    d, _ = quick_run
    rep = d/'report'
    md = (rep/'report.md').read_text()
    training = json.loads((rep/'run.json').read_text())['training']
    cnn = load_cnn(rep/'models'/'cnn.keras')
    oof = calibrated(cnn.oof.prob.to_numpy(float), cnn.calibration, cnn.prior)
    inner = score(cnn.oof.y.astype(int), oof)['weighted_f1']
    assert training['cnn']['inner_weighted_f1'] == pytest.approx(inner, abs=1e-4)   # the out-of-fold score, as saved
    assert training['rf']['inner_weighted_f1'] is None and 'quick mode' in md         # quick mode tunes nothing
    test_f1 = pd.read_csv(rep/'metrics.csv', index_col=0).loc['cnn', 'weighted_f1']
    assert f"| cnn | {training['cnn']['inner_weighted_f1']:.3f} | {test_f1:.3f} |" in md
    assert (rep/'figures'/'cnn_curves.png').exists() and '(figures/cnn_curves.png)' in md
    p = pd.read_csv(rep/'predictions.csv').query("model == 'cnn'")
    threshold = threshold_at_specificity(cnn.oof.y.astype(int), oof, 0.9)   # chosen on training cells only
    fpr, tpr = operating_point(p.y, p.prob, threshold)
    row = next(line for line in md.splitlines() if line.startswith('| cnn | 0.900 |'))
    assert f'| {round(threshold, 4):.3f} |' in row and f'| {round(tpr, 3):.3f} | {round(1 - fpr, 3):.3f} |' in row, row

def test_oof_thresholds_are_chosen_on_training_cells_only():
    "The threshold comes from the out-of-fold training predictions; the test cells only say what it gives."
    from types import SimpleNamespace
    import numpy as np
    from leukemia_nb.pipeline import oof_thresholds
    oof = pd.DataFrame({'y': [0] * 10 + [1] * 10, 'prob': np.r_[np.linspace(0.05, 0.5, 10), np.linspace(0.4, 0.95, 10)]})
    cnn = SimpleNamespace(oof=oof, calibration=None, prior=0.5)   # prior 0.5, no calibration: P(all) as it is
    test = pd.DataFrame({'y': [0, 0, 0, 0, 1, 1, 1, 1], 'prob': [0.1, 0.3, 0.45, 0.9, 0.3, 0.6, 0.7, 0.95]})
    table = oof_thresholds(cnn, test).set_index('target_specificity')
    assert table.loc[0.9, 'threshold'] == pytest.approx(0.4611)    # the lowest keeping 9 of 10 training hem cells below
    assert table.loc[0.9, 'test_specificity'] == 0.75 and table.loc[0.9, 'test_sensitivity'] == 0.75   # not 1.0
    assert table.loc[0.95, 'threshold'] == pytest.approx(0.5222)   # above every training hem cell (0.5 the highest)
