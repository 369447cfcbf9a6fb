"""The README's main command, exactly as written, on the default data (the synthetic demo, CNN included): it must
finish, write its report where the README says, and every model must beat chance on the test patients."""
import os, re, shlex, subprocess, sys
from pathlib import Path
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]

def readme_main_command() -> list:
    "The `lnb_run …` of the README's first shell block, as argv (the `.venv/bin/` prefix is where it is installed)."
    readme = (ROOT/'README.md').read_text()
    block = re.search(r'```sh\n(.*?)```', readme, re.S).group(1)
    command = [part.strip() for part in block.split('&&') if 'lnb_run' in part][0]
    argv = shlex.split(command)
    assert Path(argv[0]).name == 'lnb_run', argv
    return [str(Path(sys.executable).parent/'lnb_run')] + argv[1:]

def test_readme_main_command(tmp_path):
    argv = readme_main_command()
    assert argv[1:] == [], f'the README runs lnb_run with options now ({argv[1:]}): update this test with them'
    # the demo data: the suite's scratch copy, made once per run (run.sh or conftest points LNB_DEMO_DIR there); the
    # report: a runs folder of this test's own. The checkout and the user's folders stay out.
    assert not Path(os.environ['LNB_DEMO_DIR']).resolve().is_relative_to(ROOT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='3', MPLBACKEND='Agg', LNB_RUNS_DIR=str(tmp_path/'runs'))
    done = subprocess.run(argv, capture_output=True, text=True, timeout=1800, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = tmp_path/'runs'/'demo'                          # "report in runs/demo/", as the README says
    metrics = pd.read_csv(report/'metrics.csv', index_col=0)
    assert list(metrics.index) == ['rf', 'knn', 'svm', 'nb', 'cnn', 'svm_cnn', 'knn_cnn', 'logreg_cnn', 'svm_cnn_hc']
    # chance is an AUC of 0.5; a model that learned nothing lands within about ±0.1 of it on these 10 test patients
    assert (metrics.roc_auc > 0.6).all(), metrics.roc_auc.to_dict()
    assert (metrics.weighted_f1 > 0.6).all(), metrics.weighted_f1.to_dict()
    assert 'This run used synthetic data' in (report/'report.md').read_text()
