"""`Parallel`: several layers, each on its own input, outputs summed."""

from typing import Optional, Sequence

import equinox as eqx
from jax import Array


class Parallel(eqx.Module):
    """Applies `layers[k]` to `inputs[k]` and returns the sum of the results.

    In a `StatefulModel` graph a `Parallel` layer receives the list of its
    inputs (connected layers, then external inputs) instead of their
    concatenation (SPEC.md §4.3).
    """

    layers: list

    def __init__(self, layers: Sequence[eqx.Module]) -> None:
        self.layers = list(layers)

    def __call__(self, inputs: Sequence[Array], *, key: Optional[Array] = None) -> Array:
        if len(inputs) != len(self.layers):
            raise ValueError(f"Parallel has {len(self.layers)} layers but received "
                             f"{len(inputs)} inputs; give one input per layer.")
        results = [layer(x) for layer, x in zip(self.layers, inputs)]
        total = results[0]
        for result in results[1:]:
            total = total + result
        return total
