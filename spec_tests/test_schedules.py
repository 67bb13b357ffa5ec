"""snnax_ref's other execution paths conform too (SPEC.md §4.6).

The conformance rows run the default adapter, which uses the graph schedule
for straight-through networks; here the forward-function rows run again on
the step-by-step scan, and on the graph schedule with a checkpointed,
unrolled scan body.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .adapters.snnax_ref_adapter import checkpointed_adapter, step_adapter
from .properties import check_conforms
from .rows import FORWARD_ROWS

ADAPTERS = {"step": step_adapter, "graph+checkpoint+unroll": checkpointed_adapter}


@pytest.mark.parametrize("schedule", list(ADAPTERS))
@pytest.mark.parametrize("row", FORWARD_ROWS, ids=["straight-through", "delayed"])
@given(data=st.data())
def test_schedule_conforms(schedule, row, data):
    """Every network runs exactly as the oracle says on this execution path."""
    run = data.draw(row.strategy(), label="run")
    check_conforms(ADAPTERS[schedule], run, row.dtype)
