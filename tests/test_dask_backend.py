"""`--backend dask`: the classical stages on a Dask cluster (here a LocalCluster started by the test) give the same
report as the local run."""
import re, socket, sys
import pandas as pd
import pytest
from conftest import ENV, run, skip_or_fail

try: from dask import distributed
except ImportError: distributed = None   # the dev extra installs it; CI fails rather than skips without it

def _stable(md:str) -> str:
    "The report without what differs between two runs of the same job: times, creation date, folders, backend."
    md = re.sub(r'Ran on .*', '', md)   # the machine and the totals
    md = re.sub(r'(?s)Stage times and peak memory:.*?\n\n\|.*?\n\n', '', md)
    md = re.sub(r'- created: .*', '', md)
    return re.sub(r'/[^\s`|)]*', '<path>', md)

def test_dask_run_equals_the_local_run(tiny_root, tmp_path):
    if distributed is None: skip_or_fail('dask.distributed is not installed: pip install -e ".[dev]"')
    from leukemia_nb.pipeline import run_pipeline
    options = dict(models='rf,knn,nb', quick=True, seeds=2, verbose=False, correction=True)
    run_pipeline(tiny_root, out=tmp_path/'local', cache=tmp_path/'cache-local', n_jobs=1, **options)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        run_pipeline(tiny_root, out=tmp_path/'dask', cache=tmp_path/'cache-dask', backend='dask',
                     scheduler=cluster.scheduler_address, **options)
    for name in ('metrics.csv', 'predictions_seeds.csv', 'paired_differences.csv', 'metric_ci.csv',
                 'metrics_transductive.csv'):
        local, dask = pd.read_csv(tmp_path/'local'/name), pd.read_csv(tmp_path/'dask'/name)
        pd.testing.assert_frame_equal(local, dask, check_exact=False, rtol=1e-9, obj=name)
    assert _stable((tmp_path/'local'/'report.md').read_text()) == _stable((tmp_path/'dask'/'report.md').read_text())

def test_the_backend_is_checked():
    from leukemia_nb.pipeline import run_pipeline
    with pytest.raises(ValueError, match='needs --scheduler'): run_pipeline(backend='dask', verbose=False)

def test_an_unreachable_scheduler_is_one_clear_line_and_nothing_is_written(tiny_root, tmp_path):
    "No cluster at the address: lnb_run names the address and the problem (no traceback) and writes nothing."
    if distributed is None: skip_or_fail('dask.distributed is not installed: pip install -e ".[dev]"')
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]    # nothing listens there once it is closed
    env = dict(ENV, DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT='3s')   # Dask's own setting: give up after 3 s
    r = run('lnb_run', '--data', tiny_root, '--out', tmp_path/'rep', '--cache', tmp_path/'cache', '--quick',
            '--models', 'nb', '--backend', 'dask', '--scheduler', f'tcp://127.0.0.1:{port}', env=env, timeout=300)
    assert r.returncode == 2, r.stderr[-2000:]
    assert f'cannot reach the Dask scheduler at tcp://127.0.0.1:{port}' in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path/'rep').exists() and not (tmp_path/'cache').exists()

def test_without_dask_the_error_says_how_to_install_it(tiny_root, tmp_path, monkeypatch):
    from leukemia_nb.pipeline import run_pipeline
    monkeypatch.setitem(sys.modules, 'dask.distributed', None)     # `import dask.distributed` now fails
    with pytest.raises(ValueError, match=r'needs dask.distributed: pip install "leukemia_nb\[dask\]"'):
        run_pipeline(tiny_root, out=tmp_path/'rep', cache=tmp_path/'cache', quick=True, models='nb',
                     backend='dask', scheduler='tcp://127.0.0.1:8786', verbose=False)
    assert not (tmp_path/'rep').exists() and not (tmp_path/'cache').exists()
