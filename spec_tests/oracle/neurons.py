"""Neuron layers (SPEC.md sections 3.1 to 3.10 and 3.12): one step each.

Every function maps `(layer, state, x)` to `(new_state, output,
spike_arguments)`: `state` is the layer's flat state list in SPEC order, `x`
the synaptic input of this step, `spike_arguments` the `(argument,
threshold)` pairs fed to spike functions. Only values are computed here, so
the reset term R(v) and sg(v) are just v. `dc[k]` is the k-th decay constant
(a scalar or an array of the neuron shape). SRM is in `composed.py`, because
it wraps an inner layer.
"""

from __future__ import annotations

import numpy as np

from spec_tests.oracle.defaults import clamp, first_entry, hyper, param, threshold_of
from spec_tests.oracle.spikes import heaviside

# The state arrays of each neuron kind, in SPEC order.
STATE_NAMES = {
    "SimpleIAF": ("membrane", "spikes"),
    "IAF": ("membrane", "synaptic_current", "spikes"),
    "SimpleLI": ("membrane",),
    "SimpleLIF": ("membrane", "spikes"),
    "LIF": ("membrane", "synaptic_current", "spikes"),
    "LIFSoftReset": ("membrane", "synaptic_current", "spikes"),
    "AdaptiveLIF": ("membrane", "adaptation", "spikes"),
    "SigmaDelta": ("input_trace", "error", "membrane", "feedback_trace", "spikes"),
    "SRM": ("input_trace", "filtered_input", "refractory", "spikes"),
    "SpikeCounter": ("count", "spikes"),
    "BatchNormLayer": ("running_mean", "running_variance"),
}


def _decay(layer, k: int, clamped: bool = True):
    """a = clamp(0.5, dc[k], 1) (or dc[k] unclamped)."""
    decay_constants = param(layer, "decay_constants")
    value = decay_constants[k]
    return clamp(0.5, value, 1.0) if clamped else value


def _reset_to_zero(layer, membrane, spikes):
    """V - V*S if reset_val is None, else V - reset_val*S (SimpleIAF, IAF, AdaptiveLIF)."""
    reset_val = hyper(layer, "reset_val")
    if reset_val is None:
        return membrane - membrane * spikes
    return membrane - reset_val * spikes


def simple_iaf(layer, state, x):
    """V = (V - leak) + x;  S = H(V - threshold);  V = V - V*S (or V - reset_val*S)."""
    membrane, _ = state
    threshold = threshold_of(layer)
    membrane = (membrane - param(layer, "leak")) + x
    argument = membrane - threshold
    spikes = heaviside(argument)
    membrane = _reset_to_zero(layer, membrane, spikes)
    return [membrane, spikes], spikes, [(argument, threshold)]


def iaf(layer, state, x):
    """V = (V - leak) + I_prev;  I = b*I_prev + (1-b)*x;  S = H(V - threshold);  reset.

    b = clamp(0.5, dc[0], 1).
    """
    membrane, current, _ = state
    threshold = threshold_of(layer)
    b = _decay(layer, 0)
    membrane = (membrane - param(layer, "leak")) + current
    current = b * current + (1.0 - b) * x
    argument = membrane - threshold
    spikes = heaviside(argument)
    membrane = _reset_to_zero(layer, membrane, spikes)
    return [membrane, current, spikes], spikes, [(argument, threshold)]


def simple_li(layer, state, x):
    """V = a*V + (1-a)*x, a = clamp(0.5, dc[0], 1); the output is V."""
    (membrane,) = state
    a = _decay(layer, 0)
    membrane = a * membrane + (1.0 - a) * x
    return [membrane], membrane, []


def simple_lif(layer, state, x):
    """V = a*V + (1-a)*x;  S = H(V - threshold);  V = V - V*S (or V - softplus(reset_val)*S)."""
    membrane, _ = state
    threshold = threshold_of(layer)
    a = _decay(layer, 0)
    membrane = a * membrane + (1.0 - a) * x
    argument = membrane - threshold
    spikes = heaviside(argument)
    reset_val = hyper(layer, "reset_val")
    if reset_val is None:
        membrane = membrane - membrane * spikes
    else:
        membrane = membrane - np.logaddexp(0.0, reset_val) * spikes  # softplus
    return [membrane, spikes], spikes, [(argument, threshold)]


def lif(layer, state, x):
    """Reset first with the previous spikes, then integrate the previous current:

        V = V - V*S_prev                 (reset_val None)
        V = V - (V - reset_val)*S_prev   (otherwise)
        V = a*V + (1-a)*I_prev;  I = b*I_prev + (1-b)*x;  S = H(V - threshold)
    """
    membrane, current, previous_spikes = state
    reset_val = hyper(layer, "reset_val")
    if reset_val is None:
        membrane = membrane - membrane * previous_spikes
    else:
        membrane = membrane - (membrane - reset_val) * previous_spikes
    return _lif_integrate(layer, membrane, current, x)


def lif_soft_reset(layer, state, x):
    """As LIF, with the reset V = V - S_prev (or V - reset_val*S_prev)."""
    membrane, current, previous_spikes = state
    reset_val = hyper(layer, "reset_val")
    if reset_val is None:
        membrane = membrane - previous_spikes
    else:
        membrane = membrane - reset_val * previous_spikes
    return _lif_integrate(layer, membrane, current, x)


def _lif_integrate(layer, membrane, current, x):
    """V = a*V + (1-a)*I_prev;  I = b*I_prev + (1-b)*x;  S = H(V - threshold)."""
    threshold = threshold_of(layer)
    a, b = _decay(layer, 0), _decay(layer, 1)
    membrane = a * membrane + (1.0 - a) * current
    current = b * current + (1.0 - b) * x
    argument = membrane - threshold
    spikes = heaviside(argument)
    return [membrane, current, spikes], spikes, [(argument, threshold)]


def adaptive_lif(layer, state, x):
    """V = a*V + (1-a)*(x + A);  S = H(V - threshold);
    A = (1-b)*c*V + b*A - d*S  (V before the reset);  reset as SimpleIAF.

    a = clamp(0.5, dc[0], 1), b = clamp(0.5, ada_decay_constant[0], 1),
    c = clamp(-1, ada_coupling_var[0], 1), d = clamp(0, ada_step_val[0], 2):
    each ada_* holds one entry for the layer (per neuron under it).
    """
    membrane, adaptation, _ = state
    threshold = threshold_of(layer)
    a = _decay(layer, 0)
    b = clamp(0.5, first_entry(param(layer, "ada_decay_constant")), 1.0)
    c = clamp(-1.0, first_entry(param(layer, "ada_coupling_var")), 1.0)
    d = clamp(0.0, first_entry(param(layer, "ada_step_val")), 2.0)
    membrane = a * membrane + (1.0 - a) * (x + adaptation)
    argument = membrane - threshold
    spikes = heaviside(argument)
    adaptation = (1.0 - b) * c * membrane + b * adaptation - d * spikes
    membrane = _reset_to_zero(layer, membrane, spikes)
    return [membrane, adaptation, spikes], spikes, [(argument, threshold)]


def sigma_delta(layer, state, x):
    """Unclamped decays dc = [input_decay, membrane_decay, feedback_decay]:

        i = i*input_decay + x;  e = i - s;  m = m*membrane_decay + e;
        S = H(m - threshold);  s = s*feedback_decay + S
    """
    input_trace, _, membrane, feedback_trace, _ = state
    threshold = threshold_of(layer)
    input_decay = _decay(layer, 0, clamped=False)
    membrane_decay = _decay(layer, 1, clamped=False)
    feedback_decay = _decay(layer, 2, clamped=False)
    input_trace = input_trace * input_decay + x
    error = input_trace - feedback_trace
    membrane = membrane * membrane_decay + error
    argument = membrane - threshold
    spikes = heaviside(argument)
    feedback_trace = feedback_trace * feedback_decay + spikes
    return [input_trace, error, membrane, feedback_trace, spikes], spikes, [(argument, threshold)]


def spike_counter(layer, state, x):
    """S = x;  count = count + x; the output is S."""
    count, _ = state
    return [count + x, x], x, []


def batch_norm(layer, state, x):
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


NEURON_FUNCTIONS = {
    "SimpleIAF": simple_iaf,
    "IAF": iaf,
    "SimpleLI": simple_li,
    "SimpleLIF": simple_lif,
    "LIF": lif,
    "LIFSoftReset": lif_soft_reset,
    "AdaptiveLIF": adaptive_lif,
    "SigmaDelta": sigma_delta,
    "SpikeCounter": spike_counter,
    "BatchNormLayer": batch_norm,
}
