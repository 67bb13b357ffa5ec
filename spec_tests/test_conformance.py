"""The conformance properties: one row per documented class (that layer alone,
fed by external input), per graph rule (networks of simple layers exercising
that rule), per forward function and for float32 (whole random networks).

Each property reads: for every generated run of <row>, the implementation's
outputs at every compared step and its final states equal the oracle's.
"""

import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from .adapters import chosen_impl
from .description import RunSpec
from .report import row as row_stats
from .repro import to_python
from .rows import (CLASS_ROWS, FLOAT32_ROW, FORWARD_ROWS, GRAPH_ROW_IDS, GRAPH_ROWS,
                   STATE_ROW_IDS, STATE_ROWS)


def _repro(row, example, impl):
    """A script replaying `example` of `row` (for a state row: the run, then
    the row's own property on it)."""
    if isinstance(example, RunSpec):
        return to_python(example, impl)
    run, extra = example
    return (to_python(run, impl)
            + f"# {row.name}: the row's property, on this run\n"
            + "from spec_tests.adapters import load_adapter\n"
            + f"from spec_tests.properties import {row.check.__name__}\n"
            + f"{row.check.__name__}(load_adapter({impl!r}), (run, {extra!r}), {row.dtype!r})\n")


def _check(adapter, request, row, data):
    example = data.draw(row.strategy(), label="run")
    stats = row_stats(row.name)
    stats.tried += 1
    try:
        row.run_check(adapter, example)
    except Exception as error:
        stats.failed += 1
        stats.message = f"{type(error).__name__}: {error}"
        stats.divergence = getattr(error, "divergence", None)   # the report's picture
        impl = chosen_impl(request.config.getoption("--impl"))
        stats.repro = _repro(row, example, impl)
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


@pytest.mark.parametrize("row", STATE_ROWS, ids=STATE_ROW_IDS)
@given(data=st.data())
def test_state_conforms(adapter, request, row, data):
    """The state is an input: from a random valid state, and when a run is
    split in two calls (the second starting from the first's final state),
    outputs and final states equal the oracle's (float64). Adapters without
    `set_state` skip."""
    if getattr(adapter, "set_state", None) is None:
        pytest.skip(f"adapter {adapter.name} has no set_state: runs from a given state "
                    "cannot be made")
    _check(adapter, request, row, data)
