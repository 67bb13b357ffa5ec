"""The conformance property: an implementation's run equals the oracle's."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from . import oracle
from .adapters import Adapter, execute, execute_chunked, load_adapter
from .compare import TOLERANCES, Mismatch, assert_run_matches
from .description import RunSpec
from .keys import with_dropout_masks
from .failures.diagnosis import explain, worth_diagnosing
from .failures.divergence import divergence


def check_conforms(adapter: Adapter, run: RunSpec, dtype: str = "float64") -> None:
    """At every compared step, every final layer's output and every final state
    of `adapter`'s implementation equal the oracle's (see `compare`).

    A Mismatch's message ends with a diagnosis line (`diagnosis.explain`):
    the catalogued alternative semantics that reproduce the implementation.
    Its `divergence` attribute is the report's picture of the first
    difference (`failures.divergence.Divergence`), or None."""
    tolerance = TOLERANCES[dtype]
    run = with_dropout_masks(run, dtype)
    expected = oracle.run(run, margin=tolerance.margin)
    actual = execute(adapter, run, dtype)
    try:
        assert_run_matches(run, expected, actual, tolerance)
    except Mismatch as mismatch:
        mismatch.divergence = divergence(run, expected, actual, mismatch, tolerance)
        if worth_diagnosing():
            mismatch.args = (f"{mismatch}\n{explain(run, actual, tolerance, expected)}",)
        _add_plan_notes(mismatch, [_plan_note(adapter)])
        raise


def _plan_note(adapter):
    note = getattr(adapter, "plan_note", None)
    return note() if note else None


def _add_plan_notes(error: Exception, notes) -> None:
    """Append the execution plans the adapter used (if it reports them)."""
    notes = [n for n in notes if n]
    if notes and error.args:
        error.args = (f"{error.args[0]}\n" + "; ".join(notes),) + tuple(error.args[1:])


def _compare(adapter, run, expected, actual, tolerance, notes, context, **initial):
    """`assert_run_matches`, a Mismatch's message prefixed with `context` and
    ending with the diagnosis of the run (from `initial` states, if given)."""
    try:
        assert_run_matches(run, expected, actual, tolerance)
    except Mismatch as mismatch:
        mismatch.divergence = divergence(run, expected, actual, mismatch, tolerance)
        message = f"{context}: {mismatch}"
        if worth_diagnosing():
            message += f"\n{explain(run, actual, tolerance, expected, **initial)}"
        mismatch.args = (message,) + tuple(mismatch.args[1:])
        _add_plan_notes(mismatch, notes)
        raise


def check_conforms_from_state(adapter: Adapter, example, dtype: str = "float64") -> None:
    """`example = (run, seed)`: started from the random valid state
    `oracle.random_valid_state(network, default_rng(seed))` (set through the
    adapter's `set_state`), the run's outputs and final states equal the
    oracle's run from the same state (SPEC.md §4.1, §4.5: the state is an
    input)."""
    run, seed = example
    run = with_dropout_masks(run, dtype)
    tolerance = TOLERANCES[dtype]
    states, outputs = oracle.random_valid_state(run.network, np.random.default_rng(seed))
    expected = oracle.run(run, margin=tolerance.margin, initial_states=states,
                          initial_outputs=outputs)
    actual = execute(adapter, run, dtype, initial=(states, outputs))
    _compare(adapter, run, expected, actual, tolerance, [_plan_note(adapter)],
             f"run from a random valid state (seed {seed})", initial_states=states,
             initial_outputs=outputs)


def check_chunked_run_conforms(adapter: Adapter, example, dtype: str = "float64") -> None:
    """`example = (run, split)`: running steps `[0, split)`, then `[split, T)`
    from the returned state (read with `read_states`, set with `set_state`),
    gives the oracle's outputs and final states of the whole run in one call
    (SPEC.md §4.1). The run has no burn-in."""
    run, split = example
    run = with_dropout_masks(replace(run, burnin=0), dtype)
    tolerance = TOLERANCES[dtype]
    expected = oracle.run(run, margin=tolerance.margin)
    actual = execute_chunked(adapter, run, split, dtype)
    try:
        _compare(adapter, run, expected, actual, tolerance, getattr(actual, "plan_notes", []),
                 f"run in two calls, {split} + {run.num_steps - split} steps")
    except Mismatch as mismatch:
        if worth_diagnosing():
            mismatch.args = ((f"{mismatch.args[0]}\n{_in_one_call(adapter, run, dtype)}",)
                             + tuple(mismatch.args[1:]))
        raise


def _in_one_call(adapter, run: RunSpec, dtype: str) -> str:
    """Whether the same run in one call conforms: where it does, the state
    handed between the two calls (`read_states`, `set_state`) is at fault."""
    try:
        check_conforms(adapter, run, dtype)
    except Mismatch:
        return "in one call: deviates as well"
    except Exception as error:  # noqa: BLE001 - a diagnosis never hides the failure
        return f"in one call: {type(error).__name__}: {str(error).splitlines()[0][:200]}"
    return ("in one call: conforms, so the state handed between the calls "
            "(read_states, set_state) is where it goes wrong")


def check_run(run: RunSpec, impl: str | None = None, dtype: str = "float64") -> None:
    """Replay one run (as printed by a failure report) against `impl`."""
    check_conforms(load_adapter(impl), run, dtype)
    print("conforms")
