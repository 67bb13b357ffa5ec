"""Layers made of layers (SPEC.md 3.9, 3.13, 5), one function per class
named like it, and the one-step dispatcher.

`call_layer(layer, state, x, semantics) -> (new_state, output,
spike_arguments)` runs any layer kind for one step: the function named like
its kind, here, in `neurons.py` or in `stateless.py`. `state` is the
layer's flat state list in SPEC order (empty for a stateless layer); a
CompoundLayer's or ResNetBlock's flat state is its members' flat states
concatenated in member order, a stateless member contributing nothing.
`semantics` (SPEC's by default) is passed down to every neuron.
"""

from __future__ import annotations

import numpy as np

from spec_tests.oracle import neurons, stateless
from spec_tests.oracle.defaults import SPEC_SEMANTICS, clamp, param, threshold_of
from spec_tests.oracle.neurons import STATE_NAMES
from spec_tests.oracle.shapes import receives_input_list
from spec_tests.oracle.spikes import heaviside


def state_size(layer) -> int:
    """How many arrays the layer's flat state list holds."""
    if layer.kind in STATE_NAMES:
        return len(STATE_NAMES[layer.kind])
    if layer.kind in ("CompoundLayer", "ResNetBlock"):
        return sum(state_size(member) for member in layer.members)
    return 0


def split_member_states(layer, state):
    """Cut a composed layer's flat state into one flat list per member."""
    pieces, start = [], 0
    for member in layer.members:
        size = state_size(member)
        pieces.append(list(state[start:start + size]))
        start += size
    return pieces


def SRM(layer, state, x, semantics=SPEC_SEMANTICS):
    """Spike response model around a stateless inner layer:

        p = a*p + (1-a)*x;  q = b*q + (1-b)*p;  r = g*r + rv*S_prev
        V = layer(q) - rv*r;  S = H(V - threshold)

    a = clamp(0.5, dc[0], 1), b = clamp(0.5, dc[1], 1),
    g = clamp(0.5, r_decay_constants[0], 1), rv = clamp(0, reset_val, 2)
    (reset_val absent means 0). The output is S.
    """
    (inner,) = layer.members
    if state_size(inner):
        raise ValueError(f"SRM: the inner layer must be stateless, got {inner.kind}")
    input_trace, filtered_input, refractory, previous_spikes = state
    threshold = threshold_of(layer)
    decay_constants = param(layer, "decay_constants")
    a = clamp(0.5, decay_constants[0], 1.0, semantics)
    b = clamp(0.5, decay_constants[1], 1.0, semantics)
    g = clamp(0.5, param(layer, "r_decay_constants")[0], 1.0, semantics)
    rv = clamp(0.0, param(layer, "reset_val"), 2.0, semantics)
    input_trace = a * input_trace + (1.0 - a) * x
    filtered_input = b * filtered_input + (1.0 - b) * input_trace
    refractory = g * refractory + rv * previous_spikes
    _, inner_output, inner_arguments = call_layer(inner, [], filtered_input, semantics)
    membrane = inner_output - rv * refractory
    argument = membrane - threshold
    spikes = heaviside(argument, strict=not semantics.spike_at_threshold)
    new_state = [input_trace, filtered_input, refractory, spikes]
    return new_state, spikes, inner_arguments + [(argument, threshold)]


def CompoundLayer(layer, state, x, semantics=SPEC_SEMANTICS):
    """Members run in sequence within the step: x -> m0 -> m1 -> ...; output = last output.

    A ResNetBlock's output is the last member's output plus the block's input x.
    """
    new_state, arguments, y = [], [], x
    for member, member_state in zip(layer.members, split_member_states(layer, state)):
        member_state, y, member_arguments = call_layer(member, member_state, y, semantics)
        new_state += member_state
        arguments += member_arguments
    if layer.kind == "ResNetBlock":
        if y.shape != x.shape:
            raise ValueError(f"ResNetBlock: the last member's output {y.shape} does not "
                             f"match the block's input {x.shape}")
        y = y + x
    return new_state, y, arguments


ResNetBlock = CompoundLayer


def Parallel(layer, state, inputs, semantics=SPEC_SEMANTICS):
    """y = sum_k member_k(inputs[k]); members are stateless, inputs is a list."""
    if len(inputs) != len(layer.members):
        raise ValueError(f"Parallel: {len(layer.members)} members but {len(inputs)} inputs")
    total, arguments = None, []
    for member, member_input in zip(layer.members, inputs):
        if state_size(member) or member.kind in ("CompoundLayer", "ResNetBlock"):
            raise ValueError(f"Parallel: members must be stateless, got {member.kind}")
        _, y, member_arguments = call_layer(member, [], member_input, semantics)
        arguments += member_arguments
        if total is not None and total.shape != y.shape:
            raise ValueError(f"Parallel: member outputs {total.shape} and {y.shape} differ")
        total = y if total is None else total + y
    return [], total, arguments


def call_layer(layer, state, x, semantics=SPEC_SEMANTICS):
    """One step of any layer: (new_state, output, spike_arguments)."""
    state = list(state)
    if len(state) != state_size(layer):
        raise ValueError(f"{layer.kind}: expected {state_size(layer)} state arrays, "
                         f"got {len(state)}")
    if receives_input_list(layer):
        if not isinstance(x, (list, tuple)):
            raise ValueError(f"{layer.kind}: expects a list of inputs, got one array")
        x = [np.asarray(v, dtype=np.float64) for v in x]
    else:
        x = np.asarray(x, dtype=np.float64)
    if hasattr(stateless, layer.kind):
        y, arguments = stateless.apply_stateless(
            layer, x, strict_spikes=not semantics.spike_at_threshold)
        return [], y, arguments
    step = getattr(neurons, layer.kind, None) or globals().get(layer.kind)
    if step is None:
        raise ValueError(f"unknown layer kind {layer.kind!r}")
    return step(layer, state, x, semantics)
