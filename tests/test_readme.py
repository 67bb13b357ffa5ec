"""The README's Python examples run as written, and the quickstart spikes."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_every_readme_python_block_runs_and_the_quickstart_spikes():
    """Every ```python block, in order, in one namespace (a later block may use
    an earlier one's names, as a reader going down the page would)."""
    blocks = _python_blocks()
    assert len(blocks) >= 3
    namespace: dict = {}
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"{README}:python block {number}", "exec"), namespace)  # noqa: S102
        except Exception as error:  # noqa: BLE001 - say which block failed
            raise AssertionError(f"README python block {number} fails: {error!r}\n{block}") from error
        if number == 1:
            quickstart_spikes = namespace["spikes"]
    spikes = np.asarray(quickstart_spikes)
    assert spikes.shape == (100, 20)
    assert 0.01 < spikes.mean() < 0.5  # it spikes, and not at every step
