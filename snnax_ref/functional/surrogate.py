"""Heaviside spike functions whose derivative is replaced by a surrogate.

Forward, every spike function is `H(x) = 1 if x >= 0 else 0` in the dtype of
`x`. Under autodiff the derivative `dH/dx` is the surrogate of SPEC.md §1.
Each spike function is an equinox module with a static `beta`, so two spike
functions built with the same `beta` compare (and hash) equal.
"""

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array

SpikeFn = Callable[[Array], Array]
"""The type of a spike function: `x -> H(x)` with a surrogate derivative (SPEC.md §1)."""


def heaviside(x: Array) -> Array:
    """`H(x)`, with `H(0) = 1` and `H(NaN) = NaN` (upstream's `jnp.heaviside(x, 1.)`),
    in the dtype of `x` (SPEC.md §1). Its derivative is JAX's, zero: use a
    surrogate spike function to train.

    **Arguments:**

    - `x`: an array.

    **Returns:** `1` where `x >= 0`, `0` where `x < 0`, NaN where `x` is NaN.
    """
    return jnp.heaviside(x, jnp.ones((), x.dtype)).astype(x.dtype)


def _spike_with_surrogate(x: Array, beta: float, tangent) -> Array:
    """`H(x)`, whose JVP is `tangent(x, x_dot, beta)`: the surrogate derivative
    applied to the tangent `x_dot` in upstream's order of operations, so
    gradients equal upstream SNNAX's bit for bit."""
    @jax.custom_jvp
    def spike(x):
        return heaviside(x)

    @spike.defjvp
    def spike_jvp(primals, tangents):
        (x,), (x_dot,) = primals, tangents
        return heaviside(x), tangent(x, x_dot, beta)

    return spike(x)


class _SurrogateSpike(eqx.Module):
    """`H(x)` forward, whose JVP is the subclass's `tangent(x, x_dot, beta)`."""

    beta: float = eqx.field(static=True)

    def __call__(self, x: Array) -> Array:
        """`H(x)` in the dtype of `x`, with this surrogate as its derivative."""
        return _spike_with_surrogate(x, self.beta, self.tangent)


class SuperSpikeSurrogate(_SurrogateSpike):
    """`H(x)` forward; `dH/dx = 1 / (1 + beta*|x|)` (SPEC.md §1). Built by
    `superspike_surrogate`; equal to another with the same `beta`.

    **Arguments:**

    - `beta`: the slope parameter (static).
    """

    @staticmethod
    def tangent(x, x_dot, beta):
        """The JVP of `H` at `x` along `x_dot`."""
        return x_dot / (1.0 + beta * jnp.abs(x))


class SigmoidSurrogate(_SurrogateSpike):
    """`H(x)` forward; `dH/dx = s*(1 - beta*s)` with `s = sigmoid(beta*x)`
    (SPEC.md §1). Built by `sigmoid_surrogate`.

    **Arguments:**

    - `beta`: the slope parameter (static).
    """

    @staticmethod
    def tangent(x, x_dot, beta):
        """The JVP of `H` at `x` along `x_dot`: the documented formula (Functions
        page), the derivative of `sigmoid(x)` at `beta = 1`, the only `beta`
        the documentation supports."""
        s = jax.nn.sigmoid(beta * x)
        return s * ((1.0 - beta * s) * x_dot)


class PiecewiseSurrogate(_SurrogateSpike):
    """`H(x)` forward; `dH/dx = 1` on the closed window `[-beta, beta]`, else 0
    (SPEC.md §1). Built by `piecewise_surrogate`.

    **Arguments:**

    - `beta`: the window's half-width (static).
    """

    @staticmethod
    def tangent(x, x_dot, beta):
        """The JVP of `H` at `x` along `x_dot`."""
        return jnp.where((x >= -beta) & (x <= beta), x_dot, jnp.zeros_like(x_dot))


def superspike_surrogate(beta: float = 10.0) -> SuperSpikeSurrogate:
    """SuperSpike (Zenke & Ganguli): `dH/dx = 1 / (1 + beta*|x|)` (SPEC.md §1).

    **Arguments:**

    - `beta`: the slope parameter (default 10).

    **Returns:** the spike function, a `SuperSpikeSurrogate`.
    """
    return SuperSpikeSurrogate(float(beta))


def sigmoid_surrogate(beta: float = 1.0) -> SigmoidSurrogate:
    """Sigmoid surrogate: `dH/dx = s*(1 - beta*s)`, `s = sigmoid(beta*x)` (documented
    for `beta = 1`, where it is the derivative of `sigmoid(x)`) (SPEC.md §1).

    **Arguments:**

    - `beta`: the slope parameter (default 1; above 1 the formula goes
      negative in places, as written).

    **Returns:** the spike function, a `SigmoidSurrogate`.
    """
    return SigmoidSurrogate(float(beta))


def piecewise_surrogate(beta: float = 0.5) -> PiecewiseSurrogate:
    """Straight-through window: `dH/dx = 1` for `-beta <= x <= beta`, else 0
    (SPEC.md §1).

    **Arguments:**

    - `beta`: the window's half-width (default 0.5).

    **Returns:** the spike function, a `PiecewiseSurrogate`.
    """
    return PiecewiseSurrogate(float(beta))
