"""Leaky integrator: a membrane without spikes."""

from typing import Optional

from jax import Array

from .stateful import StatefulLayer
from .spiking import clamped_decay, layer_constants


class SimpleLI(StatefulLayer):
    """Leaky integrator (SPEC.md §3.3), also named `LI`. State `[V]`; the output
    is `V` (no spikes).

        a = clamp(0.5, dc[0], 1)
        V = a*V + (1 - a)*x

    **Arguments:**

    - `decay_constants`: `[membrane decay]` (default `[0.95]`), trainable.
    - `init_fn`: `init_fn(shape, key)` gives the initial `V`; default zeros.
    - `shape`: the neuron shape, for per-neuron constants.
    - `key`: accepted for upstream's signature; unused.
    """

    decay_constants: Array

    def __init__(self, decay_constants=(0.95,), init_fn=None, shape=None, key=None) -> None:
        super().__init__(init_fn, shape)
        self.decay_constants = layer_constants(decay_constants, self.shape,
                                               ("membrane decay",), "SimpleLI")

    def init_state(self, shape, key=None, *args, **kwargs):
        """`[V]` before the first step: `[init_fn(shape, key)]`."""
        return [self.init_fn(shape, key, *args, **kwargs)]

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        """One step (SPEC.md §3.3): `state = [V_prev]` and the input `x` give
        `([V], V)`.
        """
        (membrane,) = state
        membrane_decay = clamped_decay(self.decay_constants[0])
        membrane = membrane_decay * membrane + (1.0 - membrane_decay) * synaptic_input
        return [membrane], membrane


LI = SimpleLI
