"""Spike response model: filtered input through an inner layer, refractory kernel."""

from typing import Optional

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array, lax

from ...functional.surrogate import SpikeFn, superspike_surrogate
from .spiking import check_threshold_and_spike_fn, clamp, clamped_decay, layer_constants
from .stateful import StatefulLayer, TrainableArray, checked_shape, warn_user


class SRM(StatefulLayer):
    """Spike response model around a stateless `layer` (SPEC.md §3.9). State
    `[p, q, r, S]`.

    `p, q` have the input's shape; `r, S` the shape of `layer`'s output.

        a = clamp(0.5, dc[0], 1);  b = clamp(0.5, dc[1], 1)
        g = clamp(0.5, r_decay_constants[0], 1);  rv = clamp(0, reset_val, 2)
        p = a*p + (1 - a)*x
        q = b*q + (1 - b)*p
        r = g*r + rv*sg(S_prev)
        V = layer(q) - rv*r
        S = H(V - threshold)

    `reset_val=None` means `rv = 0` (no refractoriness), frozen; a given
    `reset_val` is one trainable value for the layer. The state holds no
    membrane, so an `init_fn` is ignored, with a warning (SPEC.md §3.9).

    **Arguments:**

    - `layer`: a stateless module applied to `q` every step (say an
      `eqx.nn.Linear`); a `StatefulLayer` is a `TypeError`.
    - `decay_constants`: `[a, b]`, the decays of `p` and `q` (default
      `[0.95, 0.9]`); per input neuron with `input_shape`.
    - `r_decay_constants`: `[g]`, the refractory decay (default `[0.9]`).
    - `reset_val`: `rv`, one value for the layer; `None` (default) is 0,
      frozen.
    - `stop_reset_grad`: kept for upstream's signature; no effect (the
      refractory input is always stop-gradiented).
    - `input_shape`: the input's shape, for per-neuron `decay_constants`.
    - `shape`: the output's shape, for per-neuron `r_decay_constants`.
    - `threshold`, `spike_fn`, `init_fn`, `key`: the common neuron arguments
      (SPEC.md §3); `init_fn` is ignored, `key` unused.
    """

    layer: eqx.Module
    decay_constants: Array
    r_decay_constants: Array
    reset_val: TrainableArray
    threshold: Array | float
    spike_fn: SpikeFn
    stop_reset_grad: bool = eqx.field(static=True)

    def __init__(self, layer: eqx.Module, decay_constants=(0.95, 0.9),
                 r_decay_constants=(0.9,), spike_fn=superspike_surrogate(10.0),
                 threshold=1.0, reset_val=None, stop_reset_grad=True, init_fn=None,
                 input_shape=None, shape=None, key=None) -> None:
        if init_fn is not None:
            warn_user("SRM: init_fn is ignored: its state [p, q, r, S] holds no membrane to "
                      "initialise and every component starts at zero, as upstream ignores it "
                      "(SPEC.md §3.9).")
        super().__init__(None, shape)
        if isinstance(layer, StatefulLayer) or not callable(layer):
            raise TypeError(f"SRM: layer must be a stateless module, called as layer(q) each "
                            f"step (SPEC.md §3.9), got {type(layer).__name__}.")
        check_threshold_and_spike_fn("SRM", threshold, spike_fn)
        if input_shape is not None:
            input_shape = checked_shape(input_shape, "SRM", "input_shape")
        self.layer = layer
        self.decay_constants = layer_constants(
            decay_constants, input_shape, ("input trace decay", "filtered input decay"), "SRM")
        self.r_decay_constants = layer_constants(r_decay_constants, self.shape,
                                                 ("refractory decay",), "SRM",
                                                 "r_decay_constants")
        values = layer_constants(0.0 if reset_val is None else reset_val, None,
                                 ("reset value",), "SRM", "reset_val")
        self.reset_val = TrainableArray(values, requires_grad=reset_val is not None)
        self.threshold = threshold
        self.spike_fn = spike_fn
        self.stop_reset_grad = bool(stop_reset_grad)

    def _output_shape(self, input_shape) -> tuple:
        mock = jax.ShapeDtypeStruct(tuple(input_shape), jnp.zeros(()).dtype)
        return eqx.filter_eval_shape(self.layer, mock).shape

    def init_state(self, shape, key=None, *args, **kwargs):
        """`[p, q, r, S]` before the first step, all zeros: `p, q` of the input
        `shape`, `r, S` of `layer`'s output shape.
        """
        output_shape = self._output_shape(shape)
        return [jnp.zeros(shape), jnp.zeros(shape),
                jnp.zeros(output_shape), jnp.zeros(output_shape)]

    def init_out(self, shape, *, key: Optional[Array] = None):
        """The output before the first step, as upstream's: `layer` applied to
        zeros of the *input* `shape` (a Linear's bias), the membrane at rest."""
        return self.layer(jnp.zeros(shape))

    def initial_output(self, input_shape, output_shape, *, key: Optional[Array] = None):
        """`init_out(input_shape)`: SRM's initial output is upstream's, computed on
        its input shape (SPEC.md §2, §3.9).
        """
        return self.init_out(input_shape, key=key)

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        """One step (SPEC.md §3.9): `state = [p, q, r, S_prev]` and the input `x`
        give `([p, q, r, S], S)`.
        """
        p, q, refractory, previous_spikes = state
        p_decay = clamped_decay(self.decay_constants[0])
        q_decay = clamped_decay(self.decay_constants[1])
        refractory_decay = clamped_decay(self.r_decay_constants[0])
        reset_val = clamp(0.0, self.reset_val.data[0], 2.0)
        p = p_decay * p + (1.0 - p_decay) * synaptic_input
        q = q_decay * q + (1.0 - q_decay) * p
        refractory = refractory_decay * refractory + reset_val * lax.stop_gradient(previous_spikes)
        membrane = self.layer(q) - reset_val * refractory
        spikes = self.spike_fn(membrane - self.threshold)
        return [p, q, refractory, spikes], spikes
