"The challenge submission: numeric image order, one line per image number, the fallback, the files lnb_run writes."
import shutil
from pathlib import Path
import numpy as np, pandas as pd, pytest
from leukemia_nb.pipeline import submission_order, submission_table, write_submission, final_image_number
from leukemia_nb.data import manifest_from_paths

def test_order_and_count_of_the_real_final_phase(real_data):
    index = pd.read_csv(real_data/'cnmc_file_index.tsv', sep='\t')
    final = [p for p in index.path if '/C-NMC_test_final_phase_data/' in p and p.lower().endswith('.bmp')]
    shuffled = list(np.random.default_rng(0).permutation(final))
    ordered = submission_order(shuffled)
    assert len(ordered) == 2586
    assert [Path(p).name for p in ordered] == [f'{k}.bmp' for k in range(1, 2587)]
    assert sorted(final) != ordered   # a plain sort puts 10.bmp after 1.bmp
    # the same cells through the manifest, as lnb_run sees them
    man, _ = manifest_from_paths(index.path, root=real_data)
    fin = man[man.split == 'final']
    table = submission_table(fin.path, np.linspace(0, 1, len(fin)), fallback=1)
    assert table.number.tolist() == list(range(1, 2587)) and (table.source == 'model').all()
    assert [Path(p).name for p in table.path] == [f'{k}.bmp' for k in range(1, 2587)]

def test_unpredictable_and_missing_cells_get_the_fallback(tmp_path):
    t = submission_table(['/f/2.bmp', '/f/3.bmp', '/f/5.bmp'], [0.2, np.nan, 0.7], fallback=1)
    assert t.number.tolist() == [1, 2, 3, 4, 5]
    assert t.label.tolist() == [1, 0, 1, 1, 1]
    assert t.source.tolist()[:3] == ['fallback: no image with this number', 'model',
                                     'fallback: no prediction (unusable image or features)']
    f = write_submission(t, tmp_path/'m.txt')
    assert f.read_text() == '1\n0\n1\n1\n1\n'
    with pytest.raises(ValueError, match='not a final-phase image name'): final_image_number('/f/UID_1_1_1_all.bmp')

def test_lnb_run_writes_a_submission_per_model(quick_report, tiny_root):
    n_final = len(list((tiny_root/'testing_data').rglob('*.bmp')))
    assert n_final == 3
    for model in ('rf', 'knn', 'svm', 'nb', 'cnn'):
        lines = (quick_report/'submission'/f'{model}.txt').read_text().splitlines()
        assert len(lines) == n_final and set(lines) <= {'0', '1'}
    details = pd.read_csv(quick_report/'submission'/'final_predictions.csv')
    assert len(details) == 5 * n_final and details.synthetic.all()
    rf = details[details.model == 'rf'].sort_values('number')
    assert rf.label.tolist() == [int(v) for v in (quick_report/'submission'/'rf.txt').read_text().split()]
    assert ((rf.prob >= 0.5).astype(int) == rf.label).all()
    md = (quick_report/'report.md').read_text()
    assert '## Challenge submission' in md and '`submission/rf.txt`' in md
    for f in ('figures/reliability.png', 'figures/paired.png', 'figures/family_importance.png',
              'paired_differences.csv', 'family_importance.csv'):
        assert (quick_report/f).stat().st_size > 0, f

def test_unusable_final_cells_keep_their_lines(tiny_copy, tmp_path):
    "A final image that fails the audit still gets its line (the fallback); a name that is not a number gets none."
    from leukemia_nb.pipeline import run_pipeline
    final_dir = next((tiny_copy/'testing_data').rglob('C-NMC_test_final_phase_data'))
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
