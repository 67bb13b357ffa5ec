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

    dV_t = a dV_{t-1} + (1 - a) dI_{t-1} + da (V'_t - I_{t-1}),   V'_t = V_{t-1} - R(...)
    dI_t = b dI_{t-1} + (1 - b) dx_t     + db (I_{t-1} - x_t)
    dS_t = d spike_fn(V_t - threshold)        (dV_t, and the threshold's tangent)

The tangent recurrence is linear with the constant coefficients `a` and `b`,
so JAX transposes it into one reverse loop of elementwise work. The decay
tangents `da`, `db` enter that loop already spread over one step's state
(`_spread`), so their cotangents accumulate per neuron (and per sample
under `vmap`) inside the loop and are summed once, after it. The primal
scan records the two coefficient sequences `V'_t - I_{t-1}` and
`I_{t-1} - x_t` with the membrane; `dS` is taken for all steps at once.
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
    params, static = eqx.partition(layer, eqx.is_inexact_array)

    @jax.custom_jvp
    def scan(params, state, drive):
        neuron = eqx.combine(params, static)
        return lax.scan(lambda s, x: neuron(s, x), state, drive, unroll=unroll)

    @scan.defjvp
    def scan_jvp(primals, tangents):
        params, state, drive = primals
        d_params, d_state, d_drive = tangents
        neuron = eqx.combine(params, static)

        def step(state, x):
            membrane, current, previous_spikes = state
            new_state, spikes = neuron(state, x)
            after_reset = neuron.after_reset(membrane, previous_spikes)
            return new_state, (spikes, new_state[0], after_reset - current, current - x)

        final, (spikes, membrane, membrane_coefficient, current_coefficient) = lax.scan(
            step, state, drive, unroll=unroll)

        (a, b), (da, db) = jax.jvp(lambda p: eqx.combine(p, static).decays(),
                                   (params,), (d_params,))
        da, db = _spread(da, membrane[0]), _spread(db, membrane[0])

        def tangent_step(carry, coefficients):
            d_membrane, d_current = carry
            membrane_coefficient, current_coefficient, dx = coefficients
            d_membrane = a * d_membrane + (1.0 - a) * d_current + da * membrane_coefficient
            d_current = b * d_current + (1.0 - b) * dx + db * current_coefficient
            return (d_membrane, d_current), d_membrane

        # The previous spikes' tangent, d_state[2], only feeds the stop-gradiented reset.
        (_, d_final_current), d_membrane = lax.scan(
            tangent_step, (d_state[0], d_state[1]),
            (membrane_coefficient, current_coefficient, d_drive), unroll=unroll)

        def spikes_of(membrane, params):
            neuron = eqx.combine(params, static)
            return jax.vmap(lambda v: neuron.spike_fn(v - neuron.threshold))(membrane)

        _, d_spikes = jax.jvp(spikes_of, (membrane, params), (d_membrane, d_params))
        d_final = [d_membrane[-1], d_final_current, d_spikes[-1]]
        return (final, spikes), (d_final, d_spikes)

    return scan(params, state, drive)
