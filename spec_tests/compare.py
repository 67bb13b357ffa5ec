"""Comparing an implementation's run with the oracle's, with messages that say
what differed, where, and by how much.

Tolerances (README and SPEC.md state the same numbers):

- float64: `|actual - expected| <= ATOL + RTOL * |expected|` with
  `RTOL = ATOL = 1e-10`; the oracle's near-threshold margin is `1e-9`.
- float32: `RTOL = ATOL = 1e-4`; margin `1e-3`.

A spike decided within the margin of its threshold may legitimately go
either way in the implementation's arithmetic. The comparison therefore stops
at the first step where the oracle saw such a decision: outputs are compared
up to the step before it, and final states only when there was none.
Exact ties (`V - threshold == 0`) are not "near": SPEC.md fixes `H(0) = 1`.

Gradients (`spec_tests/gradients.py`) use the same horizon: tangents are
compared, in float64 with `RTOL = ATOL = 1e-8`, on the steps before the first
near-threshold decision, and reverse-mode cotangents are zero from it on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .description import RunResult, RunSpec


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float
    margin: float


TOLERANCES = {
    "float64": Tolerance(rtol=1e-10, atol=1e-10, margin=1e-9),
    "float32": Tolerance(rtol=1e-4, atol=1e-4, margin=1e-3),
}


class Mismatch(AssertionError):
    """The implementation computed something other than the oracle."""


def comparison_horizon(run: RunSpec, expected: RunResult) -> int:
    """The number of leading steps whose spikes are unambiguous."""
    near = expected.near_threshold_steps
    if near is None or not np.any(near):
        return run.num_steps
    return int(np.argmax(near))


def _check_array(what: str, expected, actual, tolerance: Tolerance) -> None:
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if expected.shape != actual.shape:
        raise Mismatch(f"{what}: expected shape {expected.shape}, got {actual.shape}")
    if not np.all(np.isfinite(actual) == np.isfinite(expected)):
        raise Mismatch(f"{what}: non-finite values differ\nexpected {expected}\nactual   {actual}")
    close = np.isclose(actual, expected, rtol=tolerance.rtol, atol=tolerance.atol,
                       equal_nan=True)
    if not np.all(close):
        where = tuple(int(i) for i in np.argwhere(~close)[0])
        raise Mismatch(
            f"{what}: first difference at index {where}: expected {expected[where]!r}, "
            f"got {actual[where]!r} (max |diff| {np.nanmax(np.abs(actual - expected)):.3g}, "
            f"rtol {tolerance.rtol}, atol {tolerance.atol})")


def assert_run_matches(run: RunSpec, expected: RunResult, actual: RunResult,
                       tolerance: Tolerance) -> None:
    """Every final layer's output at every compared step, then the final states."""
    network = run.network
    horizon = comparison_horizon(run, expected)
    compared_rows = max(0, horizon - run.burnin)
    if len(actual.outputs) != len(expected.outputs):
        raise Mismatch(f"outputs: expected {len(expected.outputs)} arrays (final_layer_ids "
                       f"{network.final_layer_ids}), got {len(actual.outputs)}")
    for position, (layer_id, want, got) in enumerate(
            zip(network.final_layer_ids, expected.outputs, actual.outputs)):
        kind = network.layers[layer_id].kind
        if np.shape(want) != np.shape(got):
            raise Mismatch(f"outputs[{position}] (layer {layer_id}, {kind}): expected shape "
                           f"{np.shape(want)}, got {np.shape(got)}")
        _check_array(f"outputs[{position}] (layer {layer_id}, {kind}), rows are steps "
                     f"{run.burnin}..{horizon - 1}", want[:compared_rows], got[:compared_rows],
                     tolerance)
    if horizon < run.num_steps:
        return
    for layer_id, (want, got) in enumerate(zip(expected.final_states, actual.final_states)):
        kind = network.layers[layer_id].kind
        if len(want) != len(got):
            raise Mismatch(f"final state of layer {layer_id} ({kind}): expected "
                           f"{len(want)} arrays, got {len(got)}")
        for component, (w, g) in enumerate(zip(want, got)):
            _check_array(f"final state of layer {layer_id} ({kind}), component {component}",
                         w, g, tolerance)
    for layer_id, (want, got) in enumerate(zip(expected.final_outputs, actual.final_outputs)):
        _check_array(f"last output of layer {layer_id} ({network.layers[layer_id].kind})",
                     want, got, tolerance)
