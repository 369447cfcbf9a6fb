"Issue 12, part A: synthetic patient ids that cannot pass for real ones; skipped folders are counted."
import os, json, shutil
from pathlib import Path
import pandas as pd, pytest
import leukemia_nb.data as D
from leukemia_nb.data import load_cnmc, name_problems, is_synthetic_patient, parse_cell_name, manifest_from_paths
from leukemia_nb.synthetic import make_cnmc_like, GENERATOR_VERSION
from conftest import TINY

def test_synthetic_patients_are_marked_and_keep_the_H_rule(tiny_root):
    m = load_cnmc(tiny_root)
    pats = m.patient.dropna()
    assert len(pats) and pats.map(is_synthetic_patient).all()
    assert (pats.str.startswith('H') == (m.loc[pats.index, 'label'] == 'hem')).all()
    assert set(pats.str.replace('H', '').str[0]) == {'S'}
    assert (m.loc[pats.index, 'name'].map(lambda n: parse_cell_name(n)['patient']) == pats).all()

def test_no_synthetic_patient_id_is_a_real_one(tiny_root, real_data):
    idx = pd.read_csv(real_data/'cnmc_file_index.tsv', sep='\t')
    real, _ = manifest_from_paths(idx.path, root='/cnmc', labels_csv=real_data/'C-NMC_test_prelim_phase_data_labels.csv')
    real_ids = set(real.patient.dropna())
    assert len(real_ids) == 101 and not any(map(is_synthetic_patient, real_ids))
    assert not real_ids & set(load_cnmc(tiny_root).patient.dropna())

def test_old_generator_version_is_redrawn(tmp_path):
    root = make_cnmc_like(tmp_path, seed=5, **TINY)
    before = {p.relative_to(root) for p in root.rglob('*.bmp')}
    stamp = json.loads((root/'SYNTHETIC.json').read_text())
    stamp['params']['generator'] = GENERATOR_VERSION - 1
    (root/'SYNTHETIC.json').write_text(json.dumps(stamp))
    (root/'training_data/fold_0/all/UID_20_1_1_all.bmp').write_bytes(b'an old-style id')
    assert make_cnmc_like(tmp_path, seed=5, **TINY) == root
    assert {p.relative_to(root) for p in root.rglob('*.bmp')} == before
    assert json.loads((root/'SYNTHETIC.json').read_text())['params']['generator'] == GENERATOR_VERSION
    stamp['params']['generator'], stamp['params']['seed'] = GENERATOR_VERSION - 1, 6  # other settings: refused
    (root/'SYNTHETIC.json').write_text(json.dumps(stamp))
    with pytest.raises(FileExistsError, match='already exists'): make_cnmc_like(tmp_path, seed=5, **TINY)

def _problems(root, kind):
    probs = name_problems(load_cnmc(root))
    return probs[probs.problem == kind]

def test_known_layout_has_no_folder_problems(tiny_root):
    probs = name_problems(load_cnmc(tiny_root))
    assert not probs.problem.isin(['unrecognised folder', 'unreadable folder', 'folder too deep']).any()

def test_unrecognised_folders_are_reported(tiny_copy):
    extra = tiny_copy/'training_data'/'extra_cells'
    extra.mkdir()
    shutil.copy(next(tiny_copy.rglob('UID_*.bmp')), extra/'UID_S999_1_1_all.bmp')
    (extra/'deeper').mkdir(); (extra/'deeper'/'notes.txt').write_text('x')
    (tiny_copy/'misc').mkdir()
    sub = tiny_copy/'validation_data'/'C-NMC_test_prelim_phase_data'/'copies'
    sub.mkdir(); (sub/'1.bmp').write_bytes(b'BM')
    probs = _problems(tiny_copy, 'unrecognised folder')
    assert sorted(probs.file) == sorted(map(str, [extra, tiny_copy/'misc', sub]))  # topmost only, not deeper/
    assert set(probs.severity) == {'warning'}
    assert '2 file(s)' in probs.set_index('file').loc[str(extra), 'detail']
    assert not load_cnmc(tiny_copy).path.str.contains('extra_cells|copies').any()  # nothing there was read

def test_unreadable_folder_is_a_problem_row(tiny_copy, monkeypatch):
    broken = tiny_copy/'training_data'/'fold_1'
    real = os.scandir
    def scandir(path):
        if Path(path) == broken: raise PermissionError(13, 'Permission denied')
        return real(path)
    monkeypatch.setattr(D.os, 'scandir', scandir)
    m = load_cnmc(tiny_copy)
    probs = _problems(tiny_copy, 'unreadable folder')
    assert list(probs.file) == [str(broken)] and set(probs.severity) == {'error'}
    assert 'Permission denied' in probs.detail.iloc[0]
    assert len(m) and not (m.fold == 1).any()

def test_folder_too_deep_is_counted(tmp_path):
    deep = tmp_path.joinpath(*[f'd{k}' for k in range(7)])
    deep.mkdir(parents=True)
    found = []
    list(D._walk(tmp_path, max_depth=3, problems=found))
    assert [(Path(f).name, what, sev) for f, what, _, sev in found] == [('d2', 'folder too deep', 'warning')]
