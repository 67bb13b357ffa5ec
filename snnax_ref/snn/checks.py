"""Checks of what `StatefulModel.__call__` receives, with errors that say what is wrong.

Everything here runs at trace time on shapes and dtypes only.
"""

from typing import List, Sequence, Tuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .forward import LayerCarry, default_forward_fn
from .graph import GraphStructure
from .shapes import evaluate_layer, input_parts


# -- GraphStructure (SPEC.md §4) ---------------------------------------------------------

def _as_id_lists(field_name: str, value, num_layers: int) -> Tuple[Tuple[int, ...], ...]:
    try:
        rows = [tuple(row) for row in value]
    except TypeError:
        raise ValueError(f"GraphStructure.{field_name} must be a sequence of sequences "
                         f"of ints, one per layer; got {value!r}") from None
    if len(rows) != num_layers:
        raise ValueError(f"GraphStructure.{field_name} has {len(rows)} entries but "
                         f"num_layers is {num_layers}: give one list per layer.")
    for index, row in enumerate(rows):
        for item in row:
            if isinstance(item, bool) or not isinstance(item, int):
                raise ValueError(f"GraphStructure.{field_name}[{index}] contains "
                                 f"{item!r}, which is not an int.")
    return tuple(rows)


def checked_graph_fields(num_layers, input_layer_ids, final_layer_ids, input_connectivity):
    """`GraphStructure`'s fields as tuples, or a `ValueError` naming the field and index."""
    if isinstance(num_layers, bool) or not isinstance(num_layers, int) or num_layers < 1:
        raise ValueError(f"GraphStructure.num_layers must be a positive int, got {num_layers!r}")
    input_layer_ids = _as_id_lists("input_layer_ids", input_layer_ids, num_layers)
    connectivity = _as_id_lists("input_connectivity", input_connectivity, num_layers)
    try:
        final_layer_ids = tuple(final_layer_ids)
    except TypeError:
        raise ValueError("GraphStructure.final_layer_ids must be a sequence of "
                         f"layer ids, got {final_layer_ids!r}") from None
    if not final_layer_ids:
        raise ValueError("GraphStructure.final_layer_ids is empty: name at least "
                         "one layer whose output the model returns.")
    for position, layer_id in enumerate(final_layer_ids):
        if isinstance(layer_id, bool) or not isinstance(layer_id, int) \
                or not 0 <= layer_id < num_layers:
            raise ValueError(f"GraphStructure.final_layer_ids[{position}] = {layer_id!r} "
                             f"is not a layer id in [0, {num_layers}).")
    for layer, sources in enumerate(connectivity):
        for source in sources:
            if not 0 <= source < num_layers:
                raise ValueError(f"GraphStructure.input_connectivity[{layer}] refers to "
                                 f"layer {source}, outside [0, {num_layers}).")
    for layer, external in enumerate(input_layer_ids):
        for input_id in external:
            if input_id < 0:
                raise ValueError(f"GraphStructure.input_layer_ids[{layer}] refers to "
                                 f"external input {input_id}; ids start at 0.")
    if not any(input_layer_ids):
        raise ValueError("GraphStructure.input_layer_ids feeds no external input to "
                         "any layer: at least one layer must read an external input.")
    for layer in range(num_layers):
        if not connectivity[layer] and not input_layer_ids[layer]:
            raise ValueError(f"GraphStructure: layer {layer} has no input at all "
                             f"(input_connectivity[{layer}] and input_layer_ids[{layer}] "
                             "are both empty).")
    return input_layer_ids, final_layer_ids, connectivity


# -- StatefulModel's constructor and init_state (SPEC.md §4, §4.2) ------------------------

def check_model_arguments(graph_structure, layers, forward_fn, schedule, unroll) -> None:
    """The constructor's arguments, or an error naming the argument."""
    if not isinstance(graph_structure, GraphStructure):
        raise TypeError(f"StatefulModel: graph_structure must be a GraphStructure, "
                        f"got {type(graph_structure).__name__}")
    if len(layers) != graph_structure.num_layers:
        raise ValueError(f"StatefulModel: layers has {len(layers)} entries but "
                         f"graph_structure.num_layers is {graph_structure.num_layers}.")
    for i, layer in enumerate(layers):
        if not callable(layer):
            raise ValueError(f"StatefulModel: layers[{i}] ({type(layer).__name__}) is "
                             "not callable.")
    if schedule not in ("auto", "step", "graph"):
        raise ValueError(f"StatefulModel: schedule must be 'auto', 'step' or 'graph', "
                         f"got {schedule!r}")
    if schedule == "graph" and forward_fn is not default_forward_fn:
        raise ValueError("StatefulModel: schedule='graph' computes the straight-through "
                         "semantics of default_forward_fn; use schedule='step' with "
                         f"{getattr(forward_fn, '__name__', forward_fn)}.")
    if isinstance(unroll, bool) or not isinstance(unroll, int) or unroll < 1:
        raise ValueError(f"StatefulModel: unroll must be a positive int, got {unroll!r}")


def is_shape(value) -> bool:
    return isinstance(value, tuple) and all(isinstance(d, int) for d in value)


def is_prng_key(value) -> bool:
    """A PRNG key: a typed key array, or a raw `uint32` key of shape `(2,)`."""
    if not isinstance(value, jax.Array):
        return False
    if jnp.issubdtype(value.dtype, jax.dtypes.prng_key):
        return True
    return value.dtype == jnp.uint32 and value.shape == (2,)


def input_shapes(in_shape, num_inputs: int) -> List[Tuple[int, ...]]:
    if is_shape(in_shape):
        shapes = [in_shape]
    else:
        try:
            shapes = [tuple(shape) for shape in in_shape]
        except TypeError:
            raise ValueError(f"init_state: in_shape must be a shape (tuple of ints) or a "
                             f"sequence of shapes, got {in_shape!r}") from None
        if shapes and all(isinstance(d, int) for d in shapes):  # a list of ints
            raise ValueError(f"init_state: in_shape {in_shape!r} is a list of ints; give "
                             "one shape as a tuple, or a list of tuples.")
    if len(shapes) != num_inputs:
        raise ValueError(f"init_state: the graph reads {num_inputs} external input(s) but "
                         f"in_shape gives {len(shapes)} shape(s): {shapes}.")
    return shapes


def as_sequences(struct: GraphStructure, input_batch) -> List:
    """`input_batch` as a list with one `(T, ...)` array per external input."""
    num_inputs = struct.num_inputs
    if isinstance(input_batch, (list, tuple)):
        sequences = list(input_batch)
    else:
        sequences = [input_batch]
    if len(sequences) != num_inputs:
        raise ValueError(
            f"input_batch: the graph reads {num_inputs} external input(s) "
            f"(input_layer_ids {struct.input_layer_ids}) but {len(sequences)} sequence(s) "
            "were given; pass one array of shape (T, *input_shape) per external input.")
    checked = []
    for k, sequence in enumerate(sequences):
        if not hasattr(sequence, "shape") or not hasattr(sequence, "dtype"):
            sequence = jnp.asarray(sequence)
        if sequence.ndim < 1:
            raise ValueError(f"input_batch[{k}] is a scalar; it needs a leading time "
                             "axis: shape (T, *input_shape).")
        if not jnp.issubdtype(sequence.dtype, jnp.floating):
            raise ValueError(f"input_batch[{k}] has dtype {sequence.dtype}; inputs must be "
                             "floating point (cast with .astype(jnp.float32)).")
        checked.append(sequence)
    lengths = [int(sequence.shape[0]) for sequence in checked]
    if lengths[0] == 0:
        raise ValueError("input_batch: the sequence has T = 0 time steps; give at least one.")
    if len(set(lengths)) > 1:
        raise ValueError(f"input_batch: the external inputs have different numbers of "
                         f"time steps {lengths}; they must share T.")
    return checked


def check_burnin(burnin, num_steps: int) -> int:
    if isinstance(burnin, bool) or not isinstance(burnin, (int, np.integer)):
        raise ValueError(f"burnin must be a Python int (it fixes the output length), "
                         f"got {type(burnin).__name__}")
    if not 0 <= burnin < num_steps:
        raise ValueError(f"burnin = {burnin} is outside [0, T) with T = {num_steps}: "
                         "at least one step must produce outputs.")
    return int(burnin)


def check_states(struct: GraphStructure, states) -> None:
    if not isinstance(states, (list, tuple)) or len(states) != struct.num_layers:
        found = len(states) if isinstance(states, (list, tuple)) else type(states).__name__
        raise ValueError(f"input_states must be the list returned by init_state, one "
                         f"LayerCarry per layer ({struct.num_layers}); got {found}.")
    for i, carry in enumerate(states):
        if not isinstance(carry, LayerCarry):
            raise ValueError(f"input_states[{i}] is a {type(carry).__name__}, not a "
                             "LayerCarry(state, output); build states with init_state.")


def _state_dtype(states):
    for leaf in jax.tree_util.tree_leaves(states):
        if hasattr(leaf, "dtype") and jnp.issubdtype(leaf.dtype, jnp.floating):
            return leaf.dtype
    return None


def check_dtypes(sequences: Sequence, states) -> None:
    state_dtype = _state_dtype(states)
    for k, sequence in enumerate(sequences):
        if state_dtype is not None and sequence.dtype != state_dtype:
            raise ValueError(f"input_batch[{k}] has dtype {sequence.dtype} but the state is "
                             f"{state_dtype}; use one float dtype for both.")


def _signature(tree):
    return jax.tree_util.tree_map(lambda leaf: (tuple(leaf.shape), str(leaf.dtype)), tree)


def _diagnose_layers(layers, struct, states, first_step_inputs) -> None:
    """Evaluate each layer on its input shapes to name the one that fails."""
    output_shapes = {i: tuple(carry.output.shape) for i, carry in enumerate(states)}
    input_shapes = [tuple(x.shape) for x in first_step_inputs]
    dtype = first_step_inputs[0].dtype
    for i in range(struct.num_layers):
        parts = input_parts(struct, i, output_shapes, input_shapes)
        evaluate_layer(layers, i, parts, dtype, states[i].state, context="input_batch")


def check_one_step(step, states, first_step_inputs, layers, struct) -> None:
    """Trace one step abstractly; every layer's new carry must match its old one."""
    try:
        new_states, _ = eqx.filter_eval_shape(step, states, first_step_inputs)
    except Exception as error:  # noqa: BLE001 - re-raised with the failing layer
        _diagnose_layers(layers, struct, states, first_step_inputs)
        raise ValueError(f"input_batch: one step of the model fails on inputs of shape "
                         f"{[tuple(x.shape) for x in first_step_inputs]}: "
                         f"{type(error).__name__}: {error}") from error
    for i, (old, new) in enumerate(zip(states, new_states)):
        old_signature = _signature(old)
        new_signature = _signature(new)
        if jax.tree_util.tree_structure(old) != jax.tree_util.tree_structure(new) \
                or old_signature != new_signature:
            raise ValueError(
                f"input_batch: layer {i} ({type(layers[i]).__name__}) changes its state "
                f"from {old_signature} to {new_signature} in one step; the inputs do not "
                "have the shapes or dtype the state was initialised for.")
