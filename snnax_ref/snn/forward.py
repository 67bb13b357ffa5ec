"""One time step of a whole graph: the forward functions of SPEC.md §4.4.

A forward function has the signature
`forward_fn(layers, struct, key, carry, step_inputs) -> (new_carry, final_outputs)`
and is what `StatefulModel` scans over time.
"""

from typing import Any, Callable, Dict, Iterable, NamedTuple, Sequence

import jax.numpy as jnp
from jax import Array

from .graph import GraphStructure
from .layers.compound import receives_input_list
from .layers.stateful import call_layer, layer_keys


class LayerCarry(NamedTuple):
    """What the scan carries for one layer: its state and its latest output
    (SPEC.md §4.1).

    **Arguments:**

    - `state`: the layer's own state (`None` for a stateless layer).
    - `output`: its latest output, what edges from it read.
    """

    state: Any
    output: Array


def combine_inputs(layer, inputs: Sequence[Array]):
    """Several inputs are concatenated along axis 0; a layer that takes a list
    (a `Parallel`, or a `CompoundLayer` headed by one) gets the list."""
    if receives_input_list(layer):
        return list(inputs)
    if len(inputs) == 1:
        return inputs[0]
    return jnp.concatenate(inputs, axis=0)


def reads_this_step(source: int, target: int) -> bool:
    """The straight-through read rule (SPEC.md §4.4): the edge `source -> target`
    reads step `t` when `source < target`, else step `t - 1`."""
    return source < target


def step_layers(layers, struct: GraphStructure, members: Iterable[int],
                carry: Dict[int, LayerCarry], key, read_outside: Callable, read_input: Callable,
                reads_now: Callable = reads_this_step) -> Dict[int, LayerCarry]:
    """One time step of the layers `members`, in index order: the one place a
    layer is stepped (the forward functions and the graph schedule's scans).

    `carry[j]` is member `j`'s carry before the step; the edge `j -> i` between
    members reads `j`'s new output if `reads_now(j, i)`, else its old one. An
    edge from a layer `j` outside `members` reads `read_outside(j, i)`, external
    input `k` reads `read_input(k)`. `key` is split into one key per layer of
    the graph. Returns the members' new carries.
    """
    keys = layer_keys(key, struct.num_layers)
    new_carry = dict(carry)
    for i in members:
        def from_layer(j):
            if j not in carry:
                return read_outside(j, i)
            return (new_carry if reads_now(j, i) else carry)[j].output
        layer_input = combine_inputs(layers[i], struct.layer_inputs(i, from_layer, read_input))
        new_carry[i] = LayerCarry(*call_layer(layers[i], carry[i].state, layer_input, keys[i]))
    return new_carry


def _graph_step(layers, struct, key, carry, step_inputs, reads_now):
    new_carry = step_layers(layers, struct, range(struct.num_layers), dict(enumerate(carry)),
                            key, None, lambda k: step_inputs[k], reads_now)
    new_carry = [new_carry[i] for i in range(struct.num_layers)]
    return new_carry, [new_carry[f].output for f in struct.final_layer_ids]


def default_forward_fn(layers, struct: GraphStructure, key, carry, step_inputs):
    """Straight-through: an edge `j -> i` reads step `t` if `j < i`, else `t - 1`
    (SPEC.md §4.4).

    Layers are evaluated in index order, so when layer `i` runs, layers
    `j < i` already hold this step's output and layers `j >= i` (feedback
    edges, self-loops) still hold the previous step's.

    **Arguments:**

    - `layers`: the model's layers.
    - `struct`: its `GraphStructure`.
    - `key`: split into one key per layer (`None`: every layer gets `None`).
    - `carry`: one `LayerCarry` per layer, as after step `t - 1`.
    - `step_inputs`: the external inputs at step `t`, one array per input.

    **Returns:** `(new_carry, final_outputs)`: the carries after step `t`,
    and the outputs of the layers of `final_layer_ids`, in that order.
    """
    return _graph_step(layers, struct, key, carry, step_inputs, reads_this_step)


def delayed_forward_fn(layers, struct: GraphStructure, key, carry, step_inputs):
    """Delayed: every edge reads the previous step's output (SPEC.md §4.4);
    documented also as `debug_forward_fn`.

    Called as `forward_fn(layers, struct, key, carry, step_inputs)`, with the
    arguments of `default_forward_fn`.

    **Returns:** `(new_carry, final_outputs)`, as `default_forward_fn`.
    """
    return _graph_step(layers, struct, key, carry, step_inputs,
                       reads_now=lambda source, target: False)


# The documentation's name for the delayed forward function.
debug_forward_fn = delayed_forward_fn
