"""The course as a student meets it: every question has an answer under it, and the glossary is there."""
import json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(str(p.relative_to(ROOT/'nbs')) for p in (ROOT/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in str(p))
WITHOUT_QUESTIONS = {'index.ipynb', 'glossary.ipynb', 'tutorials/explorer_app.ipynb'}  # the home page, a reference, an app

def questions_section(notebook:Path) -> str:
    "The markdown from `## Questions` to the next `## ` heading (empty when the notebook has none)."
    text = '\n'.join(''.join(c['source']) for c in json.loads(notebook.read_text())['cells'] if c['cell_type'] == 'markdown')
    found = re.search(r'^## Questions\s*$(.*?)(?=^## |\Z)', text, re.S | re.M)
    return found.group(1) if found else ''

@pytest.mark.parametrize('name', NOTEBOOKS)
def test_every_question_has_an_answer(name):
    section = questions_section(ROOT/'nbs'/name)
    if name in WITHOUT_QUESTIONS:
        assert not section, f'{name} has questions now: take it out of WITHOUT_QUESTIONS'
        return
    assert section.strip(), f'{name}: no "## Questions" section (every lesson ends with questions)'
    items = re.split(r'^\d+\.\s', section, flags=re.M)[1:]
    assert items, f'{name}: a Questions section without numbered questions'
    unanswered = [i + 1 for i, item in enumerate(items) if '<details><summary>Answer</summary>' not in item]
    assert not unanswered, f'{name}: question(s) {unanswered} have no answer'

def test_every_notebook_without_questions_exists():
    assert WITHOUT_QUESTIONS <= set(NOTEBOOKS), WITHOUT_QUESTIONS - set(NOTEBOOKS)

def test_glossary_has_the_terms():
    cells = json.loads((ROOT/'nbs'/'glossary.ipynb').read_text())['cells']
    terms = re.findall(r'^### (.+)$', '\n'.join(''.join(c['source']) for c in cells), re.M)
    assert len(terms) >= 30, len(terms)
    assert terms == sorted(terms, key=str.lower), 'the glossary is in alphabetical order'
