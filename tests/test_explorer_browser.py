"The explorer in a real browser: Voilà serves the app notebook on localhost, headless Chromium (Playwright) uses it."
import os, shutil, socket, subprocess, sys, time, urllib.error, urllib.request
from pathlib import Path
import pytest
from conftest import ROOT, ENV, skip_or_fail

ARTIFACTS = Path(os.environ['LNB_ARTIFACTS'])    # under the run's scratch folder (conftest, run.sh), never the checkout
CHROMIUM = '/usr/bin/chromium'
APP = ROOT/'nbs'/'tutorials'/'explorer_app.ipynb'
READY_S = 120   # the most seconds Voilà may take to answer

def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _serve(env, log_path) -> tuple:
    """`(process, url)` of a Voilà server that answers; its death is reported at once with its log, and a port taken
    between choosing it and binding it is tried again (three ports at most)."""
    for attempt in range(3):
        port = _free_port()
        with open(log_path, 'a') as log:
            proc = subprocess.Popen([sys.executable, '-m', 'voila', str(APP), '--no-browser', f'--port={port}',
                                     '--Voila.ip=127.0.0.1', '--show_tracebacks=True', '--NotebookClient.timeout=600'],
                                    cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f'http://127.0.0.1:{port}/'
        deadline = time.monotonic() + READY_S
        while time.monotonic() < deadline:   # the server, not the notebook: the page request runs it
            try:
                urllib.request.urlopen(url + 'voila/static/', timeout=2)
                return proc, url
            except urllib.error.HTTPError:   # an HTTP answer, whatever its status: the server is up
                return proc, url
            except OSError:
                if proc.poll() is not None: break
                time.sleep(0.25)
        log = Path(log_path).read_text()
        if proc.poll() is None:
            proc.kill()
            pytest.fail(f'Voilà did not answer on {url} within {READY_S} s:\n{log[-3000:]}')
        if 'Address already in use' not in log and 'port' not in log.lower():
            pytest.fail(f'Voilà died at start (exit {proc.returncode}):\n{log[-3000:]}')
    pytest.fail(f'Voilà found no free port in three tries:\n{Path(log_path).read_text()[-3000:]}')

@pytest.fixture
def voila_url(quick_report, tmp_path):
    if not Path(CHROMIUM).exists():
        skip_or_fail('Debian chromium is not installed (apt-get install chromium; .ci/run installs it)')
    try: import playwright  # noqa: F401
    except ImportError: skip_or_fail('playwright is not installed (pip install -e ".[dev]")')
    env = dict(ENV, LNB_RUN_DIR=str(quick_report), LNB_PAGE_SIZE='8')
    proc, url = _serve(env, tmp_path/'voila.log')
    try:
        yield url
    finally:
        proc.terminate()
        try: proc.wait(15)
        except subprocess.TimeoutExpired: proc.kill()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path/'voila.log', ARTIFACTS/'voila.log')

def test_explorer_in_chromium(voila_url):
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'])
        try:
            page = browser.new_page(viewport={'width': 1500, 'height': 1100})
            page.goto(voila_url, timeout=300_000, wait_until='domcontentloaded')
            page.get_by_text('Misclassification explorer', exact=True).wait_for(timeout=300_000)  # the app's heading
            info = page.get_by_text('cell(s)')
            info.wait_for(timeout=60_000)
            before = info.inner_text()
            total = int(before.split('·')[1].split()[0])
            # a filter: keep only the misclassified cells
            page.get_by_role('button', name='incorrect', exact=True).click()
            page.wait_for_function("b => !document.body.innerText.includes(b)", arg=before, timeout=60_000)
            after = page.get_by_text('cell(s)').inner_text()
            assert after != before and int(after.split('·')[1].split()[0]) < total
            page.get_by_role('button', name='any', exact=True).first.click()
            page.get_by_text(before).wait_for(timeout=60_000)
            # click a thumbnail's button: the detail pane shows the cell
            assert 'Selected:' not in page.inner_text('body')
            page.locator('button:has-text("→")').first.click()
            page.get_by_text('Selected:').wait_for(timeout=120_000)
            body = page.inner_text('body')
            assert 'P(all)' in body and 'this patient' in body
            page.wait_for_function(   # every image of the page decoded and laid out: the screenshot shows them
                "() => [...document.images].length > 0 && [...document.images].every(i => i.complete && i.naturalWidth > 0)",
                timeout=60_000)
            page.screenshot(path=str(ARTIFACTS/'explorer.png'), full_page=False)
        finally:
            browser.close()
    assert (ARTIFACTS/'explorer.png').stat().st_size > 10_000
    if os.environ.get('LNB_UPDATE_SCREENSHOT'):   # tests/refresh_notebooks.sh: the docs' screenshot comes from here
        shutil.copy(ARTIFACTS/'explorer.png', ROOT/'nbs'/'images'/'explorer.png')
