"""The bad-input corpus, generated (never committed): every kind of broken file or folder a user may hand the project.

`make_corpus(good_root, dest)` copies a good synthetic dataset to `dest` and adds one of each bad input; it returns
`{case: path}` so tests can check that each is named, with its problem, in what the user sees.
"""
import shutil, struct
from pathlib import Path
import cv2
import pandas as pd

def bmp16(path, w=40, h=30):
    "A valid 16-bit (RGB555) BMP: decodable, but not 24-bit colour."
    row = (w * 2 + 3) // 4 * 4
    px = b''.join(bytes([0x1f, 0x7c]) * w + b'\0' * (row - 2 * w) for _ in range(h))
    hdr = b'BM' + struct.pack('<IHHI', 54 + len(px), 0, 0, 54) + struct.pack('<IiiHHIIiiII', 40, w, h, 1, 16, 0, len(px), 2835, 2835, 0, 0)
    Path(path).write_bytes(hdr + px)

def make_corpus(good_root, dest) -> dict:
    dest = Path(dest)/'C-NMC_Leukemia'
    shutil.copytree(good_root, dest)
    f0a, f0h = dest/'training_data/fold_0/all', dest/'training_data/fold_0/hem'
    donor = sorted(f0a.glob('*.bmp'))[0]
    raw, img = donor.read_bytes(), cv2.imread(str(donor))
    c = {}
    c['corrupt'] = f0a/'UID_801_1_1_all.bmp';    c['corrupt'].write_bytes(raw[:54] + bytes(range(256)) * 40)
    c['truncated'] = f0a/'UID_802_1_1_all.bmp';  c['truncated'].write_bytes(raw[:len(raw) // 3])
    c['zero-byte'] = f0a/'UID_803_1_1_all.bmp';  c['zero-byte'].write_bytes(b'')
    c['text named .bmp'] = f0a/'UID_804_1_1_all.bmp'; c['text named .bmp'].write_text('this is not an image\n')
    c['greyscale'] = f0a/'UID_805_1_1_all.bmp';  cv2.imwrite(str(c['greyscale']), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    c['RGBA'] = f0a/'UID_806_1_1_all.bmp';       cv2.imwrite(str(c['RGBA']), cv2.cvtColor(img, cv2.COLOR_BGR2BGRA))
    c['16-bit'] = f0a/'UID_807_1_1_all.bmp';     bmp16(c['16-bit'])
    c['tiny'] = f0a/'UID_808_1_1_all.bmp';       cv2.imwrite(str(c['tiny']), cv2.resize(img, (6, 6)))
    c['huge'] = f0a/'UID_809_1_1_all.bmp';       cv2.imwrite(str(c['huge']), cv2.resize(img, (2400, 2400), interpolation=cv2.INTER_NEAREST))
    c['unparseable name'] = f0a/'cell 17 (copy).bmp'; shutil.copy(donor, c['unparseable name'])
    c['contradictory name'] = f0a/'UID_H810_1_1_all.bmp'; shutil.copy(donor, c['contradictory name'])
    c['all-named cell in hem/'] = f0h/'UID_811_1_1_all.bmp'; shutil.copy(donor, c['all-named cell in hem/'])
    # the labels CSV: a missing row (an image without a row), an extra row (a row without an image),
    # a duplicated row, and a non-numeric label
    csv = dest/'validation_data/C-NMC_test_prelim_phase_data_labels.csv'
    lab = pd.read_csv(csv, dtype=str)
    prelim = dest/'validation_data/C-NMC_test_prelim_phase_data'
    c['image without CSV row'] = prelim/lab.new_names.iloc[0]
    c['non-numeric label'] = prelim/lab.new_names.iloc[1]
    lab.loc[1, 'labels'] = 'yes'
    lab = pd.concat([lab.iloc[1:], lab.iloc[[2]], pd.DataFrame([['UID_812_3_1_all.bmp', '9999.bmp', '1']], columns=lab.columns)])
    lab.to_csv(csv, index=False)
    c['CSV row without image'] = csv
    c['duplicate CSV row'] = csv
    (dest/'training_data/fold_1/empty_folder').mkdir()
    return c

# what the user must be told for each case (a word of the problem, as in the audit table)
EXPECTED = {
    'corrupt': 'unreadable image|truncated', 'truncated': 'truncated', 'zero-byte': 'empty file', 'text named .bmp': 'not a BMP',
    'greyscale': 'bit depth|channels', 'RGBA': 'bit depth|channels', '16-bit': 'bit depth', 'tiny': 'size',
    'huge': 'size', 'unparseable name': 'unparseable name', 'contradictory name': 'contradicts',
    'all-named cell in hem/': 'folder label differs', 'image without CSV row': 'without CSV row',
    'non-numeric label': 'bad label', 'CSV row without image': 'CSV rows without an image', 'duplicate CSV row': 'duplicate CSV row',
}
