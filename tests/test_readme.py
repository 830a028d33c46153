"""The README is the front door: the two commands first, then a pitch, the quick start and
links to the documentation site (its Python blocks run in tests/test_docs.py, with every page's).
"""

from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
TEXT = README.read_text(encoding="utf-8")
FIRST_LINES = """\
# authforge_guard

```bash
python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/authforge-guard demo
python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest
```
"""


def test_the_first_lines_are_the_two_commands():
    assert TEXT.startswith(FIRST_LINES)


def test_the_readme_stays_short_and_links_the_site():
    assert len(TEXT.splitlines()) < 250
    assert "## Quick start" in TEXT and "```python\n" in TEXT
    for page in ("docs/tutorial.md", "docs/reference/configuration.md", "docs/reference/api.md"):
        assert f"]({page})" in TEXT, page
        assert (README.parent / page).is_file(), page
