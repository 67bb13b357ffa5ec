"""Counts the spikes that pass through it (to read rates of hidden layers)."""

from typing import Optional

import jax.numpy as jnp
from jax import Array

from .stateful import StatefulLayer, warn_ignored_arguments


class SpikeCounter(StatefulLayer):
    """Passes its input through and counts it (SPEC.md §3.10). State `[count, S]`.

        S = x
        count = count + x

    **Arguments:**

    - `shape`: the neuron shape (kept for upstream's signature).
    - `ignored`: unknown keyword arguments, ignored with a warning, as
      upstream's `**kwargs` ignores them.
    """

    def __init__(self, shape=None, **ignored) -> None:
        super().__init__(None, shape)
        warn_ignored_arguments("SpikeCounter", ignored)

    def init_state(self, shape, key=None, *args, **kwargs):
        """`[count, S]` before the first step: zeros of the input `shape`."""
        return [jnp.zeros(shape), jnp.zeros(shape)]

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        """One step (SPEC.md §3.10): `state = [count, S_prev]` and the input `x`
        give `([count + x, x], x)`.
        """
        count, _ = state
        spikes = synaptic_input
        count = count + spikes
        return [count, spikes], spikes
