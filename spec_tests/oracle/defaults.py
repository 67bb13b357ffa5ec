"""Reading a LayerSpec's hyperparameters and parameters, with SPEC.md's defaults.

A key missing from `LayerSpec.hyper` or `LayerSpec.params` takes the default
that SPEC.md gives for the constructor argument of the same name.
Parameters come back as float64 arrays.
"""

from __future__ import annotations

import numpy as np

from spec_tests.oracle.spikes import DEFAULT_SPIKE_FN

HYPER_DEFAULTS = {
    "threshold": 1.0,
    "reset_val": None,
    "stop_reset_grad": True,
    "spike_fn": DEFAULT_SPIKE_FN,
    "eps": 1e-5,
    "forget_weight": 0.1,
    "stride": 1,      # pools and convolutions, as equinox
    "padding": 0,     # convolutions
}

# SPEC.md section 3: omitted decay constants.
DECAY_CONSTANT_DEFAULTS = {
    "IAF": (0.95,),
    "SimpleLI": (0.95,),
    "SimpleLIF": (0.95,),
    "AdaptiveLIF": (0.95,),
    "LIF": (0.95, 0.9),
    "LIFSoftReset": (0.95, 0.9),
    "SRM": (0.95, 0.9),
    "SigmaDelta": (0.95, 0.95, 0.95),
}

PARAM_DEFAULTS = {
    "leak": (0.0,),
    "r_decay_constants": (0.9,),
    "reset_val": (0.0,),            # SRM: reset_val None means 0
    "gamma": (0.8,),
    "ada_decay_constant": (0.8,),
    "ada_step_val": (1.0,),
    "ada_coupling_var": (0.5,),
}


def hyper(layer, name: str):
    """`layer.hyper[name]`, or SPEC.md's default for it."""
    if name in layer.hyper:
        return layer.hyper[name]
    if name not in HYPER_DEFAULTS:
        raise ValueError(f"{layer.kind}: hyperparameter {name!r} must be given")
    return HYPER_DEFAULTS[name]


def param(layer, name: str) -> np.ndarray:
    """`layer.params[name]` as a float64 array, or SPEC.md's default for it."""
    if name in layer.params and layer.params[name] is not None:
        return np.asarray(layer.params[name], dtype=np.float64)
    if name == "decay_constants" and layer.kind in DECAY_CONSTANT_DEFAULTS:
        return np.asarray(DECAY_CONSTANT_DEFAULTS[layer.kind], dtype=np.float64)
    if name in PARAM_DEFAULTS:
        return np.asarray(PARAM_DEFAULTS[name], dtype=np.float64)
    raise ValueError(f"{layer.kind}: parameter {name!r} must be given")


def optional_param(layer, name: str):
    """`layer.params[name]` as a float64 array, or None when absent (e.g. a bias)."""
    value = layer.params.get(name)
    return None if value is None else np.asarray(value, dtype=np.float64)


def clamp(low, value, high):
    """clamp(lo, v, hi) = min(max(v, lo), hi)."""
    return np.minimum(np.maximum(value, low), high)


def threshold_of(layer) -> np.ndarray:
    """The layer's threshold (a float, or an array) as a float64 array."""
    return np.asarray(hyper(layer, "threshold"), dtype=np.float64)
