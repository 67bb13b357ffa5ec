"""The conformance properties: one row per documented class (that layer alone,
fed by external input), per graph rule (networks of simple layers exercising
that rule), per forward function and for float32 (whole random networks).

Each property reads: for every generated run of <row>, the implementation's
outputs at every compared step and its final states equal the oracle's.
(What each test tried, and a failure's replay script, are recorded by
conftest.py for the report's rows.)
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from .adapters.support import NOT_APPLICABLE
from .rows import (CLASS_ROWS, FLOAT32_ROW, FORWARD_ROWS, GRAPH_ROW_IDS, GRAPH_ROWS,
                   STATE_ROW_IDS, STATE_ROWS)


@pytest.mark.parametrize("row", CLASS_ROWS, ids=[r.name for r in CLASS_ROWS])
@given(data=st.data())
def test_class_conforms(adapter, row, data):
    """This class alone, fed by external input, runs exactly as the oracle says
    (float64): its output at every step and its final state."""
    row.run_check(adapter, data.draw(row.strategy(), label="run"))


@pytest.mark.parametrize("row", GRAPH_ROWS, ids=GRAPH_ROW_IDS)
@given(data=st.data())
def test_graph_rule_conforms(adapter, row, data):
    """Every network of simple layers exercising this graph rule runs exactly
    as the oracle says (float64)."""
    row.run_check(adapter, data.draw(row.strategy(), label="run"))


@pytest.mark.parametrize("row", FORWARD_ROWS, ids=["straight-through", "delayed"])
@given(data=st.data())
def test_forward_function_conforms(adapter, row, data):
    """Every network runs exactly as the oracle says under this forward function."""
    row.run_check(adapter, data.draw(row.strategy(), label="run"))


@settings(max_examples=2 * settings().max_examples)
@given(data=st.data())
def test_float32_conforms(adapter, data):
    """In float32, outputs and states agree with the oracle to 1e-4 plus an
    error growing with the steps and magnitudes (compare.py), up to the first
    near-threshold spike decision."""
    FLOAT32_ROW.run_check(adapter, data.draw(FLOAT32_ROW.strategy(), label="run"))


@pytest.mark.parametrize("row", STATE_ROWS, ids=STATE_ROW_IDS)
@given(data=st.data())
def test_state_conforms(adapter, row, data):
    """The state is an input: from a random valid state, and when a run is
    split in two calls (the second starting from the first's final state),
    outputs and final states equal the oracle's (float64). Adapters without
    `set_state` skip."""
    if getattr(adapter, "set_state", None) is None:
        pytest.skip(f"{NOT_APPLICABLE}: adapter {adapter.name} has no set_state: runs from a "
                    "given state cannot be made")
    row.run_check(adapter, data.draw(row.strategy(), label="run"))
