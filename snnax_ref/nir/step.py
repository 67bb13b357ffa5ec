"""The time step a NIR graph is read at (given, or the one its metadata
records) and the forward-Euler discretisation both directions share (SPEC.md §10)."""

import math
import warnings

import nir
import numpy as np

from ..snn.layers.spiking import LOWEST_DECAY


class TimeStepWarning(UserWarning):
    """The `dt` given to `from_nir` differs from the graph's `metadata["dt"]`;
    the given one is used (SPEC.md §10)."""


def check_dt(dt) -> float:
    """`dt` as a positive finite float, or an error naming it."""
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.floating, np.integer)):
        raise TypeError(f"dt must be a positive number (the time step), got {dt!r}")
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive finite number (the time step), got {dt}")
    return dt


def decay_of_time_constant(tau, dt: float) -> np.ndarray:
    """Forward Euler at step `dt`: the decay `a = 1 - dt/tau`."""
    return 1.0 - dt / np.asarray(tau, dtype=np.float64)


def time_constant_of_decay(decay_constants, dt: float) -> np.ndarray:
    """The inverse: `tau = dt / (1 - a)` for the clamped decay `a` (inf where a = 1)."""
    decay = np.clip(np.asarray(decay_constants, dtype=np.float64), LOWEST_DECAY, 1.0)
    with np.errstate(divide="ignore"):
        return np.where(decay < 1.0, dt / np.where(decay < 1.0, 1.0 - decay, 1.0), np.inf)


def time_constant_fields(node) -> list:
    """`(field, float64 array)` for each time constant of a NIR neuron node."""
    if not isinstance(node, (nir.LI, nir.LIF, nir.CubaLIF)):
        return []
    return [(field, np.asarray(getattr(node, field), dtype=np.float64))
            for field in ("tau", "tau_mem", "tau_syn") if hasattr(node, field)]


def _time_constants(graph) -> list:
    """Every finite positive time constant of the graph's neurons (nested graphs included)."""
    found = []
    for node in graph.nodes.values():
        if isinstance(node, nir.NIRGraph):
            found.extend(_time_constants(node))
        for _, values in time_constant_fields(node):
            values = values.reshape(-1)
            found.extend(values[np.isfinite(values) & (values > 0)].tolist())
    return found


def largest_dt(graph):
    """The largest `dt` at which every decay `1 - dt/tau` of `graph` stays at or
    above the clamp bound (None when the graph has no time constant)."""
    taus = _time_constants(graph)
    return (1.0 - LOWEST_DECAY) * min(taus) if taus else None


def dt_hint(graph) -> str:
    """One line on the steps the known exporters write for, and what `graph` allows."""
    largest = largest_dt(graph)
    allows = ("this graph has no time constant, so any dt > 0 gives the same spikes"
              if largest is None else
              f"this graph's time constants allow dt <= {largest:.6g} (a decay 1 - dt/tau "
              f">= {LOWEST_DECAY})")
    return ("snnTorch 1.0 exports for dt=1e-4; Norse 1.1 writes tau = dt/tau_mem_inv, so its "
            "files need its dt squared (1e-06 at its default dt=0.001); snnax_ref records dt in "
            f"graph.metadata['dt']; {allows}")


def recorded_dt(graph):
    """`graph.metadata['dt']` as a float, or None when the graph records none."""
    metadata = getattr(graph, "metadata", None) or {}
    if "dt" not in metadata:
        return None
    try:
        return check_dt(np.asarray(metadata["dt"]).item())
    except (TypeError, ValueError) as error:
        raise ValueError(f"graph.metadata['dt']={metadata['dt']!r} is not a time step: "
                         f"{error}") from None


def resolve_dt(graph, dt=None, *, who: str = "from_nir") -> float:
    """The step to read `graph` at: `dt` when given (a `TimeStepWarning` when
    the graph records another), else the graph's `metadata['dt']`; with
    neither, a `ValueError` whose one line says what the exporters use."""
    recorded = recorded_dt(graph)
    if dt is None:
        if recorded is None:
            give = "--dt DT" if who == "check-nir" else "dt=..."
            raise ValueError(f"{who}: no time step: pass {give} (the graph's metadata has no "
                             f"'dt'); {dt_hint(graph)}")
        return recorded
    dt = check_dt(dt)
    if recorded is not None and recorded != dt:
        warnings.warn(f"{who}: dt={dt:g} given, but the graph records metadata['dt']="
                      f"{recorded:g}; reading it at dt={dt:g}", TimeStepWarning, stacklevel=3)
    return dt
