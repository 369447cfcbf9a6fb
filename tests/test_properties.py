"Property-based tests (hypothesis): the file-name parser and the patient guard."
import re
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from leukemia_nb.data import (parse_cell_name, assert_patient_disjoint, PatientLeakError, patient_split, cv_splits,
                              is_synthetic_patient)

fields = st.tuples(st.booleans(), st.integers(0, 10**6), st.integers(0, 999), st.integers(0, 999), st.booleans(), st.booleans())

@given(fields)
def test_parse_roundtrip(f):
    normal, pid, image, cell, upper, lower_h = f
    label = 'hem' if normal else 'all'
    h = ('h' if lower_h else 'H') if normal else ''
    name = f'UID_{h}{pid}_{image}_{cell}_{label.upper() if upper else label}.bmp'
    got = parse_cell_name(name)
    assert got == dict(patient=('H' if normal else '') + str(pid), image_id=image, cell_id=cell, label=label)
    assert parse_cell_name(f'/some/fold_1/{label}/{name}') == got   # folders do not matter

@given(st.booleans(), st.integers(0, 999), st.integers(0, 99), st.integers(0, 99))
def test_contradictions_always_raise(normal, pid, image, cell):
    wrong = 'all' if normal else 'hem'
    with pytest.raises(ValueError, match='contradicts'):
        parse_cell_name(f"UID_{'H' if normal else ''}{pid}_{image}_{cell}_{wrong}.bmp")

@given(st.text(max_size=40))
def test_any_text_parses_or_raises_valueerror(s):
    try: r = parse_cell_name(s)
    except ValueError as e: assert 'C-NMC' in str(e) or 'contradicts' in str(e)
    else: assert r['label'] in ('all', 'hem') and re.fullmatch(r'H?S?\d+', r['patient'])

@given(fields)
def test_synthetic_names_roundtrip_and_are_never_real(f):
    normal, pid, image, cell, upper, lower = f
    label = 'hem' if normal else 'all'
    prefix = ('H' if normal else '') + 'S'
    name = f'UID_{prefix.lower() if lower else prefix}{pid}_{image}_{cell}_{label.upper() if upper else label}.bmp'
    got = parse_cell_name(name)
    assert got == dict(patient=f'{prefix}{pid}', image_id=image, cell_id=cell, label=label)
    assert is_synthetic_patient(got['patient'])
    real = parse_cell_name(f"UID_{'H' if normal else ''}{pid}_{image}_{cell}_{label}.bmp")['patient']
    assert not is_synthetic_patient(real) and real != got['patient']
    with pytest.raises(ValueError, match='contradicts'):
        parse_cell_name(f"UID_{prefix}{pid}_{image}_{cell}_{'all' if normal else 'hem'}.bmp")

patients = st.lists(st.sampled_from([str(i) for i in range(12)] + [f'H{i}' for i in range(8)]), max_size=25)

@given(patients, patients)
def test_guard_raises_exactly_when_shared(a, b):
    A, B = pd.DataFrame({'patient': a}), pd.DataFrame({'patient': b})
    shared = set(a) & set(b)
    if shared:
        with pytest.raises(PatientLeakError) as e: assert_patient_disjoint(A, B)
        assert all(p in str(e.value) for p in sorted(shared)[:20])
    else:
        assert_patient_disjoint(A, B)

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(['1', '2', '3', '4', '5', '6', 'H1', 'H2', 'H3', 'H4']), st.integers(1, 6)), min_size=4, max_size=10, unique_by=lambda t: t[0]),
       st.floats(0.1, 0.6), st.integers(0, 10**6))
def test_splits_are_always_patient_disjoint(pats, frac, seed):
    rows = [(p, int(not p.startswith('H'))) for p, n in pats for _ in range(n)]
    m = pd.DataFrame(rows, columns=['patient', 'y']).assign(fold=pd.array([None] * len(rows), dtype='Int64'))
    tr, va = patient_split(m, frac, seed)
    assert not set(tr.patient) & set(va.patient) and len(tr) + len(va) == len(m)
    if m.patient.nunique() >= 3 and m.y.nunique() == 2 and m.groupby('y').patient.nunique().min() >= 1:
        for a, b in cv_splits(m, 3):
            assert not set(m.patient.iloc[a]) & set(m.patient.iloc[b])
