"""Neuron layers (SPEC.md sections 3.1 to 3.10 and 3.12): one step each, one
function per class, named like it.

Every function maps `(layer, state, x, semantics)` to `(new_state, output,
spike_arguments)`: `state` is the layer's flat state list in SPEC order, `x`
the synaptic input of this step, `spike_arguments` the `(argument,
threshold)` pairs fed to spike functions. `semantics` is SPEC's
(`defaults.SPEC_SEMANTICS`, the default) or an alternative's
(`alternatives.py`): it says when a resetting neuron resets and with which
formula, whether a membrane at the threshold spikes, which synaptic current
the membrane reads, and whether the constants are clamped. Only values are
computed here, so the reset term R(v) and sg(v) are just v. `dc[k]` is the
k-th decay constant (a scalar or an array of the neuron shape). SRM is in
`composed.py`, because it wraps an inner layer.

Reset timing. SimpleIAF, IAF, SimpleLIF and AdaptiveLIF (the "IAF family")
reset at the *end* of a step, after the spike read, with this step's spikes
(`semantics.iaf_reset`, "end" in SPEC); LIF and LIFSoftReset (the "LIF
family") reset at the *start* of a step, before integrating, with the
previous step's spikes (`semantics.lif_reset`, "start" in SPEC). Each
neuron keeps its own reset formula unless `semantics.reset` replaces it for
every neuron ("zero", "subtract_threshold"); the timing alternatives move
only when it is applied (`_resetting_step`). Moving the reset from one end
of the step to the other ("start" <-> "end") gives the same spikes and
changes only the stored membrane; "between" also changes the spikes.
"""

from __future__ import annotations

import numpy as np

from spec_tests.oracle.defaults import (SPEC_SEMANTICS, clamp, first_entry, hyper, param,
                                        threshold_of)
from spec_tests.description import STATE_COMPONENTS
from spec_tests.oracle.spikes import heaviside

# The state arrays of each neuron kind, in SPEC order, named as SPEC.md names
# them (`V`, `I`, `S`, ...): the one table, in description.py, which the
# failure messages read too.
STATE_NAMES = STATE_COMPONENTS


def _decay(layer, k: int, semantics, clamped: bool = True):
    """a = clamp(0.5, dc[k], 1) (or dc[k] unclamped)."""
    value = param(layer, "decay_constants")[k]
    return clamp(0.5, value, 1.0, semantics) if clamped else value


def _resetting_step(layer, state, semantics, timing: str, integrate, reset, adapt=None):
    """One step of a neuron that resets, with its reset where `timing` puts it:

    - "start": V = reset(V, S_prev); integrate; S = H(V - threshold)
    - "between": integrate; V = reset(V, S_prev); S = H(V - threshold)
    - "end": integrate; S = H(V - threshold); V = reset(V, S)

    `state` is `[V, *others, S_prev]`; `integrate(V)` returns the integrated
    membrane and the other state arrays as the step leaves them before the
    spike read; `adapt(V, others, S)` updates them after it (AdaptiveLIF's
    adaptation reads the membrane the spike read). `reset` is the neuron's
    own formula, which `semantics.reset` may replace (`_reset_formula`).
    """
    threshold = threshold_of(layer)
    reset = _reset_formula(semantics, threshold, reset)
    membrane, previous_spikes = state[0], state[-1]
    if timing == "start":
        membrane = reset(membrane, previous_spikes)
    membrane, others = integrate(membrane)
    if timing == "between":
        membrane = reset(membrane, previous_spikes)
    argument = membrane - threshold
    spikes = _spikes(argument, semantics)
    if adapt is not None:
        others = adapt(membrane, others, spikes)
    if timing == "end":
        membrane = reset(membrane, spikes)
    return [membrane, *others, spikes], spikes, [(argument, threshold)]


def _spikes(argument, semantics):
    """S = H(argument): H(0) = 1 (SPEC), or 0 under `spike_at_threshold=False`."""
    return heaviside(argument, strict=not semantics.spike_at_threshold)


def _reset_formula(semantics, threshold, own):
    """The reset applied to (V, S): the neuron's `own` (SPEC), or the same
    formula for every resetting neuron: V - V*S ("zero"), V - threshold*S
    ("subtract_threshold")."""
    if semantics.reset == "zero":
        return lambda membrane, spikes: membrane - membrane * spikes
    if semantics.reset == "subtract_threshold":
        return lambda membrane, spikes: membrane - threshold * spikes
    return own


def _current_read(previous, updated, semantics):
    """The synaptic current the membrane integrates: the previous step's
    (SPEC) or, under `current="same_step"`, the one updated with this step's input."""
    return updated if semantics.current == "same_step" else previous


def _own_iaf_reset(layer):
    """V - V*S if reset_val is None, else V - reset_val*S (SimpleIAF, IAF, AdaptiveLIF)."""
    reset_val = hyper(layer, "reset_val")
    if reset_val is None:
        return lambda membrane, spikes: membrane - membrane * spikes
    return lambda membrane, spikes: membrane - reset_val * spikes


def SimpleIAF(layer, state, x, semantics=SPEC_SEMANTICS):
    """V = (V - leak) + x;  S = H(V - threshold);  V = V - V*S (or V - reset_val*S)."""
    def integrate(membrane):
        return (membrane - param(layer, "leak")) + x, []
    return _resetting_step(layer, state, semantics, semantics.iaf_reset, integrate,
                           _own_iaf_reset(layer))


def IAF(layer, state, x, semantics=SPEC_SEMANTICS):
    """V = (V - leak) + I_prev;  I = b*I_prev + (1-b)*x;  S = H(V - threshold);  reset.

    b = clamp(0.5, dc[0], 1). (V reads the new I under `current="same_step"`.)
    """
    current = state[1]
    b = _decay(layer, 0, semantics)

    def integrate(membrane):
        new_current = b * current + (1.0 - b) * x
        read = _current_read(current, new_current, semantics)
        return (membrane - param(layer, "leak")) + read, [new_current]
    return _resetting_step(layer, state, semantics, semantics.iaf_reset, integrate,
                           _own_iaf_reset(layer))


def SimpleLI(layer, state, x, semantics=SPEC_SEMANTICS):
    """V = a*V + (1-a)*x, a = clamp(0.5, dc[0], 1); the output is V."""
    (membrane,) = state
    a = _decay(layer, 0, semantics)
    membrane = a * membrane + (1.0 - a) * x
    return [membrane], membrane, []


def SimpleLIF(layer, state, x, semantics=SPEC_SEMANTICS):
    """V = a*V + (1-a)*x;  S = H(V - threshold);  V = V - V*S (or V - softplus(reset_val)*S)."""
    a = _decay(layer, 0, semantics)
    reset_val = hyper(layer, "reset_val")

    def integrate(membrane):
        return a * membrane + (1.0 - a) * x, []

    def reset(membrane, spikes):
        if reset_val is None:
            return membrane - membrane * spikes
        return membrane - np.logaddexp(0.0, reset_val) * spikes  # softplus
    return _resetting_step(layer, state, semantics, semantics.iaf_reset, integrate, reset)


def LIF(layer, state, x, semantics=SPEC_SEMANTICS):
    """Reset first with the previous spikes, then integrate the previous current:

        V = V - V*S_prev                 (reset_val None)
        V = V - (V - reset_val)*S_prev   (otherwise)
        V = a*V + (1-a)*I_prev;  I = b*I_prev + (1-b)*x;  S = H(V - threshold)
    """
    reset_val = hyper(layer, "reset_val")

    def reset(membrane, spikes):
        if reset_val is None:
            return membrane - membrane * spikes
        return membrane - (membrane - reset_val) * spikes
    return _lif_step(layer, state, x, semantics, reset)


def LIFSoftReset(layer, state, x, semantics=SPEC_SEMANTICS):
    """As LIF, with the reset V = V - S_prev (or V - reset_val*S_prev)."""
    reset_val = hyper(layer, "reset_val")

    def reset(membrane, spikes):
        return membrane - (spikes if reset_val is None else reset_val * spikes)
    return _lif_step(layer, state, x, semantics, reset)


def _lif_step(layer, state, x, semantics, reset):
    """V = a*V + (1-a)*I_prev;  I = b*I_prev + (1-b)*x;  S = H(V - threshold), with `reset`
    (V reads the new I under `current="same_step"`)."""
    current = state[1]
    a, b = _decay(layer, 0, semantics), _decay(layer, 1, semantics)

    def integrate(membrane):
        new_current = b * current + (1.0 - b) * x
        read = _current_read(current, new_current, semantics)
        return a * membrane + (1.0 - a) * read, [new_current]
    return _resetting_step(layer, state, semantics, semantics.lif_reset, integrate, reset)


def AdaptiveLIF(layer, state, x, semantics=SPEC_SEMANTICS):
    """V = a*V + (1-a)*(x + A);  S = H(V - threshold);
    A = (1-b)*c*V + b*A - d*S  (V before the reset);  reset as SimpleIAF.

    a = clamp(0.5, dc[0], 1), b = clamp(0.5, ada_decay_constant[0], 1),
    c = clamp(-1, ada_coupling_var[0], 1), d = clamp(0, ada_step_val[0], 2):
    each ada_* holds one entry for the layer (per neuron under it).
    """
    adaptation = state[1]
    a = _decay(layer, 0, semantics)
    b = clamp(0.5, first_entry(param(layer, "ada_decay_constant")), 1.0, semantics)
    c = clamp(-1.0, first_entry(param(layer, "ada_coupling_var")), 1.0, semantics)
    d = clamp(0.0, first_entry(param(layer, "ada_step_val")), 2.0, semantics)

    def integrate(membrane):
        return a * membrane + (1.0 - a) * (x + adaptation), [adaptation]

    def adapt(membrane, others, spikes):
        return [(1.0 - b) * c * membrane + b * adaptation - d * spikes]
    return _resetting_step(layer, state, semantics, semantics.iaf_reset, integrate,
                           _own_iaf_reset(layer), adapt)


def SigmaDelta(layer, state, x, semantics=SPEC_SEMANTICS):
    """Unclamped decays dc = [input_decay, membrane_decay, feedback_decay]:

        i = i*input_decay + x;  e = i - s;  m = m*membrane_decay + e;
        S = H(m - threshold);  s = s*feedback_decay + S
    """
    input_trace, _, membrane, feedback_trace, _ = state
    threshold = threshold_of(layer)
    input_decay, membrane_decay, feedback_decay = (
        _decay(layer, k, semantics, clamped=False) for k in range(3))
    input_trace = input_trace * input_decay + x
    error = input_trace - feedback_trace
    membrane = membrane * membrane_decay + error
    argument = membrane - threshold
    spikes = _spikes(argument, semantics)
    feedback_trace = feedback_trace * feedback_decay + spikes
    return [input_trace, error, membrane, feedback_trace, spikes], spikes, [(argument, threshold)]


def SpikeCounter(layer, state, x, semantics=SPEC_SEMANTICS):
    """S = x;  count = count + x; the output is S."""
    count, _ = state
    return [count + x, x], x, []


def BatchNormLayer(layer, state, x, semantics=SPEC_SEMANTICS):
    """Running statistics over time, each update reading the updated mean:

        mean = w*mean + (1 - w)*x
        var  = w*var  + (1 - w)*(x - mean)**2
        y    = gamma * (x - mean) / sqrt(var + eps)       (w = forget_weight)
    """
    mean, variance = state
    w = float(hyper(layer, "forget_weight"))
    eps = float(hyper(layer, "eps"))
    gamma = param(layer, "gamma")
    mean = w * mean + (1.0 - w) * x
    variance = w * variance + (1.0 - w) * (x - mean) ** 2
    y = gamma * (x - mean) / np.sqrt(variance + eps)
    return [mean, variance], y, []
