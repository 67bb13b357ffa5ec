"""The rows of a conformance report: what each property generates, in which dtype."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from .description import DELAYED, DOCUMENTED_CLASSES, EQUINOX_KINDS, STRAIGHT_THROUGH
from .gradients import (check_frozen_parameters_get_no_gradient, check_jvp_conforms,
                        check_vjp_conforms)
from .profiles import EXAMPLES
from .properties import check_chunked_run_conforms, check_conforms, check_conforms_from_state
from .strategies import (burnin_runs, chunked_runs, composed_in_graph_runs, concatenation_runs,
                         feedback_runs, final_layer_runs, isolated_runs, random_layer_key_runs,
                         runs, runs_from_states, several_inputs_and_outputs_runs,
                         straight_through_runs)


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


# One row per documented class and equinox ingredient: that one layer (with its
# members), fed directly by external input; no edge, so no graph rule decides.
CLASS_ROWS = [Row(kind, lambda kind=kind: isolated_runs(kind))
              for kind in DOCUMENTED_CLASSES + EQUINOX_KINDS]
# One row per graph rule of SPEC.md section 4, on networks of simple layers;
# `test_id` is the row's pytest id (test_conformance.py::test_graph_rule_conforms).
GRAPH_ROWS = [
    Row("graph: straight-through reads", straight_through_runs),
    Row("graph: feedback delay", feedback_runs),
    Row("graph: multi-input concatenation order", concatenation_runs),
    Row("graph: several inputs and outputs", several_inputs_and_outputs_runs),
    Row("graph: final_layer_ids", final_layer_runs),
    Row("graph: burnin", burnin_runs),
    Row("graph: composed layers", composed_in_graph_runs),
    Row("graph: random layers' keys", random_layer_key_runs, examples_factor=2.0),
]
GRAPH_ROW_IDS = ["straight-through-reads", "feedback-delay", "concatenation-order",
                 "several-inputs-and-outputs", "final-layer-ids", "burnin", "composed-layers",
                 "random-layer-keys"]
# Whole random networks: every class and rule together.
FORWARD_ROWS = [Row("forward: straight-through", lambda: runs(forward=STRAIGHT_THROUGH)),
                Row("forward: delayed", lambda: runs(forward=DELAYED))]
FLOAT32_ROW = Row("float32", lambda: runs(), "float32", examples_factor=2.0)
# The state is an input (SPEC.md §4.1, §4.5): runs of whole random networks and
# of single classes, from a random valid state, and in two calls.
STATE_ROWS = [Row("state: given initial state", runs_from_states,
                  check=check_conforms_from_state),
              Row("state: chunked run", chunked_runs, check=check_chunked_run_conforms)]
STATE_ROW_IDS = ["given-initial-state", "chunked-run"]


def _gradient_runs(isolated_kind=None):
    """A run of up to 20 steps (whole random networks, or one layer of
    `isolated_kind` alone, as in its class row) and a direction seed."""
    generated = (isolated_runs(isolated_kind, max_steps=20) if isolated_kind
                 else runs(max_steps=20))
    return st.tuples(generated, st.integers(0, 2**16))


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


def _surrogate_points():
    from .strategies import surrogate_arguments  # never subnormal (SPEC.md §6)
    return st.tuples(st.sampled_from(["superspike", "sigmoid", "piecewise"]),
                     st.sampled_from([0.5, 1.0, 2.0, 10.0])).flatmap(
        lambda pair: st.tuples(st.just(pair[0]), st.just(pair[1]), surrogate_arguments(pair[1])))


def _check_surrogate(adapter, example, dtype):
    """The adapter's spike function's derivative at x equals SPEC §1's formula
    (what `test_surrogate_derivative_matches_its_formula` checks, as a row)."""
    import jax

    from . import oracle
    name, beta, x = example
    spike = getattr(adapter.functional, f"{name}_surrogate")(beta)
    with adapter.precision("float64"):
        derivative = float(jax.grad(lambda v: spike(v))(jax.numpy.float64(x)))
    expected = float(oracle.surrogate_derivative(name, beta, np.float64(x)))
    assert np.isclose(derivative, expected, rtol=1e-12, atol=1e-15), (name, beta, x, derivative)


# The pinned surrogate test as a row, for the mutation check.
SURROGATE_ROW = Row("gradient: surrogates", _surrogate_points, check=_check_surrogate,
                    examples_factor=4.0)
ALL_ROWS = {row.name: row for row in
            CLASS_ROWS + GRAPH_ROWS + FORWARD_ROWS + [FLOAT32_ROW] + STATE_ROWS + GRADIENT_ROWS
            + [SURROGATE_ROW]}


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
