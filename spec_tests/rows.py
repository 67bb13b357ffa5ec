"""The rows of a conformance report: what each property generates, in which dtype."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .description import DELAYED, STRAIGHT_THROUGH
from .gradients import (check_frozen_parameters_get_no_gradient, check_jvp_conforms,
                        check_vjp_conforms)
from .profiles import EXAMPLES
from .properties import check_conforms
from .strategies import DOCUMENTED_CLASSES, runs

EQUINOX_ROWS = ("Linear", "Conv1d", "Conv2d", "LayerNorm", "MaxPool1d", "MaxPool2d",
                "AvgPool1d", "AvgPool2d", "Identity")


@dataclass(frozen=True)
class Row:
    """A report row: its strategy, dtype, the property it checks, and the
    share of the profile's example budget it gets."""

    name: str
    strategy: Callable[[], st.SearchStrategy]
    dtype: str = "float64"
    check: Callable = None          # check(adapter, example, dtype); default: forward
    examples_factor: float = 1.0

    def run_check(self, adapter, example) -> None:
        (self.check or check_conforms)(adapter, example, self.dtype)


CLASS_ROWS = [Row(kind, lambda kind=kind: runs(required_kind=kind))
              for kind in DOCUMENTED_CLASSES + EQUINOX_ROWS]
FORWARD_ROWS = [Row("forward: straight-through", lambda: runs(forward=STRAIGHT_THROUGH)),
                Row("forward: delayed", lambda: runs(forward=DELAYED))]
FLOAT32_ROW = Row("float32", lambda: runs(), "float32", examples_factor=2.0)


def _gradient_runs(required_kind=None):
    return st.tuples(runs(required_kind=required_kind, max_steps=20), st.integers(0, 2**16))


GRADIENT_ROWS = [
    Row("gradient: jvp", _gradient_runs,
        check=lambda adapter, example, dtype: check_jvp_conforms(adapter, *example),
        examples_factor=2.0),
    Row("gradient: vjp", _gradient_runs,
        check=lambda adapter, example, dtype: check_vjp_conforms(adapter, *example),
        examples_factor=2.0),
    Row("gradient: AdaptiveLIF", lambda: _gradient_runs("AdaptiveLIF"),
        check=lambda adapter, example, dtype: check_jvp_conforms(adapter, *example)),
    Row("gradient: SRM", lambda: _gradient_runs("SRM"),
        check=lambda adapter, example, dtype: check_jvp_conforms(adapter, *example)),
    Row("gradient: frozen parameters",
        lambda: st.lists(st.floats(-2, 2), min_size=1, max_size=4).map(np.asarray),
        check=lambda adapter, values, dtype: check_frozen_parameters_get_no_gradient(
            adapter, values),
        examples_factor=0.5),
]
ALL_ROWS = {row.name: row for row in CLASS_ROWS + FORWARD_ROWS + [FLOAT32_ROW] + GRADIENT_ROWS}


def row_fails(adapter, row: Row, profile: str = "ci") -> str | None:
    """Run `row`'s property without shrinking; the first failure's message, or None."""
    examples = max(1, int(EXAMPLES[profile] * row.examples_factor))

    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(example=row.strategy())
    def property_holds(example):
        row.run_check(adapter, example)

    try:
        property_holds()
    except Exception as error:  # noqa: BLE001 - any failure kills the mutant
        return f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
    return None
