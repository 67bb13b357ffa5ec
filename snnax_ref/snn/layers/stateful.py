"""The base class of every layer that carries state across time steps."""

import os
import sys
import warnings
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jrand
import numpy as np
from jax import Array, lax

from ..graph import is_int as _is_int

StateShape = Union[Sequence[int], int]
StatefulOutput = Tuple[Any, Array]


def default_init_fn(shape: StateShape, key: Optional[Array] = None, *args, **kwargs) -> Array:
    """Zeros of `shape` in JAX's default float dtype: every layer's `init_fn`
    when none is given (SPEC.md §2).

    **Arguments:**

    - `shape`: the shape of the array.
    - `key`: unused (an `init_fn` may draw random values with it).

    **Returns:** `jnp.zeros(shape)`.
    """
    return jnp.zeros(shape)


class TrainableArray(eqx.Module):
    """A parameter array that may be frozen.

    `.data` is the array; with `requires_grad=False` it is stop-gradiented, so
    every gradient with respect to `value` is exactly zero (SPEC.md §2).
    Build one with `StatefulLayer.init_parameters`.

    **Arguments:**

    - `value`: the array.
    - `requires_grad`: `False` freezes it (default `True`).
    """

    value: Array
    requires_grad: bool = eqx.field(static=True, default=True)

    @property
    def data(self) -> Array:
        """The array: `value`, stop-gradiented unless `requires_grad`."""
        return self.value if self.requires_grad else lax.stop_gradient(self.value)

    @property
    def shape(self) -> tuple:
        """`value.shape`."""
        return self.value.shape


def _as_parameter_array(parameters, shape: Optional[StateShape]) -> Array:
    if isinstance(parameters, TrainableArray):
        parameters = parameters.value
    shape = None if shape is None else (shape,) if isinstance(shape, int) else tuple(shape)
    if isinstance(parameters, (list, tuple)) and any(np.ndim(p) > 0 for p in parameters):
        # One array per entry (e.g. a per-neuron membrane decay, then a
        # per-neuron current decay): stacked along a new axis 0.
        entries = [jnp.asarray(p, dtype=float) for p in parameters]
        if shape is not None:
            for k, entry in enumerate(entries):
                if entry.ndim and entry.shape != shape:
                    raise ValueError(
                        f"init_parameters: entry {k} has shape {entry.shape}, but the "
                        f"layer's shape is {shape}; give every entry that shape or a scalar.")
            entries = [jnp.broadcast_to(entry, shape) for entry in entries]
        try:
            return jnp.stack(jnp.broadcast_arrays(*entries))
        except ValueError:
            raise ValueError(f"init_parameters: the entries' shapes "
                             f"{[e.shape for e in entries]} do not broadcast together.") from None
    per_entry = isinstance(parameters, (list, tuple))
    values = jnp.asarray(parameters, dtype=float)
    if shape is None:
        return values
    if values.ndim == 0:
        return jnp.broadcast_to(values, shape)
    if values.shape == shape and not per_entry:
        return values  # one value per neuron
    if values.ndim > 1 and values.shape[1:] == shape:
        return values  # already (k, *shape), e.g. another layer's decay_constants
    if values.ndim == 1:
        # One constant per component (e.g. [membrane_decay, current_decay]),
        # broadcast over every neuron of `shape`.
        per_component = values.reshape(values.shape + (1,) * len(shape))
        return jnp.broadcast_to(per_component, values.shape + shape)
    raise ValueError(
        f"init_parameters: parameters of shape {values.shape} cannot be laid out "
        f"for shape {shape}; pass a scalar, a sequence of per-component "
        f"constants, or an array of shape {shape}.")


def warn_user(message: str) -> None:
    """A `UserWarning` attributed to the first caller outside snnax_ref and equinox
    (the line that built the layer), not to equinox's constructor machinery."""
    internal = (os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
                os.path.dirname(eqx.__file__))
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(internal):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, UserWarning, stacklevel=level)


def warn_ignored_arguments(owner: str, arguments: dict) -> None:
    """Upstream's `SimpleLIF` and `SpikeCounter` take `**kwargs` and ignore them: so
    does the reference, warning, since an unknown argument is surely a typo."""
    if arguments:
        warn_user(f"{owner}: ignoring unknown argument(s) {sorted(arguments)}, as "
                  "upstream SNNAX ignores them.")


def as_shape(value):
    """An int `n` (NumPy's too) as `(n,)`, a tuple or 1-d NumPy array of ints as a
    tuple of Python ints; anything else unchanged, for the caller to refuse. The
    one reading of a shape: layers, `init_state` and shape inference call it."""
    if _is_int(value):
        return (int(value),)
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = tuple(value.tolist())  # a NumPy shape, as upstream's examples compute one
    if isinstance(value, tuple) and all(_is_int(d) for d in value):
        return tuple(int(d) for d in value)
    return value


def checked_shape(shape, owner: str, field: str = "shape") -> Tuple[int, ...]:
    """`shape` (an int `n` or a sequence of ints) as a tuple of non-negative
    ints, or an error naming `owner` and `field`: JAX would otherwise report a
    bad shape only when the first array is built, without the layer's name."""
    shape = as_shape(tuple(shape) if isinstance(shape, list) else shape)
    if not isinstance(shape, tuple) or not all(_is_int(d) for d in shape):
        raise TypeError(f"{owner}: {field} must be an int or a tuple of ints, got {shape!r} "
                        f"({type(shape).__name__}).")
    if any(d < 0 for d in shape):
        raise ValueError(f"{owner}: {field} {shape} has a negative dimension.")
    return shape


def layer_keys(key: Optional[Array], count: int) -> list:
    """One key per layer (or member) for this step; `count` `None`s without a key.
    The graph's step, the graph schedule, `CompoundLayer` and `Parallel` all split so."""
    return [None] * count if key is None else list(jrand.split(key, count))


class StatefulLayer(eqx.Module):
    """Base class of layers with state: `(state, x) -> (new_state, output)`
    (SPEC.md §2).

    A subclass defines `init_state` and `__call__`; a model carries each
    layer's state between steps and feeds its output along the graph's edges.

    **Arguments:**

    - `init_fn`: `init_fn(shape, key, *args, **kwargs)` initialises the first
      state component; default zeros.
    - `shape`: optional neuron shape, used to lay out per-neuron parameters.
    """

    init_fn: Callable = eqx.field(static=True)
    shape: Optional[tuple] = eqx.field(static=True)

    def __init__(self, init_fn: Optional[Callable] = None,
                 shape: Optional[StateShape] = None) -> None:
        if init_fn is not None and not callable(init_fn):
            raise TypeError(f"{type(self).__name__}: init_fn must be callable, "
                            f"got {type(init_fn).__name__}")
        self.init_fn = default_init_fn if init_fn is None else init_fn
        self.shape = None if shape is None else checked_shape(shape, type(self).__name__)

    @staticmethod
    def init_parameters(parameters, shape: Optional[StateShape] = None,
                        requires_grad: bool = True) -> TrainableArray:
        """Parameters as a `TrainableArray` (read them with `.data`) (SPEC.md §2).

        A scalar is broadcast to `shape`; a sequence of `k` per-component
        constants becomes an array of shape `(k, *shape)` (whatever `k`); an
        array of shape `shape` (one value per neuron) or `(k, *shape)` is
        kept; a list of `k` arrays (one per component) is stacked to
        `(k, *shape)`; a
        `TrainableArray` contributes its value, frozen if either it or
        `requires_grad` says so.

        **Arguments:**

        - `parameters`: a scalar, a sequence, an array or a `TrainableArray`.
        - `shape`: the neuron shape to lay the parameters out for; `None`
          keeps them as given.
        - `requires_grad`: `False` freezes them (`.data` is stop-gradiented).

        **Returns:** a `TrainableArray`; a layout that fits none of the rules
        is a `ValueError` naming both shapes.
        """
        if isinstance(parameters, TrainableArray):
            requires_grad = requires_grad and parameters.requires_grad
        return TrainableArray(_as_parameter_array(parameters, shape), requires_grad)

    def init_state(self, shape: StateShape, key: Optional[Array] = None,
                   *args, **kwargs) -> Any:
        """The state before the first step (SPEC.md §2); default `init_fn(shape, key)`,
        one array.

        **Arguments:**

        - `shape`: the shape of what the layer receives.
        - `key`: a PRNG key for a random `init_fn`; may be `None`.

        **Returns:** the state, in the layer's layout (SPEC.md §3 gives each
        layer's).
        """
        return self.init_fn(shape, key, *args, **kwargs)

    def init_out(self, shape: StateShape, *, key: Optional[Array] = None) -> Array:
        """The output before the first step: zeros of the output `shape`
        (SPEC.md §2)."""
        return jnp.zeros(shape)

    def initial_output(self, input_shape: StateShape, output_shape: StateShape, *,
                       key: Optional[Array] = None) -> Array:
        """What edges read from this layer at `t = 0`: `init_out(output_shape)`
        (a layer whose `init_out` takes its input shape, as SRM's, overrides this)
        (SPEC.md §2)."""
        return self.init_out(output_shape, key=key)

    def __call__(self, state: Any, synaptic_input: Array, *,
                 key: Optional[Array] = None) -> StatefulOutput:
        """One step (SPEC.md §2).

        **Arguments:**

        - `state`: the state, as `init_state` or the previous step left it.
        - `synaptic_input`: what the layer receives this step (SPEC.md §4.3).
        - `key`: a PRNG key for this step and layer, or `None`.

        **Returns:** `(new_state, output)`.
        """
        raise NotImplementedError(
            f"{type(self).__name__} must define "
            "__call__(state, synaptic_input, *, key=None) -> (new_state, output)")


class RequiresStateLayer(eqx.Module):
    """Upstream's base class for stateless layers (`snnax.snn.layers.stateful`).

    It carries no state: in a model it is called as `layer(x, key=key)` like
    any stateless equinox module (SPEC.md §3.11). Kept so that client code
    subclassing it imports unchanged; it takes no arguments.
    """

    def __call__(self, x: Array, *, key: Optional[Array] = None) -> Array:
        """`layer(x, key=key) -> output`: a subclass defines it."""
        raise NotImplementedError(f"{type(self).__name__} must define __call__(x, *, key=None)")


def call_layer(layer, state: Any, synaptic_input, key: Optional[Array]) -> Tuple[Any, Array]:
    """One step of any layer (SPEC.md §4.4): a `StatefulLayer` as
    `layer(state, x, key=key)`, any other module as `layer(x, key=key)`.

    **Arguments:**

    - `layer`: the layer.
    - `state`: its state (ignored for a stateless layer).
    - `synaptic_input`: what it receives this step.
    - `key`: its key for this step, or `None`.

    **Returns:** `(new_state, output)`; a stateless layer's state is `None`.
    """
    if isinstance(layer, StatefulLayer):
        return layer(state, synaptic_input, key=key)
    return None, layer(synaptic_input, key=key)


def abstract_output_shape(layer, input_shape, dtype=None, state=None) -> Tuple[int, ...]:
    """The shape of `layer`'s output after one step on an input of `input_shape`
    (a list of shapes for a layer that receives a list), found by abstract
    evaluation: a stateful layer steps from `state`, or from a fresh
    `init_state` of its input shape."""
    dtype = jnp.zeros(()).dtype if dtype is None else dtype
    mock_input = ([jax.ShapeDtypeStruct(tuple(s), dtype) for s in input_shape]
                  if isinstance(input_shape, list) else jax.ShapeDtypeStruct(tuple(input_shape), dtype))

    def one_step(layer_state, x):
        key = jrand.PRNGKey(0)  # only shapes matter; layers such as Dropout need a key
        if isinstance(layer, StatefulLayer) and layer_state is None:
            layer_state = layer.init_state(input_shape, key=key)
        return call_layer(layer, layer_state, x, key)[1]

    return tuple(eqx.filter_eval_shape(one_step, state, mock_input).shape)
