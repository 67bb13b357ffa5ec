"""Counts the spikes that pass through it (to read rates of hidden layers)."""

from typing import Optional

import jax.numpy as jnp
from jax import Array

from .stateful import StatefulLayer, warn_ignored_arguments


class SpikeCounter(StatefulLayer):
    """Passes its input through and counts it. State `[count, S]`.

        S = x
        count = count + x
    """

    def __init__(self, shape=None, **ignored) -> None:
        super().__init__(None, shape)
        warn_ignored_arguments("SpikeCounter", ignored)

    def init_state(self, shape, key=None, *args, **kwargs):
        return [jnp.zeros(shape), jnp.zeros(shape)]

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        count, _ = state
        spikes = synaptic_input
        count = count + spikes
        return [count, spikes], spikes
