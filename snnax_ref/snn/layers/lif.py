"""Leaky integrate-and-fire neurons."""

from typing import Optional

import jax
import jax.numpy as jnp
from jax import Array, lax

from ...functional.surrogate import superspike_surrogate
from .spiking import SpikingLayer, clamp, clamped_decay, layer_constants
from .stateful import warn_ignored_arguments


class SimpleLIF(SpikingLayer):
    """LIF without synaptic current (SPEC.md §3.4). State `[V, S]`.

        a = clamp(0.5, dc[0], 1)
        V = a*V + (1 - a)*x
        S = H(V - threshold)
        V = V - R(V*S)   (reset_val None)   or   V - R(softplus(reset_val)*S)

    **Arguments:**

    - `decay_constants`: `[membrane decay]` (default `[0.95]`; a scalar is
      the one constant), trainable.
    - `threshold`, `spike_fn`, `stop_reset_grad`, `reset_val`, `init_fn`, `shape`,
      `key`: the common neuron arguments (SPEC.md §3).
    - `ignored`: unknown keyword arguments, ignored with a warning, as
      upstream's `**kwargs` ignores them (SPEC.md §3.10).
    """

    decay_constants: Array

    def __init__(self, decay_constants=(0.95,), spike_fn=superspike_surrogate(10.0),
                 threshold=1.0, stop_reset_grad=True, reset_val=None, init_fn=None,
                 shape=None, key=None, **ignored) -> None:
        super().__init__(threshold, spike_fn, stop_reset_grad, reset_val, init_fn, shape)
        warn_ignored_arguments("SimpleLIF", ignored)
        self.decay_constants = layer_constants(decay_constants, self.shape, ("membrane decay",),
                                               "SimpleLIF")

    def init_state(self, shape, key=None, *args, **kwargs):
        """`[V, S]` before the first step: `[init_fn(shape, key), zeros(shape)]`."""
        return [self.init_fn(shape, key, *args, **kwargs), jnp.zeros(shape)]

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        """One step (SPEC.md §3.4): `state = [V, S_prev]` and the input `x` give
        `([V, S], S)`.
        """
        membrane, _ = state
        membrane_decay = clamped_decay(self.decay_constants[0])
        membrane = membrane_decay * membrane + (1.0 - membrane_decay) * synaptic_input
        spikes = self.spike_fn(membrane - self.threshold)
        if self.reset_val is None:
            reset = membrane * spikes
        else:
            reset = jax.nn.softplus(self.reset_val) * spikes
        membrane = membrane - self.apply_stop_reset_grad(reset)
        return [membrane, spikes], spikes


class LIF(SpikingLayer):
    """LIF with synaptic current; resets with the previous spikes first
    (SPEC.md §3.5). State `[V, I, S]`.

        a = clamp(0.5, dc[0], 1);  b = clamp(0.5, dc[1], 1)
        V = V - R(V*S_prev)   (reset_val None)   or   V - R((V - reset_val)*S_prev)
        V = a*V + (1 - a)*I_prev
        I = b*I_prev + (1 - b)*x
        S = H(V - threshold)

    **Arguments:**

    - `decay_constants`: `[membrane decay, current decay]` (default
      `[0.95, 0.9]`), trainable.
    - `threshold`, `spike_fn`, `stop_reset_grad`, `reset_val`, `init_fn`, `shape`,
      `key`: the common neuron arguments (SPEC.md §3).
    """

    decay_constants: Array

    def __init__(self, decay_constants=(0.95, 0.9), spike_fn=superspike_surrogate(10.0),
                 threshold=1.0, stop_reset_grad=True, reset_val=None, init_fn=None,
                 shape=None, key=None) -> None:
        super().__init__(threshold, spike_fn, stop_reset_grad, reset_val, init_fn, shape)
        self.decay_constants = layer_constants(
            decay_constants, self.shape, ("membrane decay", "synaptic current decay"),
            type(self).__name__)

    def init_state(self, shape, key=None, *args, **kwargs):
        """`[V, I, S]` before the first step: `[init_fn(shape, key), zeros, zeros]`."""
        return [self.init_fn(shape, key, *args, **kwargs), jnp.zeros(shape), jnp.zeros(shape)]

    def decays(self):
        """`(a, b)`: the membrane and synaptic current decays, clamped (SPEC.md §3.5)."""
        return clamped_decay(self.decay_constants[0]), clamped_decay(self.decay_constants[1])

    def reset_term(self, membrane: Array, previous_spikes: Array) -> Array:
        """`v` in the reset `V - R(v)` (SPEC.md §3.5): `V*S_prev`, or
        `(V - reset_val)*S_prev` with a `reset_val`.
        """
        if self.reset_val is None:
            return membrane * previous_spikes
        return (membrane - self.reset_val) * previous_spikes

    def after_reset(self, membrane: Array, previous_spikes: Array) -> Array:
        """`V - R(reset_term)`: the membrane once the previous spikes reset it
        (SPEC.md §3.5)."""
        return membrane - self.apply_stop_reset_grad(self.reset_term(membrane, previous_spikes))

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        """One step (SPEC.md §3.5): `state = [V, I_prev, S_prev]` and the input `x`
        give `([V, I, S], S)`.
        """
        membrane, synaptic_current, previous_spikes = state
        membrane_decay, current_decay = self.decays()
        membrane = self.after_reset(membrane, previous_spikes)
        membrane = membrane_decay * membrane + (1.0 - membrane_decay) * synaptic_current
        synaptic_current = current_decay * synaptic_current + (1.0 - current_decay) * synaptic_input
        spikes = self.spike_fn(membrane - self.threshold)
        return [membrane, synaptic_current, spikes], spikes


class LIFSoftReset(LIF):
    """LIF whose reset subtracts a constant (SPEC.md §3.6). State `[V, I, S]`.

    As `LIF`, same arguments, with the reset `V = V - R(S_prev)` (reset_val
    None) or `V = V - R(reset_val*S_prev)`.
    """

    def reset_term(self, membrane: Array, previous_spikes: Array) -> Array:
        """`v` in the reset `V - R(v)` (SPEC.md §3.6): `S_prev`, or
        `reset_val*S_prev` with a `reset_val`.
        """
        if self.reset_val is None:
            return previous_spikes
        return self.reset_val * previous_spikes


class AdaptiveLIF(SpikingLayer):
    """LIF with an adaptation variable fed back into the membrane (SPEC.md §3.7).
    State `[V, A, S]`.

        a = clamp(0.5, dc[0], 1);                b = clamp(0.5, ada_decay_constant[0], 1)
        c = clamp(-1, ada_coupling_var[0], 1);   d = clamp(0, ada_step_val[0], 2)

    Each `ada_*` parameter holds one value for the layer (read as element
    `[0]`, as upstream does; per-neuron with `shape`).
        V = a*V + (1 - a)*(x + A)
        S = H(V - threshold)
        A = (1 - b)*c*V + b*A - d*sg(S)       (V before its reset)
        V = V - R(V*S)   or   V - R(reset_val*S)

    **Arguments:**

    - `decay_constants`: `[membrane decay]` (default `[0.95]`).
    - `ada_decay_constant`: `[adaptation decay]` (default `[0.8]`).
    - `ada_step_val`: `[adaptation step per spike]` (default `[1.0]`).
    - `ada_coupling_var`: `[coupling of V into A]` (default `[0.5]`).
    - `threshold`, `spike_fn`, `stop_reset_grad`, `reset_val`, `init_fn`, `shape`,
      `key`: the common neuron arguments (SPEC.md §3).
    """

    decay_constants: Array
    ada_decay_constant: Array
    ada_step_val: Array
    ada_coupling_var: Array

    def __init__(self, decay_constants=(0.95,), ada_decay_constant=(0.8,), ada_step_val=(1.0,),
                 ada_coupling_var=(0.5,), spike_fn=superspike_surrogate(10.0), threshold=1.0,
                 stop_reset_grad=True, reset_val=None, init_fn=None, shape=None,
                 key=None) -> None:
        super().__init__(threshold, spike_fn, stop_reset_grad, reset_val, init_fn, shape)
        self.decay_constants = layer_constants(decay_constants, self.shape,
                                               ("membrane decay",), "AdaptiveLIF")
        self.ada_decay_constant = layer_constants(ada_decay_constant, self.shape,
                                                  ("adaptation decay",), "AdaptiveLIF",
                                                  "ada_decay_constant")
        self.ada_step_val = layer_constants(ada_step_val, self.shape, ("adaptation step",),
                                            "AdaptiveLIF", "ada_step_val")
        self.ada_coupling_var = layer_constants(ada_coupling_var, self.shape,
                                                ("adaptation coupling",), "AdaptiveLIF",
                                                "ada_coupling_var")

    def init_state(self, shape, key=None, *args, **kwargs):
        """`[V, A, S]` before the first step: `[init_fn(shape, key), zeros, zeros]`."""
        return [self.init_fn(shape, key, *args, **kwargs), jnp.zeros(shape), jnp.zeros(shape)]

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        """One step (SPEC.md §3.7): `state = [V, A, S_prev]` and the input `x` give
        `([V, A, S], S)`.
        """
        membrane, adaptation, _ = state
        membrane_decay = clamped_decay(self.decay_constants[0])
        adaptation_decay = clamped_decay(self.ada_decay_constant[0])
        coupling = clamp(-1.0, self.ada_coupling_var[0], 1.0)
        step = clamp(0.0, self.ada_step_val[0], 2.0)
        membrane = membrane_decay * membrane + (1.0 - membrane_decay) * (synaptic_input + adaptation)
        spikes = self.spike_fn(membrane - self.threshold)
        adaptation = ((1.0 - adaptation_decay) * coupling * membrane
                      + adaptation_decay * adaptation - step * lax.stop_gradient(spikes))
        reset = membrane * spikes if self.reset_val is None else self.reset_val * spikes
        membrane = membrane - self.apply_stop_reset_grad(reset)
        return [membrane, adaptation, spikes], spikes
