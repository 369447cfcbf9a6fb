"""The order of a parallel run (`conftest.plan`): each worker's share has the size that `--dist worksteal` gives it,
the costly units are spread over the workers, and a module with module fixtures stays on one worker."""
from types import SimpleNamespace
from conftest import plan, _unit_cost

def _items():
    names = [f'tests/test_notebooks.py::test_notebook[{i}]' for i in range(6)]
    names += [f'tests/test_faults.py::test_{i}' for i in range(5)] + ['tests/test_readme_command.py::test_readme']
    names += [f'tests/test_small_{m}.py::test_{i}' for m in range(10) for i in range(7)]
    return [SimpleNamespace(nodeid=name) for name in names]

def test_the_shares_have_the_sizes_worksteal_gives_and_balance_the_work():
    items = _items()
    ordered = plan(list(items), 2)
    assert sorted(i.nodeid for i in ordered) == sorted(i.nodeid for i in items)   # nothing lost or repeated
    first, second = ordered[:len(items) // 2], ordered[len(items) // 2:]
    work = [sum(_unit_cost(i.nodeid, [i]) if 'notebook' in i.nodeid else 0 for i in share) for share in (first, second)]
    faults = [share for share in (first, second) if any('test_faults' in i.nodeid for i in share)]
    readme = [share for share in (first, second) if any('readme' in i.nodeid for i in share)]
    assert len(faults) == 1 and len(readme) == 1 and faults[0] is not readme[0]   # the two costliest apart
    assert abs(work[0] - work[1]) <= 60                                # the notebooks split evenly around them
    starts = {first[0].nodeid.split('::')[0], second[0].nodeid.split('::')[0]}   # each starts with its costliest
    assert starts == {'tests/test_faults.py', 'tests/test_readme_command.py'}, starts
