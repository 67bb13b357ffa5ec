"""Leaky integrator: a membrane without spikes."""

from typing import Optional

from jax import Array

from .stateful import StatefulLayer
from .spiking import clamped_decay, layer_constants


class SimpleLI(StatefulLayer):
    """Leaky integrator. State `[V]`; the output is `V`.

        a = clamp(0.5, dc[0], 1)
        V = a*V + (1 - a)*x
    """

    decay_constants: Array

    def __init__(self, decay_constants=(0.95,), init_fn=None, shape=None, key=None) -> None:
        super().__init__(init_fn, shape)
        self.decay_constants = layer_constants(decay_constants, self.shape,
                                               ("membrane decay",), "SimpleLI")

    def init_state(self, shape, key=None, *args, **kwargs):
        return [self.init_fn(shape, key, *args, **kwargs)]

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        (membrane,) = state
        membrane_decay = clamped_decay(self.decay_constants[0])
        membrane = membrane_decay * membrane + (1.0 - membrane_decay) * synaptic_input
        return [membrane], membrane


LI = SimpleLI
