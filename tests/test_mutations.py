"""The mutation gate: each mechanism of `tests/mutations.py` broken in a copy of the checkout must turn its targeted
tests red. The table of every mutation (caught by which test, seconds) goes to `$LNB_MUTATION_TABLE` (run.sh prints
it at the end)."""
import os
from pathlib import Path
import pytest
import mutations

@pytest.mark.parametrize('name', list(mutations.MUTATIONS))
def test_mutation_is_caught(name):
    caught, failed, seconds = mutations.run(name)
    table = os.environ.get('LNB_MUTATION_TABLE')
    if table:
        from filelock import FileLock
        with FileLock(table + '.lock'):
            path = Path(table)
            rows = path.read_text().splitlines()[2:] if path.exists() else []
            row = mutations.table([(name, caught, failed, seconds)]).splitlines()[2]
            path.write_text('\n'.join(mutations.table([]).splitlines() + sorted(rows + [row])) + '\n')
    assert caught, f'the mutation "{name}" survived: {mutations.MUTATIONS[name][2]} stayed green ({failed})'
