"""Max pooling followed by a spike function."""

from typing import Optional

import equinox as eqx
from jax import Array

from ...functional.surrogate import SpikeFn, superspike_surrogate


class SpikingMaxPool1d(eqx.Module):
    """`spike_fn(maxpool1d(x) - threshold)`, channels first."""

    pool: eqx.nn.MaxPool1d
    threshold: float = eqx.field(static=True)
    spike_fn: SpikeFn

    def __init__(self, kernel_size, stride=1, padding=0, *, threshold=1.0,
                 spike_fn=superspike_surrogate(10.0)) -> None:
        self.pool = eqx.nn.MaxPool1d(kernel_size, stride=stride, padding=padding)
        self.threshold = float(threshold)
        self.spike_fn = spike_fn

    def __call__(self, x: Array, *, key: Optional[Array] = None) -> Array:
        return self.spike_fn(self.pool(x) - self.threshold)


class SpikingMaxPool2d(eqx.Module):
    """`spike_fn(maxpool2d(x) - threshold)`, channels first."""

    pool: eqx.nn.MaxPool2d
    threshold: float = eqx.field(static=True)
    spike_fn: SpikeFn

    def __init__(self, kernel_size, stride=1, padding=0, *, threshold=1.0,
                 spike_fn=superspike_surrogate(10.0)) -> None:
        self.pool = eqx.nn.MaxPool2d(kernel_size, stride=stride, padding=padding)
        self.threshold = float(threshold)
        self.spike_fn = spike_fn

    def __call__(self, x: Array, *, key: Optional[Array] = None) -> Array:
        return self.spike_fn(self.pool(x) - self.threshold)
