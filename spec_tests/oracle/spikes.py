"""Spike functions (SPEC.md section 1): their value and their surrogate derivative.

Every spike function has the forward value

    H(x) = 1 if x >= 0 else 0          (so H(0) = 1; H(NaN) = NaN)

and differs only in the derivative that autodiff uses in place of dH/dx.
"""

from __future__ import annotations

import numpy as np

DEFAULT_SPIKE_FN = ("superspike", 10.0)


def heaviside(x, strict: bool = False) -> np.ndarray:
    """H(x) = 1 where x >= 0, else 0, in float64; H(NaN) = NaN (SPEC 1).

    `strict=True` computes the alternative H(0) = 0, 1 only where x > 0
    (`alternatives.py`, "spike-strictly-above-threshold"); SPEC never asks for it.
    """
    x = np.asarray(x, dtype=np.float64)
    fires = x > 0.0 if strict else x >= 0.0
    return np.where(np.isnan(x), np.nan, np.where(fires, 1.0, 0.0))


def _superspike(beta: float, x: np.ndarray) -> np.ndarray:
    """dH/dx = 1 / (1 + beta*|x|)."""
    return 1.0 / (1.0 + beta * np.abs(x))


def _sigmoid(beta: float, x: np.ndarray) -> np.ndarray:
    """dH/dx = s * (1 - beta*s), s = sigmoid(beta*x) (the documented formula)."""
    s = 0.5 * (1.0 + np.tanh(0.5 * beta * x))  # sigmoid, without overflow
    return s * (1.0 - beta * s)


def _piecewise(beta: float, x: np.ndarray) -> np.ndarray:
    """dH/dx = 1 on the closed window -beta <= x <= beta, else 0."""
    return np.where((x >= -beta) & (x <= beta), 1.0, 0.0)


SURROGATE_DERIVATIVES = {
    "superspike": _superspike,
    "sigmoid": _sigmoid,
    "piecewise": _piecewise,
}


def surrogate_derivative(name: str, beta: float, x) -> np.ndarray:
    """The derivative dH/dx that spike function `name` with parameter `beta` uses at `x`."""
    try:
        derivative = SURROGATE_DERIVATIVES[name]
    except KeyError:
        raise ValueError(f"spike_fn: unknown spike function {name!r}; "
                         f"expected one of {sorted(SURROGATE_DERIVATIVES)}") from None
    return derivative(float(beta), np.asarray(x, dtype=np.float64))


def is_near_threshold(argument, threshold, margin: float) -> bool:
    """True when some entry of a spike function's `argument` is close to zero.

    The rule: |argument| < margin * max(1, |threshold|), elementwise (the
    threshold may be an array); the argument is `V - threshold` (or
    `pooled - threshold`), so this is "the membrane is within a relative
    margin of the threshold", where a float32 implementation may legitimately
    decide the spike the other way. An argument exactly zero is not near:
    SPEC.md fixes H(0) = 1, and exact ties come from exact arithmetic that
    every implementation reproduces, so they are compared like any spike.
    """
    argument = np.asarray(argument, dtype=np.float64)
    tolerance = margin * np.maximum(1.0, np.abs(np.asarray(threshold, dtype=np.float64)))
    return bool(np.any((np.abs(argument) < tolerance) & (argument != 0.0)))
