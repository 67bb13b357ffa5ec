"""Stateless layers: equinox's layers and SNNAX's Flatten and spiking pools,
one function per class, named like it (kinds computed alike share one).

Every function here maps one sample `x` (float64, channels first where there
are channels) to `(y, spike_arguments)`, where `spike_arguments` lists the
`(argument, threshold)` pairs fed to spike functions (only the spiking pools
have any). Convolutions and pools are written as explicit loops over output
positions; kernel sizes, strides and paddings are ints used on every spatial
axis, the dilation is 1 and there is one group.
"""

from __future__ import annotations

import itertools

import numpy as np

from spec_tests.oracle.defaults import hyper, optional_param, param, threshold_of
from spec_tests.oracle.spikes import heaviside

POOL_SPATIAL_DIMS = {
    "MaxPool1d": 1, "AvgPool1d": 1, "SpikingMaxPool1d": 1,
    "MaxPool2d": 2, "AvgPool2d": 2, "SpikingMaxPool2d": 2,
}
CONV_SPATIAL_DIMS = {"Conv1d": 1, "Conv2d": 2}


def window_output_size(length: int, kernel: int, stride: int, padding: int = 0) -> int:
    """floor((length + 2*padding - kernel) / stride) + 1, the number of windows."""
    if kernel < 1 or stride < 1 or padding < 0:
        raise ValueError(f"kernel_size {kernel}, stride {stride}, padding {padding}: "
                         "kernel and stride must be >= 1, padding >= 0")
    size = (length + 2 * padding - kernel) // stride + 1
    if size < 1:
        raise ValueError(f"spatial size {length} (+ 2*{padding} padding) is smaller "
                         f"than the kernel size {kernel}")
    return size


def windows(spatial_shape, kernel: int, stride: int):
    """Yield (output index, tuple of slices) for every window position."""
    sizes = [window_output_size(n, kernel, stride) for n in spatial_shape]
    for index in itertools.product(*(range(n) for n in sizes)):
        yield index, tuple(slice(o * stride, o * stride + kernel) for o in index)


def _check_channels_first(kind: str, x: np.ndarray, spatial_dims: int):
    if x.ndim != spatial_dims + 1:
        raise ValueError(f"{kind}: expected an input of {spatial_dims + 1} dimensions "
                         f"(channels, {spatial_dims} spatial), got shape {x.shape}")


def Flatten(layer, x):
    """y = x.reshape(-1)."""
    return x.reshape(-1), []


def Identity(layer, x):
    """y = x."""
    return x, []


def Linear(layer, x):
    """y = W x + b, for a vector x (b absent means 0)."""
    weight = param(layer, "weight")
    bias = optional_param(layer, "bias")
    if x.ndim != 1 or x.shape[0] != weight.shape[1]:
        raise ValueError(f"Linear: weight {weight.shape} expects an input of shape "
                         f"({weight.shape[1]},), got {x.shape}")
    y = weight @ x
    return (y if bias is None else y + bias), []


def convolution(layer, x):
    """Cross-correlation, channels first, zero padding on every spatial side:

        y[o, p] = b[o] + sum_{c, k} W[o, c, k] * x_padded[c, p*stride + k]

    (k and p run over every spatial axis).
    """
    dims = CONV_SPATIAL_DIMS[layer.kind]
    weight = param(layer, "weight")
    bias = optional_param(layer, "bias")
    stride, padding = int(hyper(layer, "stride")), int(hyper(layer, "padding"))
    _check_channels_first(layer.kind, x, dims)
    if x.shape[0] != weight.shape[1]:
        raise ValueError(f"{layer.kind}: weight {weight.shape} expects {weight.shape[1]} "
                         f"input channels, got input shape {x.shape}")
    kernel = weight.shape[2:]
    if len(set(kernel)) != 1:
        raise ValueError(f"{layer.kind}: only square kernels are described, got {kernel}")
    padded = np.pad(x, [(0, 0)] + [(padding, padding)] * dims)
    out_spatial = [window_output_size(n, kernel[0], stride) for n in padded.shape[1:]]
    y = np.zeros((weight.shape[0], *out_spatial))
    for index, window in windows(padded.shape[1:], kernel[0], stride):
        patch = padded[(slice(None),) + window]          # (in, *kernel)
        y[(slice(None),) + index] = np.tensordot(weight, patch, axes=dims + 1)
    if bias is not None:
        y = y + bias.reshape((-1,) + (1,) * dims)
    return y, []


Conv1d = Conv2d = convolution


def pool(layer, x):
    """Max or average over each window, channels first, no padding:

        y[c, p] = max_k x[c, p*stride + k]    or    mean_k x[c, p*stride + k]
    """
    dims = POOL_SPATIAL_DIMS[layer.kind]
    kernel, stride = int(hyper(layer, "kernel_size")), int(hyper(layer, "stride"))
    if layer.hyper.get("padding", 0):
        raise ValueError(f"{layer.kind}: pooling never pads, got padding {layer.hyper['padding']}")
    _check_channels_first(layer.kind, x, dims)
    reduce = np.mean if layer.kind.startswith("Avg") else np.max
    out_spatial = [window_output_size(n, kernel, stride) for n in x.shape[1:]]
    y = np.zeros((x.shape[0], *out_spatial))
    spatial_axes = tuple(range(1, dims + 1))
    for index, window in windows(x.shape[1:], kernel, stride):
        y[(slice(None),) + index] = reduce(x[(slice(None),) + window], axis=spatial_axes)
    return y, []


MaxPool1d = MaxPool2d = AvgPool1d = AvgPool2d = pool


def spiking_max_pool(layer, x, strict: bool = False):
    """S = H(maxpool(x) - threshold) (`strict`: the diagnosis's H(0) = 0)."""
    pooled, _ = pool(layer, x)
    threshold = threshold_of(layer)
    argument = pooled - threshold
    return heaviside(argument, strict=strict), [(argument, threshold)]


SpikingMaxPool1d = SpikingMaxPool2d = spiking_max_pool


def LayerNorm(layer, x):
    """y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias, over all of x.

    mean and the biased variance run over every element (equinox's
    `LayerNorm(shape)` with `shape == x.shape`); weight and bias are
    elementwise, absent means 1 and 0.
    """
    weight = optional_param(layer, "weight")
    bias = optional_param(layer, "bias")
    normalised_shape = next((p.shape for p in (weight, bias) if p is not None), x.shape)
    if x.shape != normalised_shape:
        raise ValueError(f"LayerNorm: normalised shape {normalised_shape} but input {x.shape}")
    eps = float(hyper(layer, "eps"))
    mean = np.mean(x)
    variance = np.mean((x - mean) ** 2)
    y = (x - mean) / np.sqrt(variance + eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y, []


def dropout_mask(layer, x):
    """The Dropout layer's mask for this call, checked: boolean, of x's shape.

    A Dropout layer draws its mask from its key, with JAX's PRNG (SPEC.md
    §4.4); the oracle does not run that PRNG but receives the mask as data,
    the parameter "mask" that `network.layers_drawn` gives a copy of the
    layer for one run (from `RunSpec.dropout_masks`)."""
    if "mask" not in layer.params:
        raise ValueError("Dropout: no mask; a run with a Dropout layer needs "
                         "RunSpec.dropout_masks (spec_tests/keys.py derives them)")
    mask = np.asarray(layer.params["mask"])
    if mask.dtype != bool or mask.shape != x.shape:
        raise ValueError(f"Dropout: the mask must be boolean of the input's shape {x.shape}, "
                         f"got {mask.dtype} {mask.shape}")
    return mask


def keep_probability(layer) -> float:
    """1 - p, for 0 <= p < 1."""
    p = float(hyper(layer, "p"))
    if not 0.0 <= p < 1.0:
        raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
    return 1.0 - p


def Dropout(layer, x):
    """y = x * mask / (1 - p): the entries the mask keeps, scaled by 1/(1 - p),
    and zeros (written as a choice, so that an infinite dropped entry gives 0)."""
    return np.where(dropout_mask(layer, x), x / keep_probability(layer), 0.0), []


def apply_stateless(layer, x, strict_spikes: bool = False):
    """y, spike_arguments = layer(x) for a stateless, non-composed layer: the
    function of this module named like its kind (`strict_spikes`: a spiking
    pool's H(0) = 0, an alternative of the diagnosis)."""
    x = np.asarray(x, dtype=np.float64)
    if layer.kind in ("SpikingMaxPool1d", "SpikingMaxPool2d"):
        return spiking_max_pool(layer, x, strict=strict_spikes)
    return globals()[layer.kind](layer, x)
