"""Max pooling followed by a spike function."""

from typing import ClassVar, Optional

import equinox as eqx
from jax import Array

from ...functional.surrogate import SpikeFn, superspike_surrogate


class _SpikingMaxPool(eqx.Module):
    """`spike_fn(maxpool(x) - threshold)` with equinox's pooling, channels first.

    An input smaller than the window (after padding) is a `ValueError`: the
    pooled output would be empty, silently.
    """

    pool: eqx.Module
    threshold: float = eqx.field(static=True)
    spike_fn: SpikeFn
    pool_class: ClassVar[type]

    def __init__(self, kernel_size, stride=1, padding=0, *, threshold=1.0,
                 spike_fn=superspike_surrogate(10.0)) -> None:
        self.pool = self.pool_class(kernel_size, stride=stride, padding=padding)
        self.threshold = float(threshold)
        self.spike_fn = spike_fn

    def __call__(self, x: Array, *, key: Optional[Array] = None) -> Array:
        spatial = x.shape[1:]
        for axis, (size, kernel, (low, high)) in enumerate(
                zip(spatial, self.pool.kernel_size, self.pool.padding)):
            if size + low + high < kernel:
                raise ValueError(
                    f"{type(self).__name__}: input of shape {tuple(x.shape)} is smaller than "
                    f"the pooling window {tuple(self.pool.kernel_size)} along spatial axis "
                    f"{axis}; the output would be empty.")
        return self.spike_fn(self.pool(x) - self.threshold)


class SpikingMaxPool1d(_SpikingMaxPool):
    """`spike_fn(maxpool1d(x) - threshold)`, channels first."""

    pool_class = eqx.nn.MaxPool1d


class SpikingMaxPool2d(_SpikingMaxPool):
    """`spike_fn(maxpool2d(x) - threshold)`, channels first."""

    pool_class = eqx.nn.MaxPool2d
