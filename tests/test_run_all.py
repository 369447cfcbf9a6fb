"""Run All, as a student does it in Jupyter: every cell, the ones nbdev_test skips (`notest`, `slow`, `cuda`) too.
Cells that need a GPU, the full dataset, a network or a finished run must guard themselves and say why they skip."""
import json
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ('notest', 'slow', 'cuda')

def flagged(notebook:Path) -> bool:
    "Whether the notebook has a cell that nbdev_test skips (so only Run All executes it)."
    for cell in json.loads(notebook.read_text())['cells']:
        head = [line for line in ''.join(cell['source']).splitlines() if line.startswith('#|')]
        if cell['cell_type'] == 'code' and any(flag in line for line in head for flag in FLAGS): return True
    return False

NOTEBOOKS = sorted(str(p.relative_to(ROOT/'nbs')) for p in (ROOT/'nbs').rglob('*.ipynb') if flagged(p))

def test_the_notebooks_with_skipped_cells_are_found():
    assert {'07_cnn.ipynb', 'tutorials/tutorial.ipynb', 'tutorials/explorer_app.ipynb'} <= set(NOTEBOOKS), NOTEBOOKS

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_run_all(name, tmp_path, monkeypatch):
    from execnb.nbio import read_nb
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    for variable in ('LNB_DATA', 'LNB_RUN_DIR', 'LNB_REAL_DATA', 'LNB_TUTORIAL_REAL'): monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv('LNB_RUNS_DIR', str(tmp_path/'runs'))    # a laptop without a run or the data, writing nowhere else
    path = ROOT/'nbs'/name
    notebook = read_nb(path)
    shell = CaptureShell(path)
    with working_directory(path.parent):
        shell.run_all(notebook, exc_stop=True)                   # no preproc: every code cell, flags ignored
    printed = '\n'.join(str(output.get('text', '')) for cell in notebook.cells if cell.cell_type == 'code'
                        for output in cell.get('outputs', []))
    if name == '07_cnn.ipynb': assert 'skipped: the full recipe needs the real C-NMC folder' in printed
    if name == 'tutorials/explorer_app.ipynb': assert 'holds no predictions.csv: run `lnb_run` first' in printed
