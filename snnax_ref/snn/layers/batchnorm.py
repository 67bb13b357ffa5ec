"""Normalisation over time with running statistics kept in the state."""

from typing import Optional

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array

from .spiking import as_parameter, check_numbers
from .stateful import StatefulLayer


class BatchNormLayer(StatefulLayer):
    """Per-feature normalisation over time with exponential running statistics
    (SPEC.md §3.12). State `[mean, var]` (var starts at one); the output is `y`.

        mean = forget_weight*mean + (1 - forget_weight)*x
        var  = forget_weight*var  + (1 - forget_weight)*(x - mean)**2
        y    = gamma * (x - mean) / sqrt(var + eps)

    **Arguments:**

    - `eps`: added to the variance under the square root (default `1e-5`,
      `>= 0`).
    - `forget_weight`: the weight of the previous statistics, as the
      documentation defines it (default 0.1, in `[0, 1]`).
    - `gamma`: the scale (default 0.8), trainable.
    - `init_fn`: kept for upstream's signature; the state starts at
      `[0, 1]` whatever it is.
    - `shape`: the feature shape, for a per-feature `gamma`.
    - `key`: accepted for upstream's signature; unused.
    """

    eps: float = eqx.field(static=True)
    forget_weight: float = eqx.field(static=True)
    gamma: Array

    def __init__(self, eps=1e-5, forget_weight=0.1, gamma=0.8, init_fn=None,
                 shape=None, key=None) -> None:
        super().__init__(init_fn, shape)
        for field, value in (("eps", eps), ("forget_weight", forget_weight)):
            if np.ndim(value) != 0:
                raise TypeError(f"BatchNormLayer: {field} must be one real number, got "
                                f"{value!r}.")
            check_numbers(value, "BatchNormLayer", field)
        if not 0.0 <= forget_weight <= 1.0:
            raise ValueError(f"BatchNormLayer: forget_weight must lie in [0, 1], got {forget_weight}")
        if not eps >= 0.0:  # a negative eps can make sqrt(var + eps) NaN
            raise ValueError(f"BatchNormLayer: eps must be >= 0, got {eps}")
        self.eps = float(eps)
        self.forget_weight = float(forget_weight)
        self.gamma = as_parameter(gamma, self.shape, "BatchNormLayer", "gamma")

    def init_state(self, shape, key=None, *args, **kwargs):
        """`[mean, var]` before the first step: zeros and ones of the input `shape`."""
        return [jnp.zeros(shape), jnp.ones(shape)]

    def __call__(self, state, synaptic_input, *, key: Optional[Array] = None):
        """One step (SPEC.md §3.12): `state = [mean, var]` and the input `x` give
        `([mean, var], y)`, the statistics updated first.
        """
        mean, var = state
        mean = self.forget_weight * mean + (1.0 - self.forget_weight) * synaptic_input
        var = self.forget_weight * var + (1.0 - self.forget_weight) * (synaptic_input - mean) ** 2
        normalised = self.gamma * (synaptic_input - mean) / jnp.sqrt(var + self.eps)
        return [mean, var], normalised
