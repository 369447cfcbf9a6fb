"""Pretrained or not, on the record: `--weights imagenet|none|PATH`. Weights asked for and not found are an error
before any work (unless `--allow_random_init`); how every network started is in the model, run.json and the report."""
import json
import keras, pytest
from conftest import run

def test_weights_that_cannot_be_loaded_stop_the_run_before_any_work(tiny_root, tmp_path):
    r = run('lnb_run', '--data', tiny_root, '--out', tmp_path/'rep', '--cache', tmp_path/'cache', '--quick',
            '--models', 'cnn', '--recipe', 'full', '--weights', tmp_path/'missing.weights.h5', timeout=600)
    assert r.returncode == 2, r.stderr[-2000:]
    assert 'missing.weights.h5' in r.stderr and '--allow_random_init' in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path/'rep').exists() and not (tmp_path/'cache').exists()

def test_a_local_weights_file_is_used_and_recorded(tiny_root, tmp_path):
    "A machine without network: the backbone starts from a local file, and the run says which (with its digest)."
    from leukemia_nb.cnn import weights_start, load_cnn
    weights = tmp_path/'b0.weights.h5'
    keras.applications.EfficientNetB0(include_top=False, weights=None, input_shape=(32, 32, 3)).save_weights(weights)
    r = run('lnb_run', '--data', tiny_root, '--out', tmp_path/'rep', '--cache', tmp_path/'cache', '--quick',
            '--models', 'cnn', '--recipe', 'full', '--weights', weights, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    start = weights_start(weights)
    assert start.startswith('weights from b0.weights.h5 (sha256 ') and 'missing' not in start
    record = json.loads((tmp_path/'rep'/'run.json').read_text())
    assert start in record['training']['cnn']['rule']
    report = (tmp_path/'rep'/'report.md').read_text()
    assert f'**CNN start**: every network started from {start}.' in report
    assert f'--weights {weights}' in report                                   # the Reproduce line gives it back
    assert load_cnn(tmp_path/'rep'/'models'/'cnn.keras').start == f'every network started from {start}'

def test_a_random_start_is_said_so(tiny_root, tmp_path):
    from leukemia_nb.pipeline import cnn_settings
    from leukemia_nb.cnn import network_start, WeightsError
    assert cnn_settings('full', weights='none')['weights'] == 'none'
    assert network_start(**cnn_settings('full', weights='none')) == 'random initialisation'
    with pytest.raises(WeightsError, match='could not be loaded'):
        network_start('full', weights=str(tmp_path/'nothing.weights.h5'), img_size=64)
    allowed = network_start('full', weights=str(tmp_path/'nothing.weights.h5'), img_size=64, allow_random_init=True)
    assert allowed.startswith('random initialisation (weights from nothing.weights.h5')

def test_cross_validate_checks_the_weights_before_any_work(tiny_root, tmp_path):
    from leukemia_nb.cnn import WeightsError
    from leukemia_nb.pipeline import cross_validate
    with pytest.raises(WeightsError, match='--allow_random_init'):
        cross_validate(tiny_root, models='cnn', recipe='full', weights=tmp_path/'missing.weights.h5', quick=True,
                       cache=tmp_path/'cache', verbose=False)
    assert not (tmp_path/'cache').exists()
