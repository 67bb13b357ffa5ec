"""Reading a LayerSpec's hyperparameters and parameters, with SPEC.md's defaults.

A key missing from `LayerSpec.hyper` or `LayerSpec.params` takes the default
that SPEC.md gives for the constructor argument of the same name.
Parameters come back as float64 arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    "p": 0.5,         # Dropout, as equinox
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


# -- SPEC, or an alternative to it (spec_tests/oracle/alternatives.py) -----------------

@dataclass(frozen=True)
class Semantics:
    """Switches that make the oracle compute a documented alternative to SPEC.md.

    The defaults are SPEC; `alternatives.py` names the other settings and
    `spec_tests.failures.diagnosis` runs them to explain a deviation. `run(...,
    semantics=...)` passes one down to every step of the run explicitly.

    - `edges`: None reads edges as the run's forward function says; DELAYED or
      STRAIGHT_THROUGH reads every edge that way whatever the run asked for.
    - `input_order`: how a layer's parts are ordered: "connected_first" (SPEC),
      "external_first", or "reversed" (SPEC's order backwards).
    - `iaf_reset` / `lif_reset`: when SimpleIAF, IAF, SimpleLIF, AdaptiveLIF /
      LIF, LIFSoftReset apply their reset: "end" (after the spike read, with
      this step's spikes: SPEC for the first group), "start" (before
      integrating, with the previous spikes: SPEC for the second group) or
      "between" (after integrating, before the spike read, with the previous
      spikes).
    - `clamp_constants`: False uses every clamped constant raw (`clamp`).
    - `current`: which synaptic current the membrane of IAF, LIF, LIFSoftReset
      integrates: "previous" (the step's old current: SPEC) or "same_step"
      (the current already updated with this step's input).
    - `spike_at_threshold`: True is SPEC's H(0) = 1; False fires the neurons
      of `neurons.py` only where the membrane is strictly above the threshold.
    - `reset`: the reset formula of the resetting neurons (SimpleIAF, IAF,
      SimpleLIF, AdaptiveLIF, LIF, LIFSoftReset): "own" (each neuron's, SPEC),
      "zero" (V - V*S for every one) or "subtract_threshold"
      (V - threshold*S for every one); its timing stays the reset switches'.
    """

    edges: str | None = None
    input_order: str = "connected_first"
    iaf_reset: str = "end"
    lif_reset: str = "start"
    clamp_constants: bool = True
    current: str = "previous"
    spike_at_threshold: bool = True
    reset: str = "own"


SPEC_SEMANTICS = Semantics()


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


def first_entry(value: np.ndarray) -> np.ndarray:
    """`value[0]`: a one-entry parameter (AdaptiveLIF's ada_*) read as upstream reads it;
    a scalar is its own entry."""
    return value[0] if value.ndim else value


def optional_param(layer, name: str):
    """`layer.params[name]` as a float64 array, or None when absent (e.g. a bias)."""
    value = layer.params.get(name)
    return None if value is None else np.asarray(value, dtype=np.float64)


def clamp(low, value, high, semantics=SPEC_SEMANTICS):
    """clamp(lo, v, hi) = min(max(v, lo), hi) (v itself under
    `Semantics(clamp_constants=False)`)."""
    if not semantics.clamp_constants:
        return value
    return np.minimum(np.maximum(value, low), high)


def threshold_of(layer) -> np.ndarray:
    """The layer's threshold (a float, or an array) as a float64 array."""
    return np.asarray(hyper(layer, "threshold"), dtype=np.float64)
