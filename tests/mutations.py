"""Mutation check: break one key mechanism at a time in a copy of the package and run the suite against it.
Every mutation must turn the suite red; the tests that caught it are printed (and recorded in the closing note).

    python tests/mutations.py [NAME ...]     # all mutations, or some; each takes a full pytest run (minutes)

The copy is imported first (PYTHONPATH), so the checkout is never modified."""
import os, re, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTATIONS = {  # name -> (file, what the code says, what the mutant says, notebooks that should catch it too)
    'calibration prior (CNN)': ('cnn.py', [
        ('prior=float(train_y.mean()), calibration=calibration)', 'prior=0.5, calibration=None)')], ['07_cnn']),
    'calibration prior (classical)': ('classical.py', [
        ('        self.calibrated_ = calibrated.fit(X, y)',
         '        balanced = len(y) / (2 * np.bincount(y.astype(int), minlength=2))[y.astype(int)]\n'
         '        self.calibrated_ = calibrated.fit(X, y, sample_weight=balanced)')], ['05_classical']),
    'patient guard': ('data.py', [('    if not shared: return\n', '    return\n')], ['01_data', '05_classical']),
    'TTA average': ('cnn.py', [('    return np.mean(np.asarray(probs, np.float64), axis=0)',
                                '    return np.asarray(probs[0], np.float64)')], ['07_cnn']),
    'class balancing': ('cnn.py', [("    return (len(y) / (2 * np.maximum(counts, 1)))[y].astype('float32')",
                                    "    return np.ones(len(y), 'float32')")], ['07_cnn']),
    'early stopping restore': ('cnn.py', [('restore_best_weights=True', 'restore_best_weights=False')], ['07_cnn']),
    'class balancing (classical)': ('classical.py', [("class_weight='balanced_subsample'", 'class_weight=None'),
                                                     ("class_weight='balanced'", 'class_weight=None')], ['05_classical']),
}

def mutate(name, workdir:Path) -> Path:
    """A copy of the checkout (package and notebooks, the source of truth) with the mutation applied to both;
    `ValueError` if the code to mutate is not found."""
    import json
    copy = workdir/'repo'
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns('.git', '.venv', 'data', 'runs', '__pycache__', '_proc'))
    file, edits, _ = MUTATIONS[name]
    source = (copy/'leukemia_nb'/file).read_text()
    for old, new in edits:
        if old not in source: raise ValueError(f'{name}: {old!r} not found in {file}: update tests/mutations.py')
        source = source.replace(old, new)
    (copy/'leukemia_nb'/file).write_text(source)
    for notebook in (copy/'nbs').glob('*.ipynb'):      # the same edit in the notebook that exports the file
        cells = json.loads(notebook.read_text())
        changed = False
        for cell in cells['cells']:
            text = ''.join(cell['source'])
            for old, new in edits:
                if old in text: text, changed = text.replace(old, new), True
            lines = text.split('\n')
            cell['source'] = [line + '\n' for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
        if changed: notebook.write_text(json.dumps(cells, indent=1, ensure_ascii=False) + '\n')
    return copy

def run(name) -> list:
    "The tests (pytest ids and notebooks) that fail with the mutation in place."
    with tempfile.TemporaryDirectory() as scratch:
        copy = mutate(name, Path(scratch))
        env = dict(os.environ, PYTHONPATH=str(copy), CI='true', LNB_RUNS_DIR=f'{scratch}/runs',
                   LNB_DEMO_DIR=f'{scratch}/demo', LNB_SAMPLE_DIR=f'{scratch}/sample', PYTHONDONTWRITEBYTECODE='1',
                   MPLBACKEND='Agg', TF_CPP_MIN_LOG_LEVEL='3')
        failed = []
        for notebook in MUTATIONS[name][2]:   # run in the copy: its notebooks define the mutated code themselves
            done = subprocess.run([str(Path(sys.executable).parent/'nbdev_test'), '--path', f'nbs/{notebook}.ipynb',
                                   '--n_workers', '0'], cwd=copy, env=env, capture_output=True, text=True)
            if done.returncode != 0: failed.append(f'nbs/{notebook}.ipynb')
        done = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-rf', '-p', 'no:cacheprovider', '-p', 'no:warnings',
                               'tests', '--deselect', 'tests/test_explorer_browser.py'], cwd=copy, env=env,
                              capture_output=True, text=True)
        check = subprocess.run([sys.executable, '-c', 'import leukemia_nb; print(leukemia_nb.__file__)'], cwd=copy,
                               env=env, capture_output=True, text=True).stdout.strip()
        assert check.startswith(str(copy)), f'the tests imported {check}, not the mutated copy'
        failed += re.findall(r'^FAILED (\S+)', done.stdout, re.M) + re.findall(r'^ERROR (\S+)', done.stdout, re.M)
        return failed

if __name__ == '__main__':
    names = sys.argv[1:] or list(MUTATIONS)
    survivors = []
    for name in names:
        caught = run(name)
        print(f'{name}: caught by {len(caught)}: ' + ('; '.join(caught) if caught else 'NOTHING (the suite stayed green)'),
              flush=True)
        if not caught: survivors.append(name)
    sys.exit(1 if survivors else 0)
