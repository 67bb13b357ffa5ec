"""Diagnosis: when an implementation deviates from SPEC, what does it compute instead?

The oracle reruns the failing run under each alternative of
`spec_tests/oracle/alternatives.py` (and, when no single one fits, under
pairs of them). An alternative *explains* the deviation when both hold:

- the implementation's run matches the oracle's run under the alternative by
  `compare.assert_run_matches`, with the same tolerance (and the same
  near-threshold horizon rule, applied to the alternative's own run);
- the implementation's run does not match SPEC's on the steps both runs
  compare, so the alternative covers the deviation rather than cutting the
  comparison off before it.

Diagnosis runs only after a failure, and never raises: `explain` turns its
own errors into the line it returns.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from .. import oracle
from ..compare import Mismatch, Tolerance, assert_run_matches
from ..description import RunResult, RunSpec
from ..oracle.alternatives import CATALOGUE, Alternative, combine

NOT_EXPLAINED = "not explained by any catalogued alternative (spec_tests/oracle/alternatives.py)"


def _matches(run: RunSpec, expected: RunResult, actual: RunResult, tolerance: Tolerance) -> bool:
    try:
        assert_run_matches(run, expected, actual, tolerance)
    except Mismatch:
        return False
    return True


def _with_near_steps(result: RunResult, near_threshold_steps) -> RunResult:
    return RunResult(result.outputs, result.final_states, result.final_outputs,
                     near_threshold_steps)


def explains(run: RunSpec, spec: RunResult, alternative: RunResult, actual: RunResult,
             tolerance: Tolerance) -> bool:
    """The implementation computed `alternative`, and that differs from `spec`
    on the steps both compare (see the module docstring)."""
    if not _matches(run, alternative, actual, tolerance):
        return False
    both_near = np.asarray(spec.near_threshold_steps) | np.asarray(alternative.near_threshold_steps)
    return not _matches(run, _with_near_steps(spec, both_near), actual, tolerance)


def _identical(first: RunResult, second: RunResult) -> bool:
    arrays = lambda r: (list(r.outputs) + [a for s in r.final_states for a in s]  # noqa: E731
                        + list(r.final_outputs))
    return all(np.array_equal(a, b) for a, b in zip(arrays(first), arrays(second)))


def _run_under(run: RunSpec, alternative: Alternative, margin: float,
               initial: dict) -> RunResult | None:
    """The oracle's run under `alternative`; None when the network cannot run under it
    (e.g. a Parallel layer whose reordered inputs no longer fit its members)."""
    try:
        with np.errstate(all="ignore"):   # e.g. an unclamped decay constant above 1
            return oracle.run(run, margin=margin, semantics=alternative.semantics, **initial)
    except ValueError:
        return None


def diagnose(run: RunSpec, actual: RunResult, tolerance: Tolerance,
             spec: RunResult | None = None, **initial) -> list[Alternative]:
    """The catalogued alternatives that explain `actual`: every single one that
    does; when none does, every pair that does (combined with `combine`).
    `initial`: the run's `initial_states` and `initial_outputs`, for a run
    that starts from a given state (as `oracle.run` takes them)."""
    spec = spec if spec is not None else oracle.run(run, margin=tolerance.margin, **initial)
    effective = []   # the alternatives that change this run at all
    explaining = []
    for alternative in CATALOGUE:
        result = _run_under(run, alternative, tolerance.margin, initial)
        if result is None or _identical(result, spec):
            continue
        effective.append(alternative)
        if explains(run, spec, result, actual, tolerance):
            explaining.append(alternative)
    if explaining:
        return explaining
    for first, second in combinations(effective, 2):
        pair = combine(first, second)
        if pair is None:
            continue
        result = _run_under(run, pair, tolerance.margin, initial)
        if result is not None and explains(run, spec, result, actual, tolerance):
            explaining.append(pair)
    return explaining


def explain(run: RunSpec, actual: RunResult, tolerance: Tolerance,
            spec: RunResult | None = None, **initial) -> str:
    """One line for a failure message: "explained by: <descriptions>", or why not."""
    try:
        found = diagnose(run, actual, tolerance, spec, **initial)
    except Exception as error:  # noqa: BLE001 - diagnosis must never hide the failure
        return f"diagnosis failed ({type(error).__name__}: {error})"
    if not found:
        return NOT_EXPLAINED
    return "explained by: " + "; ".join(alternative.description for alternative in found)


def reported_replay() -> bool | None:
    """Whether this is the replay of a failing example Hypothesis reports (one
    per distinct failure; the rule its `note` follows): True or False inside a
    Hypothesis test, None outside one (or where Hypothesis' internals moved)."""
    try:
        from hypothesis import currently_in_test_context
        from hypothesis.control import current_build_context
        if not currently_in_test_context():
            return None
        return bool(current_build_context().is_final)
    except Exception:  # noqa: BLE001 - no Hypothesis, or its internals moved
        return None


def worth_diagnosing() -> bool:
    """True outside Hypothesis, and inside it only on a reported replay
    (`reported_replay`), so shrinking does not pay for a diagnosis at every
    failing attempt."""
    return reported_replay() is not False
