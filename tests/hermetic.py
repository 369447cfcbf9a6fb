"""Prove that the test suite leaves the repository and a user's reports untouched.

`python tests/hermetic.py before STATE` plants a "user report" where a real run would put one
(`runs/C-NMC_Leukemia/report.md`, the default report folder of a Kaggle download, unless one exists already) and
records the digest of every file of the checkout (tracked, untracked and ignored: `data/`, `runs/` too; `.git/` and
`.venv/` aside). `python tests/hermetic.py after STATE` compares, names every file that appeared, vanished or
changed, exits 1 if any did, and removes the planted report. Called by tests/run.sh around the whole suite."""
import hashlib, json, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKIP = {'.git', '.venv', 'leukemia_nb.egg-info'}
PLANTED = ROOT/'runs'/'C-NMC_Leukemia'/'report.md'

def digests() -> dict:
    out = {}
    for path in sorted(ROOT.rglob('*')):
        parts = path.relative_to(ROOT).parts
        if parts[0] in SKIP or '__pycache__' in parts or not path.is_file(): continue
        status = path.stat()
        if status.st_size > 2**24: out[str(path.relative_to(ROOT))] = f'{status.st_size}:{status.st_mtime_ns}'  # big data
        else: out[str(path.relative_to(ROOT))] = hashlib.sha1(path.read_bytes()).hexdigest()
    return out

def before(state:Path):
    planted = not PLANTED.exists()
    if planted:
        PLANTED.parent.mkdir(parents=True, exist_ok=True)
        PLANTED.write_text('# A user\'s report of a real C-NMC run: the test suite must never touch it.\n')
    state.write_text(json.dumps(dict(planted=planted, files=digests())))
    print(f'hermetic: {len(digests())} files recorded' + (f'; planted {PLANTED.relative_to(ROOT)}' if planted else ''))

def after(state:Path) -> int:
    recorded = json.loads(state.read_text())
    old, new = recorded['files'], digests()
    changes = ([f'appeared: {p}' for p in sorted(set(new) - set(old))] + [f'vanished: {p}' for p in sorted(set(old) - set(new))]
               + [f'changed: {p}' for p in sorted(set(old) & set(new)) if old[p] != new[p]])
    if recorded['planted'] and PLANTED.exists():
        PLANTED.unlink()
        for folder in (PLANTED.parent, PLANTED.parent.parent):
            if folder.exists() and not any(folder.iterdir()): folder.rmdir()
    if changes:
        print(f'hermetic: the suite changed {len(changes)} file(s) in the checkout:', *changes[:50], sep='\n  ')
        return 1
    print(f'hermetic: ok, the checkout ({len(new)} files, the planted user report included) is byte for byte unchanged')
    return 0

if __name__ == '__main__':
    step, state = sys.argv[1], Path(sys.argv[2])
    sys.exit(before(state) or 0 if step == 'before' else after(state))
