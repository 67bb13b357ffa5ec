"""Sigma-delta neurons: spikes encode changes of an accumulated input."""

from typing import Optional

import jax.numpy as jnp
from jax import Array

from ...functional.surrogate import SpikeFn, superspike_surrogate
from .spiking import check_threshold_and_spike_fn, layer_constants
from .stateful import StatefulLayer


class SigmaDelta(StatefulLayer):
    """Sigma-delta neuron (SPEC.md §3.8). State `[i, e, m, s, S]`; decays are not
    clamped, and nothing resets.

        input_decay, membrane_decay, feedback_decay = dc
        i = i*input_decay + x           (sigma: accumulated input)
        e = i - s                       (error against the fed-back spikes)
        m = m*membrane_decay + e        (delta membrane)
        S = H(m - threshold)
        s = s*feedback_decay + S        (fed-back spikes)

    **Arguments:**

    - `decay_constants`: `[input_decay, membrane_decay, feedback_decay]`
      (default `[0.95, 0.95, 0.95]`), trainable.
    - `threshold`, `spike_fn`: as every neuron's (SPEC.md §3).
    - `init_fn`: `init_fn(shape, key)` gives the initial membrane `m`.
    - `shape`: the neuron shape, for per-neuron constants.
    - `key`: accepted for upstream's signature; unused.
    """

    decay_constants: Array
    threshold: Array | float
    spike_fn: SpikeFn

    def __init__(self, decay_constants=(0.95, 0.95, 0.95), threshold=1.0,
                 spike_fn=superspike_surrogate(10.0), init_fn=None, shape=None,
                 key=None) -> None:
        super().__init__(init_fn, shape)
        self.decay_constants = layer_constants(
            decay_constants, self.shape, ("input_decay", "membrane_decay", "feedback_decay"),
            "SigmaDelta")
        check_threshold_and_spike_fn("SigmaDelta", threshold, spike_fn)
        self.threshold = threshold
        self.spike_fn = spike_fn

    def init_state(self, shape, key=None, *args, **kwargs):
        # init_fn initialises the membrane, as in every other neuron (SPEC.md §3.8).
        """`[i, e, m, s, S]` before the first step: zeros, with `m = init_fn(shape, key)`."""
        zeros = jnp.zeros(shape)
        return [zeros, zeros, self.init_fn(shape, key, *args, **kwargs), zeros, zeros]

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        """One step (SPEC.md §3.8): `state = [i, e, m, s, S_prev]` and the input `x`
        give `([i, e, m, s, S], S)`.
        """
        sigma, error, membrane, feedback, _ = state
        input_decay, membrane_decay, feedback_decay = self.decay_constants
        sigma = sigma * input_decay + synaptic_input
        error = sigma - feedback
        membrane = membrane * membrane_decay + error
        spikes = self.spike_fn(membrane - self.threshold)
        feedback = feedback * feedback_decay + spikes
        return [sigma, error, membrane, feedback, spikes], spikes
