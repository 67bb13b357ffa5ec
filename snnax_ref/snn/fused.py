"""The fused LIF scan: a `LIF` layer scanned alone, with hand-derived tangents
(SPEC.md §4.6).

Differentiating the readable scan of `LIF.__call__` in reverse mode makes
JAX sum, inside every step of the backward loop, the cotangents of the decay
constants over the neurons and the batch: they are broadcast inside the step,
and a broadcast's transpose is a sum. Those per-step sums and the residuals
they need dominate the neuron stage's backward pass. This module scans the
same `LIF.__call__` forward, so every value is the readable path's, and
gives that scan a JVP written from the LIF equations (§3.5), with the reset
stop-gradiented (`stop_reset_grad=True`, the only case fused):

    d_membrane_t = a d_membrane_{t-1} + (1 - a) d_current_{t-1}
                   + da (after_reset_t - current_{t-1})
    d_current_t  = b d_current_{t-1} + (1 - b) d_drive_t + db (current_{t-1} - drive_t)
    d_spikes_t   = d spike_fn(membrane_t - threshold)   (with the threshold's tangent)

where `after_reset_t` is the membrane once the previous spikes reset it
(`LIF.after_reset`). The tangent recurrence is linear with the constant
coefficients `a` and `b`, so JAX transposes it into one reverse loop of
elementwise work. The decay tangents `da`, `db` enter that loop already
spread over one step's state (`_spread`), so their cotangents accumulate per
neuron (and per sample under `vmap`) inside the loop and are summed once,
after it. The primal scan records the two coefficient sequences with the
membrane; `d_spikes` is taken for all steps at once.
"""

from typing import Any, Tuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array, lax

from .layers.lif import LIF, LIFSoftReset

# Exact types: a subclass may change `__call__`, and with it the equations.
FUSED_TYPES = (LIF, LIFSoftReset)


def is_fusable(layer, reads_itself: bool) -> bool:
    """Whether the fused scan computes this layer: an `LIF` or `LIFSoftReset`
    whose reset is stop-gradiented and which does not read its own output."""
    return type(layer) in FUSED_TYPES and layer.stop_reset_grad and not reads_itself


def _spread(tangent: Array, like: Array) -> Array:
    """`tangent` broadcast to the shape of `like`, batched wherever `like` is
    (under `vmap`, `like` carries the batch; a plain broadcast would not).
    `where(c, 1, 1)` is one whatever `like` holds, NaN included."""
    ones = jnp.where(like == like, 1, 1).astype(like.dtype)
    return tangent * ones


def lif_scan(layer, state: Any, drive: Array, unroll: int = 1) -> Tuple[Any, Array]:
    """`lax.scan` of `layer(state, x)` over `drive` (`(T, *shape)`, `T >= 1`):
    `(final_state, spikes)` exactly as the readable scan, with the JVP above."""
    return _lif_scan(layer, state, drive, unroll=unroll)


@eqx.filter_custom_jvp
def _lif_scan(neuron, state, drive, *, unroll):
    return lax.scan(lambda s, x: neuron(s, x), state, drive, unroll=unroll)


def _lif_scan_jvp(primals, tangents, *, unroll):
    # A tangent JAX knows to be zero arrives as None: written out as zeros here.
    tangents = jax.tree_util.tree_map(
        lambda primal, tangent: jnp.zeros_like(primal)
        if tangent is None and eqx.is_inexact_array(primal) else tangent, primals, tangents)
    neuron, state, drive = primals
    d_neuron, d_state, d_drive = tangents

    def step(state, x):
        membrane, current, previous_spikes = state
        new_state, spikes = neuron(state, x)
        after_reset = neuron.after_reset(membrane, previous_spikes)
        return new_state, (spikes, new_state[0], after_reset - current, current - x)

    final, (spikes, membrane, membrane_coefficient, current_coefficient) = lax.scan(
        step, state, drive, unroll=unroll)
    (a, b), (da, db) = eqx.filter_jvp(lambda n: n.decays(), (neuron,), (d_neuron,))
    da, db = _spread(da, membrane[0]), _spread(db, membrane[0])

    def tangent_step(carry, coefficients):
        d_membrane, d_current = carry
        membrane_coefficient, current_coefficient, d_x = coefficients
        d_membrane = a * d_membrane + (1.0 - a) * d_current + da * membrane_coefficient
        d_current = b * d_current + (1.0 - b) * d_x + db * current_coefficient
        return (d_membrane, d_current), d_membrane

    # The previous spikes' tangent, d_state[2], only feeds the stop-gradiented reset.
    (_, d_final_current), d_membrane = lax.scan(
        tangent_step, (d_state[0], d_state[1]),
        (membrane_coefficient, current_coefficient, d_drive), unroll=unroll)

    def spikes_of(membrane, neuron):
        return jax.vmap(lambda v: neuron.spike_fn(v - neuron.threshold))(membrane)

    _, d_spikes = eqx.filter_jvp(spikes_of, (membrane, neuron), (d_membrane, d_neuron))
    return (final, spikes), ([d_membrane[-1], d_final_current, d_spikes[-1]], d_spikes)


# Registered apart from its definition, so that `_lif_scan_jvp` stays a plain
# function of this module (the mutation check can plant a bug in it).
_lif_scan.def_jvp(_lif_scan_jvp)
