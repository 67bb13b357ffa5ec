"""Checks of what `StatefulModel.__call__` receives, with errors that say what is wrong.

Everything here runs at trace time on shapes and dtypes only.
"""

from typing import List, Sequence, Tuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .forward import LayerCarry
from .graph import GraphStructure
from .layers.compound import receives_input_list
from .layers.stateful import StatefulLayer
from .shapes import concatenated_shape, evaluate_layer, input_parts


def _raw_key_shape() -> Tuple[int, ...]:
    """The shape of `jax.random.PRNGKey(0)` under the configured PRNG (`(2,)`
    for the default threefry), found without computing a key."""
    return tuple(jax.eval_shape(jax.random.PRNGKey, 0).shape)


def _is_typed_key(value) -> bool:
    return jnp.issubdtype(value.dtype, jax.dtypes.prng_key)


def is_prng_key(value) -> bool:
    """One PRNG key: a typed key of shape `()` (`jax.random.key`), or a raw
    `uint32` key (`jax.random.PRNGKey`, shape `(2,)` by default)."""
    if not isinstance(value, (jax.Array, np.ndarray)):
        return False
    if _is_typed_key(value):
        return value.shape == ()
    return value.dtype == np.uint32 and tuple(value.shape) == _raw_key_shape()


def check_key(key, context: str) -> None:
    """`key` is `None` or one PRNG key, or a `TypeError` naming `key`, what was
    given and what is expected; checked before anything is traced, where JAX
    would report it only as invalid key data inside `jax.random.split`."""
    if key is None or is_prng_key(key):
        return
    expected = (f"one PRNG key: jax.random.PRNGKey(seed) (uint32, shape {_raw_key_shape()}) "
                "or jax.random.key(seed) (a typed key, shape ()), or None")
    if not hasattr(key, "dtype") or not hasattr(key, "shape"):
        given = f"{key!r} ({type(key).__name__})"
        hint = " (a seed is not a key: pass jax.random.PRNGKey(seed))" \
            if isinstance(key, (int, np.integer)) and not isinstance(key, bool) else ""
    else:
        kind = "typed key" if _is_typed_key(key) else f"{key.dtype} array"
        given = f"a {kind} of shape {tuple(key.shape)}"
        batched = (_is_typed_key(key) and key.ndim > 0) or (
            key.dtype == np.uint32 and key.ndim > 1
            and tuple(key.shape[-1:]) == _raw_key_shape())
        hint = (" (a batch of keys: the model runs one sample with one key; batch with "
                "eqx.filter_vmap over the key, the input and the state)") if batched else ""
    raise TypeError(f"{context}: key must be {expected}; got {given}{hint}.")


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
            try:
                kind = np.asarray(sequence).dtype.kind
            except (TypeError, ValueError):
                kind = "O"
            if kind not in "biufc":
                raise TypeError(f"input_batch[{k}] is {type(sequence).__name__} {sequence!r:.60}, "
                                "not an array of numbers of shape (T, *input_shape).")
            sequence = jnp.asarray(sequence)
        if sequence.ndim < 1:
            raise ValueError(f"input_batch[{k}] is a scalar; it needs a leading time "
                             "axis: shape (T, *input_shape).")
        if jnp.issubdtype(sequence.dtype, jnp.complexfloating):
            raise ValueError(f"input_batch[{k}] has dtype {sequence.dtype} (shape "
                             f"{tuple(sequence.shape)}); inputs must be real numbers.")
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


def in_state_dtype(sequences: Sequence, states) -> list:
    """The input sequences cast to the state's float dtype (SPEC.md §4.5).

    Integer, boolean and narrower float inputs (spike trains as `int8`,
    `bfloat16` data) promote to the state's dtype in upstream's arithmetic,
    which casting first computes exactly; a wider float (a `float64` input for
    a `float32` state) would change the scan's carry, where upstream fails.
    """
    state_dtype = _state_dtype(states)
    if state_dtype is None:
        return list(sequences)
    cast = []
    for k, sequence in enumerate(sequences):
        dtype = jax.dtypes.canonicalize_dtype(sequence.dtype)
        if jnp.promote_types(dtype, state_dtype) != state_dtype:
            raise ValueError(f"input_batch[{k}] has dtype {sequence.dtype} but the state is "
                             f"{state_dtype}, which it would widen; use one float dtype for "
                             "both.")
        cast.append(jnp.asarray(sequence, dtype=state_dtype))
    return cast


def _signature(tree):
    return jax.tree_util.tree_map(lambda leaf: (tuple(leaf.shape), str(leaf.dtype)), tree)


def _check_state_fits_input(layers, struct, states, first_step_inputs, index) -> None:
    """Layer `index`'s state has the shapes `init_state` gives for the input it
    receives now, or a `ValueError` naming the input and `input_states[index]`:
    otherwise an input that broadcasts against the state (one value for a
    layer initialised for three) would run, silently."""
    layer = layers[index]
    if not isinstance(layer, StatefulLayer):
        return
    output_shapes = {i: tuple(carry.output.shape) for i, carry in enumerate(states)}
    parts = input_parts(struct, index, output_shapes, [tuple(x.shape) for x in first_step_inputs])
    shape = ([s for _, s in parts] if receives_input_list(layer)
             else concatenated_shape(layers, index, parts, "input_batch"))
    fresh = jax.eval_shape(lambda: layer.init_state(shape, key=jax.random.PRNGKey(0)))
    given_shapes = jax.tree_util.tree_map(lambda leaf: tuple(leaf.shape), states[index].state)
    fresh_shapes = jax.tree_util.tree_map(lambda leaf: tuple(leaf.shape), fresh)
    if given_shapes != fresh_shapes:
        raise ValueError(
            f"input_batch: layer {index} ({type(layer).__name__}) receives an input of shape "
            f"{shape} ({' + '.join(f'{name} {s}' for name, s in parts)}), but "
            f"input_states[{index}] has the shapes {given_shapes}, where init_state gives "
            f"{fresh_shapes} for that input: pass inputs of the shape the state was "
            "initialised for, and states built by init_state.")


def _diagnose_layers(layers, struct, states, first_step_inputs) -> None:
    """Evaluate each layer on its input shapes to name the one that fails:
    with a fresh state first (the inputs are at fault), then against the
    given state (the two disagree, or `input_states` is at fault)."""
    output_shapes = {i: tuple(carry.output.shape) for i, carry in enumerate(states)}
    input_shapes = [tuple(x.shape) for x in first_step_inputs]
    dtype = first_step_inputs[0].dtype
    for i in range(struct.num_layers):
        parts = input_parts(struct, i, output_shapes, input_shapes)
        output_shape = evaluate_layer(layers, i, parts, dtype, None, context="input_batch")
        if output_shape != output_shapes[i]:
            raise ValueError(
                f"input_batch: layer {i} ({type(layers[i]).__name__}) outputs shape "
                f"{output_shape} for its input, but input_states[{i}].output has shape "
                f"{output_shapes[i]}: pass inputs of the shape the state was initialised "
                "for, and states built by init_state.")
        _check_state_fits_input(layers, struct, states, first_step_inputs, i)
        try:
            evaluate_layer(layers, i, parts, dtype, states[i].state, context="input_states")
        except ValueError as error:
            raise ValueError(
                f"input_states[{i}]: the state of layer {i} ({type(layers[i]).__name__}), "
                f"{_signature(states[i].state)}, is not one that layer takes; build states "
                f"with init_state. ({error})") from error


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
                "have the shapes or dtype the state was initialised for, or "
                f"input_states[{i}] was not built by init_state for these inputs.")
    for i in range(struct.num_layers):
        _check_state_fits_input(layers, struct, states, first_step_inputs, i)
