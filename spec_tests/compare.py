"""Comparing an implementation's run with the oracle's, with messages that say
what differed, where, and by how much.

Tolerances (docs/guides/conformance-report.md and SPEC.md section 8 state the same rule):

- float64: `|actual - expected| <= ATOL + RTOL * |expected|` with
  `RTOL = ATOL = 1e-10`; the oracle's near-threshold margin is `1e-9`.
- float32: `RTOL = ATOL = 1e-4`, margin `1e-3`, plus an error that may grow
  with the steps run and the magnitudes reached (`float32_envelope`): a value
  of layer `i` at step `t` (a final state: at the last step) may also differ by

      GROWTH * (t + 1) * M_t[i],     GROWTH = 64 * float32 epsilon (7.6e-6),

  where `M_t[i] >= 1` is the largest magnitude, over steps `0..t` of the
  oracle's run, of the values involved in layer `i`: the state components
  and outputs of `i` and of every layer it reads directly or through others,
  and the external inputs those read. Each step's float32 rounding is about
  `eps * M` in every value it touches, and rounding errors of earlier steps
  are carried along (decays keep them, cancellations such as SigmaDelta's
  `i - s` expose them), so the difference grows at most linearly with the
  steps taken. The spike margin grows alike: a spike argument within
  `margin + GROWTH * (t + 1) * max_i M_t[i]` of zero is near. A step where
  some value exceeds the largest float32 (3.4e38) ends the comparison too.

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

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from .description import RunResult, RunSpec, state_component_names

FLOAT32_EPS = float(np.finfo(np.float32).eps)  # 2**-23
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True)
class Tolerance:
    """`|actual - expected| <= atol + rtol * |expected|`; `margin`: the
    oracle's near-threshold margin. `growth > 0` adds the error allowed to
    grow with steps and magnitudes (`float32_envelope`)."""

    rtol: float
    atol: float
    margin: float
    growth: float = 0.0


TOLERANCES = {
    "float64": Tolerance(rtol=1e-10, atol=1e-10, margin=1e-9),
    "float32": Tolerance(rtol=1e-4, atol=1e-4, margin=1e-3, growth=64 * FLOAT32_EPS),
}


class Mismatch(AssertionError):
    """The implementation computed something other than the oracle.

    Besides its message, a Mismatch says where the first difference is, as
    attributes (None where the comparison does not know them): `what` (the
    message's subject), `index` (the first differing index of the compared
    arrays; None for a shape mismatch), `expected` and `actual` (those arrays,
    float64). `assert_run_matches` adds `layer` (the RunSpec's layer index),
    `source` ("output": a final layer's output, rows are steps from
    `first_step`; "state": its final state component `component`, whose
    SPEC name (`description.state_component_names`: "V", "layers[1].I") is
    `component_name` and which the message names as `component 0 (V)`; "last
    output"), `position` (an output's place in `final_layer_ids`) and `step`
    (the run step of the first difference; for final values the last step).
    """

    what = index = expected = actual = None
    layer = source = position = component = component_name = first_step = step = None

    def locate(self, **where) -> "Mismatch":
        for name, value in where.items():
            setattr(self, name, value)
        return self


def comparison_horizon(run: RunSpec, expected: RunResult) -> int:
    """The number of leading steps whose spikes are unambiguous."""
    near = expected.near_threshold_steps
    if near is None or not np.any(near):
        return run.num_steps
    return int(np.argmax(near))


@dataclass(frozen=True)
class Envelope:
    """`allowed[t, i]`: the extra error allowed in layer `i`'s values at step
    `t`; `near[t]`: whether the comparison must stop at step `t` (some spike
    argument fell within the grown margin, or some value left float32's range)."""

    allowed: np.ndarray
    near: np.ndarray

    @property
    def horizon(self) -> int:
        return int(np.argmax(self.near)) if np.any(self.near) else len(self.near)


def _largest_magnitude(arrays) -> float:
    finite = [np.abs(a[np.isfinite(a)]).max() for a in map(np.asarray, arrays)
              if a.size and np.isfinite(a).any()]
    return float(max(finite, default=0.0))


def upstream_layers(network) -> list[set]:
    """For each layer, itself and every layer it reads, directly or through
    other layers (feedback edges included)."""
    sources = [set(s) | {i} for i, s in enumerate(network.input_connectivity)]
    changed = True
    while changed:
        changed = False
        for reach in sources:
            grown = set().union(*(sources[j] for j in reach))
            if grown != reach:
                reach |= grown
                changed = True
    return sources


@lru_cache(maxsize=8)
def float32_envelope(run: RunSpec, growth: float, margin: float) -> Envelope:
    """The grown float32 error of each layer and step of `run`, and the
    steps whose spikes are ambiguous under the grown margin.

    The oracle replays `run` one step at a time (each step starting from the
    previous step's states and outputs), so every state component of every
    layer is seen at every step. `M_t[i]` is the largest magnitude (at least
    1) of the values involved in layer `i` up to step `t`: the state
    components and outputs of `i` and of every layer it reads directly or
    through others, and the external inputs any of them reads;
    `allowed[t, i] = growth * (t + 1) * M_t[i]`. Step `t` is near when some
    spike argument anywhere is within `margin + max_i allowed[t, i]` of zero
    (relative to `max(1, |threshold|)`, as the oracle measures it), or when
    some value exceeds the largest float32 (it overflows there: nothing from
    that step on is comparable).
    """
    from . import oracle  # the oracle imports nothing from here

    network = run.network
    steps, layers = run.num_steps, network.num_layers
    reach = [sorted(r) for r in upstream_layers(network)]
    allowed = np.zeros((steps, layers))
    near = np.zeros(steps, dtype=bool)
    own = np.ones(layers)  # running largest magnitude of each layer's own values
    states = outputs = None
    for t in range(steps):
        one_step = replace(run, inputs=tuple(np.asarray(x)[t:t + 1] for x in run.inputs),
                           burnin=0)
        read = [_largest_magnitude(one_step.inputs[k][0] for k in ids)
                for ids in network.input_layer_ids]
        guess = np.maximum(own, read)
        while True:  # once more if the step itself raised the magnitudes
            result = oracle.run(one_step, margin=margin + growth * (t + 1) * guess.max(),
                                initial_states=states, initial_outputs=outputs)
            reached = np.maximum(guess, [_largest_magnitude(list(s) + [o]) for s, o in zip(
                result.final_states, result.final_outputs)])
            if reached.max() <= guess.max():
                break
            guess = reached
        own = reached
        allowed[t] = [growth * (t + 1) * own[r].max() for r in reach]
        near[t] = bool(np.any(result.near_threshold_steps)) or own.max() > FLOAT32_MAX
        states, outputs = result.final_states, result.final_outputs
    return Envelope(allowed, near)


def _check_array(what: str, expected, actual, tolerance: Tolerance, extra=0.0) -> None:
    """`extra`: the grown error allowed, a scalar or one value per leading row."""
    expected = np.asarray(expected, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    arrays = dict(what=what, expected=expected, actual=actual)
    if expected.shape != actual.shape:
        raise Mismatch(f"{what}: expected shape {expected.shape}, got {actual.shape}"
                       ).locate(**arrays)
    finite = np.isfinite(actual) == np.isfinite(expected)
    if not np.all(finite):
        raise Mismatch(f"{what}: non-finite values differ\nexpected {expected}\nactual   {actual}"
                       ).locate(index=_first(~finite), **arrays)
    extra = np.asarray(extra, dtype=np.float64)
    if extra.ndim:  # one value per row (step): broadcast over the other axes
        extra = extra.reshape(extra.shape + (1,) * (expected.ndim - 1))
    allowed = tolerance.atol + tolerance.rtol * np.abs(expected) + extra
    with np.errstate(invalid="ignore"):
        close = ((np.abs(actual - expected) <= allowed) | (actual == expected)
                 | (np.isnan(actual) & np.isnan(expected)))
    if not np.all(close):
        where = _first(~close)
        grown = (f", grown allowance {float(np.broadcast_to(extra, expected.shape)[where]):.3g}"
                 if np.any(extra) else "")
        raise Mismatch(
            f"{what}: first difference at index {where}: expected {expected[where]!r}, "
            f"got {actual[where]!r} (max |diff| {np.nanmax(np.abs(actual - expected)):.3g}, "
            f"rtol {tolerance.rtol}, atol {tolerance.atol}{grown})").locate(index=where, **arrays)


def _first(differs: np.ndarray) -> tuple:
    """The first index (in C order) where `differs` holds."""
    return tuple(int(i) for i in np.argwhere(differs)[0])


def _allowance(run: RunSpec, expected: RunResult, tolerance: Tolerance):
    """`(horizon, allowed)`: the steps compared and the grown error allowed
    per step and layer (zero in float64)."""
    horizon = comparison_horizon(run, expected)
    allowed = np.zeros((run.num_steps, run.network.num_layers))
    if tolerance.growth:
        envelope = float32_envelope(run, tolerance.growth, tolerance.margin)
        horizon = min(horizon, envelope.horizon)
        allowed = envelope.allowed
    return horizon, allowed


def assert_run_matches(run: RunSpec, expected: RunResult, actual: RunResult,
                       tolerance: Tolerance) -> None:
    """Every final layer's output at every compared step, then the final states."""
    network = run.network
    horizon, allowed = _allowance(run, expected, tolerance)
    compared_rows = max(0, horizon - run.burnin)
    if len(actual.outputs) != len(expected.outputs):
        raise Mismatch(f"outputs: expected {len(expected.outputs)} arrays (final_layer_ids "
                       f"{network.final_layer_ids}), got {len(actual.outputs)}")
    for position, (layer_id, want, got) in enumerate(
            zip(network.final_layer_ids, expected.outputs, actual.outputs)):
        kind = network.layers[layer_id].kind
        where = dict(layer=layer_id, source="output", position=position, first_step=run.burnin)
        if np.shape(want) != np.shape(got):
            raise Mismatch(f"outputs[{position}] (layer {layer_id}, {kind}): expected shape "
                           f"{np.shape(want)}, got {np.shape(got)}").locate(**where)
        try:
            _check_array(f"outputs[{position}] (layer {layer_id}, {kind}), rows are steps "
                         f"{run.burnin}..{horizon - 1}", want[:compared_rows],
                         got[:compared_rows], tolerance,
                         allowed[run.burnin:run.burnin + compared_rows, layer_id])
        except Mismatch as mismatch:
            if mismatch.index is not None:
                where["step"] = run.burnin + mismatch.index[0]
            raise mismatch.locate(**where)
    if horizon < run.num_steps:
        return
    for layer_id in range(min(len(expected.final_states), len(actual.final_states))):
        _check_final_state(run, expected, actual, tolerance, allowed, layer_id)
    for layer_id, (want, got) in enumerate(zip(expected.final_outputs, actual.final_outputs)):
        try:
            _check_array(f"last output of layer {layer_id} ({network.layers[layer_id].kind})",
                         want, got, tolerance, allowed[-1, layer_id])
        except Mismatch as mismatch:
            raise mismatch.locate(layer=layer_id, source="last output", step=run.num_steps - 1)


def _check_final_state(run: RunSpec, expected: RunResult, actual: RunResult,
                       tolerance: Tolerance, allowed: np.ndarray, layer_id: int) -> None:
    layer = run.network.layers[layer_id]
    kind, names = layer.kind, state_component_names(layer)
    want, got = expected.final_states[layer_id], actual.final_states[layer_id]
    where = dict(layer=layer_id, source="state", step=run.num_steps - 1)
    if len(want) != len(got):
        listed = f" [{', '.join(names)}]" if len(names) == len(want) else ""
        raise Mismatch(f"final state of layer {layer_id} ({kind}): expected "
                       f"{len(want)} arrays{listed}, got {len(got)}").locate(**where)
    for component, (w, g) in enumerate(zip(want, got)):
        name = names[component] if component < len(names) else None
        label = f"component {component}" + (f" ({name})" if name else "")
        try:
            _check_array(f"final state of layer {layer_id} ({kind}), {label}",
                         w, g, tolerance, allowed[-1, layer_id])
        except Mismatch as mismatch:
            raise mismatch.locate(component=component, component_name=name, **where)


def final_state_mismatch(run: RunSpec, expected: RunResult, actual: RunResult,
                         tolerance: Tolerance, layer_id: int) -> Mismatch | None:
    """The Mismatch `assert_run_matches` would raise for the final state of
    layer `layer_id` alone, or None: it agrees, or final states are not
    compared (a near-threshold decision cut the comparison short)."""
    horizon, allowed = _allowance(run, expected, tolerance)
    if horizon < run.num_steps or layer_id >= min(len(expected.final_states),
                                                  len(actual.final_states)):
        return None
    try:
        _check_final_state(run, expected, actual, tolerance, allowed, layer_id)
    except Mismatch as mismatch:
        return mismatch
    return None
