"""`CompoundLayer`: several layers run in sequence inside one time step."""

from typing import Callable, Optional

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jrand
from jax import Array

from .parallel import Parallel
from .stateful import StatefulLayer, call_layer


def _split(key: Optional[Array], count: int):
    return [None] * count if key is None else list(jrand.split(key, count))


def _is_shape_list(shape) -> bool:
    return isinstance(shape, list)


def output_shape(layer, input_shape, dtype=None):
    """The shape of `layer`'s output for one input of `input_shape` (abstract);
    `input_shape` is a list of shapes for a layer that receives a list."""
    dtype = jnp.zeros(()).dtype if dtype is None else dtype
    if _is_shape_list(input_shape):
        mock_input = [jax.ShapeDtypeStruct(tuple(s), dtype) for s in input_shape]
    else:
        mock_input = jax.ShapeDtypeStruct(tuple(input_shape), dtype)

    def one_step(x):
        key = jrand.PRNGKey(0)  # only shapes matter; layers such as Dropout need a key
        state = (layer.init_state(input_shape if _is_shape_list(input_shape) else x.shape,
                                  key=key)
                 if isinstance(layer, StatefulLayer) else None)
        return call_layer(layer, state, x, key)[1]

    return tuple(eqx.filter_eval_shape(one_step, mock_input).shape)


def receives_input_list(layer) -> bool:
    """Whether `layer` takes its several inputs as a list, one per input, rather
    than concatenated (SPEC.md §4.3): a `Parallel`, or a `CompoundLayer`
    headed by one (upstream's recurrent idiom
    `CompoundLayer(Parallel([feed_forward, recurrent]), ...)`)."""
    if isinstance(layer, Parallel):
        return True
    return type(layer) is CompoundLayer and isinstance(layer.layers[0], Parallel)


class CompoundLayer(StatefulLayer):
    """A stateful layer made of `layers` applied one after the other each step.

    State: a list with one entry per member, the member's state (`None` for a
    stateless member). Output: the last member's output.
    """

    layers: list

    def __init__(self, *layers: eqx.Module, init_fn: Optional[Callable] = None) -> None:
        super().__init__(init_fn)
        if not layers:
            raise ValueError(f"{type(self).__name__} needs at least one layer.")
        for k, member in enumerate(layers):
            if not callable(member):
                raise TypeError(f"{type(self).__name__}: layers[{k}] ({type(member).__name__}) "
                                "is not callable; members are layers (equinox modules).")
        self.layers = list(layers)

    def init_state(self, shape, key=None, *args, **kwargs):
        """`shape`: the input's shape (a list of shapes when headed by a `Parallel`)."""
        states = []
        for k, (member, member_key) in enumerate(zip(self.layers, _split(key, len(self.layers)))):
            if isinstance(member, StatefulLayer):
                states.append(member.init_state(shape, key=member_key))
            else:
                states.append(None)
            try:
                shape = output_shape(member, shape)
            except Exception as error:  # noqa: BLE001 - re-raised naming the member
                raise ValueError(
                    f"{type(self).__name__}: layers[{k}] ({type(member).__name__}) cannot take "
                    f"an input of shape {shape}: {type(error).__name__}: {error}") from error
        return states

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        new_states = []
        hidden = synaptic_input
        for member, member_state, member_key in zip(
                self.layers, state, _split(key, len(self.layers))):
            member_state, hidden = call_layer(member, member_state, hidden, member_key)
            new_states.append(member_state)
        return new_states, hidden
