"The data layer on real C-NMC names (the full file index) and real pixels (the 96-cell sample)."
import numpy as np, pandas as pd
from leukemia_nb.data import manifest_from_paths, load_cnmc, audit_cnmc, usable, PatientLeakError, assert_patient_disjoint
import pytest

@pytest.fixture(scope='module')
def index_manifest(real_data):
    idx = pd.read_csv(real_data/'cnmc_file_index.tsv', sep='\t')
    # the index lists the labels CSV's path; its content is the real file beside the index
    m, probs = manifest_from_paths(idx.path, root='/cnmc', labels_csv=real_data/'C-NMC_test_prelim_phase_data_labels.csv')
    return m, probs

def test_index_counts_match_published(index_manifest):
    m, probs = index_manifest
    assert (probs.severity == 'error').sum() == 0, probs.head()
    tr, pre, fin = (m[m.split == s] for s in ('train', 'prelim', 'final'))
    assert len(tr) == 10_661 and (tr.label == 'all').sum() == 7_272 and (tr.label == 'hem').sum() == 3_389
    assert tr.patient.nunique() == 73
    assert len(pre) == 1_867 and (pre.y == 1).sum() == 1_219 and (pre.y == 0).sum() == 648
    assert pre.patient.nunique() == 28
    assert len(fin) == 2_586 and fin.label.isna().all() and fin.y.isna().all()
    assert len(m) == 15_114

def test_folds_share_no_patient(index_manifest):
    tr = index_manifest[0].query("split == 'train'")
    assert tr.groupby('patient').fold.nunique().max() == 1
    for a in range(3):
        for b in range(a + 1, 3):
            assert_patient_disjoint(tr[tr.fold == a], tr[tr.fold == b])

def test_prelim_patients_are_new(index_manifest):
    m = index_manifest[0]
    with pytest.raises(PatientLeakError): assert_patient_disjoint(m[m.split == 'train'], m[m.split == 'train'].head(1))
    assert_patient_disjoint(m[m.split == 'train'], m[m.split == 'prelim'])

def test_lowercase_h_is_patient_H3(index_manifest):
    m = index_manifest[0]
    h3 = m[m.name.str.startswith('UID_h3_')]
    assert len(h3) > 0 and set(h3.patient) == {'H3'} and set(h3.label) == {'hem'}

def test_sample_loads_and_audits_clean(real_data):
    m = load_cnmc(real_data/'cnmc_sample')
    exp = pd.read_csv(real_data/'cnmc_sample_expected.csv', dtype=str)
    assert len(m) == len(exp) == 96
    got = m.set_index('file').loc[exp.kaggle_path]
    assert list(got.label) == list(exp.label) and list(got.patient) == list(exp.patient)
    probs = audit_cnmc(m, n_jobs=1, progress=False)
    assert set(probs.severity) <= {'info'}, probs[probs.severity != 'info']
    assert len(usable(m, probs)) == 96

def test_sample_loads_from_its_kaggle_folder_too(real_data):
    assert len(load_cnmc(real_data/'cnmc_sample'/'C-NMC_Leukemia')) == 96

def dispersion(X:pd.DataFrame) -> pd.Series:
    """Spread of each column relative to its size: std / mean(|x|).
    For a column of one sign this is the coefficient of variation std/|mean|; unlike it, it does not blow up when
    the mean is near zero (a column centred on 0 has mean(|x|) of the order of its std, so a ratio near 1), and it
    needs no range, which one outlier would inflate. A column that is all zeros has 0/0: reported as 0 (constant)."""
    size = X.abs().mean()
    return (X.std() / size.where(size > 0)).fillna(0.0)

def test_no_feature_is_near_constant_on_real_cells(sample_features):
    from leukemia_nb.features import FEATURE_COLUMNS
    X = sample_features
    assert list(X.columns) == FEATURE_COLUMNS and len(set(FEATURE_COLUMNS)) == len(FEATURE_COLUMNS)
    assert np.isfinite(X.values).all()
    assert set(X.nuc_found.unique()) <= {0.0, 1.0}
    d = dispersion(X.drop(columns='nuc_found'))  # a 0/1 flag: constant when every nucleus is found
    assert (d >= 1e-3).all(), d[d < 1e-3].to_dict()

def test_dispersion_rule_flags_what_it_must():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({'normalised_away': 19 + rng.normal(0, 0.01, 96), 'zeros': np.zeros(96),
                      'centred': rng.normal(0, 1, 96), 'tiny_but_varying': rng.normal(1e-6, 3e-7, 96)})
    assert (dispersion(X) < 1e-3).to_dict() == dict(normalised_away=True, zeros=True, centred=False,
                                                   tiny_but_varying=False)

def test_real_patient_ids_are_never_synthetic(index_manifest):
    from leukemia_nb.data import is_synthetic_patient
    assert not index_manifest[0].patient.dropna().map(is_synthetic_patient).any()
