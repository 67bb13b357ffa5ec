"""Flatten one sample."""

from typing import Optional

import equinox as eqx
from jax import Array


class Flatten(eqx.Module):
    """`x.reshape(-1)`: flattens one sample (no batch axis)."""

    def __call__(self, x: Array, *, key: Optional[Array] = None) -> Array:
        return x.reshape(-1)
