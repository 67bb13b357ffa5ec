"""The conformance properties: one row per documented class (that layer alone,
fed by external input), per graph rule (networks of simple layers exercising
that rule), per forward function and for float32 (whole random networks).

Each property reads: for every generated run of <row>, the implementation's
outputs at every compared step and its final states equal the oracle's.
"""

import os

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from .adapters import DEFAULT_IMPL, ENV_VAR
from .properties import check_conforms
from .report import row as row_stats
from .repro import to_python
from .rows import CLASS_ROWS, FLOAT32_ROW, FORWARD_ROWS, GRAPH_ROW_IDS, GRAPH_ROWS


def _check(adapter, request, row, data):
    run = data.draw(row.strategy(), label="run")
    stats = row_stats(row.name)
    stats.tried += 1
    try:
        check_conforms(adapter, run, row.dtype)
    except Exception as error:
        stats.failed += 1
        stats.message = f"{type(error).__name__}: {error}"
        stats.divergence = getattr(error, "divergence", None)   # the report's picture
        impl = request.config.getoption("--impl") or os.environ.get(ENV_VAR) or DEFAULT_IMPL
        stats.repro = to_python(run, impl)
        note(stats.repro)
        raise


@pytest.mark.parametrize("row", CLASS_ROWS, ids=[r.name for r in CLASS_ROWS])
@given(data=st.data())
def test_class_conforms(adapter, request, row, data):
    """This class alone, fed by external input, runs exactly as the oracle says
    (float64): its output at every step and its final state."""
    _check(adapter, request, row, data)


@pytest.mark.parametrize("row", GRAPH_ROWS, ids=GRAPH_ROW_IDS)
@given(data=st.data())
def test_graph_rule_conforms(adapter, request, row, data):
    """Every network of simple layers exercising this graph rule runs exactly
    as the oracle says (float64)."""
    _check(adapter, request, row, data)


@pytest.mark.parametrize("row", FORWARD_ROWS, ids=["straight-through", "delayed"])
@given(data=st.data())
def test_forward_function_conforms(adapter, request, row, data):
    """Every network runs exactly as the oracle says under this forward function."""
    _check(adapter, request, row, data)


@settings(max_examples=2 * settings().max_examples)
@given(data=st.data())
def test_float32_conforms(adapter, request, data):
    """In float32, outputs and states agree with the oracle to 1e-4 plus an
    error growing with the steps and magnitudes (compare.py), up to the first
    near-threshold spike decision."""
    _check(adapter, request, FLOAT32_ROW, data)
