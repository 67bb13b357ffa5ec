"""What every spiking neuron layer shares: threshold, spike function, reset."""

import numbers
from typing import Callable, Optional

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array, lax

from ...functional.surrogate import SpikeFn, superspike_surrogate
from .stateful import StatefulLayer, StateShape, TrainableArray, warn_user


def clamp(low: float, value: Array, high: float) -> Array:
    """`min(max(value, low), high)`; its derivative is 0 at either bound.

    `lax.clamp`, as upstream SNNAX clamps (SPEC.md §6): a constant sitting
    exactly on a bound (a decay of 1.0) gets no gradient.
    """
    return lax.clamp(low, value, high)


# Decay constants below this are raised to it (SPEC.md §3: a = clamp(0.5, dc, 1)).
LOWEST_DECAY = 0.5


def clamped_decay(constant: Array) -> Array:
    """`clamp(0.5, constant, 1)`: the decay a neuron applies for a decay constant."""
    return clamp(LOWEST_DECAY, constant, 1.0)


def _numeric_problem(value) -> Optional[str]:
    """Why `value` is not real numbers (a number, a real array, or nested
    sequences of them), or None when it is."""
    if isinstance(value, TrainableArray):
        value = value.value
    if isinstance(value, (list, tuple)):
        for entry in value:
            problem = _numeric_problem(entry)
            if problem:
                return problem
        return None
    if isinstance(value, bool) or isinstance(value, np.bool_):
        return f"{value!r} is a bool"
    if isinstance(value, numbers.Real):
        return None
    dtype = getattr(value, "dtype", None)
    if dtype is not None and hasattr(value, "shape"):
        if jnp.issubdtype(dtype, jnp.integer) or jnp.issubdtype(dtype, jnp.floating):
            return None
        return f"an array of dtype {dtype} (shape {tuple(value.shape)})"
    return f"{value!r} ({type(value).__name__}) is not a number"


def _is_python_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_numbers(value, owner: str, field: str) -> None:
    """A `TypeError` naming the layer and the field unless `value` is real numbers."""
    problem = _numeric_problem(value)
    if problem:
        raise TypeError(f"{owner}: {field} must be a real number, a sequence of real "
                        f"numbers or a real array; {problem}.")


def as_parameter(value, shape: Optional[StateShape], owner: str = "init_parameters",
                 field: str = "parameters") -> Array:
    """A trainable float array laid out as `StatefulLayer.init_parameters` does;
    an error names `owner` and `field`."""
    check_numbers(value, owner, field)
    try:
        return StatefulLayer.init_parameters(value, shape).data
    except ValueError as error:
        raise ValueError(f"{owner}: {field}: {error}") from None


def layer_constants(value, shape: Optional[StateShape], names: tuple, owner: str,
                    field: str = "decay_constants") -> Array:
    """Per-layer constants read as `value[k]`, one entry per name in `names`.

    A scalar is the documented form of a single constant (`SimpleLIF(0.9)`).
    With `shape`, axis 0 always indexes the entries: `k` constants become
    `(k, *shape)`, even when `shape` is `(k,)`, and a `(k, *shape)` array is
    kept. Fewer entries than the layer reads is an error naming the layer
    (upstream's `dc[1]` on one entry silently reads `dc[0]`: JAX clamps the
    index); more entries are kept and ignored, as upstream ignores them, with
    a warning (SPEC.md §3).
    """
    check_numbers(value, owner, field)
    if isinstance(value, TrainableArray):
        value = value.value
    if not isinstance(value, (list, tuple)) and np.ndim(value) == 0:
        value = [value]
    if shape is not None and not isinstance(value, (list, tuple)) and np.ndim(value) == 1:
        value = np.asarray(value, dtype=float).tolist()  # k per-layer constants
    values = as_parameter(value, shape, owner, field)
    count = values.shape[0] if values.ndim else 0
    if count < len(names):
        raise ValueError(
            f"{owner}: {field} needs {len(names)} entr{'y' if len(names) == 1 else 'ies'} "
            f"({', '.join(names)}), got {count} (shape {values.shape}).")
    if count > len(names):
        warn_user(
            f"{owner}: {field} has {count} entries but the layer reads {len(names)} "
            f"({', '.join(names)}); the others are ignored, as upstream SNNAX ignores them.")
    return values


def check_threshold_and_spike_fn(owner: str, threshold, spike_fn) -> None:
    """`threshold` is a real number or real array, `spike_fn` a callable: both are
    otherwise only used, and fail, inside the first traced step."""
    check_numbers(threshold, owner, "threshold")
    if not callable(spike_fn):
        raise TypeError(f"{owner}: spike_fn must be callable (e.g. superspike_surrogate()), "
                        f"got {spike_fn!r} ({type(spike_fn).__name__}).")


class SpikingLayer(StatefulLayer):
    """A stateful layer that emits `spike_fn(V - threshold)` and resets `V`.

    `reset_val=None` selects each neuron's own reset rule (SPEC.md §3).
    """

    threshold: Array | float
    spike_fn: SpikeFn
    stop_reset_grad: bool = eqx.field(static=True)
    reset_val: Optional[Array]

    def __init__(self, threshold=1.0, spike_fn: SpikeFn = superspike_surrogate(10.0),
                 stop_reset_grad: bool = True, reset_val=None,
                 init_fn: Optional[Callable] = None,
                 shape: Optional[StateShape] = None) -> None:
        super().__init__(init_fn, shape)
        owner = type(self).__name__
        check_threshold_and_spike_fn(owner, threshold, spike_fn)
        if reset_val is not None:
            check_numbers(reset_val, owner, "reset_val")
        self.threshold = threshold
        self.spike_fn = spike_fn
        self.stop_reset_grad = bool(stop_reset_grad)
        # As upstream: a Python number is a constant (not a trainable leaf);
        # an array or a sequence becomes a trainable float array (SPEC.md §3).
        self.reset_val = reset_val if reset_val is None or _is_python_number(reset_val) \
            else jnp.asarray(reset_val, dtype=float)

    def apply_stop_reset_grad(self, reset_term: Array) -> Array:
        """`R(v)`: the reset term, stop-gradiented when `stop_reset_grad`."""
        return lax.stop_gradient(reset_term) if self.stop_reset_grad else reset_term
