"""The CNN on a second Keras backend: its tests again under JAX (`KERAS_BACKEND=jax`), in a process of their own
(a Keras backend is chosen once per process)."""
import subprocess
import sys
import pytest
from conftest import ROOT, ENV

# not run twice: the pixel cache and the class weights are NumPy alone; the release of the batches' cells after a fit
# is our own Python (PixelBatches.release), whatever the backend; the EfficientNet backbone is Keras' own code (on JAX
# it is checked on a GPU by tests/gpu_check.sh), and costs minutes to compile on a CPU
BACKEND_FREE = 'not pixel_cache and not balanced_weights and not efficientnetb0 and not leave_no_cells_behind'

def test_the_cnn_tests_pass_on_jax():
    pytest.importorskip('jax')   # in the dev extra: CI has it
    env = dict(ENV, KERAS_BACKEND='jax')
    done = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-rfEs', '-p', 'no:cacheprovider', '-p', 'no:xdist',
                           '-k', BACKEND_FREE, 'tests/test_cnn.py', 'tests/test_cnn_learner.py'], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert ' passed' in done.stdout and ' skipped' not in done.stdout, done.stdout[-2000:]
