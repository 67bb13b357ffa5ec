"""A small catalogue of plausible alternatives to SPEC.md, for diagnosing deviations.

Each `Alternative` is a name, a one-line description (what a failure report
prints) and the `defaults.Semantics` switches under which the oracle computes
it: `oracle.run(run_spec, semantics=alternative.semantics)`. The switches are
read where SPEC's equation sits: edges and input order in `network.py`, the
clamps in `defaults.clamp`, the reset timing here (`composed.call_layer`
asks `alternative_neuron_step` for a replacement step and uses `neurons.py`'s
otherwise). None of this is normative: SPEC.md section 9 lists the catalogue.

Reset timing. SimpleIAF, IAF, SimpleLIF and AdaptiveLIF (the "IAF family")
reset at the *end* of a step, after the spike read, with this step's spikes;
LIF and LIFSoftReset (the "LIF family") reset at the *start* of a step,
before integrating, with the previous step's spikes. Each neuron keeps its
own reset formula (`reset_term`); only when it is applied changes:

- "start": V = reset(V, S_prev); integrate; S = H(V - threshold)
- "between": integrate; V = reset(V, S_prev); S = H(V - threshold)
- "end": integrate; S = H(V - threshold); V = reset(V, S)

Moving the reset from one end of the step to the other ("start" <-> "end")
gives the same spikes and changes only the stored membrane; "between" also
changes the spikes. AdaptiveLIF's adaptation reads the membrane the spike
read: A = (1-b)*c*V + b*A - d*S.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from spec_tests.description import DELAYED, STRAIGHT_THROUGH
from spec_tests.oracle.defaults import (
    SPEC_SEMANTICS, Semantics, active_semantics, clamp, first_entry, hyper, param,
    threshold_of)
from spec_tests.oracle.spikes import heaviside

IAF_FAMILY = ("SimpleIAF", "IAF", "SimpleLIF", "AdaptiveLIF")
LIF_FAMILY = ("LIF", "LIFSoftReset")


@dataclass(frozen=True)
class Alternative:
    """A named alternative semantics: `description` is one line for reports."""

    name: str
    description: str
    semantics: Semantics


CATALOGUE = (
    Alternative("every-edge-delayed",
                "every edge delayed one step",
                Semantics(edges=DELAYED)),
    Alternative("every-edge-straight-through",
                "edges read straight-through although the run asked for delayed ones",
                Semantics(edges=STRAIGHT_THROUGH)),
    Alternative("external-inputs-first",
                "external inputs concatenated before connected inputs",
                Semantics(input_order="external_first")),
    Alternative("inputs-reversed",
                "a layer's inputs concatenated in reverse order",
                Semantics(input_order="reversed")),
    Alternative("iaf-reset-at-step-start",
                "SimpleIAF/IAF/SimpleLIF/AdaptiveLIF reset at the start of the next step "
                "(the stored membrane is not reset)",
                Semantics(iaf_reset="start")),
    Alternative("iaf-reset-between-integration-and-read",
                "SimpleIAF/IAF/SimpleLIF/AdaptiveLIF reset with the previous spikes "
                "after integrating, before the spike read",
                Semantics(iaf_reset="between")),
    Alternative("lif-reset-at-step-end",
                "LIF/LIFSoftReset reset after integration with this step's spikes",
                Semantics(lif_reset="end")),
    Alternative("lif-reset-between-integration-and-read",
                "LIF/LIFSoftReset reset with the previous spikes after integrating, "
                "before the spike read",
                Semantics(lif_reset="between")),
    Alternative("constants-not-clamped",
                "decay constants (and the AdaptiveLIF and SRM constants) not clamped",
                Semantics(clamp_constants=False)),
)
BY_NAME = {alternative.name: alternative for alternative in CATALOGUE}


def combine(first: Alternative, second: Alternative) -> Alternative | None:
    """Both alternatives at once, or None when they set the same switch."""
    changes = {}
    for alternative in (first, second):
        for switch in fields(Semantics):
            value = getattr(alternative.semantics, switch.name)
            if value != getattr(SPEC_SEMANTICS, switch.name):
                if switch.name in changes:
                    return None
                changes[switch.name] = value
    return Alternative(f"{first.name}+{second.name}",
                       f"{first.description} + {second.description}",
                       replace(SPEC_SEMANTICS, **changes))


# -- reset timing ------------------------------------------------------------------

def reset_timing(kind: str, semantics: Semantics) -> str | None:
    """When `kind` resets under `semantics`: "start", "between" or "end" (None: no reset)."""
    if kind in IAF_FAMILY:
        return semantics.iaf_reset
    if kind in LIF_FAMILY:
        return semantics.lif_reset
    return None


def alternative_neuron_step(kind: str):
    """The step function of `kind` under the semantics in force, or None where
    SPEC's own (`neurons.NEURON_FUNCTIONS`) applies."""
    timing = reset_timing(kind, active_semantics())
    if timing == reset_timing(kind, SPEC_SEMANTICS):
        return None
    return lambda layer, state, x: timed_reset_step(layer, state, x, timing)


def _decay(layer, k: int):
    """clamp(0.5, dc[k], 1)."""
    return clamp(0.5, param(layer, "decay_constants")[k], 1.0)


def _adaptation_constants(layer):
    """AdaptiveLIF's b, c, d, read and clamped as `neurons.adaptive_lif` does."""
    return (clamp(0.5, first_entry(param(layer, "ada_decay_constant")), 1.0),
            clamp(-1.0, first_entry(param(layer, "ada_coupling_var")), 1.0),
            clamp(0.0, first_entry(param(layer, "ada_step_val")), 2.0))


def integrate(layer, state, x):
    """The membrane after integrating this step, and the other state arrays
    (spikes excluded) as the step leaves them before the spike read."""
    kind = layer.kind
    if kind == "SimpleIAF":
        return (state[0] - param(layer, "leak")) + x, []
    if kind == "IAF":
        membrane, current = state[0], state[1]
        b = _decay(layer, 0)
        return (membrane - param(layer, "leak")) + current, [b * current + (1.0 - b) * x]
    if kind == "SimpleLIF":
        a = _decay(layer, 0)
        return a * state[0] + (1.0 - a) * x, []
    if kind in LIF_FAMILY:
        membrane, current = state[0], state[1]
        a, b = _decay(layer, 0), _decay(layer, 1)
        return a * membrane + (1.0 - a) * current, [b * current + (1.0 - b) * x]
    if kind == "AdaptiveLIF":
        membrane, adaptation = state[0], state[1]
        a = _decay(layer, 0)
        return a * membrane + (1.0 - a) * (x + adaptation), [adaptation]
    raise ValueError(f"{kind}: no reset timing")


def after_spike_read(layer, membrane, others, spikes):
    """AdaptiveLIF's adaptation update A = (1-b)*c*V + b*A - d*S; nothing for the others."""
    if layer.kind != "AdaptiveLIF":
        return others
    b, c, d = _adaptation_constants(layer)
    (adaptation,) = others
    return [(1.0 - b) * c * membrane + b * adaptation - d * spikes]


def reset_term(layer, membrane, spikes):
    """The membrane after each kind's own reset with `spikes` (SPEC 3.1 to 3.7)."""
    reset_val = hyper(layer, "reset_val")
    if layer.kind == "LIFSoftReset":
        return membrane - (spikes if reset_val is None else reset_val * spikes)
    if reset_val is None:
        return membrane - membrane * spikes
    if layer.kind == "LIF":
        return membrane - (membrane - reset_val) * spikes
    if layer.kind == "SimpleLIF":
        return membrane - np.logaddexp(0.0, reset_val) * spikes  # softplus
    return membrane - reset_val * spikes


def timed_reset_step(layer, state, x, timing: str):
    """One step of a resetting neuron with its reset applied at `timing`."""
    membrane, previous_spikes = state[0], state[-1]
    if timing == "start":
        membrane = reset_term(layer, membrane, previous_spikes)
    membrane, others = integrate(layer, [membrane, *state[1:]], x)
    if timing == "between":
        membrane = reset_term(layer, membrane, previous_spikes)
    threshold = threshold_of(layer)
    argument = membrane - threshold
    spikes = heaviside(argument)
    others = after_spike_read(layer, membrane, others, spikes)
    if timing == "end":
        membrane = reset_term(layer, membrane, spikes)
    return [membrane, *others, spikes], spikes, [(argument, threshold)]
