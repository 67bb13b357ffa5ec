"""snnax_ref's other execution paths conform too (SPEC.md §4.6).

The conformance rows run the default adapter, whose schedule is
`StatefulModel`'s own choice; here the forward-function rows run again on
each path explicitly: the step-by-step scan (both forward functions), the
graph schedule (forced, so also on networks where it can hoist nothing and
runs one merged scan; with the fused LIF scan and without), and both with a
checkpointed, unrolled scan body.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from .adapters.snnax_ref_adapter import (checkpointed_graph_adapter, checkpointed_step_adapter,
                                         graph_adapter, graph_readable_adapter, step_adapter)
from .properties import check_conforms
from .rows import FORWARD_ROWS

STRAIGHT_THROUGH, DELAYED = FORWARD_ROWS
# The graph schedule computes the straight-through semantics only.
PATHS = {
    "step/straight-through": (step_adapter, STRAIGHT_THROUGH),
    "step/delayed": (step_adapter, DELAYED),
    "graph/straight-through": (graph_adapter, STRAIGHT_THROUGH),
    "graph+readable-neurons/straight-through": (graph_readable_adapter, STRAIGHT_THROUGH),
    "graph+checkpoint+unroll/straight-through": (checkpointed_graph_adapter, STRAIGHT_THROUGH),
    "step+checkpoint+unroll/delayed": (checkpointed_step_adapter, DELAYED),
}


@pytest.mark.parametrize("path", list(PATHS))
@given(data=st.data())
def test_schedule_conforms(path, data):
    """Every network runs exactly as the oracle says on this execution path."""
    adapter, row = PATHS[path]
    run = data.draw(row.strategy(), label="run")
    check_conforms(adapter, run, row.dtype)
