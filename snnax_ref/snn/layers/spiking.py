"""What every spiking neuron layer shares: threshold, spike function, reset."""

from typing import Callable, Optional

import equinox as eqx
import jax.numpy as jnp
from jax import Array, lax

from ...functional.surrogate import SpikeFn, superspike_surrogate
from .stateful import StatefulLayer, StateShape


def clamp(low: float, value: Array, high: float) -> Array:
    """`min(max(value, low), high)`."""
    return jnp.clip(value, low, high)


def as_parameter(value, shape: Optional[StateShape]) -> Array:
    """A trainable float array laid out as `StatefulLayer.init_parameters` does."""
    return StatefulLayer.init_parameters(value, shape).data


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
