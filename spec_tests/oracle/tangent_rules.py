"""Elementary forward-mode rules shared by the layers' tangent equations.

A "pair" is a value and its tangent (the directional derivative along the
chosen direction), both float64 arrays of the same shape. Conventions, as
JAX's autodiff computes them:

- spikes: S = H(u), dS = h(u) * du with h the spike function's surrogate
  derivative (`spikes.surrogate_derivative`);
- max(v, lo) has derivative 1 where v > lo, 0 where v < lo and 1/2 where
  v == lo (and min likewise), JAX's rule for `maximum`/`minimum`;
- clamp(lo, v, hi) has derivative 1 strictly inside (lo, hi) and 0 on or
  outside a bound (JAX's rule for `lax.clamp`, which SNNAX clamps with);
- sg(v) and R(v) with stop_reset_grad have tangent zero.
"""

from __future__ import annotations

import numpy as np

from spec_tests.oracle.defaults import hyper, param
from spec_tests.oracle.spikes import heaviside, surrogate_derivative


def tie_weight(greater, equal):
    """1 where `greater`, 1/2 where `equal`, else 0: JAX's derivative share for max/min."""
    return np.where(greater, 1.0, np.where(equal, 0.5, 0.0))


def maximum_pair(value, tangent, other):
    """max(v, c) for a constant c: (max, tangent * share of v)."""
    return np.maximum(value, other), tangent * tie_weight(value > other, value == other)


def clamp_pair(low, value, tangent, high):
    """clamp(lo, v, hi) = min(max(v, lo), hi) and its tangent: v's tangent
    strictly inside (lo, hi), zero on a bound and outside."""
    inside = (value > low) & (value < high)
    return np.minimum(np.maximum(value, low), high), np.where(inside, tangent, 0.0)


def spike_pair(layer, argument, argument_tangent):
    """S = H(u) and dS = surrogate_derivative(u) * du, with the layer's spike_fn."""
    name, beta = hyper(layer, "spike_fn")
    return (heaviside(argument),
            surrogate_derivative(name, beta, argument) * argument_tangent)


def param_pair(layer, param_tangents, name):
    """The parameter `name` and its tangent (zero when `param_tangents` has none)."""
    value = param(layer, name)
    tangent = (param_tangents or {}).get(name)
    if tangent is None:
        return value, np.zeros_like(value)
    tangent = np.asarray(tangent, dtype=np.float64)
    if tangent.shape != value.shape:
        raise ValueError(f"param_tangents: {layer.kind}.{name} has shape {tangent.shape}, "
                         f"the parameter {value.shape}")
    return value, tangent


def optional_param_pair(layer, param_tangents, name):
    """As param_pair for an optional parameter (a bias); (None, None) when absent."""
    if layer.params.get(name) is None:
        return None, None
    return param_pair(layer, param_tangents, name)


def first_entry_pair(layer, param_tangents, name):
    """A one-entry parameter's entry [0] (a scalar is its own entry) and its tangent."""
    value, tangent = param_pair(layer, param_tangents, name)
    return (value[0], tangent[0]) if value.ndim else (value, tangent)


def decay_pair(layer, param_tangents, k, clamped=True):
    """dc[k] (clamped to [0.5, 1] unless `clamped` is False) and its tangent."""
    constants, tangents = param_pair(layer, param_tangents, "decay_constants")
    if not clamped:
        return constants[k], tangents[k]
    return clamp_pair(0.5, constants[k], tangents[k], 1.0)


def member_tangents(param_tangents, k):
    """The parameter tangents of member k (under the key "members")."""
    members = (param_tangents or {}).get("members")
    return None if members is None else members[k]


def reset_tangent(layer, term_tangent):
    """The tangent of R(term): zero with stop_reset_grad (the default), else the term's."""
    if hyper(layer, "stop_reset_grad"):
        return np.zeros_like(term_tangent)
    return term_tangent
