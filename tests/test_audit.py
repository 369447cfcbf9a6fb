"The audit catches each listed problem in generated bad files, and never writes into the data folder."
import shutil
import subprocess
import sys
from pathlib import Path
import cv2, numpy as np, pandas as pd, pytest
from leukemia_nb.data import load_cnmc, audit_cnmc, usable, DatasetError
from conftest import snapshot

def _train_cells(root):
    return sorted((root/'training_data').rglob('*.bmp'))

def _problems_for(root):
    m = load_cnmc(root)
    return m, audit_cnmc(m, n_jobs=1, progress=False)

def _has(probs, path, what):
    rows = probs[(probs.file == str(path)) & (probs.problem == what)]
    assert len(rows) == 1, f'{what} not reported for {path}:\n{probs.to_string()}'
    return rows.iloc[0]

def test_each_bad_file_is_reported(tiny_copy):
    root = tiny_copy
    cells = _train_cells(root)
    hem = [c for c in cells if c.parent.name == 'hem']
    alls = [c for c in cells if c.parent.name == 'all']
    fold0_all = root/'training_data/fold_0/all'
    # corrupt / truncated / zero-byte / text named .bmp
    b = alls[0].read_bytes()
    trunc = fold0_all/'UID_901_1_1_all.bmp'; trunc.write_bytes(b[:len(b)//2])
    empty = fold0_all/'UID_902_1_1_all.bmp'; empty.write_bytes(b'')
    text = fold0_all/'UID_903_1_1_all.bmp'; text.write_text('not an image at all\n')
    corrupt = fold0_all/'UID_904_1_1_all.bmp'; corrupt.write_bytes(b[:54] + b'\xff' * 10)
    # greyscale, size, blank
    img = cv2.imread(str(alls[1]))
    grey = fold0_all/'UID_905_1_1_all.bmp'; cv2.imwrite(str(grey), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    small = fold0_all/'UID_906_1_1_all.bmp'; cv2.imwrite(str(small), cv2.resize(img, (300, 200)))
    blank = fold0_all/'UID_907_1_1_all.bmp'; cv2.imwrite(str(blank), np.zeros_like(img))
    # names: unparseable, self-contradicting, folder label differs
    odd = fold0_all/'cell_17.bmp'; shutil.copy(alls[2], odd)
    contra = fold0_all/'UID_H908_1_1_all.bmp'; shutil.copy(alls[2], contra)
    misfiled = root/'training_data/fold_0/hem'/'UID_909_1_1_all.bmp'; shutil.copy(alls[3], misfiled)
    # the same pixels under two patients, and under two labels
    dup_pat = fold0_all/'UID_910_1_1_all.bmp'; shutil.copy(alls[0], dup_pat)
    dup_lab = root/'training_data/fold_0/hem'/'UID_H911_1_1_hem.bmp'; shutil.copy(alls[1], dup_lab)
    before = snapshot(root)
    m, probs = _problems_for(root)
    assert snapshot(root) == before, 'the audit changed the data folder'
    _has(probs, trunc, 'truncated file')
    _has(probs, empty, 'empty file')
    _has(probs, text, 'not a BMP')
    assert probs[(probs.file == str(corrupt))].problem.isin(['truncated file', 'unreadable image']).any()
    assert 'unexpected bit depth' in set(probs[probs.file == str(grey)].problem) or 'unexpected channels' in set(probs[probs.file == str(grey)].problem)
    assert _has(probs, small, 'unexpected size').severity == 'warning'
    _has(probs, blank, 'blank image')
    _has(probs, odd, 'unparseable name')
    assert 'contradicts' in _has(probs, contra, 'unparseable name').detail
    _has(probs, misfiled, 'folder label differs from name')
    _has(probs, dup_pat, 'same pixels under two patients'); _has(probs, alls[0], 'same pixels under two patients')
    assert len(probs[(probs.file == str(dup_lab))]) == 1
    assert probs[probs.file == str(dup_lab)].problem.iloc[0] in ('same pixels under two labels', 'same pixels under two patients')
    ok = usable(m, probs)
    bad = {trunc, empty, text, corrupt, blank, odd, contra, misfiled, dup_pat}
    assert not set(map(str, bad)) & set(ok.path)
    assert str(small) in set(ok.path)  # a warning keeps the cell

def test_prelim_csv_problems(tiny_copy):
    root = tiny_copy
    csv = root/'validation_data/C-NMC_test_prelim_phase_data_labels.csv'
    prelim = root/'validation_data/C-NMC_test_prelim_phase_data'
    lab = pd.read_csv(csv, dtype=str)
    extra = prelim/f'{len(lab) + 1}.bmp'; shutil.copy(prelim/'1.bmp', extra)           # image without a CSV row
    lab = pd.concat([lab, pd.DataFrame([['UID_77_1_1_all.bmp', '999.bmp', '1']], columns=lab.columns)])  # row without image
    lab.loc[lab.new_names == '2.bmp', 'labels'] = 'x'                                    # non-numeric label
    lab.to_csv(csv, index=False)
    m, probs = _problems_for(root)
    _has(probs, extra, 'image without CSV row')
    assert (probs.problem == 'CSV rows without an image').sum() == 1
    bad = probs[probs.problem == 'bad label in CSV']
    assert len(bad) == 2 and {str(prelim/'2.bmp'), f'{csv}:3'} == set(bad.file)   # the CSV line and the image it leaves unlabeled
    assert str(prelim/'2.bmp') not in set(m.path)

def test_final_phase_size_is_expected(tiny_root):
    m, probs = _problems_for(tiny_root)
    assert (m.split == 'final').sum() == 3
    assert not len(probs[probs.problem == 'unexpected size'])

def test_tcia_layout(tiny_root, tmp_path):
    t = tmp_path/'tcia'
    shutil.copytree(tiny_root/'training_data', t/'C-NMC_training_data')
    shutil.copytree(tiny_root/'validation_data/C-NMC_test_prelim_phase_data', t/'C-NMC_test_prelim_phase_data')
    shutil.copy(tiny_root/'validation_data/C-NMC_test_prelim_phase_data_labels.csv', t)
    a, b = load_cnmc(tiny_root), load_cnmc(t)
    assert len(b) == (a.split != 'final').sum()
    assert list(b.name) == list(a[a.split != 'final'].name)

def test_partial_dataset_loads_what_is_there(tiny_root, tmp_path):
    shutil.copytree(tiny_root/'training_data/fold_1', tmp_path/'C-NMC_Leukemia/training_data/fold_1')
    m = load_cnmc(tmp_path)
    assert set(m.split) == {'train'} and set(m.fold) == {1}

def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match='no such folder'): load_cnmc(tmp_path/'nope')

def _cli(*args):
    exe = Path(sys.executable).parent/'lnb_validate'
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=300)

def test_lnb_validate_reports(tiny_copy):
    (tiny_copy/'training_data/fold_0/all/UID_999_1_1_all.bmp').write_bytes(b'')
    r = _cli(tiny_copy, '--n_jobs', 1)
    assert r.returncode == 0, r.stderr
    assert 'train' in r.stdout and 'empty file' in r.stdout and 'UID_999_1_1_all.bmp' in r.stdout
    assert 'Traceback' not in r.stderr

@pytest.mark.parametrize('kind', ['missing', 'empty', 'file'])
def test_lnb_validate_nothing_loadable(tmp_path, kind):
    p = tmp_path/'x'
    if kind == 'empty': p.mkdir()
    if kind == 'file': p.write_text('hi')
    r = _cli(p)
    assert r.returncode != 0 and 'Traceback' not in r.stderr and str(p) in r.stderr
