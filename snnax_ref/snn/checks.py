"""Checks of what `StatefulModel.__call__` receives, with errors that say what is wrong.

Everything here runs at trace time on shapes and dtypes only.
"""

from typing import List, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .forward import LayerCarry
from .graph import GraphStructure
from .shapes import evaluate_layer, input_parts


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
