"""`Parallel`: several layers, each on its own input, outputs summed."""

from typing import Optional, Sequence

import equinox as eqx
from jax import Array

from .stateful import StatefulLayer, layer_keys


class Parallel(eqx.Module):
    """Applies `layers[k]` to `inputs[k]` and returns the sum of the results
    (SPEC.md §5).

    In a `StatefulModel` graph a `Parallel` layer receives the list of its
    inputs (connected layers, then external inputs) instead of their
    concatenation (SPEC.md §4.3).

    Members are stateless: `Parallel` carries no state, and upstream SNNAX
    calls each member as `layer(x)`, which a `StatefulLayer` cannot take
    (SPEC.md §5). Put stateful layers after the `Parallel`, e.g. in a
    `CompoundLayer(Parallel([...]), snn.LIF())`.

    **Arguments:**

    - `layers`: a list of stateless layers, one per input.
    """

    layers: list

    def __init__(self, layers: Sequence[eqx.Module]) -> None:
        if callable(layers) or not isinstance(layers, (list, tuple)):
            raise TypeError(f"Parallel: layers must be a list of layers, got "
                            f"{type(layers).__name__}; write Parallel([layer_a, layer_b]).")
        if not layers:
            raise ValueError("Parallel: layers is empty; give at least one layer.")
        self.layers = list(layers)
        for k, layer in enumerate(self.layers):
            if not callable(layer):
                raise TypeError(f"Parallel: layers[{k}] ({type(layer).__name__}) is not "
                                "callable; members are layers (equinox modules).")
            if isinstance(layer, StatefulLayer):
                raise ValueError(
                    f"Parallel: layers[{k}] ({type(layer).__name__}) is stateful; Parallel "
                    "members must be stateless (SPEC.md §5). Put the stateful layer after "
                    "the Parallel, e.g. CompoundLayer(Parallel([...]), LIF()).")

    def __call__(self, inputs: Sequence[Array], *, key: Optional[Array] = None) -> Array:
        """`sum(layers[k](inputs[k]))`; with a `key`, member `k` gets
        `split(key, len(layers))[k]`, without one it is called as `layer(x)`.
        """
        if len(inputs) != len(self.layers):
            raise ValueError(f"Parallel has {len(self.layers)} layers but received "
                             f"{len(inputs)} inputs; give one input per layer.")
        # Without a key each member is called as `layer(x)`, as upstream calls them.
        results = [layer(x) if k is None else layer(x, key=k)
                   for layer, x, k in zip(self.layers, inputs, layer_keys(key, len(self.layers)))]
        total = results[0]
        for result in results[1:]:
            total = total + result
        return total
