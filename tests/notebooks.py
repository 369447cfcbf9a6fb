"""Run every notebook once, each in a process of its own, two at a time, and time each run.

    python tests/notebooks.py [--jobs 2] [--times FILE] [NOTEBOOK ...]

A notebook with cells that `nbdev_test` skips (`notest`, `slow`, `cuda`: the Colab install, the GPU recipe) runs as a
student's Run All does: every cell, the flagged ones too, which must guard themselves and say why they skip (the
words each must print are in `MUST_PRINT`). The others run as `nbdev_test` runs them. One more run checks another
mode: the tutorial on the real cells that ship with the package (`LNB_TUTORIAL_REAL=1`); the CNN's tests run on a
second Keras backend in tests/test_jax.py. Each run gets its own runs folder and a fresh process: no Keras,
TensorFlow or environment state leaks between notebooks. The demo data and the real sample are made before, once, so that two
notebooks never race to make them.

Exit status 1 if any run failed; every run's time is printed, and written as TSV to `--times`."""
import argparse, json, os, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FLAGS = ('notest', 'slow', 'cuda')
MUST_PRINT = {'07_cnn.ipynb': 'skipped: the full recipe needs the real C-NMC folder',
              'tutorials/explorer_app.ipynb': 'holds no predictions.csv: run `lnb_run` first'}
FIRST = ('tutorials/fair_fight.ipynb', '10_pipeline.ipynb', '07_cnn.ipynb', 'tutorials/tutorial.ipynb',
         '08_explorer.ipynb', '06_evaluate.ipynb')   # the slowest first, so that the two lanes end together

def flagged(notebook:Path) -> bool:
    "Whether the notebook has a code cell that nbdev_test skips (so only Run All executes it)."
    for cell in json.loads(notebook.read_text())['cells']:
        head = [line for line in ''.join(cell['source']).splitlines() if line.startswith('#|')]
        if cell['cell_type'] == 'code' and any(flag in line for line in head for flag in FLAGS): return True
    return False

def execute(name:str, run_all:bool) -> int:
    """Execute `nbs/name` in this process as `nbdev.test.test_nb` does (same processing, `eval: false` kept out),
    every flagged cell too when `run_all`; check what it must print. Exit status 0 when it ran clean."""
    from nbdev.config import get_config
    from nbdev.process import NBProcessor
    from nbdev.frontmatter import FrontmatterProc
    from execnb.shell import CaptureShell
    from fastcore.xtras import working_directory
    path = ROOT/'nbs'/name
    os.environ['IN_TEST'] = '1'
    skip = set() if run_all else set(get_config().tst_flags.split())
    def no_eval(cell):
        if cell.cell_type != 'code' or 'nbdev_export(' in cell.source: return True
        directives = getattr(cell, 'directives_', {}) or {}
        if directives.get('eval:', [''])[0].lower() == 'false': return True
        return skip & directives.keys()
    notebook = NBProcessor(path, procs=FrontmatterProc, process=True).nb
    shell = CaptureShell(path)
    try:
        with working_directory(path.parent): shell.run_all(notebook, exc_stop=True, preproc=no_eval)
    except Exception:
        sys.stderr.write(shell.prettytb(fname=path) + '\n')
        return 1
    printed = '\n'.join(str(output.get('text', '')) for cell in notebook.cells if cell.cell_type == 'code'
                        for output in cell.get('outputs', []))
    if run_all and name in MUST_PRINT and MUST_PRINT[name] not in printed:
        sys.stderr.write(f'{name}: Run All did not print {MUST_PRINT[name]!r}\n')
        return 1
    return 0

def runs() -> list:
    "`(label, notebook, extra environment)` of every run, the slowest first."
    names = [str(p.relative_to(ROOT/'nbs')) for p in sorted((ROOT/'nbs').glob('*.ipynb'))]
    names += [str(p.relative_to(ROOT/'nbs')) for p in sorted((ROOT/'nbs'/'tutorials').glob('*.ipynb'))]
    names = [n for n in FIRST if n in names] + [n for n in names if n not in FIRST]
    out = [(name, name, {}) for name in names]
    from leukemia_nb.data import real_sample
    out.insert(4, ('tutorials/tutorial.ipynb (real cells)', 'tutorials/tutorial.ipynb',
                   dict(LNB_TUTORIAL_REAL='1', LNB_DATA=str(real_sample()))))
    return out

def one(label, name, extra, scratch:Path, threads:int) -> tuple:
    "Run one notebook in a fresh process; `(label, seconds, exit status, what it printed)`."
    runs_dir = Path(tempfile.mkdtemp(prefix='runs-', dir=scratch))     # its own runs folder: no races, no leftovers
    env = dict(os.environ, LNB_RUNS_DIR=str(runs_dir), OMP_NUM_THREADS=str(threads), TF_NUM_INTEROP_THREADS='1',
               TF_NUM_INTRAOP_THREADS=str(threads), LOKY_MAX_CPU_COUNT=str(threads), **extra)
    unset = ('LNB_RUN_DIR', 'LNB_REAL_DATA') + (() if extra.get('LNB_DATA') else ('LNB_DATA', 'LNB_TUTORIAL_REAL'))
    for variable in unset: env.pop(variable, None)    # a laptop without a run or the data, unless this run sets them
    started = time.perf_counter()
    mode = ['--run_all'] if flagged(ROOT/'nbs'/name) else []
    done = subprocess.run([sys.executable, __file__, '--execute', name, *mode], env=env, capture_output=True, text=True,
                          cwd=ROOT)
    return label, time.perf_counter() - started, done.returncode, done.stdout + done.stderr

def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('notebooks', nargs='*', help='names under nbs/ (default: every run)')
    parser.add_argument('--jobs', type=int, default=2, help='notebooks at a time')
    parser.add_argument('--times', help='write `label<TAB>seconds<TAB>status` of every run here')
    parser.add_argument('--execute', help=argparse.SUPPRESS)
    parser.add_argument('--run_all', action='store_true', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.execute: sys.exit(execute(args.execute, args.run_all))
    todo = [r for r in runs() if not args.notebooks or r[1] in args.notebooks or r[0] in args.notebooks]
    from leukemia_nb.synthetic import demo_dataset
    demo_dataset()                                        # made once, before two notebooks could race to make it
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    failed, rows = [], []
    with tempfile.TemporaryDirectory(prefix='lnb-notebooks-') as scratch:
        with ThreadPoolExecutor(args.jobs) as pool:
            for label, seconds, status, printed in pool.map(lambda r: one(*r, Path(scratch), threads), todo):
                print(f'{"ok  " if status == 0 else "FAIL"} {seconds:6.1f} s  {label}', flush=True)
                if status: failed.append(label); print(printed[-6000:], flush=True)
                rows.append(f'notebook {label}\t{seconds:.1f}\t{status}')
    if args.times: Path(args.times).write_text('\n'.join(rows) + '\n')
    if failed: print('notebooks that failed:', *failed, sep='\n  ')
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
