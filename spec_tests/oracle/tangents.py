"""Forward-mode derivatives of a whole run: (value, tangent) pairs step by step.

`run_with_tangents` computes what `jax.jvp` of the model's call computes: the
directional derivative of the outputs and the final state along a direction
given by tangents of the parameters, the input sequences and the initial
state, with the surrogate derivative in place of dH/dx and zero tangents
through sg(.) and (with stop_reset_grad) R(.). The state after `burnin` steps
is stop-gradiented: when burnin > 0 every state and output tangent is set to
zero before step `burnin` (with burnin = 0 the initial state's tangents pass).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from spec_tests.description import RunResult
from spec_tests.oracle.composed_tangents import step_layer_tangent
from spec_tests.oracle.network import (
    checked_initial, checked_inputs, combine_inputs, input_parts, layers_drawn)
from spec_tests.oracle.spikes import is_near_threshold


@dataclass
class TangentRunResult(RunResult):
    """A RunResult plus the tangents of its outputs, final states and final outputs.

    `output_tangents[f]` has the shape of `outputs[f]`; `final_state_tangents[i]`
    mirrors `final_states[i]`; `final_output_tangents[i]` mirrors `final_outputs[i]`.
    """

    output_tangents: list = field(default_factory=list)
    final_state_tangents: list = field(default_factory=list)
    final_output_tangents: list = field(default_factory=list)


def _zeros_like_all(states, outputs):
    return ([[np.zeros_like(a) for a in state] for state in states],
            [np.zeros_like(o) for o in outputs])


def _checked_input_tangents(input_tangents, inputs):
    if input_tangents is None:
        return [np.zeros_like(x) for x in inputs]
    tangents = [np.zeros_like(x) if t is None else np.asarray(t, dtype=np.float64)
                for t, x in zip(input_tangents, inputs)]
    if len(tangents) != len(inputs) or any(t.shape != x.shape for t, x in zip(tangents, inputs)):
        raise ValueError("input_tangents: need one array per input sequence, of its shape")
    return tangents


def run_with_tangents(run_spec, param_tangents=None, input_tangents=None,
                      initial_state_tangents=None, initial_output_tangents=None,
                      margin: float = 1e-6, initial_states=None,
                      initial_outputs=None) -> TangentRunResult:
    """Run `run_spec` and propagate tangents alongside the values.

    - `param_tangents`: None (all zero) or a list with one entry per layer:
      None or a dict from parameter name (as in `LayerSpec.params`, a
      parameter left at its default included) to a tangent array of the
      parameter's shape; a composed layer's or SRM's members' entries are a
      list (one None-or-dict per member) under the key "members". Static
      hyperparameters (threshold, hyper reset_val, ...) have no tangent.
    - `input_tangents`: None or one array per input sequence, of its shape.
    - `initial_state_tangents` / `initial_output_tangents`: None (zero) or
      the format of `initial_states` / `initial_outputs` (see `run`).

    The values (outputs, final states, near_threshold_steps) equal `run`'s.
    """
    network = run_spec.network
    inputs, steps = checked_inputs(run_spec)
    states, previous_outputs = checked_initial(network, initial_states, initial_outputs,
                                               run_spec.dropout_masks)
    layers = layers_drawn(network, run_spec.dropout_masks, "step")
    zero_states, zero_outputs = _zeros_like_all(states, previous_outputs)
    state_tangents, previous_output_tangents = checked_initial(
        network,
        zero_states if initial_state_tangents is None else initial_state_tangents,
        zero_outputs if initial_output_tangents is None else initial_output_tangents,
        run_spec.dropout_masks)
    dinputs = _checked_input_tangents(input_tangents, inputs)
    param_tangents = param_tangents or [None] * network.num_layers
    if len(param_tangents) != network.num_layers:
        raise ValueError(f"param_tangents: {len(param_tangents)} entries for "
                         f"{network.num_layers} layers")

    recorded = {f: [] for f in network.final_layer_ids}
    recorded_tangents = {f: [] for f in network.final_layer_ids}
    near_threshold = np.zeros(steps, dtype=bool)
    for t in range(steps):
        if t == run_spec.burnin and t > 0:   # the state after burn-in is stop-gradiented
            state_tangents, previous_output_tangents = _zeros_like_all(
                state_tangents, previous_output_tangents)
        step_inputs = [x[t] for x in inputs]
        step_input_tangents = [dx[t] for dx in dinputs]
        current_outputs = [None] * network.num_layers
        current_output_tangents = [None] * network.num_layers
        for i, layer in enumerate(layers):
            parts = input_parts(network, run_spec.forward, i,
                                current_outputs, previous_outputs, step_inputs)
            dparts = input_parts(network, run_spec.forward, i, current_output_tangents,
                                 previous_output_tangents, step_input_tangents)
            (states[i], state_tangents[i], current_outputs[i], current_output_tangents[i],
             arguments) = step_layer_tangent(layer, states[i], state_tangents[i],
                                             combine_inputs(layer, parts),
                                             combine_inputs(layer, dparts), param_tangents[i])
            if any(is_near_threshold(a, thr, margin) for a, thr in arguments):
                near_threshold[t] = True
        previous_outputs, previous_output_tangents = current_outputs, current_output_tangents
        if t >= run_spec.burnin:
            for f in recorded:
                recorded[f].append(current_outputs[f])
                recorded_tangents[f].append(current_output_tangents[f])

    copy_all = lambda arrays: [np.array(a, dtype=np.float64) for a in arrays]  # noqa: E731
    return TangentRunResult(
        outputs=[np.stack(recorded[f]) for f in network.final_layer_ids],
        final_states=[copy_all(state) for state in states],
        final_outputs=copy_all(previous_outputs),
        near_threshold_steps=near_threshold,
        output_tangents=[np.stack(recorded_tangents[f]) for f in network.final_layer_ids],
        final_state_tangents=[copy_all(state) for state in state_tangents],
        final_output_tangents=copy_all(previous_output_tangents))
