"""One time step of a whole graph: the forward functions of SPEC.md §4.4.

A forward function has the signature
`forward_fn(layers, struct, key, carry, step_inputs) -> (new_carry, final_outputs)`
and is what `StatefulModel` scans over time.
"""

from typing import Any, List, NamedTuple, Optional, Sequence

import jax.numpy as jnp
import jax.random as jrand
from jax import Array

from .graph import GraphStructure
from .layers.compound import receives_input_list
from .layers.stateful import call_layer


class LayerCarry(NamedTuple):
    """What the scan carries for one layer: its state and its latest output."""

    state: Any
    output: Array


def layer_keys(key: Optional[Array], num_layers: int) -> List[Optional[Array]]:
    """One key per layer for this step (`None` everywhere without a key)."""
    return [None] * num_layers if key is None else list(jrand.split(key, num_layers))


def combine_inputs(layer, inputs: Sequence[Array]):
    """Several inputs are concatenated along axis 0; a layer that takes a list
    (a `Parallel`, or a `CompoundLayer` headed by one) gets the list."""
    if receives_input_list(layer):
        return list(inputs)
    if len(inputs) == 1:
        return inputs[0]
    return jnp.concatenate(inputs, axis=0)


def _graph_step(layers, struct, key, carry, step_inputs, reads_this_step):
    new_carry = list(carry)
    for i, (layer, key_i) in enumerate(zip(layers, layer_keys(key, len(layers)))):
        inputs = struct.layer_inputs(
            i, lambda j: (new_carry if reads_this_step(j, i) else carry)[j].output,
            lambda k: step_inputs[k])
        new_carry[i] = LayerCarry(*call_layer(layer, carry[i].state,
                                              combine_inputs(layer, inputs), key_i))
    return new_carry, [new_carry[f].output for f in struct.final_layer_ids]


def reads_this_step(source: int, target: int) -> bool:
    """The straight-through read rule (SPEC.md §4.4): the edge `source -> target`
    reads step `t` when `source < target`, else step `t - 1`. The graph
    schedule asks this function too, so the rule lives here only."""
    return source < target


def default_forward_fn(layers, struct: GraphStructure, key, carry, step_inputs):
    """Straight-through: an edge `j -> i` reads step `t` if `j < i`, else `t - 1`.

    Layers are evaluated in index order, so when layer `i` runs, layers
    `j < i` already hold this step's output and layers `j >= i` (feedback
    edges, self-loops) still hold the previous step's.
    """
    return _graph_step(layers, struct, key, carry, step_inputs, reads_this_step)


def delayed_forward_fn(layers, struct: GraphStructure, key, carry, step_inputs):
    """Delayed: every edge reads the previous step's output."""
    return _graph_step(layers, struct, key, carry, step_inputs,
                       reads_this_step=lambda source, target: False)


# The documentation's name for the delayed forward function.
debug_forward_fn = delayed_forward_fn
