"""Mutation check: break one key mechanism at a time in a copy of the checkout and run the tests that guard it.
Every mutation must turn those tests red; the tests that caught it are printed as a table.

    python tests/mutations.py [NAME ...]          # every mutation (or some), each against its targeted tests
    python tests/mutations.py --all [NAME ...]    # each against the whole pytest suite (slow: minutes each)

CI runs the targeted form through `tests/test_mutations.py` (one test per mutation) and fails when one survives.
The copy (package and notebooks, the source of truth, mutated alike; its tests run against it) is what the tests
import (first on the path of a child forked for it), so the checkout is never modified."""
import json, os, re, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# name -> (file, [(what the code says, what the mutant says)], the tests that must catch it)
MUTATIONS = {
    'calibration prior (CNN)': ('leukemia_nb/cnn.py', [
        ('prior=float(train_y.mean()), calibration=calibration)', 'prior=0.5, calibration=None)')],
        ['tests/test_cnn_learner.py::test_calibrated_to_the_training_share']),
    'calibration prior (classical)': ('leukemia_nb/classical.py', [
        ('        self.calibrated_ = calibrated.fit(X, y)',
         '        balanced = len(y) / (2 * np.bincount(y.astype(int), minlength=2))[y.astype(int)]\n'
         '        self.calibrated_ = calibrated.fit(X, y, sample_weight=balanced)')],
        ['tests/test_b_balance.py::test_probabilities_follow_the_training_prior']),
    'patient guard': ('leukemia_nb/data.py', [('    if not shared: return\n', '    return\n')],
                      ['tests/test_classical.py::test_guard_names_shared_patients',
                       'tests/test_properties.py::test_guard_raises_exactly_when_shared']),
    'TTA average': ('leukemia_nb/cnn.py', [
        ('        return (self._padded(dihedral(rows, self.views[view])),)', '        return (self._padded(rows),)')],
        ['tests/test_cnn.py::test_tta_makes_even_an_untrained_network_invariant']),
    'TTA of the embeddings (one pass)': ('leukemia_nb/cnn.py', [
        ('    return logits, [np.asarray(rows[2 * n + 1], np.float32).mean(axis=0) for n in range(len(networks))]',
         '    return logits, [np.asarray(rows[2 * n + 1], np.float32)[0] for n in range(len(networks))]')],
        ['tests/test_cnn_fair.py::test_embeddings_are_invariant_to_flips_and_quarter_turns']),
    'served CNN is not the one calibrated': ('leukemia_nb/cnn.py', [
        ("    return dict(networks=fold_models, history={}",
         "    return dict(networks=fold_models[:1] * len(fold_models), history={}")],
        ['tests/test_cnn_fair.py::test_the_served_cnn_is_the_one_whose_calibration_was_measured']),
    'epochs chosen on the calibration cells': ('leukemia_nb/cnn.py', [
        ('                                         rates=rates, settle=True, shared=learner)',
         '                                         select=True, settle=True, shared=learner)')],
        ['tests/test_cnn_fair.py::test_no_epoch_is_chosen_on_the_cells_that_fit_the_calibration']),
    'shared learner not restarted': ('leukemia_nb/cnn.py', [
        ('for variable, value in zip(self.state, self.initial): variable.assign(value)',
         'for variable, value in zip(self.state, self.initial): pass')],
        ['tests/test_cnn_fair.py::test_each_fold_network_trains_as_if_alone']),
    'class balancing (CNN)': ('leukemia_nb/cnn.py', [
        ("    return (len(y) / (2 * np.maximum(counts, 1)))[y].astype('float32')",
         "    return np.ones(len(y), 'float32')")],
        ['tests/test_cnn.py::test_balanced_weights_give_each_class_half_the_weight']),
    'Grad-CAM of the predicted class': ('leukemia_nb/cnn.py', [
        ('    sign = 1.0 if prob >= 0.5 else -1.0', '    sign = 1.0')],
        ['tests/test_cnn.py::test_grad_cam_explains_the_predicted_class']),
    'early stopping restore': ('leukemia_nb/cnn.py', [('restore_best_weights=True', 'restore_best_weights=False')],
                               ['tests/test_cnn_learner.py::test_returns_the_best_validation_epoch_not_the_last']),
    'early stopping monitor': ('leukemia_nb/cnn.py', [
        ("EarlyStopping('val_auc', mode='max'", "EarlyStopping('val_loss', mode='min'"),
        ("monitor='val_auc', mode='max'", "monitor='val_loss', mode='min'")],
        ['tests/test_cnn_learner.py::test_returns_the_best_validation_epoch_not_the_last']),
    'class balancing (classical)': ('leukemia_nb/classical.py', [
        ("class_weight='balanced_subsample'", 'class_weight=None'), ("class_weight='balanced'", 'class_weight=None')],
        ['tests/test_b_balance.py::test_each_model_is_balanced_exactly_once']),
    'cross-fitting disjointness': ('leukemia_nb/cnn.py', [
        ('        fit = np.setdiff1d(np.arange(len(rows)), held)', '        fit = np.arange(len(rows))')],
        ['tests/test_cnn_fair.py::test_fold_networks_never_trained_on_the_part_they_predict']),
    'out-of-fold hybrid heads': ('leukemia_nb/hybrids.py', [
        ("            rows = (oof['fold'] == k).to_numpy()", "            rows = (oof['fold'] != k).to_numpy()")],
        ['tests/test_cnn_fair.py::test_a_head_never_learns_from_a_cell_its_network_trained_on']),
    'neighbourhood correction within a patient': ('leukemia_nb/evaluate.py', [
        ('        else: groups = np.unique(np.asarray(patients).astype(str), return_inverse=True)[1]',
         '        else: groups = np.zeros(len(points), dtype=int)')],
        ['tests/test_neighbours.py::test_the_patient_known_variant_never_uses_another_patients_cell']),
    'neighbourhood correction votes with calls': ('leukemia_nb/evaluate.py', [
        ('        calls = (prob >= 0.5).astype(float)', '        calls = prob.copy()')],
        ['tests/test_neighbours.py::test_the_vote_by_hand']),
    'seed pooling in the bootstrap': ('leukemia_nb/evaluate.py', [
        ('    picks = np.random.default_rng(None if seed is None else [seed, stream]).integers(len(values), '
         'size=values.shape[1])',
         '    picks = np.zeros(values.shape[1], dtype=int)')],
        ['tests/test_seeds_eval.py::test_an_interval_over_disagreeing_seeds_is_wider_than_over_patients_alone']),
    'feature contract of offered rows': ('leukemia_nb/features.py', [('    if offered != contract:', '    if False:')],
        ['tests/test_hed_features.py::test_a_model_made_with_hed_refuses_rows_without_it']),
    'thresholds chosen on the test cells': ('leukemia_nb/pipeline.py', [
        ('        threshold = threshold_at_specificity(cnn.oof.y.astype(int), oof_prob, target)',
         '        threshold = threshold_at_specificity(test.y.astype(int), test.prob, target)')],
        ['tests/test_pipeline.py::test_oof_thresholds_are_chosen_on_training_cells_only']),
    'CNN cache key ignores the recipe': ('leukemia_nb/pipeline.py', [
        ('def cnn_model_key(train:pd.DataFrame,', 'def cnn_model_key(train:pd.DataFrame,  # mutant\n'
         '                  *args, recipe=None, **kwargs): return _cnn_model_key(train, *args, **kwargs)\n'
         'def _cnn_model_key(train:pd.DataFrame,')],
        ['tests/test_b_small_data.py::test_cache_keys_follow_settings_and_versions']),
    'reliability figure without its curves': ('leukemia_nb/evaluate.py', [
        ("line, = ax.plot(mean_prob, frac_all, marker='o'", "line, = ax.plot([], [], marker='o'")],
        ['tests/test_b_evaluate.py::test_figures_draw_what_they_say']),
    'a lesson without questions': ('nbs/05_classical.ipynb', [('## Questions', '## Exercises')],
                                   ['tests/test_course.py']),
    'problems listed under another heading': ('leukemia_nb/data.py', [
        ('        for row in group.head(limit).itertuples():',
         '        for row in problems.head(limit).itertuples():')],
        ['tests/test_bad_input.py::test_lnb_validate_names_every_bad_input']),
    'explorer: a sibling click selects nothing': ('leukemia_nb/explorer.py', [
        ('        button.on_click(lambda _, p=other.path: self.select(p))',
         '        button.on_click(lambda _, p=other.path: None)')],
        ['tests/test_explorer.py::test_a_sibling_click_selects_the_sibling']),
    'report: weighted F1 averaged per class': ('leukemia_nb/evaluate.py', [
        ("weighted_f1=skm.f1_score(y, pred, average='weighted'", "weighted_f1=skm.f1_score(y, pred, average='macro'")],
        ['tests/test_b_evaluate.py::test_score_weights_the_f1_of_each_class_by_its_cells']),
    'patient table: right means called all': ('leukemia_nb/evaluate.py', [
        ("table[f'{model} right'] = patients['call'] == patients['y']",
         "table[f'{model} right'] = patients['call'] == 1")],
        ['tests/test_b_evaluate.py::test_patient_table_counts_cells_once_and_diagnoses_by_the_mean']),
    'patient table: cells counted once per seed': ('leukemia_nb/evaluate.py', [
        ("facts['cells'] = facts['cells'] // max(seeds, 1)", "facts['cells'] = facts['cells']")],
        ['tests/test_b_evaluate.py::test_patient_table_counts_cells_once_and_diagnoses_by_the_mean']),
    'training batches keep their cells': ('leukemia_nb/cnn.py', [
        ('        fit_batches.release()\n', '        pass\n')],
        ['tests/test_cnn_learner.py::test_trained_networks_leave_no_cells_behind']),
    'a question without its answer': ('nbs/05_classical.ipynb', [
        ('<details><summary>Answer</summary>', '<details><summary>Hint</summary>')],
        ['tests/test_course.py']),
}

def _set_source(cell, text):
    lines = text.split('\n')
    cell['source'] = [line + '\n' for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])

def _edit_notebook(notebook:Path, edits) -> int:
    "Apply the edits to every cell of a notebook; how many cells changed."
    content = json.loads(notebook.read_text())
    changed = 0
    for cell in content['cells']:
        text = ''.join(cell['source'])
        new = text
        for old, mutant in edits: new = new.replace(old, mutant)
        if new != text: _set_source(cell, new); changed += 1
    if changed: notebook.write_text(json.dumps(content, indent=1, ensure_ascii=False) + '\n')
    return changed

def mutate(name, workdir:Path) -> Path:
    """A copy of the checkout with the mutation applied: to the file and, for a package file, to the notebook that
    exports it (the source of truth). `ValueError` if the code to mutate is not found."""
    copy = workdir/'repo'
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns('.git', '.venv', 'data', 'runs', '__pycache__', '_proc',
                                                              '*.egg-info', '.whl'))
    if name is None: return copy                       # the control: the checkout as it is
    file, edits, _ = MUTATIONS[name]
    target = copy/file
    if target.suffix == '.ipynb':
        if not _edit_notebook(target, edits): raise ValueError(f'{name}: the code to mutate is not in {file}')
        return copy
    source = target.read_text()
    for old, mutant in edits:
        if old not in source: raise ValueError(f'{name}: {old!r} not found in {file}: update tests/mutations.py')
        source = source.replace(old, mutant)
    target.write_text(source)
    for notebook in (copy/'nbs').glob('*.ipynb'): _edit_notebook(notebook, edits)
    return copy

# A warm process per test worker: it imports the heavy libraries once (TensorFlow alone takes 7 s), never the package
# or its tests, and forks a child for each mutant, which imports the mutated copy and runs pytest in it.
HEAVY = ('numpy', 'pandas', 'scipy', 'sklearn', 'skimage', 'cv2', 'matplotlib.pyplot', 'seaborn', 'joblib', 'filelock',
         'hypothesis', 'pytest', 'tensorflow', 'keras')
_server = None

def _mutant_env() -> dict:
    "The environment of a mutant's tests: nothing of the real run's folders (conftest makes a scratch folder of its own)."
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(('LNB_', 'PYTEST_', 'HYPOTHESIS_')) and k != 'PYTHONPATH'}
    env.update(CI='true', PYTHONDONTWRITEBYTECODE='1', MPLBACKEND='Agg', TF_CPP_MIN_LOG_LEVEL='3')
    return env

def serve():
    """`python tests/mutations.py --serve`: import `HEAVY`, then for each request line (JSON: the copy, its pytest
    arguments) fork a child that runs pytest on the copy; answer a line (JSON: exit status, what pytest printed)."""
    import importlib
    for module in HEAVY:
        try: importlib.import_module(module)
        except ImportError: pass
    assert not [m for m in sys.modules if m.split('.')[0] in ('leukemia_nb', 'conftest')], 'the server imported the package'
    print('ready', flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        with tempfile.TemporaryFile('w+') as printed:
            pid = os.fork()
            if pid == 0: _child(request, printed)
            _, status = os.waitpid(pid, 0)
            printed.seek(0)
            answer = dict(code=os.waitstatus_to_exitcode(status), stdout=printed.read())
        print(json.dumps(answer), flush=True)

def _child(request, printed):
    "In the forked child: the copy's package and tests, pytest in it, output to `printed`; never returns."
    code = 3
    try:
        os.dup2(printed.fileno(), 1)
        os.dup2(printed.fileno(), 2)
        copy = request['copy']
        os.chdir(copy)
        sys.path.insert(0, copy)
        os.environ['PYTHONPATH'] = copy     # and the commands the tests run (lnb_run, lnb_validate, ...) import it too
        sys.dont_write_bytecode = True
        import leukemia_nb, pytest
        command = [sys.executable, '-c', 'import leukemia_nb; print(leukemia_nb.__file__)']
        for imported in (leukemia_nb.__file__, subprocess.run(command, capture_output=True, text=True).stdout):
            if not imported.startswith(copy):
                raise RuntimeError(f'the tests would import {imported!r}, not the mutated copy')
        code = int(pytest.main(request['args']))
    except BaseException:
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

def _pytest(copy:Path, args:list) -> tuple:
    "`(exit status, output)` of pytest with `args` on the mutated `copy`, in a child of this worker's warm process."
    global _server
    if _server is None or _server.poll() is not None:
        _server = subprocess.Popen([sys.executable, __file__, '--serve'], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   text=True, env=_mutant_env(), cwd=tempfile.gettempdir())
        ready = _server.stdout.readline()
        if ready.strip() != 'ready': raise RuntimeError(f'the mutation server did not start: {ready!r}')
    _server.stdin.write(json.dumps(dict(copy=str(copy), args=args)) + '\n')
    _server.stdin.flush()
    answer = _server.stdout.readline()
    if not answer: raise RuntimeError('the mutation server died')
    answer = json.loads(answer)
    return answer['code'], answer['stdout']

def run(name, whole_suite:bool=False) -> tuple:
    "`(caught, tests that failed, seconds)` with the mutation in place, against its targeted tests (or every test)."
    import time
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix='lnb-mutant-') as scratch:
        copy = mutate(name, Path(scratch))
        targets = ['tests', '--deselect', 'tests/test_explorer_browser.py', '--deselect', 'tests/test_mutations.py',
                   '--deselect', 'tests/test_notebooks.py'] if whole_suite else MUTATIONS[name][2]
        code, printed = _pytest(copy, ['-q', '-rfE', '-x', '-p', 'no:cacheprovider', '-p', 'no:xdist',
                                       '-p', 'no:randomly', *targets])
        failed = re.findall(r'^(?:FAILED|ERROR) (\S+)', printed, re.M)
        caught = code == 1 and bool(failed)     # tests ran and failed (not a usage or collection error)
        if code not in (0, 1): failed.append(f'pytest exit {code}: {printed[-1500:]}')
        return caught, failed, time.perf_counter() - started

def control(targets:list) -> tuple:
    """`(exit status, output)` of `targets` on an unmutated copy, run exactly as a mutant's tests are: green, or the
    gate's red verdicts could come from the way it runs them instead of from the mutations."""
    with tempfile.TemporaryDirectory(prefix='lnb-control-') as scratch:
        return _pytest(mutate(None, Path(scratch)), ['-q', '-rfE', '-p', 'no:cacheprovider', '-p', 'no:xdist', *targets])

def table(rows) -> str:
    "The mutation table: name, caught or SURVIVED, seconds, the tests that caught it."
    lines = ['| mutation | verdict | seconds | caught by |', '|---|---|---|---|']
    lines += [f'| {name} | {"caught" if caught else "SURVIVED"} | {seconds:.0f} | {"; ".join(failed) or "-"} |'
              for name, caught, failed, seconds in rows]
    return '\n'.join(lines)

if __name__ == '__main__' and '--serve' in sys.argv: serve()
elif __name__ == '__main__':
    whole = '--all' in sys.argv
    names = [a for a in sys.argv[1:] if a != '--all'] or list(MUTATIONS)
    rows = []
    for name in names:
        rows.append((name, *run(name, whole)))
        print(f'{name}: {"caught" if rows[-1][1] else "SURVIVED"} ({rows[-1][3]:.0f} s)', flush=True)
    print(table(rows))
    sys.exit(0 if all(row[1] for row in rows) else 1)
