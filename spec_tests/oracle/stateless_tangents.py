"""Forward-mode tangents of the stateless layers, one function per class,
named like it (kinds computed alike share one).

Every function maps `(layer, x, x_tangent, param_tangents)` to `(y,
y_tangent, spike_arguments)`. Linear and convolutions are bilinear in
(weights, x), so their tangents reuse the value code of `stateless.py`.
Max pooling passes on the tangent of the first maximal element of each
window in row-major order (what JAX's reduce_window max does on a tie).
"""

from __future__ import annotations

import numpy as np

from spec_tests.description import LayerSpec
from spec_tests.oracle.defaults import hyper, threshold_of
from spec_tests.oracle.stateless import (apply_stateless, dropout_mask, keep_probability, pool,
                                        windows)
from spec_tests.oracle.tangent_rules import (
    maximum_pair, optional_param_pair, param_pair, spike_pair)


def _with_params(layer, **params):
    """The same layer with other parameter arrays (None entries dropped)."""
    kept = {name: value for name, value in params.items() if value is not None}
    return LayerSpec(layer.kind, dict(layer.hyper), kept)


def Linear(layer, x, dx, dparams):
    """y = W x + b;  dy = dW x + W dx + db."""
    W, dW = param_pair(layer, dparams, "weight")
    b, db = optional_param_pair(layer, dparams, "bias")
    y, _ = apply_stateless(layer, x)
    dy = dW @ x + W @ dx
    return y, (dy if db is None else dy + db), []


def convolution(layer, x, dx, dparams):
    """y = conv(W, x) + b;  dy = conv(dW, x) + conv(W, dx) + db."""
    W, dW = param_pair(layer, dparams, "weight")
    b, db = optional_param_pair(layer, dparams, "bias")
    y, _ = apply_stateless(layer, x)
    dy = (apply_stateless(_with_params(layer, weight=dW, bias=db), x)[0]
          + apply_stateless(_with_params(layer, weight=W), dx)[0])
    return y, dy, []


Conv1d = Conv2d = convolution


def LayerNorm(layer, x, dx, dparams):
    """c = x - mean(x), var = max(0, mean(c**2)), n = c/sqrt(var + eps), y = n*w + b:

        dc = dx - mean(dx);  dvar = 2*mean(c*dc);
        dn = dc/sqrt(var + eps) - c*dvar/(2*(var + eps)**1.5);  dy = dn*w + n*dw + db
    """
    eps = float(hyper(layer, "eps"))
    y, _ = apply_stateless(layer, x)
    centred, dcentred = x - np.mean(x), dx - np.mean(dx)
    var, dvar = maximum_pair(np.mean(centred ** 2), 2.0 * np.mean(centred * dcentred), 0.0)
    normalised = centred / np.sqrt(var + eps)
    dnormalised = dcentred / np.sqrt(var + eps) - centred * dvar / (2.0 * (var + eps) ** 1.5)
    w, dw = optional_param_pair(layer, dparams, "weight")
    b, db = optional_param_pair(layer, dparams, "bias")
    dy = dnormalised if w is None else dnormalised * w + normalised * dw
    return y, (dy if db is None else dy + db), []


def max_pool_tangent(layer, x, dx):
    """The tangent of max pooling: dx at the first maximum of each window."""
    kernel, stride = int(hyper(layer, "kernel_size")), int(hyper(layer, "stride"))
    pooled, _ = pool(layer, x)
    dpooled = np.zeros_like(pooled)
    for index, window in windows(x.shape[1:], kernel, stride):
        for channel in range(x.shape[0]):
            values = x[(channel,) + window]
            first_max = np.unravel_index(np.argmax(values), values.shape)
            dpooled[(channel,) + index] = dx[(channel,) + window][first_max]
    return pooled, dpooled


def pooling(layer, x, dx, dparams):
    """Average pooling is linear (dy = avgpool(dx)); max pooling routes the tangent."""
    if layer.kind.startswith("Avg"):
        return pool(layer, x)[0], pool(layer, dx)[0], []
    y, dy = max_pool_tangent(layer, x, dx)
    return y, dy, []


MaxPool1d = MaxPool2d = AvgPool1d = AvgPool2d = pooling


def spiking_max_pool(layer, x, dx, dparams):
    """S = H(maxpool(x) - threshold);  dS = h(.) * d maxpool(x)."""
    pooled, dpooled = max_pool_tangent(layer, x, dx)
    threshold = threshold_of(layer)
    S, dS = spike_pair(layer, pooled - threshold, dpooled)
    return S, dS, [(pooled - threshold, threshold)]


SpikingMaxPool1d = SpikingMaxPool2d = spiking_max_pool


def reshape_like(layer, x, dx, dparams):
    """Flatten and Identity act on the tangent as on the value."""
    y, _ = apply_stateless(layer, x)
    return y, dx.reshape(y.shape), []


Flatten = Identity = reshape_like


def Dropout(layer, x, dx, dparams):
    """y = x * mask / (1 - p);  dy = dx * mask / (1 - p) (p and the mask are fixed)."""
    mask = dropout_mask(layer, x)
    y, _ = apply_stateless(layer, x)
    return y, np.where(mask, dx / keep_probability(layer), 0.0), []
