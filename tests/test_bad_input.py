"Bad input: every command that touches user files names the file and the problem, processes the good cells, and changes nothing."
import re
import shutil
import stat
from pathlib import Path
import pandas as pd, pytest
from conftest import run, snapshot
from badcorpus import make_corpus, EXPECTED



def readonly(root):
    for p in [root, *Path(root).rglob('*')]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))

@pytest.fixture(scope='module')
def corpus(tiny_root, tmp_path_factory):
    d = tmp_path_factory.mktemp('bad')
    cases = make_corpus(tiny_root, d)
    readonly(d)  # a read-only data folder (as root this cannot stop writes: the snapshots below prove none happen)
    yield d/'C-NMC_Leukemia', cases, snapshot(d)
    for p in [d, *d.rglob('*')]: p.chmod(p.stat().st_mode | stat.S_IWUSR)

# what lnb_predict says of each file it cannot use, or must warn about (a word of its line)
PREDICT_REASONS = {
    'corrupt': 'not a readable image', 'truncated': 'not a readable image', 'zero-byte': 'empty file',
    'text named .bmp': 'not a readable image', 'greyscale': 'a 8-bit BMP', 'RGBA': 'a 32-bit BMP',
    '16-bit': 'a 16-bit BMP', 'tiny': 'no cell found', 'huge': 'image is 2400×2400 pixels',
}

def mentioned(text, path, what):
    "Whether one line of `text` names the file and the problem."
    name = Path(path).name
    return any(name in line and re.search(what, line, re.I) for line in text.splitlines())

def listed_problems(text) -> list:
    """`(file, problem, detail)` of every file in lnb_validate's grouped listing: a header `  [severity] problem: n`,
    then one line per file, `      file: detail`, under the header of its problem."""
    rows, problem = [], None
    for line in text.splitlines():
        header = re.match(r'^  \[(\w+)\] (.+): \d+$', line)
        if header: problem = header.group(2); continue
        entry = re.match(r'^      (/.+?\.(?:bmp|csv)(?::\d+)?|/\S+): (.*)$', line)
        if entry and problem: rows.append((entry.group(1), problem, entry.group(2)))
        elif not line.startswith('      '): problem = None
    return rows

def test_lnb_validate_names_every_bad_input(corpus):
    root, cases, before = corpus
    r = run('lnb_validate', root, '--n_jobs', 1)
    assert r.returncode == 0 and 'Traceback' not in r.stderr + r.stdout
    out = r.stdout
    reported = listed_problems(out)
    for case, path in cases.items():
        said = [f'{problem}: {detail}' for file, problem, detail in reported
                if file == str(path) or file.startswith(f'{path}:')]   # a CSV's problems name the file and its line
        assert any(re.search(EXPECTED[case], text, re.I) for text in said), \
            f'{case}: {path.name} is not listed under /{EXPECTED[case]}/ (it is under {said})'
    assert 'usable cell(s)' in out
    assert snapshot(root.parent) == before

def test_lnb_run_processes_the_good_cells(corpus, tmp_path):
    root, cases, before = corpus
    r = run('lnb_run', '--data', root, '--out', tmp_path/'rep', '--cache', tmp_path/'cache', '--quick', '--models', 'rf,nb,cnn')
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert 'Traceback' not in r.stderr
    audit = pd.read_csv(tmp_path/'rep'/'audit.csv')
    for case, path in cases.items():
        rows = audit[(audit.file == str(path)) | audit.file.str.startswith(str(path) + ':')]
        assert len(rows) and rows.apply(lambda x: bool(re.search(EXPECTED[case], f'{x.problem} {x.detail}', re.I)), axis=1).any(), case
    preds = pd.read_csv(tmp_path/'rep'/'predictions.csv')
    good_prelim = {str(p) for p in (root/'validation_data/C-NMC_test_prelim_phase_data').glob('*.bmp')} - {str(cases['image without CSV row']), str(cases['non-numeric label'])}
    assert set(preds.path) == good_prelim and preds.prob.notna().all()
    bad_paths = {str(p) for p in cases.values()}
    assert not bad_paths & set(preds.path)
    md = (tmp_path/'rep'/'report.md').read_text()
    assert 'Audit' in md and 'truncated file' in md
    assert snapshot(root.parent) == before

def test_lnb_predict_on_bad_files(corpus, quick_report, tmp_path):
    root, cases, before = corpus
    files = [p for k, p in cases.items() if k not in ('CSV row without image', 'duplicate CSV row')]
    good = sorted((root/'validation_data/C-NMC_test_prelim_phase_data').glob('*.bmp'))[:2]
    r = run('lnb_predict', quick_report, *files, *good, root/'training_data/fold_1/empty_folder', tmp_path/'nope.bmp', '--csv', tmp_path/'p.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'Traceback' not in r.stderr
    for g in good: assert str(g) in r.stdout
    # a file that cannot be used: one line on stderr naming the file AND why
    for case, reason in PREDICT_REASONS.items():
        assert mentioned(r.stderr, cases[case], reason), f'{case}: {cases[case].name} not named with /{reason}/'
    # lnb_predict reads pixels, not names: a badly named or misfiled cell is still predicted
    for case in ('unparseable name', 'contradictory name', 'all-named cell in hem/'):
        assert any(line.startswith(str(cases[case])) and 'rf=' in line for line in r.stdout.splitlines()), case
    assert mentioned(r.stderr, 'empty_folder', 'no images') and mentioned(r.stderr, 'nope.bmp', 'missing')
    p = pd.read_csv(tmp_path/'p.csv')
    assert {str(g) for g in good} <= set(p.path)
    assert snapshot(root.parent) == before

def test_lnb_predict_on_a_folder_of_good_and_bad_images(corpus, quick_report, tmp_path):
    """A folder as a user has one: good cells and broken files side by side. Every good cell is predicted (stdout and
    the CSV), every file that cannot be used is named on stderr with its reason, and the exit status is 0 because
    some cells were predicted (1 when none could be, 2 for a usage error)."""
    root, cases, _ = corpus
    folder = tmp_path/'mixed'
    folder.mkdir()
    good = sorted((root/'validation_data/C-NMC_test_prelim_phase_data').glob('*.bmp'))[:3]
    for path in good: shutil.copy(path, folder/path.name)
    for case in PREDICT_REASONS: shutil.copy(cases[case], folder/cases[case].name)
    r = run('lnb_predict', quick_report, folder, '--csv', tmp_path/'p.csv')
    assert r.returncode == 0, r.stderr[-2000:]
    assert 'Traceback' not in r.stderr
    predicted = {line.split()[0] for line in r.stdout.splitlines() if 'rf=' in line}
    assert {str(folder/p.name) for p in good} <= predicted, predicted
    for case, reason in PREDICT_REASONS.items():
        assert mentioned(r.stderr, folder/cases[case].name, reason), f'{case}: not named with /{reason}/'
    unreadable = {str(folder/cases[case].name) for case in ('corrupt', 'truncated', 'zero-byte', 'text named .bmp')}
    assert not unreadable & predicted
    table = pd.read_csv(tmp_path/'p.csv')
    assert {str(folder/p.name) for p in good} <= set(table.path) and table[table.path.isin(predicted)].prob.notna().all()

@pytest.fixture
def wrong_header(tiny_root, tmp_path):
    root = tmp_path/'wh'/'C-NMC_Leukemia'; shutil.copytree(tiny_root, root)
    csv = root/'validation_data/C-NMC_test_prelim_phase_data_labels.csv'
    csv.write_text(csv.read_text().replace('Patient_ID,new_names,labels', 'file,name,label'))
    return root

def test_wrong_csv_header(wrong_header, tmp_path):
    before = snapshot(wrong_header)
    r = run('lnb_validate', wrong_header, '--names_only')
    assert r.returncode == 0 and 'wrong CSV header' in r.stdout and 'file,name,label' in r.stdout
    r = run('lnb_run', '--data', wrong_header, '--out', tmp_path/'rep', '--cache', tmp_path/'c', '--quick', '--models', 'nb')
    assert r.returncode == 0, r.stderr[-2000:]
    preds = pd.read_csv(tmp_path/'rep'/'predictions.csv')
    assert set(preds.split) == {'train'}   # no usable prelim labels: held-out training patients are the test set
    assert 'wrong CSV header' in (tmp_path/'rep'/'report.md').read_text()
    assert snapshot(wrong_header) == before

@pytest.mark.parametrize('kind', ['empty data folder', 'empty fold folders'])
def test_empty_folders(tmp_path, kind):
    root = tmp_path/'data'
    if kind == 'empty data folder': root.mkdir()
    else:
        for k in range(3): (root/f'C-NMC_Leukemia/training_data/fold_{k}/all').mkdir(parents=True)
    for cmd in (['lnb_validate', root], ['lnb_run', '--data', root, '--out', tmp_path/'rep', '--quick']):
        r = run(*cmd)
        assert r.returncode != 0 and 'Traceback' not in r.stderr and str(root) in r.stderr, (cmd, r.stderr)

def test_existing_report_is_replaced_whole_or_kept(quick_report, tiny_root, tmp_path):
    import leukemia_nb.pipeline as P, leukemia_nb.report as R
    out = tmp_path/'rep'; shutil.copytree(quick_report, out)
    cache = tmp_path/'cache'; shutil.copytree(quick_report.parent/'cache', cache)   # the session's cache stays as it is
    (out/'stale.txt').write_text('from an older run')
    before = snapshot(out)
    # a failure while the new report is being written leaves the old one untouched
    real = R._report_md
    R._report_md = lambda *a, **k: (_ for _ in ()).throw(RuntimeError('disk full'))
    try:
        with pytest.raises(RuntimeError):
            P.run_pipeline(data=tiny_root, out=out, cache=cache, quick=True, models='nb', verbose=False)
    finally: R._report_md = real
    assert snapshot(out) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.rep')]
    # a successful run replaces it whole
    P.run_pipeline(data=tiny_root, out=out, cache=cache, quick=True, models='nb', verbose=False)
    assert not (out/'stale.txt').exists() and (out/'report.md').exists()
