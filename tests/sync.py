"""The notebooks are the source of truth: exporting them again must give the package byte for byte.

    python tests/sync.py

`nbdev_export` runs in a scratch copy of the notebooks, settings and package (a git checkout or not), and every
file of `leukemia_nb/` that it would add, change or remove is named. The checkout is never written."""
import filecmp, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def drift() -> list:
    "The package files that `nbdev_export` would add, change or remove."
    with tempfile.TemporaryDirectory(prefix='lnb-sync-') as scratch:
        copy = Path(scratch)
        shutil.copytree(ROOT/'nbs', copy/'nbs', ignore=shutil.ignore_patterns('.ipynb_checkpoints', '_proc'))
        shutil.copytree(ROOT/'leukemia_nb', copy/'leukemia_nb', ignore=shutil.ignore_patterns('__pycache__'))
        shutil.copy(ROOT/'settings.ini', copy)
        done = subprocess.run([str(Path(sys.executable).parent/'nbdev_export')], cwd=copy, capture_output=True, text=True)
        if done.returncode: sys.exit(f'nbdev_export failed:\n{done.stdout}{done.stderr}')
        def listing(root): return {str(p.relative_to(root)) for p in root.rglob('*.py') if '__pycache__' not in p.parts}
        before, after = listing(ROOT/'leukemia_nb'), listing(copy/'leukemia_nb')
        changed = [f'changed: {name}' for name in sorted(before & after)
                   if not filecmp.cmp(ROOT/'leukemia_nb'/name, copy/'leukemia_nb'/name, shallow=False)]
        return changed + [f'added: {n}' for n in sorted(after - before)] + [f'removed: {n}' for n in sorted(before - after)]

if __name__ == '__main__':
    found = drift()
    if found:
        print('nbdev_export changes leukemia_nb/: export the notebooks (nbdev_export) and commit:', *found, sep='\n  ')
        sys.exit(1)
    print('nbdev_export leaves leukemia_nb/ as it is: the notebooks and the package are in step')
