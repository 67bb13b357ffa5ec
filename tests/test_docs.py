"""The documentation's Python examples run as written, and the README stays a
first-visit page.

Every ```python block of README.md and of docs/**/*.md runs, page by page:
a page's blocks in order, in one namespace (a later block may use an earlier
one's names, as a reader going down the page would). The site itself is
checked by `mkdocs build --strict` in `.ci/run`.
"""

import pathlib
import re

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").rglob("*.md"))]


def _python_blocks(page: pathlib.Path) -> list:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"),
                      flags=re.S | re.M)


def _run_blocks(page: pathlib.Path) -> list:
    """Runs the page's blocks; returns the namespace after each block."""
    namespace: dict = {}
    after_each = []
    for number, block in enumerate(_python_blocks(page), 1):
        where = f"{page.relative_to(ROOT)}: python block {number}"
        try:
            exec(compile(block, where, "exec"), namespace)  # noqa: S102
        except Exception as error:  # noqa: BLE001 - say which block failed
            raise AssertionError(f"{where} fails: {error!r}\n{block}") from error
        after_each.append(dict(namespace))
    return after_each


@pytest.mark.parametrize("page", [p for p in PAGES if _python_blocks(p)],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_every_python_block_of_the_page_runs(page):
    _run_blocks(page)


def test_the_examples_that_were_tested_are_still_there():
    """README.md had three tested blocks (the quickstart, a graph with
    feedback, NIR export and import) before the site took its long sections:
    the first two stay in it, the NIR one is in the NIR guide."""
    assert len(_python_blocks(README)) >= 2
    nir_guide = "\n".join(_python_blocks(ROOT / "docs" / "guides" / "nir.md"))
    assert "snnax_nir.to_nir" in nir_guide and "snnax_nir.from_nir" in nir_guide


def test_the_readme_quickstart_spikes():
    quickstart = _run_blocks(README)[0]
    spikes = np.asarray(quickstart["spikes"])
    assert spikes.shape == (100, 20)
    assert 0.01 < spikes.mean() < 0.5  # it spikes, and not at every step


def test_the_readme_is_a_first_visit_page():
    """Short, with the commands CI runs, the command that serves the site, and
    links that lead somewhere."""
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 150
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    install = re.search(r'^pip install -e "[^"]+"', ci, flags=re.M).group(0)
    assert install in text, f"README does not give CI's install command {install!r}"
    assert "pytest -n auto" in text and "pytest -n auto" in ci
    assert "mkdocs serve" in text
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not target.startswith(("http://", "https://")):
            assert (ROOT / target).exists(), f"README links to a missing {target}"
