"""The docs site shows the saved outputs: process the notebooks as nbdev_docs does, render them to HTML with nbconvert,
open the home, evaluation, CNN and explorer pages in Chromium, and check that each shows its figures and no error."""
import json, shutil, subprocess, sys
from pathlib import Path
import pytest
from conftest import docs_processed, skip_or_fail

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = '/usr/bin/chromium'
PAGES = {'index.ipynb': 2, '06_evaluate.ipynb': 4, '07_cnn.ipynb': 1, '08_explorer.ipynb': 1}  # least figures each

def saved_errors(notebook:Path) -> list:
    "The error outputs saved in a notebook (there must be none)."
    cells = json.loads(notebook.read_text())['cells']
    return [o.get('ename') for c in cells if c['cell_type'] == 'code' for o in c.get('outputs', [])
            if o.get('output_type') == 'error']

MODULES = sorted(p.name for p in (ROOT/'nbs').glob('[0-9][0-9]_*.ipynb')) + ['tutorials/tutorial.ipynb']

@pytest.mark.parametrize('name', MODULES)
def test_notebook_has_outputs_and_no_errors(name):
    "Every module notebook and the tutorial are saved with outputs (the docs show nothing else) and without errors."
    notebook = ROOT/'nbs'/name
    cells = json.loads(notebook.read_text())['cells']
    assert any(c.get('outputs') for c in cells if c['cell_type'] == 'code'), f'{name} is saved without outputs'
    assert not saved_errors(notebook), f'{name} has saved errors: {saved_errors(notebook)}'
    assert len(notebook.read_bytes()) < 3 * 2**20, f'{name} is over 3 MB'

@pytest.fixture(scope='module')
def html_pages(tmp_path_factory):
    "The four pages as nbdev processes them for the docs (`nbdev_proc_nbs`), rendered to HTML by nbconvert."
    processed, out = docs_processed(), tmp_path_factory.mktemp('docs')
    shutil.copytree(processed/'images', out/'images')
    pages = {}
    for name in PAGES:
        done = subprocess.run([sys.executable, '-m', 'jupyter', 'nbconvert', '--to', 'html', str(processed/name),
                               '--output-dir', str(out)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f'nbconvert failed on {name}: {done.stderr[-2000:]}'
        pages[name] = out/name.replace('.ipynb', '.html')
    return pages

def _offline(route):
    "The docs pages must show their figures without a network: every request but a local file or data is refused."
    if route.request.url.startswith(('file:', 'data:')): route.continue_()
    else: route.abort()

def test_pages_show_their_figures_in_chromium(html_pages):
    if not Path(CHROMIUM).exists():
        skip_or_fail('Debian chromium is not installed (apt-get install chromium; .ci/run installs it)')
    try: import playwright  # noqa: F401
    except ImportError: skip_or_fail('playwright is not installed (pip install -e ".[dev]")')
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'])
        try:
            page = browser.new_page(viewport={'width': 1200, 'height': 900})
            page.route('**/*', _offline)     # require.js and MathJax from a CDN never load: the page must not need them
            for name, html in html_pages.items():
                page.goto(html.as_uri(), wait_until='domcontentloaded')
                page.wait_for_function('() => [...document.images].every(i => i.complete)', timeout=60_000)
                sizes = page.eval_on_selector_all(
                    'img', 'imgs => imgs.map(i => [i.naturalWidth, i.getBoundingClientRect().width, i.src.slice(0, 40)])')
                shown = [s for s in sizes if s[0] > 0 and s[1] > 0]
                assert len(shown) >= PAGES[name], f'{name}: {len(shown)} visible figure(s) of {len(sizes)}: {sizes}'
                assert page.get_by_text('Traceback (most recent call last)').count() == 0, f'{name} shows an error'
                errors = page.locator('[data-mime-type="application/vnd.jupyter.error"]').count()
                assert errors == 0, f'{name} shows {errors} error output(s)'
        finally:
            browser.close()
