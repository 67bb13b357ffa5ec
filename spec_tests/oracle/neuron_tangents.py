"""Forward-mode tangents of the neuron layers (SPEC.md 3.1 to 3.10, 3.12),
one function per class, named like it.

Every function maps `(layer, state, state_tangent, x, x_tangent,
param_tangents)` to `(new_state, new_state_tangent, output, output_tangent,
spike_arguments)`, computing each equation of `neurons.py` again together
with its tangent (a d-prefixed name is the tangent of the undecorated one).
dS = h(u) du with the surrogate derivative h; sg(.) has tangent zero and so
has R(.) when stop_reset_grad is true (`tangent_rules.reset_tangent`).
"""

from __future__ import annotations

import numpy as np

from spec_tests.oracle.defaults import hyper, threshold_of
from spec_tests.oracle.tangent_rules import (
    clamp_pair, decay_pair, first_entry_pair, param_pair, reset_tangent, spike_pair)


def _decay_step(a, da, old, d_old, new_input, d_new_input):
    """v = a*v + (1-a)*x:  dv = da*(v - x) + a*dv + (1-a)*dx."""
    value = a * old + (1.0 - a) * new_input
    tangent = da * (old - new_input) + a * d_old + (1.0 - a) * d_new_input
    return value, tangent


def _reset_by_spikes(layer, V, dV, S, dS, scale=lambda reset_val: reset_val):
    """V - R(V*S) (reset_val None) or V - R(scale(reset_val)*S), with tangents."""
    reset_val = hyper(layer, "reset_val")
    if reset_val is None:
        term, d_term = V * S, dV * S + V * dS
    else:
        term, d_term = scale(reset_val) * S, scale(reset_val) * dS
    return V - term, dV - reset_tangent(layer, d_term)


def SimpleIAF(layer, state, dstate, x, dx, dparams):
    """V = (V - leak) + x;  S = H(V - threshold);  V = V - R(V*S) or V - R(reset_val*S)."""
    (V, _), (dV, _) = state, dstate
    leak, dleak = param_pair(layer, dparams, "leak")
    threshold = threshold_of(layer)
    V, dV = (V - leak) + x, (dV - dleak) + dx
    S, dS = spike_pair(layer, V - threshold, dV)
    arguments = [(V - threshold, threshold)]
    V, dV = _reset_by_spikes(layer, V, dV, S, dS)
    return [V, S], [dV, dS], S, dS, arguments


def IAF(layer, state, dstate, x, dx, dparams):
    """V = (V - leak) + I_prev;  I = b*I_prev + (1-b)*x;  S = H(V - threshold);  reset."""
    (V, I, _), (dV, dI, _) = state, dstate
    leak, dleak = param_pair(layer, dparams, "leak")
    b, db = decay_pair(layer, dparams, 0)
    threshold = threshold_of(layer)
    V, dV = (V - leak) + I, (dV - dleak) + dI
    I, dI = _decay_step(b, db, I, dI, x, dx)
    S, dS = spike_pair(layer, V - threshold, dV)
    arguments = [(V - threshold, threshold)]
    V, dV = _reset_by_spikes(layer, V, dV, S, dS)
    return [V, I, S], [dV, dI, dS], S, dS, arguments


def SimpleLI(layer, state, dstate, x, dx, dparams):
    """V = a*V + (1-a)*x; the output is V."""
    a, da = decay_pair(layer, dparams, 0)
    V, dV = _decay_step(a, da, state[0], dstate[0], x, dx)
    return [V], [dV], V, dV, []


def SimpleLIF(layer, state, dstate, x, dx, dparams):
    """V = a*V + (1-a)*x;  S = H(V - threshold);  V = V - R(V*S) or V - R(softplus(reset_val)*S)."""
    (V, _), (dV, _) = state, dstate
    a, da = decay_pair(layer, dparams, 0)
    threshold = threshold_of(layer)
    V, dV = _decay_step(a, da, V, dV, x, dx)
    S, dS = spike_pair(layer, V - threshold, dV)
    arguments = [(V - threshold, threshold)]
    V, dV = _reset_by_spikes(layer, V, dV, S, dS, lambda reset_val: np.logaddexp(0.0, reset_val))
    return [V, S], [dV, dS], S, dS, arguments


def LIF(layer, state, dstate, x, dx, dparams):
    """V = V - R(V*S_prev) or V - R((V - reset_val)*S_prev); then integrate (_lif_integrate)."""
    (V, I, S_prev), (dV, dI, dS_prev) = state, dstate
    reset_val = hyper(layer, "reset_val")
    if reset_val is None:
        term, d_term = V * S_prev, dV * S_prev + V * dS_prev
    else:
        term, d_term = (V - reset_val) * S_prev, dV * S_prev + (V - reset_val) * dS_prev
    V, dV = V - term, dV - reset_tangent(layer, d_term)
    return _lif_integrate(layer, V, dV, I, dI, x, dx, dparams)


def LIFSoftReset(layer, state, dstate, x, dx, dparams):
    """V = V - R(S_prev) or V - R(reset_val*S_prev); then integrate (_lif_integrate)."""
    (V, I, S_prev), (dV, dI, dS_prev) = state, dstate
    reset_val = hyper(layer, "reset_val")
    scale = 1.0 if reset_val is None else reset_val
    V, dV = V - scale * S_prev, dV - reset_tangent(layer, scale * dS_prev)
    return _lif_integrate(layer, V, dV, I, dI, x, dx, dparams)


def _lif_integrate(layer, V, dV, I, dI, x, dx, dparams):
    """V = a*V + (1-a)*I_prev;  I = b*I_prev + (1-b)*x;  S = H(V - threshold)."""
    a, da = decay_pair(layer, dparams, 0)
    b, db = decay_pair(layer, dparams, 1)
    threshold = threshold_of(layer)
    V, dV = _decay_step(a, da, V, dV, I, dI)
    I, dI = _decay_step(b, db, I, dI, x, dx)
    S, dS = spike_pair(layer, V - threshold, dV)
    return [V, I, S], [dV, dI, dS], S, dS, [(V - threshold, threshold)]


def AdaptiveLIF(layer, state, dstate, x, dx, dparams):
    """V = a*V + (1-a)*(x + A);  S = H(V - threshold);
    A = (1-b)*c*V + b*A - d*sg(S) (V before the reset);  V = V - R(V*S) or V - R(reset_val*S).
    """
    (V, A, _), (dV, dA, _) = state, dstate
    a, da = decay_pair(layer, dparams, 0)
    b, db = clamp_pair(0.5, *first_entry_pair(layer, dparams, "ada_decay_constant"), 1.0)
    c, dc = clamp_pair(-1.0, *first_entry_pair(layer, dparams, "ada_coupling_var"), 1.0)
    d, dd = clamp_pair(0.0, *first_entry_pair(layer, dparams, "ada_step_val"), 2.0)
    threshold = threshold_of(layer)
    V, dV = _decay_step(a, da, V, dV, x + A, dx + dA)
    S, dS = spike_pair(layer, V - threshold, dV)
    arguments = [(V - threshold, threshold)]
    A, dA = ((1.0 - b) * c * V + b * A - d * S,
             (-db * c * V + (1.0 - b) * dc * V + (1.0 - b) * c * dV
              + db * A + b * dA - dd * S))  # sg(S): no dS term
    V, dV = _reset_by_spikes(layer, V, dV, S, dS)
    return [V, A, S], [dV, dA, dS], S, dS, arguments


def SigmaDelta(layer, state, dstate, x, dx, dparams):
    """i = i*id + x;  e = i - s;  m = m*md + e;  S = H(m - threshold);  s = s*fd + S (unclamped)."""
    (i, _, m, s, _), (di, _, dm, ds, _) = state, dstate
    input_decay, d_input_decay = decay_pair(layer, dparams, 0, clamped=False)
    membrane_decay, d_membrane_decay = decay_pair(layer, dparams, 1, clamped=False)
    feedback_decay, d_feedback_decay = decay_pair(layer, dparams, 2, clamped=False)
    threshold = threshold_of(layer)
    i, di = i * input_decay + x, di * input_decay + i * d_input_decay + dx
    e, de = i - s, di - ds
    m, dm = m * membrane_decay + e, dm * membrane_decay + m * d_membrane_decay + de
    S, dS = spike_pair(layer, m - threshold, dm)
    s, ds = s * feedback_decay + S, ds * feedback_decay + s * d_feedback_decay + dS
    return [i, e, m, s, S], [di, de, dm, ds, dS], S, dS, [(m - threshold, threshold)]


def SpikeCounter(layer, state, dstate, x, dx, dparams):
    """S = x;  count = count + x."""
    return [state[0] + x, x], [dstate[0] + dx, dx], x, dx, []


def BatchNormLayer(layer, state, dstate, x, dx, dparams):
    """mean = w*mean + (1-w)*x;  var = w*var + (1-w)*(x - mean)**2;
    y = gamma*(x - mean)/sqrt(var + eps)."""
    (mean, var), (dmean, dvar) = state, dstate
    w, eps = float(hyper(layer, "forget_weight")), float(hyper(layer, "eps"))
    gamma, dgamma = param_pair(layer, dparams, "gamma")
    mean, dmean = w * mean + (1.0 - w) * x, w * dmean + (1.0 - w) * dx
    centred, dcentred = x - mean, dx - dmean
    var, dvar = (w * var + (1.0 - w) * centred ** 2,
                 w * dvar + 2.0 * (1.0 - w) * centred * dcentred)
    scale = np.sqrt(var + eps)
    dscale = dvar / (2.0 * scale)
    y = gamma * centred / scale
    dy = dgamma * centred / scale + gamma * dcentred / scale - gamma * centred * dscale / scale ** 2
    return [mean, var], [dmean, dvar], y, dy, []
