"""The challenge submission: numeric order, one line per final image (no gap, no collision, 2,586 on real C-NMC), the
zip CodaLab took, the fallback, `--fill_gaps`, `--refit_all`, and the files lnb_run writes."""
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
import numpy as np, pandas as pd, pytest
from leukemia_nb.report import (submission_order, submission_table, write_submission, write_submission_zip,
                                final_image_number, final_numbering, CNMC_FINAL_COUNT, SUBMISSION_FILE)
from leukemia_nb.data import manifest_from_paths
from conftest import BIN, ENV


def final_folder(root):
    return next(Path(root).rglob('C-NMC_test_final_phase_data'))

def test_order_and_count_of_the_real_final_phase(real_data):
    index = pd.read_csv(real_data/'cnmc_file_index.tsv', sep='\t')
    final = [p for p in index.path if '/C-NMC_test_final_phase_data/' in p and p.lower().endswith('.bmp')]
    assert len(final) == CNMC_FINAL_COUNT
    shuffled = list(np.random.default_rng(0).permutation(final))
    ordered = submission_order(shuffled)
    assert len(ordered) == 2586
    assert [Path(p).name for p in ordered] == [f'{k}.bmp' for k in range(1, 2587)]
    assert sorted(final) != ordered   # a plain sort puts 10.bmp after 1.bmp
    # the same cells through the manifest, as lnb_run sees them
    man, _ = manifest_from_paths(index.path, root=real_data)
    fin = man[man.split == 'final']
    table = submission_table(fin.path, np.linspace(0, 1, len(fin)), fallback=1, expected_count=CNMC_FINAL_COUNT)
    assert table.number.tolist() == list(range(1, 2587)) and (table.source == 'model').all()
    assert [Path(p).name for p in table.path] == [f'{k}.bmp' for k in range(1, 2587)]
    with pytest.raises(ValueError, match=r'missing from 1 … 2586 \(2585 images found; the final phase has 2586\): '
                                         r'1234\.bmp\.'):
        final_numbering(fin.path[fin.name != '1234.bmp'], expected_count=CNMC_FINAL_COUNT)

def test_a_gap_is_an_error_naming_the_missing_number():
    with pytest.raises(ValueError) as error:
        submission_table(['/f/1.bmp', '/f/2.bmp', '/f/4.bmp', '/f/7.bmp'], [0.2, 0.3, 0.4, 0.5], fallback=1)
    assert 'missing from 1 … 7 (4 images found): 3.bmp, 5.bmp, 6.bmp' in str(error.value)
    assert '--fill_gaps' in str(error.value)

def test_a_collision_is_an_error_naming_both_files():
    with pytest.raises(ValueError) as error:
        submission_table(['/f/01.bmp', '/f/2.bmp', '/f/1.bmp'], [0.2, 0.3, 0.4], fallback=1)
    assert '/f/01.bmp and /f/1.bmp (image 1)' in str(error.value)
    with pytest.raises(ValueError, match='used by more than one file'):   # fill_gaps does not help a collision
        final_numbering(['/f/01.bmp', '/f/1.bmp'], fill_gaps=True)
    # in a run: no table, and the error for the report
    from leukemia_nb.pipeline import _submissions
    man = pd.DataFrame({'split': ['final'] * 3, 'path': ['/f/2.bmp', '/f/1.bmp', '/f/01.bmp']})
    tables, unnumbered, message = _submissions(man, man, {'rf': [0.1, 0.2, 0.3]}, fallback=1)
    assert tables == {} and unnumbered == [] and '/f/01.bmp and /f/1.bmp (image 1)' in message

def test_the_line_count_is_the_images_found_or_the_expected_count():
    paths = [f'/f/{k}.bmp' for k in np.random.default_rng(1).permutation(np.arange(1, 9))]
    assert len(submission_table(paths, np.full(8, 0.7), fallback=0)) == 8
    # a lost tail is invisible without the count the final phase must have, and an error with it
    with pytest.raises(ValueError, match=r'missing from 1 … 10 \(8 images found; the final phase has 10\): '
                                         r'9\.bmp, 10\.bmp'):
        submission_table(paths, np.full(8, 0.7), fallback=0, expected_count=10)
    with pytest.raises(ValueError, match=r'missing from 1 … 2586 .*: 9\.bmp … 2586\.bmp'):
        submission_table(paths, np.full(8, 0.7), fallback=0, expected_count=CNMC_FINAL_COUNT)
    with pytest.raises(ValueError, match='numbered outside 1 … 5: 6.bmp, 7.bmp, 8.bmp'):
        final_numbering(paths, expected_count=5)
    filled = submission_table(paths, np.full(8, 0.7), fallback=0, expected_count=10, fill_gaps=True)
    assert len(filled) == 10 and filled.label.tolist() == [1] * 8 + [0, 0]

def test_unpredictable_and_missing_cells_get_the_fallback(tmp_path):
    t = submission_table(['/f/2.bmp', '/f/3.bmp', '/f/5.bmp'], [0.2, np.nan, 0.7], fallback=1, fill_gaps=True)
    assert t.number.tolist() == [1, 2, 3, 4, 5]
    assert t.label.tolist() == [1, 0, 1, 1, 1]
    assert t.source.tolist()[:3] == ['fallback: no image with this number', 'model',
                                     'fallback: no prediction (unusable image or features)']
    f = write_submission(t, tmp_path/'m.txt')
    assert f.read_text() == '1\n0\n1\n1\n1\n'
    with pytest.raises(ValueError, match='not a final-phase image name'): final_image_number('/f/UID_1_1_1_all.bmp')

def test_the_zip_holds_only_the_challenge_file(tmp_path):
    t = submission_table([f'/f/{k}.bmp' for k in (3, 1, 2)], [0.9, 0.1, 0.5], fallback=0)
    z = write_submission_zip(t, tmp_path/'sub'/'rf.zip')
    with zipfile.ZipFile(z) as archive:
        assert archive.namelist() == [SUBMISSION_FILE] == ['isbi_valid.predict']
        assert archive.read(SUBMISSION_FILE) == b'0\n1\n1\n'
    assert [p.name for p in (tmp_path/'sub').iterdir()] == ['rf.zip']   # no temporary file left behind

def test_lnb_run_writes_a_submission_per_model(quick_report, tiny_root):
    n_final = len(list((tiny_root/'testing_data').rglob('*.bmp')))
    assert n_final == 3
    for model in ('rf', 'knn', 'svm', 'nb', 'cnn'):
        lines = (quick_report/'submission'/f'{model}.txt').read_text().splitlines()
        assert len(lines) == n_final and set(lines) <= {'0', '1'}
        with zipfile.ZipFile(quick_report/'submission'/f'{model}.zip') as archive:
            assert archive.namelist() == ['isbi_valid.predict']
            assert archive.read('isbi_valid.predict').decode().splitlines() == lines
    details = pd.read_csv(quick_report/'submission'/'final_predictions.csv')
    assert len(details) == 9 * n_final and details.synthetic.all() and not details.refit.any()
    rf = details[details.model == 'rf'].sort_values('number')
    assert rf.label.tolist() == [int(v) for v in (quick_report/'submission'/'rf.txt').read_text().split()]
    assert ((rf.prob >= 0.5).astype(int) == rf.label).all()
    md = (quick_report/'report.md').read_text()
    assert '## Challenge submission' in md and '`submission/rf.zip` (`submission/rf.txt`)' in md
    assert 'lines: 3, one per image number 1 … N' in md
    for f in ('figures/reliability.png', 'figures/paired.png', 'figures/family_importance.png',
              'paired_differences.csv', 'family_importance.csv'):
        assert (quick_report/f).stat().st_size > 0, f

def test_unusable_final_cells_keep_their_lines(tiny_copy, tmp_path):
    "A final image that fails the audit still gets its line (the fallback); a name that is not a number gets none."
    from leukemia_nb.pipeline import run_pipeline
    final_dir = final_folder(tiny_copy)
    broken = final_dir/'2.bmp'
    broken.write_bytes(broken.read_bytes()[:500])   # truncated: an audit error
    shutil.copy(final_dir/'1.bmp', final_dir/'extra.bmp')
    res = run_pipeline(data=tiny_copy, out=tmp_path/'rep', cache=tmp_path/'cache', quick=True, models='nb',
                       verbose=False, n_jobs=1)
    t = res['submissions']['nb']
    assert t.number.tolist() == [1, 2, 3] and t.source.tolist()[1].startswith('fallback')
    assert t.label.tolist()[1] == 1   # the majority training class of the synthetic data: all
    assert len((tmp_path/'rep'/'submission'/'nb.txt').read_text().splitlines()) == 3
    md = (tmp_path/'rep'/'report.md').read_text()
    assert 'nb: 1 (2.bmp)' in md and '`extra.bmp`' in md

def test_a_gap_leaves_out_the_submission_not_the_report(tiny_copy, tmp_path):
    "lnb_run's default on a gap: exit status 0, the whole evaluation report, no submission, and the reason."
    (final_folder(tiny_copy)/'2.bmp').unlink()
    r = subprocess.run([str(BIN/'lnb_run'), '--data', str(tiny_copy), '--out', str(tmp_path/'rep'), '--cache',
                        str(tmp_path/'cache'), '--quick', '--models', 'nb', '--n_jobs', '1'],
                       capture_output=True, text=True, timeout=600, env=ENV)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'submission NOT written' in r.stderr and '2.bmp' in r.stderr and 'Traceback' not in r.stderr
    rep = tmp_path/'rep'
    assert (rep/'metrics.csv').exists() and (rep/'models'/'nb.joblib').exists()
    assert not (rep/'submission').exists()
    md = (rep/'report.md').read_text()
    section = md[md.index('## Challenge submission'):md.index('## Model card')]
    assert '**No submission written.**' in section and 'missing from 1 … 3 (2 images found): 2.bmp' in section
    assert '--fill_gaps' in section
    assert 'Submitted models' not in md
    assert json.loads((rep/'run.json').read_text())['final']['submission_error'].startswith('1 final-phase image')

def test_fill_gaps_fills_and_lists_the_missing_numbers(tiny_copy, tmp_path):
    from leukemia_nb.pipeline import run_pipeline
    (final_folder(tiny_copy)/'2.bmp').unlink()
    res = run_pipeline(data=tiny_copy, out=tmp_path/'rep', cache=tmp_path/'cache', quick=True, models='nb',
                       verbose=False, n_jobs=1, fill_gaps=True)
    t = res['submissions']['nb']
    assert t.number.tolist() == [1, 2, 3] and t.source[1] == 'fallback: no image with this number'
    assert len((tmp_path/'rep'/'submission'/'nb.txt').read_text().splitlines()) == 3
    md = (tmp_path/'rep'/'report.md').read_text()
    assert '1 image number(s) have no image and were filled with the fallback label (`--fill_gaps`): 2.bmp.' in md
    assert ' --fill_gaps' in md[md.index('## Reproduce'):]
    assert json.loads((tmp_path/'rep'/'run.json').read_text())['final']['filled_numbers'] == [2]

def test_real_final_phase_must_have_2586_images(tiny_copy, tmp_path):
    "The real layout without the synthetic stamp is taken for real C-NMC: 3 final images are not a submission."
    from leukemia_nb.pipeline import run_pipeline, _expected_final_count
    from leukemia_nb.synthetic import is_synthetic
    for stamp in tiny_copy.parent.rglob('SYNTHETIC.json'): stamp.unlink()
    assert not is_synthetic(tiny_copy)
    final = pd.DataFrame({'path': [str(p) for p in final_folder(tiny_copy).glob('*.bmp')]})
    assert _expected_final_count(None, False, final) == (CNMC_FINAL_COUNT, 'the C-NMC final phase')
    assert _expected_final_count(0, False, final) == (None, None)
    res = run_pipeline(data=tiny_copy, out=tmp_path/'rep', cache=tmp_path/'cache', quick=True, models='nb',
                       verbose=False, n_jobs=1)
    assert res['submissions'] == {} and not (tmp_path/'rep'/'submission').exists()
    md = (tmp_path/'rep'/'report.md').read_text()
    assert 'missing from 1 … 2586 (3 images found; the final phase has 2586): 4.bmp … 2586.bmp' in md
    assert '`--final_count 0`' in md
    # told to check against the images found, it writes the 3 lines
    res = run_pipeline(data=tiny_copy, out=tmp_path/'rep', cache=tmp_path/'cache', quick=True, models='nb',
                       verbose=False, n_jobs=1, final_count=0)
    assert len((tmp_path/'rep'/'submission'/'nb.txt').read_text().splitlines()) == 3

def test_refit_all_submits_models_refitted_on_train_and_test(tiny_root, tmp_path):
    from leukemia_nb.pipeline import run_pipeline
    from leukemia_nb.classical import load_model
    from leukemia_nb.data import load_cnmc
    args = dict(data=tiny_root, quick=True, models='rf,nb', seed=0, verbose=False, n_jobs=1)
    plain = run_pipeline(out=tmp_path/'plain', cache=tmp_path/'cache_plain', **args)
    refit = run_pipeline(out=tmp_path/'refit', cache=tmp_path/'cache_refit', refit_all=True, **args)
    # the evaluation is that of the train-only models, whatever the flag
    pd.testing.assert_frame_equal(plain['metrics'], refit['metrics'])
    read = lambda out: pd.read_csv(tmp_path/out/'metrics.csv')
    pd.testing.assert_frame_equal(read('plain'), read('refit'))
    man = load_cnmc(tiny_root)
    prelim, training = set(man.patient[man.split == 'prelim']), set(man.patient[man.split == 'train'])
    for name in ('rf', 'nb'):
        evaluated = load_model(tmp_path/'refit'/'models'/f'{name}.joblib')
        refitted = load_model(tmp_path/'refit'/'models'/'refit_all'/f'{name}.joblib')
        assert not prelim & set(evaluated.train_patients)
        assert set(refitted.train_patients) == prelim | training
        assert refitted.provenance['cells'] == int(man.y.notna().sum())
        lines = (tmp_path/'refit'/'submission'/f'{name}.txt').read_text().splitlines()
        assert len(lines) == 3 and set(lines) <= {'0', '1'}
        with zipfile.ZipFile(tmp_path/'refit'/'submission'/f'{name}.zip') as archive:
            assert archive.read('isbi_valid.predict').decode().splitlines() == lines
    # the refitted models sit in the cache beside the train-only ones, under other keys
    assert len(list((tmp_path/'cache_refit'/'models').glob('rf-*.joblib'))) == 2
    assert len(list((tmp_path/'cache_refit'/'models').glob('nb-*.joblib'))) == 2
    assert {p.name for p in (tmp_path/'cache_plain'/'models').glob('*.joblib')} < \
           {p.name for p in (tmp_path/'cache_refit'/'models').glob('*.joblib')}
    md = (tmp_path/'refit'/'report.md').read_text()
    n_cells, n_patients = int(man.y.notna().sum()), len(prelim | training)
    assert '**Refitted for the submission** (`--refit_all`)' in md
    assert f'rf ({n_cells} cells, {n_patients} patients), nb ({n_cells} cells, {n_patients} patients)' in md
    card = md[md.index('## Model card'):md.index('## Data')]
    assert f'rf on {n_cells} cells of {n_patients} patients; nb on {n_cells} cells of {n_patients} patients' in card
    assert ' --refit_all' in md[md.index('## Reproduce'):]
    run = json.loads((tmp_path/'refit'/'run.json').read_text())
    assert sorted(run['final']['refit']['models']) == ['nb', 'rf'] and run['settings']['refit_all'] is True
    assert pd.read_csv(tmp_path/'refit'/'submission'/'final_predictions.csv').refit.all()
    assert 'Refitted for the submission' not in (tmp_path/'plain'/'report.md').read_text()
