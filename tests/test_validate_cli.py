"lnb_validate's command line: a problems CSV aimed inside the data folder is refused with one line, not a traceback."
import subprocess
from conftest import snapshot

def test_problems_csv_inside_the_data_folder_is_refused(tiny_copy):
    before = snapshot(tiny_copy)
    target = tiny_copy/'problems.csv'
    done = subprocess.run(['lnb_validate', str(tiny_copy), '--names_only', '--problems_csv', str(target)],
                          capture_output=True, text=True)
    assert done.returncode == 2, done.stderr
    assert 'Traceback' not in done.stderr and done.stderr.startswith('lnb_validate: ')
    assert 'data folder' in done.stderr and not target.exists()
    assert snapshot(tiny_copy) == before
