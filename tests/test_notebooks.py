"""Every notebook, once, in a process of its own (see `tests/notebooks.py`): as `nbdev_test` runs it, or as a student's
Run All does where it has cells that `nbdev_test` skips; the tutorial on the shipped real cells. Then nbdev's processing of every notebook for the docs site (what `nbdev_docs` runs before Quarto)."""
import pytest
from conftest import ROOT, SCRATCH, built_once, docs_processed
import notebooks

RUNS = notebooks.runs()

def test_the_notebooks_with_skipped_cells_are_found():
    found = {name for _, name, _ in RUNS if notebooks.flagged(ROOT/'nbs'/name)}
    assert {'07_cnn.ipynb', 'tutorials/tutorial.ipynb', 'tutorials/explorer_app.ipynb'} <= found, found
    assert set(notebooks.MUST_PRINT) <= found

@pytest.mark.notebook
@pytest.mark.parametrize('label,name,extra', RUNS, ids=[label for label, _, _ in RUNS])
def test_notebook(label, name, extra):
    from leukemia_nb.synthetic import demo_dataset
    built_once('demo', lambda folder: demo_dataset())     # made once per run, never by two notebooks at a time
    label, seconds, status, printed = notebooks.one(label, name, extra, SCRATCH, threads=1)
    assert status == 0, f'{label} failed after {seconds:.0f} s:\n{printed[-6000:]}'

def test_docs_processing_keeps_every_page():
    processed = docs_processed()
    pages = {str(p.relative_to(ROOT/'nbs')) for p in (ROOT/'nbs').rglob('*.ipynb')}
    made = {str(p.relative_to(processed)) for p in processed.rglob('*.ipynb')}
    assert pages <= made, sorted(pages - made)
