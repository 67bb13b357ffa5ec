"""Integrate-and-fire neurons: no leak towards zero, an optional constant leak."""

from typing import Optional

import jax.numpy as jnp
from jax import Array

from ...functional.surrogate import superspike_surrogate
from .spiking import SpikingLayer, as_parameter, clamped_decay, layer_constants


class SimpleIAF(SpikingLayer):
    """Integrate-and-fire without synaptic current (SPEC.md §3.1). State `[V, S]`.

        V = (V - leak) + x
        S = H(V - threshold)
        V = V - R(V*S)   (reset_val None)   or   V - R(reset_val*S)

    **Arguments:**

    - `leak`: subtracted from the membrane every step (default 0; trainable).
    - `threshold`, `spike_fn`, `stop_reset_grad`, `reset_val`, `init_fn`, `shape`,
      `key`: the common neuron arguments (SPEC.md §3).
    """

    leak: Array

    def __init__(self, leak=0.0, threshold=1.0, spike_fn=superspike_surrogate(10.0), stop_reset_grad=True,
                 reset_val=None, shape=None, init_fn=None, key=None) -> None:
        super().__init__(threshold, spike_fn, stop_reset_grad,
                         reset_val, init_fn, shape)
        self.leak = as_parameter(leak, self.shape, type(self).__name__, "leak")

    def init_state(self, shape, key=None, *args, **kwargs):
        """`[V, S]` before the first step: `[init_fn(shape, key), zeros(shape)]`."""
        return [self.init_fn(shape, key, *args, **kwargs), jnp.zeros(shape)]

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        """One step (SPEC.md §3.1): `state = [V, S_prev]` and the input `x` give
        `([V, S], S)`.
        """
        membrane, _ = state
        membrane = (membrane - self.leak) + synaptic_input
        spikes = self.spike_fn(membrane - self.threshold)
        reset = membrane * spikes if self.reset_val is None else self.reset_val * spikes
        membrane = membrane - self.apply_stop_reset_grad(reset)
        return [membrane, spikes], spikes


class IAF(SpikingLayer):
    """Integrate-and-fire with a synaptic current (SPEC.md §3.2). State `[V, I, S]`.

        b = clamp(0.5, dc[0], 1)
        V = (V - leak) + I_prev
        I = b*I_prev + (1 - b)*x
        S = H(V - threshold)
        V = V - R(V*S)   or   V - R(reset_val*S)

    **Arguments:**

    - `decay_constants`: `[current decay]` (default `[0.95]`), trainable.
    - `leak`: subtracted from the membrane every step (default 0; trainable).
    - `threshold`, `spike_fn`, `stop_reset_grad`, `reset_val`, `init_fn`, `shape`,
      `key`: the common neuron arguments (SPEC.md §3).
    """

    decay_constants: Array
    leak: Array

    def __init__(self, decay_constants=(0.95,), leak=0.0, threshold=1.0, spike_fn=superspike_surrogate(10.0),
                 stop_reset_grad=True, reset_val=None, init_fn=None, shape=None,
                 key=None) -> None:
        super().__init__(threshold, spike_fn, stop_reset_grad,
                         reset_val, init_fn, shape)
        self.decay_constants = layer_constants(decay_constants, self.shape,
                                               ("synaptic current decay",), "IAF")
        self.leak = as_parameter(leak, self.shape, type(self).__name__, "leak")

    def init_state(self, shape, key=None, *args, **kwargs):
        """`[V, I, S]` before the first step: `[init_fn(shape, key), zeros, zeros]`."""
        return [self.init_fn(shape, key, *args, **kwargs), jnp.zeros(shape), jnp.zeros(shape)]

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        """One step (SPEC.md §3.2): `state = [V, I_prev, S_prev]` and the input `x`
        give `([V, I, S], S)`.
        """
        membrane, synaptic_current, _ = state
        current_decay = clamped_decay(self.decay_constants[0])
        membrane = (membrane - self.leak) + synaptic_current
        synaptic_current = current_decay * synaptic_current + (1.0 - current_decay) * synaptic_input
        spikes = self.spike_fn(membrane - self.threshold)
        reset = membrane * spikes if self.reset_val is None else self.reset_val * spikes
        membrane = membrane - self.apply_stop_reset_grad(reset)
        return [membrane, synaptic_current, spikes], spikes

