"Issue 12, part A: `unusual_cell_reasons` says why an image does not look like a segmented C-NMC cell."
import cv2, numpy as np, pytest
from leukemia_nb.preprocess import unusual_cell_reasons, read_cell, cell_mask, bbox
from leukemia_nb.data import load_cnmc

def middle(img, side=103):
    "The middle half of the cell's box, resized to `side`×`side`: no black background, like a crop of a smear."
    y0, y1, x0, x1 = bbox(cell_mask(img))
    h, w = y1 - y0, x1 - x0
    inner = img[y0 + h // 4:y1 - h // 4, x0 + w // 4:x1 - w // 4]
    return cv2.resize(inner, (side, side), interpolation=cv2.INTER_AREA)

def test_real_cells_are_not_flagged_and_their_crops_are(real_data):
    m = load_cnmc(real_data/'cnmc_sample')
    assert len(m) == 96
    for p in m.path:
        img = read_cell(p)
        assert unusual_cell_reasons(img) == [], p
        crop = middle(img)  # like the 103x103 blood-smear crops a user gave lnb_predict
        assert (crop.max(axis=2) > 12).mean() > 0.7  # (one sample cell is a crescent: its middle is not all cell)
        reasons = unusual_cell_reasons(crop)
        assert any('103×103' in r for r in reasons) and any('no black background' in r for r in reasons), reasons

def test_synthetic_cells_are_not_flagged(tiny_root):
    m = load_cnmc(tiny_root)
    assert len(m) > 10
    for p in m.path: assert unusual_cell_reasons(read_cell(p)) == [], p

@pytest.mark.parametrize('case, word', [
    ('solid square', 'no black background'), ('pink smear crop', 'colour far'), ('two cells', 'dominant'),
    ('tiny cell', 'tiny cell'), ('black', 'no cell'), ('cut by the edge', 'border')])
def test_each_reason(case, word):
    img = np.zeros((450, 450, 3), np.uint8)
    purple = (78, 36, 92)
    if case == 'solid square': img = np.full((103, 103, 3), (120, 60, 140), np.uint8)
    if case == 'pink smear crop': cv2.circle(img, (225, 225), 100, (230, 190, 200), -1)
    if case == 'two cells': [cv2.circle(img, (x, 225), 70, purple, -1) for x in (120, 330)]
    if case == 'tiny cell': cv2.circle(img, (225, 225), 20, purple, -1)
    if case == 'cut by the edge': cv2.circle(img, (30, 225), 120, purple, -1)
    reasons = unusual_cell_reasons(img)
    assert any(word in r for r in reasons), reasons
    ok = np.zeros((450, 450, 3), np.uint8); cv2.circle(ok, (225, 225), 100, purple, -1)
    assert unusual_cell_reasons(ok) == []
