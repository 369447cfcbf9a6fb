"The explorer driven as a user would: set widget values, click buttons, read what the panes then hold."
import re
from pathlib import Path
import numpy as np, pandas as pd, pytest
from leukemia_nb.explorer import MisclassificationExplorer, thumbnail
from leukemia_nb.data import PREDICTION_COLUMNS

@pytest.fixture
def ex_full(quick_report):
    "A fresh explorer for each test: every test sets widgets, so none may inherit another's state."
    return MisclassificationExplorer.from_run(quick_report, page_size=6)

def captions(ex): return [box.children[1].description for box in ex.gallery.children]

def test_filters(ex_full):
    ex = ex_full
    ex.w_model.value = 'rf'
    n_all = len(ex.current())
    assert n_all == (ex.preds.model == 'rf').sum() and len(ex.gallery.children) == min(6, n_all)
    ex.w_outcome.value = 'incorrect'
    assert all(c.startswith('✗') for c in captions(ex))
    assert (~ex.current().correct).all()
    ex.w_outcome.value = 'any'; ex.w_true.value = 'hem'
    assert all('hem→' in c for c in captions(ex)) and set(ex.current().label) == {'hem'}
    ex.w_true.value = 'any'; ex.w_conf.value = (0.6, 1.0)
    assert ex.current().prob.min() >= 0.6
    ex.w_conf.value = (0.0, 1.0)
    pat = ex.w_patient.options[1]; ex.w_patient.value = pat
    assert set(ex.current().patient.astype(str)) == {pat}
    ex.w_patient.value = 'any'
    ex.w_sort.value = 'P(all), low to high'
    assert ex.current().prob.is_monotonic_increasing

def test_paging(ex_full):
    ex = ex_full
    ex.w_model.value = 'nb'; ex.w_outcome.value = 'any'
    first = [b.children[1].path for b in ex.gallery.children]
    assert ex.w_pageinfo.value.startswith('page 1/')
    ex.w_next.click()
    second = [b.children[1].path for b in ex.gallery.children]
    assert ex.w_pageinfo.value.startswith('page 2/') and not set(first) & set(second)
    ex.w_prev.click(); ex.w_prev.click()
    assert ex.w_pageinfo.value.startswith('page 1/')

def test_compare_disagreements(ex_full):
    ex = ex_full
    ex.w_model.value = 'rf'; ex.w_compare.value = 'cnn'; ex.w_disagree.value = True
    w = ex.preds.pivot(index='path', columns='model', values='prob') >= 0.5
    assert set(ex.current().path) == set(w.index[w['rf'] != w['cnn']])
    ex.w_disagree.value = False; ex.w_compare.value = '—'

def test_select_shows_everything(ex_full):
    ex = ex_full
    ex.w_model.value = 'rf'
    box = ex.gallery.children[0]
    box.children[1].click()
    path = box.children[1].path
    assert Path(path).name in ex.d_title.value and 'Selected:' in ex.d_title.value
    for m in ('rf', 'knn', 'svm', 'nb', 'cnn'): assert f'<td>{m}</td>' in ex.d_probs.value
    assert ex.d_image.value[:4] == b'\x89PNG' and ex.d_cam.value[:4] == b'\x89PNG' and ex.d_feats.value[:4] == b'\x89PNG'
    pat = ex.preds.loc[ex.preds.path == path, 'patient'].iloc[0]
    others = ex.preds[(ex.preds.patient == pat) & (ex.preds.model == 'rf') & (ex.preds.path != path)]
    assert len(others) >= 2, 'every test patient of the tiny dataset has 3 cells: the first cell has siblings'
    assert len(ex.d_patient.children) == min(12, len(others))
    sibling = ex.d_patient.children[0].children[1]
    assert sibling.path in set(others.path)
    sibling.click()                                 # clicking a sibling selects it
    assert ex.selected == sibling.path != path and Path(sibling.path).name in ex.d_title.value

def test_flags_and_export(ex_full, tmp_path, tiny_root):
    ex = ex_full
    ex.flags.clear()
    ex.w_outcome.value = 'any'
    ex.gallery.children[0].children[1].click(); p1 = ex.selected
    ex.f_label.click()
    ex.gallery.children[1].children[1].click(); p2 = ex.selected
    ex.f_unusable.click()
    assert ex.flags == {p1: 'suspected label error', p2: 'unusable image'}
    assert ex.gallery.children[0].children[1].button_style == 'warning'
    ex.f_path.value = str(tmp_path/'flags.csv'); ex.f_export.click()
    f = pd.read_csv(tmp_path/'flags.csv')
    assert list(f.path) == [p1, p2] and 'prob_rf' in f.columns and 'written' in ex.f_status.value
    ex.select(p2); ex.f_clear.click()
    assert list(ex.flags) == [p1]
    # never into the data folder
    ex.data_root = str(tiny_root)
    ex.f_path.value = str(tiny_root/'flags.csv'); ex.f_export.click()
    assert not (tiny_root/'flags.csv').exists() and 'not written' in ex.f_status.value

def test_summaries_follow_the_filter(ex_full):
    ex = ex_full
    ex.w_model.value = 'nb'; ex.w_outcome.value = 'any'; ex.w_true.value = 'all'
    d = ex.current()
    nums = [int(x) for x in re.findall(r'<td>(\d+)</td>', ex.s_confusion.value)]
    hem_row, all_row = nums[:2], nums[2:]
    assert hem_row == [0, 0] and sum(all_row) == len(d) and all_row[1] == int((d.prob >= 0.5).sum())
    ex.w_true.value = 'any'
    assert '<th>patient</th>' in ex.s_patients.value

def test_thumbnails_are_lazy_on_a_large_table(tmp_path):
    # the full prelim set: 1,867 cells x 5 models (paths need not exist: unreadable ones get a grey tile)
    rng = np.random.default_rng(0)
    n = 1867
    base = pd.DataFrame({'path': [str(tmp_path/f'{i}.bmp') for i in range(n)], 'patient': rng.choice([f'{k}' for k in range(20)] + [f'H{k}' for k in range(8)], n)})
    base['y'] = (~base.patient.str.startswith('H')).astype(int); base['label'] = np.where(base.y == 1, 'all', 'hem'); base['split'] = 'prelim'
    preds = []
    for m in ('rf', 'knn', 'svm', 'nb', 'cnn'):
        p = base.assign(model=m, prob=np.clip(base.y * 0.4 + rng.random(n) * 0.6, 0, 1))  # about 1 in 3 wrong
        p['pred'] = (p.prob >= 0.5).astype(int); p['pred_label'] = np.where(p.pred == 1, 'all', 'hem'); p['correct'] = p.pred == p.y
        preds.append(p[list(PREDICTION_COLUMNS)])
    thumbnail.cache_clear()
    ex = MisclassificationExplorer(pd.concat(preds, ignore_index=True), page_size=24)
    assert thumbnail.cache_info().currsize == 24
    ex.w_outcome.value = 'incorrect'; ex.w_next.click()
    assert thumbnail.cache_info().currsize <= 72 and len(ex.gallery.children) == 24

def test_a_sibling_click_selects_the_sibling(tiny_root):
    "From a predictions table alone (no run, no CNN): the patient strip lists the cell's siblings; a click selects one."
    from leukemia_nb.data import load_cnmc
    from leukemia_nb.classical import predictions_table
    cells = load_cnmc(tiny_root).query("split == 'prelim'").reset_index(drop=True)
    prob = np.linspace(0.05, 0.95, len(cells))
    ex = MisclassificationExplorer(predictions_table('rf', cells, prob), page_size=6, synthetic=True)
    ex.w_outcome.value = 'any'
    first = ex.gallery.children[0].children[1]
    first.click()
    siblings = set(cells.path[(cells.patient == cells.patient[cells.path == first.path].iloc[0])]) - {first.path}
    assert siblings and {box.children[1].path for box in ex.d_patient.children} == siblings
    sibling = ex.d_patient.children[0].children[1]
    sibling.click()
    assert ex.selected == sibling.path != first.path and Path(sibling.path).name in ex.d_title.value
