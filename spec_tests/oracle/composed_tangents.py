"""Forward-mode tangents of SRM and the composed layers (one function per
class, named like it), and the one-step dispatcher.

`step_layer_tangent(layer, state, state_tangent, x, x_tangent, param_tangents)`
returns `(new_state, new_state_tangent, output, output_tangent,
spike_arguments)` for any layer kind, from the function named like its kind,
here, in `neuron_tangents.py` or in `stateless_tangents.py`; states and
their tangents are flat lists in SPEC order. `param_tangents` is None (all zero) or a dict from
parameter name to tangent array, with the members' dicts (or None) as a list
under the key "members".
"""

from __future__ import annotations

import numpy as np

from spec_tests.oracle import neuron_tangents, stateless_tangents
from spec_tests.oracle.composed import split_member_states, state_size
from spec_tests.oracle.defaults import threshold_of
from spec_tests.oracle.tangent_rules import (
    clamp_pair, decay_pair, member_tangents, param_pair, spike_pair)


def SRM(layer, state, dstate, x, dx, dparams):
    """p = a*p + (1-a)*x;  q = b*q + (1-b)*p;  r = g*r + rv*sg(S_prev);
    V = layer(q) - rv*r;  S = H(V - threshold)   (stop_reset_grad plays no part)."""
    (p, q, r, S_prev), (dp, dq, dr, _) = state, dstate
    a, da = decay_pair(layer, dparams, 0)
    b, db = decay_pair(layer, dparams, 1)
    r_constants, d_r_constants = param_pair(layer, dparams, "r_decay_constants")
    g, dg = clamp_pair(0.5, r_constants[0], d_r_constants[0], 1.0)
    rv, drv = clamp_pair(0.0, *param_pair(layer, dparams, "reset_val"), 2.0)
    threshold = threshold_of(layer)
    p, dp = a * p + (1.0 - a) * x, da * (p - x) + a * dp + (1.0 - a) * dx
    q, dq = b * q + (1.0 - b) * p, db * (q - p) + b * dq + (1.0 - b) * dp
    r, dr = g * r + rv * S_prev, dg * r + g * dr + drv * S_prev   # sg(S_prev)
    _, _, y, dy, arguments = step_layer_tangent(
        layer.members[0], [], [], q, dq, member_tangents(dparams, 0))
    V, dV = y - rv * r, dy - drv * r - rv * dr
    S, dS = spike_pair(layer, V - threshold, dV)
    arguments = arguments + [(V - threshold, threshold)]
    return [p, q, r, S], [dp, dq, dr, dS], S, dS, arguments


def CompoundLayer(layer, state, dstate, x, dx, dparams):
    """Members in sequence; a ResNetBlock adds its input: y = last + x, dy = d last + dx."""
    new_state, new_dstate, arguments = [], [], []
    y, dy = x, dx
    pieces = zip(split_member_states(layer, state), split_member_states(layer, dstate))
    for k, (member, (member_state, member_dstate)) in enumerate(zip(layer.members, pieces)):
        member_state, member_dstate, y, dy, member_arguments = step_layer_tangent(
            member, member_state, member_dstate, y, dy, member_tangents(dparams, k))
        new_state += member_state
        new_dstate += member_dstate
        arguments += member_arguments
    if layer.kind == "ResNetBlock":
        y, dy = y + x, dy + dx
    return new_state, new_dstate, y, dy, arguments


ResNetBlock = CompoundLayer


def Parallel(layer, state, dstate, inputs, dinputs, dparams):
    """y = sum_k member_k(inputs[k]);  dy = sum_k d member_k."""
    if len(inputs) != len(layer.members):
        raise ValueError(f"Parallel: {len(layer.members)} members but {len(inputs)} inputs")
    y, dy, arguments = 0.0, 0.0, []
    for k, member in enumerate(layer.members):
        _, _, member_y, member_dy, member_arguments = step_layer_tangent(
            member, [], [], inputs[k], dinputs[k], member_tangents(dparams, k))
        y, dy, arguments = y + member_y, dy + member_dy, arguments + member_arguments
    return [], [], y, dy, arguments


def step_layer_tangent(layer, state, dstate, x, dx, dparams):
    """One step of any layer with tangents: (state, dstate, y, dy, spike_arguments)."""
    if len(state) != state_size(layer) or len(dstate) != len(state):
        raise ValueError(f"{layer.kind}: expected {state_size(layer)} state arrays and "
                         f"tangents, got {len(state)} and {len(dstate)}")
    if layer.kind == "Parallel":
        if not isinstance(x, (list, tuple)):
            raise ValueError("Parallel: expects a list of inputs, got one array")
        return Parallel(layer, [], [], [np.asarray(v, dtype=np.float64) for v in x],
                        [np.asarray(v, dtype=np.float64) for v in dx], dparams)
    x, dx = np.asarray(x, dtype=np.float64), np.asarray(dx, dtype=np.float64)
    if hasattr(stateless_tangents, layer.kind):
        y, dy, arguments = getattr(stateless_tangents, layer.kind)(layer, x, dx, dparams)
        return [], [], y, dy, arguments
    step = getattr(neuron_tangents, layer.kind, None) or globals().get(layer.kind)
    if step is None:
        raise ValueError(f"unknown layer kind {layer.kind!r}")
    return step(layer, list(state), list(dstate), x, dx, dparams)
