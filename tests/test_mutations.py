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

# what a forked child could get wrong if it did: TensorFlow's first ops (training, prediction) after the fork
CONTROL = ['tests/test_cnn.py::test_tta_makes_even_an_untrained_network_invariant',
           'tests/test_cnn_fair.py::test_the_served_cnn_is_the_one_whose_calibration_was_measured',
           'tests/test_classical.py::test_guard_names_shared_patients']

def test_the_targets_pass_without_a_mutation():
    "The control: the way the gate runs a mutant's tests keeps them green on the unmutated checkout."
    code, printed = mutations.control(CONTROL)
    assert code == 0 and f'{len(CONTROL)} passed' in printed, printed[-3000:]
