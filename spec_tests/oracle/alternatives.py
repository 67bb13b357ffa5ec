"""A small catalogue of plausible alternatives to SPEC.md, for diagnosing deviations.

Each `Alternative` is a name, a one-line description (what a failure report
prints) and the `defaults.Semantics` switches under which the oracle computes
it: `oracle.run(run_spec, semantics=alternative.semantics)`, which passes the
switches explicitly to where SPEC's equation sits: edges and input order in
`network.py`, the clamps in `defaults.clamp`, the reset timing in
`neurons.py` (`_resetting_step`: each neuron keeps its own reset formula,
only when it is applied changes). None of this is normative: SPEC.md
section 9 lists the catalogue.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from spec_tests.description import DELAYED, STRAIGHT_THROUGH
from spec_tests.oracle.defaults import SPEC_SEMANTICS, Semantics


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
