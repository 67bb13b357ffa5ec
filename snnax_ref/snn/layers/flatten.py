"""Flatten one sample."""

from typing import Optional

import equinox as eqx
from jax import Array


class Flatten(eqx.Module):
    """`x.reshape(-1)`: flattens one sample (no batch axis) (SPEC.md §3.11).

    Stateless; takes no arguments.
    """

    def __call__(self, x: Array, *, key: Optional[Array] = None) -> Array:
        """`x.reshape(-1)`; `key` is unused."""
        return x.reshape(-1)
