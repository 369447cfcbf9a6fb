"""Execute notebooks in place and save their outputs, skipping the cells `nbdev_test` skips (the `tst_flags` of
settings.ini: notest, slow, cuda). Called by tests/refresh_notebooks.sh."""
import sys
import time
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory

SKIP_FLAGS = {'notest', 'slow', 'cuda', 'eval: false'}

def _flags(source:str) -> set:
    "The nbdev directives at the top of a cell (`#| slow` -> 'slow')."
    flags = set()
    for line in source.splitlines():
        if not line.startswith('#|'): break
        flags |= set(line[2:].strip().lower().split())
        if line[2:].strip().lower().startswith('eval: false'): flags.add('eval: false')
    return flags

def refresh(path:Path):
    notebook = read_nb(path)
    for cell in notebook.cells:
        if cell.cell_type == 'code':
            cell.outputs = []
            cell.execution_count = None
    skip = lambda cell: cell.cell_type != 'code' or bool(_flags(cell.source) & SKIP_FLAGS)
    shell = CaptureShell(path)
    with working_directory(path.parent):
        shell.run_all(notebook, exc_stop=True, preproc=skip)
    write_nb(notebook, path)

if __name__ == '__main__':
    for name in sys.argv[1:]:
        start = time.time()
        refresh(Path(name).resolve())
        print(f'{name}: {time.time() - start:.0f} s, {Path(name).stat().st_size // 1024} KB', flush=True)
