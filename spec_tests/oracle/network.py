"""Running a whole network over time (SPEC.md section 4), one step at a time.

For each step t and each layer i in index order, layer i receives the
outputs of its connected layers followed by the external inputs:

- STRAIGHT_THROUGH: an edge j -> i reads j's output of step t when j < i and
  of step t-1 when j >= i (feedback edges, self-loops included);
- DELAYED: every edge reads step t-1;
- at t = 0, "step t-1" is the initial output (zeros by default).

Several inputs are concatenated along axis 0 in that order, a single input is
passed unchanged, a Parallel layer gets the list. Outputs are recorded for the
steps t >= burnin; the final state is the state after all T steps.
"""

from __future__ import annotations

import numpy as np

from spec_tests.description import FORWARD_KINDS, STRAIGHT_THROUGH, LayerSpec, RunResult
from spec_tests.oracle.composed import call_layer, state_size
from spec_tests.oracle.defaults import SPEC_SEMANTICS
from spec_tests.oracle.shapes import infer_network_shapes, initial_layer_state, receives_input_list
from spec_tests.oracle.spikes import is_near_threshold


def validate_network(network) -> None:
    """Raise ValueError naming the field and index when the graph is malformed (SPEC 4)."""
    n = network.num_layers
    if n < 1:
        raise ValueError("num_layers: must be at least 1")
    for name in ("input_layer_ids", "input_connectivity"):
        if len(getattr(network, name)) != n:
            raise ValueError(f"{name}: {len(getattr(network, name))} entries for {n} layers")
    for i in range(n):
        if not network.input_layer_ids[i] and not network.input_connectivity[i]:
            raise ValueError(f"input_connectivity: layer {i} has no input at all")
        for j in network.input_connectivity[i]:
            if not 0 <= j < n:
                raise ValueError(f"input_connectivity[{i}]: layer id {j} out of range")
    external_ids = [k for ids in network.input_layer_ids for k in ids]
    if not external_ids:
        raise ValueError("input_layer_ids: no external input anywhere")
    if min(external_ids) < 0:
        raise ValueError(f"input_layer_ids: negative input id {min(external_ids)}")
    if 1 + max(external_ids) != len(network.input_shapes):
        raise ValueError(f"input_shapes: {len(network.input_shapes)} shapes for "
                         f"{1 + max(external_ids)} external inputs")
    if not network.final_layer_ids:
        raise ValueError("final_layer_ids: empty")
    for f in network.final_layer_ids:
        if not 0 <= f < n:
            raise ValueError(f"final_layer_ids: layer id {f} out of range")


def layers_drawn(network, dropout_masks, which: str):
    """The network's layers, each Dropout layer `i` replaced by a copy carrying
    its mask of this run, `dropout_masks[i].step` or `.initial` (`which`), as
    its parameter "mask" (see `stateless.dropout`). Without Dropout layers
    the layers are returned as they are."""
    layers = list(network.layers)
    for i, layer in enumerate(layers):
        if layer.kind != "Dropout":
            continue
        if not dropout_masks or i not in dropout_masks:
            raise ValueError(f"dropout_masks: layer {i} is a Dropout layer and has no mask; "
                             "spec_tests.keys.with_dropout_masks(run) derives them")
        mask = getattr(dropout_masks[i], which)
        layers[i] = LayerSpec("Dropout", dict(layer.hyper), {"mask": np.asarray(mask)})
    return layers


def init_state(network, dropout_masks=None):
    """SPEC's default (states, outputs): per layer its flat state list and its
    output before the first step (SPEC 4.2). `dropout_masks`: the run's
    `RunSpec.dropout_masks`, needed when the network has a Dropout layer.

    A stateful layer's initial output is zeros, except SRM's: its inner
    layer applied to zeros of SRM's input shape (its membrane at rest, SPEC
    3.9). A stateless layer's is the
    layer applied, in index order, to its initial input: the initial outputs
    of the layers it reads with a lower index or that are stateful, zeros for
    a stateless layer it reads with an index >= its own, and zeros for the
    external inputs.
    """
    validate_network(network)
    input_shapes, output_shapes = infer_network_shapes(network)
    states = [initial_layer_state(layer, shape)
              for layer, shape in zip(network.layers, input_shapes)]
    outputs = [np.zeros(shape) for shape in output_shapes]
    for i, layer in enumerate(network.layers):
        if layer.kind == "SRM":
            _, outputs[i], _ = call_layer(layer.members[0], [], np.zeros(input_shapes[i]))
    for i, layer in enumerate(layers_drawn(network, dropout_masks, "initial")):
        if is_stateful(layer):
            continue
        parts = [outputs[j] if (j < i or is_stateful(network.layers[j]))
                 else np.zeros(output_shapes[j]) for j in network.input_connectivity[i]]
        parts += [np.zeros(tuple(network.input_shapes[k])) for k in network.input_layer_ids[i]]
        _, outputs[i], _ = call_layer(layer, [], combine_inputs(layer, parts))
    return states, outputs


def is_stateful(layer) -> bool:
    """Whether the layer carries state between steps (its flat state is not empty)."""
    return state_size(layer) > 0


def checked_initial(network, initial_states, initial_outputs, dropout_masks=None):
    """The initial states and outputs to run from, as float64 copies, shapes checked
    (the default outputs of Dropout layers need `dropout_masks`)."""
    default_states, default_outputs = init_state(network, dropout_masks)
    states = default_states if initial_states is None else initial_states
    outputs = default_outputs if initial_outputs is None else initial_outputs
    if len(states) != network.num_layers or len(outputs) != network.num_layers:
        raise ValueError(f"initial_states/initial_outputs: need {network.num_layers} entries")
    checked_states = []
    for i, (given, default) in enumerate(zip(states, default_states)):
        given = [np.array(a, dtype=np.float64) for a in given]
        if [a.shape for a in given] != [a.shape for a in default]:
            raise ValueError(f"initial_states[{i}]: shapes {[a.shape for a in given]}, "
                             f"expected {[a.shape for a in default]}")
        checked_states.append(given)
    checked_outputs = []
    for i, (given, default) in enumerate(zip(outputs, default_outputs)):
        given = np.array(given, dtype=np.float64)
        if given.shape != default.shape:
            raise ValueError(f"initial_outputs[{i}]: shape {given.shape}, "
                             f"expected {default.shape}")
        checked_outputs.append(given)
    return checked_states, checked_outputs


def checked_inputs(run_spec):
    """The input sequences as float64 arrays, checked against the network."""
    network = run_spec.network
    inputs = [np.asarray(x, dtype=np.float64) for x in run_spec.inputs]
    if len(inputs) != len(network.input_shapes):
        raise ValueError(f"inputs: {len(inputs)} sequences for "
                         f"{len(network.input_shapes)} external inputs")
    steps = inputs[0].shape[0] if inputs[0].ndim else 0
    for k, x in enumerate(inputs):
        if x.shape != (steps, *network.input_shapes[k]):
            raise ValueError(f"inputs[{k}]: shape {x.shape}, expected "
                             f"({steps}, *{tuple(network.input_shapes[k])})")
    if steps < 1:
        raise ValueError("inputs: T must be at least 1")
    if run_spec.forward not in FORWARD_KINDS:
        raise ValueError(f"forward: {run_spec.forward!r} is not one of {FORWARD_KINDS}")
    if not 0 <= run_spec.burnin < steps:
        raise ValueError(f"burnin: {run_spec.burnin} is outside [0, {steps})")
    return inputs, steps


def reads_this_step(forward: str, source: int, target: int) -> bool:
    """Whether the edge source -> target reads step t (else step t-1)."""
    return forward == STRAIGHT_THROUGH and source < target


def input_parts(network, forward, i, current_outputs, previous_outputs, step_inputs,
                semantics=SPEC_SEMANTICS):
    """The list of parts layer i receives: connected layers in order, then external inputs.

    (An alternative `semantics` may override `forward` and the order.)
    """
    forward = semantics.edges or forward
    parts = []
    for j in network.input_connectivity[i]:
        current = reads_this_step(forward, j, i)
        parts.append(current_outputs[j] if current else previous_outputs[j])
    parts += [step_inputs[k] for k in network.input_layer_ids[i]]
    return ordered_parts(parts, len(network.input_connectivity[i]), semantics)


def combine_inputs(layer, parts):
    """A Parallel layer (or a CompoundLayer headed by one) gets the list, one part
    is passed unchanged, several are concatenated."""
    if receives_input_list(layer):
        return list(parts)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts, axis=0)


def ordered_parts(parts, num_connected: int, semantics):
    """SPEC's order (connected layers, then external inputs), or an alternative's."""
    if semantics.input_order == "external_first":
        return parts[num_connected:] + parts[:num_connected]
    if semantics.input_order == "reversed":
        return parts[::-1]
    return parts


def run(run_spec, margin: float = 1e-6, initial_states=None, initial_outputs=None,
        semantics=None) -> RunResult:
    """Run `run_spec` and return its RunResult, in float64.

    `initial_states` / `initial_outputs`: per layer, the flat state list and
    the output before the first step, as in RunResult; None means SPEC's
    defaults (`init_state(network)`).

    `near_threshold_steps[t]` is True when, at step t, some spike function
    anywhere (every spiking neuron's V - threshold, SigmaDelta's
    m - threshold, SRM's V - threshold, spiking pools' pooled - threshold,
    inside composed layers too) received an argument with
    |argument| < margin * max(1, |threshold|).

    `semantics`: None runs SPEC; a `defaults.Semantics` (see
    `alternatives.py`) runs that alternative instead, passed to every step.
    """
    semantics = semantics or SPEC_SEMANTICS
    network = run_spec.network
    inputs, steps = checked_inputs(run_spec)
    states, previous_outputs = checked_initial(network, initial_states, initial_outputs,
                                               run_spec.dropout_masks)
    layers = layers_drawn(network, run_spec.dropout_masks, "step")
    recorded = {f: [] for f in network.final_layer_ids}
    near_threshold = np.zeros(steps, dtype=bool)
    for t in range(steps):
        step_inputs = [x[t] for x in inputs]
        current_outputs = [None] * network.num_layers
        for i, layer in enumerate(layers):
            parts = input_parts(network, run_spec.forward, i,
                                current_outputs, previous_outputs, step_inputs, semantics)
            states[i], current_outputs[i], arguments = call_layer(
                layer, states[i], combine_inputs(layer, parts), semantics)
            if any(is_near_threshold(a, thr, margin) for a, thr in arguments):
                near_threshold[t] = True
        previous_outputs = current_outputs
        if t >= run_spec.burnin:
            for f in recorded:
                recorded[f].append(current_outputs[f])
    outputs = [np.stack(recorded[f]) for f in network.final_layer_ids]
    return RunResult(outputs=outputs,
                     final_states=[[np.array(a) for a in state] for state in states],
                     final_outputs=[np.array(o) for o in previous_outputs],
                     near_threshold_steps=near_threshold)
