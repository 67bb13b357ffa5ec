"""Max pooling followed by a spike function."""

from typing import ClassVar, Optional

import equinox as eqx
import numpy as np
from jax import Array

from ...functional.surrogate import SpikeFn, superspike_surrogate
from ..graph import is_int as _is_int
from .spiking import check_threshold_and_spike_fn


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _window_sizes(owner: str, field: str, value, dims: int, minimum: int) -> tuple:
    """`value` (an int, or `dims` ints) as `dims` ints `>= minimum`, or an error
    naming the field: equinox accepts a zero or negative window and JAX fails
    later, inside the first traced step."""
    sizes = (value,) * dims if _is_int(value) else _as_tuple(value)
    if len(sizes) != dims or not all(_is_int(v) for v in sizes):
        raise TypeError(f"{owner}: {field} must be an int or {dims} int(s), got {value!r}.")
    if any(v < minimum for v in sizes):
        raise ValueError(f"{owner}: {field} {value!r} must be >= {minimum} along every "
                         "spatial axis.")
    return tuple(int(v) for v in sizes)


class _SpikingMaxPool(eqx.Module):
    """`spike_fn(maxpool(x) - threshold)` with equinox's pooling, channels first;
    `kernel_size`, `stride`, `padding` and `use_ceil` are equinox's.

    An input smaller than the window (after padding) is a `ValueError`: the
    pooled output would be empty, silently.
    """

    pool: eqx.Module
    threshold: float = eqx.field(static=True)
    spike_fn: SpikeFn
    pool_class: ClassVar[type]
    num_spatial_dims: ClassVar[int]

    def __init__(self, kernel_size, stride=1, padding=0, use_ceil=False, *, threshold=1.0,
                 spike_fn=superspike_surrogate(10.0)) -> None:
        owner = type(self).__name__
        dims = self.num_spatial_dims
        kernel_size = _window_sizes(owner, "kernel_size", kernel_size, dims, minimum=1)
        stride = _window_sizes(owner, "stride", stride, dims, minimum=1)
        if _is_int(padding) or all(_is_int(p) for p in _as_tuple(padding)):
            padding = _window_sizes(owner, "padding", padding, dims, minimum=0)
        else:  # one (low, high) pair per spatial axis
            pairs = _as_tuple(padding)
            if len(pairs) != dims or not all(isinstance(p, (tuple, list)) for p in pairs):
                raise TypeError(f"{owner}: padding must be an int, {dims} int(s) or {dims} "
                                f"(low, high) pair(s), got {padding!r}.")
            padding = tuple(_window_sizes(owner, "padding", p, 2, minimum=0) for p in pairs)
        low_high = padding if not _is_int(padding[0]) else tuple((p, p) for p in padding)
        for axis, (kernel, (low, high)) in enumerate(zip(kernel_size, low_high)):
            if max(low, high) >= kernel:  # equinox's own rule, checked before it asserts
                raise ValueError(f"{owner}: padding {(low, high)} along spatial axis {axis} "
                                 f"must be smaller than the kernel size {kernel}.")
        check_threshold_and_spike_fn(owner, threshold, spike_fn)
        if np.ndim(threshold) != 0:
            raise TypeError(f"{owner}: threshold must be one real number, got {threshold!r}.")
        if not isinstance(use_ceil, (bool, np.bool_)):
            raise TypeError(f"{owner}: use_ceil must be a bool, got {use_ceil!r}.")
        # Upstream passes its other arguments on to equinox's pool: use_ceil too.
        self.pool = self.pool_class(kernel_size, stride=stride, padding=padding,
                                    use_ceil=bool(use_ceil))
        self.threshold = float(threshold)
        self.spike_fn = spike_fn

    def __call__(self, x: Array, *, key: Optional[Array] = None) -> Array:
        """`spike_fn(maxpool(x) - threshold)` for one sample `x` (channels first);
        `key` is unused.
        """
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
    """`spike_fn(maxpool1d(x) - threshold)`, channels first (SPEC.md §3.11).

    Stateless. An input smaller than the window (after padding) is a
    `ValueError`.

    **Arguments** (equinox's pooling arguments, then the spike's):

    - `kernel_size`, `stride` (default 1), `padding` (default 0),
      `use_ceil` (default `False`): as equinox's max pool's.
    - `threshold`: subtracted before the spike function (default 1.0).
    - `spike_fn`: the spike function (default `superspike_surrogate(10.0)`).
    """

    pool_class = eqx.nn.MaxPool1d
    num_spatial_dims = 1


class SpikingMaxPool2d(_SpikingMaxPool):
    """`spike_fn(maxpool2d(x) - threshold)`, channels first (SPEC.md §3.11).

    As `SpikingMaxPool1d`, over two spatial axes: `kernel_size`, `stride`,
    `padding`, `use_ceil`, `threshold`, `spike_fn`.
    """

    pool_class = eqx.nn.MaxPool2d
    num_spatial_dims = 2
