"""What every spiking neuron layer shares: threshold, spike function, reset."""

from typing import Callable, Optional

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array, lax

from ...functional.surrogate import SpikeFn, superspike_surrogate
from .stateful import StatefulLayer, StateShape, TrainableArray


def clamp(low: float, value: Array, high: float) -> Array:
    """`min(max(value, low), high)`; its derivative is 0 at either bound.

    `lax.clamp`, as upstream SNNAX clamps (SPEC.md §6): a constant sitting
    exactly on a bound (a decay of 1.0) gets no gradient.
    """
    return lax.clamp(low, value, high)


def as_parameter(value, shape: Optional[StateShape]) -> Array:
    """A trainable float array laid out as `StatefulLayer.init_parameters` does."""
    return StatefulLayer.init_parameters(value, shape).data


def layer_constants(value, shape: Optional[StateShape], names: tuple, owner: str,
                    field: str = "decay_constants") -> Array:
    """Per-layer constants read as `value[k]`, one entry per name in `names`.

    A scalar is the documented form of a single constant (`SimpleLIF(0.9)`);
    any other count is an error naming the layer, since upstream would
    silently read the first entries (SPEC.md §3).
    """
    if isinstance(value, TrainableArray):
        value = value.value
    if not isinstance(value, (list, tuple)) and np.ndim(value) == 0:
        value = [value]
    values = as_parameter(value, shape)
    if values.shape[0] != len(names):
        raise ValueError(
            f"{owner}: {field} needs {len(names)} entr{'y' if len(names) == 1 else 'ies'} "
            f"({', '.join(names)}), got {values.shape[0]} (shape {values.shape}).")
    return values


class SpikingLayer(StatefulLayer):
    """A stateful layer that emits `spike_fn(V - threshold)` and resets `V`.

    `reset_val=None` selects each neuron's own reset rule (SPEC.md §3).
    """

    threshold: Array | float
    spike_fn: SpikeFn
    stop_reset_grad: bool = eqx.field(static=True)
    reset_val: Optional[Array]

    def __init__(self, threshold=1.0, spike_fn: SpikeFn = superspike_surrogate(10.0),
                 stop_reset_grad: bool = True, reset_val=None,
                 init_fn: Optional[Callable] = None,
                 shape: Optional[StateShape] = None) -> None:
        super().__init__(init_fn, shape)
        self.threshold = threshold
        self.spike_fn = spike_fn
        self.stop_reset_grad = bool(stop_reset_grad)
        self.reset_val = None if reset_val is None else jnp.asarray(reset_val, dtype=float)

    def refractory(self, reset_term: Array) -> Array:
        """`R(v)`: the reset term, stop-gradiented when `stop_reset_grad`."""
        return lax.stop_gradient(reset_term) if self.stop_reset_grad else reset_term
