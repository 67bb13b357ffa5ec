"""The rows of a conformance report: what each property generates, in which dtype."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .description import DELAYED, STRAIGHT_THROUGH
from .profiles import EXAMPLES, FLOAT32_EXAMPLES
from .properties import check_conforms
from .strategies import DOCUMENTED_CLASSES, runs

EQUINOX_ROWS = ("Linear", "Conv1d", "Conv2d", "LayerNorm", "MaxPool1d", "MaxPool2d",
                "AvgPool1d", "AvgPool2d", "Identity")


@dataclass(frozen=True)
class Row:
    name: str
    strategy: Callable[[], st.SearchStrategy]
    dtype: str = "float64"


CLASS_ROWS = [Row(kind, lambda kind=kind: runs(required_kind=kind))
              for kind in DOCUMENTED_CLASSES + EQUINOX_ROWS]
FORWARD_ROWS = [Row("forward: straight-through", lambda: runs(forward=STRAIGHT_THROUGH)),
                Row("forward: delayed", lambda: runs(forward=DELAYED))]
FLOAT32_ROW = Row("float32", lambda: runs(), "float32")
ALL_ROWS = {row.name: row for row in CLASS_ROWS + FORWARD_ROWS + [FLOAT32_ROW]}


def row_fails(adapter, row: Row, profile: str = "ci") -> str | None:
    """Run `row`'s property without shrinking; the first failure's message, or None."""
    examples = (FLOAT32_EXAMPLES if row.dtype == "float32" else EXAMPLES)[profile]

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(run=row.strategy())
    def property_holds(run):
        check_conforms(adapter, run, row.dtype)

    try:
        property_holds()
    except Exception as error:  # noqa: BLE001 - any failure kills the mutant
        return f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    return None
