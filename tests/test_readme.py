"""The README's Python examples run as written, and the quickstart spikes."""

import pathlib
import re

import numpy as np

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_examples_run_and_the_quickstart_spikes():
    blocks = _python_blocks()
    assert len(blocks) >= 2
    namespace: dict = {}
    for block in blocks[:2]:  # the quickstart, then the graph with feedback
        exec(compile(block, str(README), "exec"), namespace)  # noqa: S102 - our own docs
    spikes = np.asarray(namespace["spikes"])
    assert spikes.shape == (100, 20)
    assert 0.01 < spikes.mean() < 0.5  # it spikes, and not at every step
