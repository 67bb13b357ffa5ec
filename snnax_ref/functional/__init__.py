"""Spike functions with surrogate derivatives (SPEC.md §1)."""

from .surrogate import (
    PiecewiseSurrogate,
    SigmoidSurrogate,
    SpikeFn,
    SuperSpikeSurrogate,
    heaviside,
    piecewise_surrogate,
    sigmoid_surrogate,
    superspike_surrogate,
)

__all__ = [
    "SpikeFn", "heaviside", "superspike_surrogate", "sigmoid_surrogate",
    "piecewise_surrogate", "SuperSpikeSurrogate", "SigmoidSurrogate",
    "PiecewiseSurrogate",
]
