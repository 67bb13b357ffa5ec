"""The rows of a conformance report: what each property generates, in which
dtype; which row a test belongs to; what a test's call report records for
its row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from hypothesis import HealthCheck, Phase, given, reject, settings
from hypothesis import strategies as st

from . import oracle
from .adapters.support import EXERCISED, PASSED_OVER, features_of, run_of
from .description import DELAYED, DOCUMENTED_CLASSES, EQUINOX_KINDS, STRAIGHT_THROUGH, RunSpec
from .gradients import (check_frozen_parameters_get_no_gradient, check_jvp_conforms,
                        check_vjp_conforms)
from .profiles import EXAMPLES
from .properties import check_chunked_run_conforms, check_conforms, check_conforms_from_state
from .strategies import (burnin_runs, chunked_runs, composed_constructor_runs,
                         composed_in_graph_runs, concatenation_runs,
                         feedback_runs, final_layer_runs, isolated_runs, random_layer_key_runs,
                         runs, runs_from_states, several_inputs_and_outputs_runs,
                         straight_through_runs, surrogate_arguments)


@dataclass(frozen=True)
class Row:
    """A report row: its strategy, dtype, the property it checks, and the
    share of the profile's example budget it gets."""

    name: str
    strategy: Callable[[], st.SearchStrategy]
    dtype: str = "float64"
    check: Callable = None          # check(adapter, example, dtype); default: forward
    examples_factor: float = 1.0
    about: str = ""                 # one line for `snnax-ref rows` (default: the strategy's doc)

    def run_check(self, adapter, example) -> None:
        """Check `example`; an error raised carries `(self, example)` as its
        `row_example`, for the failure's replay script (`repro`). A run the
        adapter declares it does not support (`adapters.support.Support`) is
        passed over (`hypothesis.reject`: not tried, Hypothesis draws again)."""
        run = run_of(example)
        supports = getattr(adapter, "supports", None)
        if run is not None and supports is not None:
            reason = supports.unsupported(run, self.dtype)
            if reason:
                PASSED_OVER[self.name][reason] += 1
                reject()
        try:
            (self.check or check_conforms)(adapter, example, self.dtype)
        except Exception as error:
            error.row_example = (self, example)
            raise
        if run is not None:
            EXERCISED.update(features_of(run))

    def describe(self) -> str:
        """One line for `snnax-ref rows`: what the row generates (its `about`, or
        the first sentence of its strategy's docstring) and its dtype."""
        text = self.about or " ".join((self.strategy.__doc__ or self.name).split())
        return f"{text.split('. ')[0].rstrip('.')} [{self.dtype}]"

    def repro(self, example, impl: str) -> str:
        """A script replaying `example` against `impl` in the row's dtype: the
        run checked as a whole, or (for an example `(run, extra)`) the row's
        own property on it, and nothing else."""
        from .failures.repro import to_python
        if isinstance(example, RunSpec):
            return to_python(example, impl, self.dtype)
        if not (isinstance(example, tuple) and isinstance(example[0], RunSpec)):
            return repr(example)
        run, extra = example
        check = self.check
        return (to_python(run, impl, self.dtype, check=False)
                + f"# {self.name}: the row's property, on this run\n"
                + "from spec_tests.adapters import load_adapter\n"
                + f"from {check.__module__} import {check.__name__}\n"
                + f"{check.__name__}(load_adapter({impl!r}), (run, {extra!r}), {self.dtype!r})\n")


# One row per documented class and equinox ingredient: that one layer (with its
# members), fed directly by external input; no edge, so no graph rule decides.
CLASS_ROWS = [Row(kind, lambda kind=kind: isolated_runs(kind),
                  about=f"{kind} alone, fed by external input")
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
    Row("graph: composed constructors", composed_constructor_runs),
    Row("graph: random layers' keys", random_layer_key_runs, examples_factor=2.0),
]
GRAPH_ROW_IDS = ["straight-through-reads", "feedback-delay", "concatenation-order",
                 "several-inputs-and-outputs", "final-layer-ids", "burnin", "composed-layers",
                 "composed-constructors", "random-layer-keys"]
# Whole random networks: every class and rule together.
FORWARD_ROWS = [Row("forward: straight-through", lambda: runs(forward=STRAIGHT_THROUGH),
                    about="whole random networks under default_forward_fn"),
                Row("forward: delayed", lambda: runs(forward=DELAYED),
                    about="whole random networks under delayed_forward_fn")]
FLOAT32_ROW = Row("float32", lambda: runs(), "float32", examples_factor=2.0,
                  about="whole random networks in float32, to float32's tolerance")
# The state is an input (SPEC.md §4.1, §4.5): runs of whole random networks and
# of single classes, from a random valid state, and in two calls.
STATE_ROWS = [Row("state: given initial state", runs_from_states,
                  check=check_conforms_from_state,
                  about="runs started from a random valid state (needs set_state)"),
              Row("state: chunked run", chunked_runs, check=check_chunked_run_conforms,
                  about="a run split in two calls, the second from the first's final state "
                        "(needs set_state)")]
STATE_ROW_IDS = ["given-initial-state", "chunked-run"]


def _gradient_runs(isolated_kind=None):
    """A run of up to 20 steps (whole random networks, or one layer of
    `isolated_kind` alone, as in its class row) and a direction seed. Whole
    networks hold an LIF in about half of the draws: LIF is the one neuron
    with a second, hand-differentiated scan (the fused scan, SPEC.md §4.6),
    and among every kind a network rarely draws it."""
    generated = (isolated_runs(isolated_kind, max_steps=20) if isolated_kind
                 else st.sampled_from([None, "LIF"]).flatmap(
                     lambda kind: runs(max_steps=20, required_kind=kind)))
    return st.tuples(generated, st.integers(0, 2**16))


def check_jvp_row(adapter, example, dtype="float64"):
    """`example = (run, seed)`: forward mode along the direction of `seed`."""
    check_jvp_conforms(adapter, *example)


def check_vjp_row(adapter, example, dtype="float64"):
    """`example = (run, seed)`: reverse mode against the direction of `seed`."""
    check_vjp_conforms(adapter, *example)


GRADIENT_ROWS = [
    Row("gradient: jvp", _gradient_runs, check=check_jvp_row, examples_factor=2.0,
        about="forward-mode tangents of whole random runs (up to 20 steps)"),
    Row("gradient: vjp", _gradient_runs, check=check_vjp_row, examples_factor=2.0,
        about="reverse-mode cotangents of whole random runs (up to 20 steps)"),
    Row("gradient: AdaptiveLIF", lambda: _gradient_runs("AdaptiveLIF"), check=check_jvp_row,
        about="forward-mode tangents of an AdaptiveLIF alone"),
    Row("gradient: SRM", lambda: _gradient_runs("SRM"), check=check_jvp_row,
        about="forward-mode tangents of an SRM alone"),
    Row("gradient: frozen parameters",
        lambda: st.lists(st.floats(-2, 2), min_size=1, max_size=4).map(np.asarray),
        check=lambda adapter, values, dtype: check_frozen_parameters_get_no_gradient(
            adapter, values), about="requires_grad=False parameters get exactly zero gradient",
        examples_factor=0.5),
]


def _surrogate_points():
    """`(name, beta, x)`, x never subnormal (SPEC.md §6)."""
    return st.tuples(st.sampled_from(["superspike", "sigmoid", "piecewise"]),
                     st.sampled_from([0.5, 1.0, 2.0, 10.0])).flatmap(
        lambda pair: st.tuples(st.just(pair[0]), st.just(pair[1]), surrogate_arguments(pair[1])))


def _check_surrogate(adapter, example, dtype):
    """The adapter's spike function's derivative at x equals SPEC §1's formula
    (what `test_surrogate_derivative_matches_its_formula` checks, as a row)."""
    import jax
    name, beta, x = example
    spike = getattr(adapter.functional, f"{name}_surrogate")(beta)
    with adapter.precision("float64"):
        derivative = float(jax.grad(lambda v: spike(v))(jax.numpy.float64(x)))
    expected = float(oracle.surrogate_derivative(name, beta, np.float64(x)))
    assert np.isclose(derivative, expected, rtol=1e-12, atol=1e-15), (name, beta, x, derivative)


# The pinned surrogate test as a row, for the mutation check.
SURROGATE_ROW = Row("gradient: surrogates", _surrogate_points, check=_check_surrogate,
                    about="each spike function's derivative equals SPEC §1's formula",
                    examples_factor=4.0)
ALL_ROWS = {row.name: row for row in
            CLASS_ROWS + GRAPH_ROWS + FORWARD_ROWS + [FLOAT32_ROW] + STATE_ROWS + GRADIENT_ROWS
            + [SURROGATE_ROW]}

# Row of each unparametrised test; a test missing here is its own row.
UNPARAMETRISED_ROWS = {
    "test_float32_conforms": "float32",
    "test_surrogate_derivative_matches_its_formula": "gradient: surrogates",
    "test_burnin_gives_zero_gradient_before_burnin": "gradient: burn-in",
    "test_stop_reset_grad_changes_only_the_reset_path": "gradient: pinned semantics",
    "test_adaptive_lif_spike_term_is_stop_gradiented": "gradient: pinned semantics",
    "test_srm_refractory_input_is_stop_gradiented": "gradient: pinned semantics",
    "test_frozen_parameters_get_exactly_zero_gradient": "gradient: pinned semantics",
}


def row_name(item) -> str:
    """The report row a collected pytest item belongs to: its `row`
    parameter's, or its function's (`UNPARAMETRISED_ROWS`)."""
    callspec = getattr(item, "callspec", None)
    row = callspec.params.get("row") if callspec else None
    if row is not None and hasattr(row, "name"):
        return row.name
    name = getattr(item, "originalname", None) or item.name
    return UNPARAMETRISED_ROWS.get(name, name)


class Recorded:
    """The user properties a test's call report carries for its row
    (conftest.py records them; `snnax-ref conform` sums them per row)."""

    TRIED = "snnax_tried"                  # examples run, shrinking included
    FAILED = "snnax_failed"                # of which failed
    MESSAGE = "snnax_message"              # the last failure of a row's check: its error,
    REPRO = "snnax_repro"                  # its replay script,
    DIVERGENCE = "snnax_divergence"        # its divergence (JSON's form, or None)
    SHRINK_CUT_SHORT = "snnax_shrink_cut_short"   # shrinking stopped at the shrink budget
    # Each minimal failing example Hypothesis reported (one per distinct failure
    # it found), in its order: {"message", "repro", "divergence"}.
    REPORTED = "snnax_reported"


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
