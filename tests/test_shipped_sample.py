"""The real cells shipped with the package: extracted offline, byte-identical to the C-NMC originals, licensed."""
import hashlib
from pathlib import Path
import pandas as pd
from conftest import skip_or_fail
from leukemia_nb.data import real_sample, load_cnmc, _assets

ORIGINALS = Path(__file__).resolve().parents[2]/'shared'/'data'/'cnmc_sample'

def test_the_sample_is_complete_and_licensed(real_data):
    sample = load_cnmc(real_data/'cnmc_sample')
    expected = pd.read_csv(real_data/'cnmc_sample_expected.csv')
    assert len(sample) == len(expected) == 96 and sample.patient.nunique() == expected.patient.nunique() == 31
    licence = (_assets()/'README.md').read_text()
    assert 'CC BY 3.0' in licence and 'Gupta' in licence and '10.7937/tcia.2019.dc64i46r' in licence

def test_shipped_digests_are_those_of_the_originals():
    if not ORIGINALS.is_dir(): skip_or_fail(f'the originals are not beside the project ({ORIGINALS})')
    shipped = dict(reversed(line.split(maxsplit=1)) for line in (_assets()/'cnmc_sample.sha256').read_text().splitlines())
    originals = {str(p.relative_to(ORIGINALS)): hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in ORIGINALS.rglob('*') if p.is_file()}
    assert shipped == originals

def test_extracted_without_network_into_a_fresh_folder(tmp_path, monkeypatch):
    monkeypatch.delenv('LNB_REAL_DATA', raising=False)
    monkeypatch.setenv('LNB_SAMPLE_DIR', str(tmp_path/'sample'))
    folder = real_sample()
    assert folder == tmp_path/'sample'/'cnmc_sample'/'C-NMC_Leukemia'
    assert len(list(folder.rglob('*.bmp'))) == 96
    assert not [p for p in tmp_path.iterdir() if p.name.startswith('.')]   # no staging folder left behind
