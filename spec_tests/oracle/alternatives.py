"""A small catalogue of plausible alternatives to SPEC.md, for diagnosing deviations.

Each `Alternative` is a name, a one-line description (what a failure report
prints) and the `defaults.Semantics` switches under which the oracle computes
it: `oracle.run(run_spec, semantics=alternative.semantics)`, which passes the
switches explicitly to where SPEC's equation sits: edges and input order in
`network.py`, the clamps in `defaults.clamp`, the reset in `neurons.py`
(`_resetting_step`: the timing alternatives keep each neuron's own reset
formula and change only when it is applied; the formula alternatives give
every resetting neuron one formula, applied when the timing switches say),
the current the membrane reads (`neurons._current_read`) and the spike
comparison (`neurons._spikes`). None of this is normative: SPEC.md
section 9 lists the catalogue.

The last four rows are the update orders of other SNN libraries, read in
their code and documentation (cited per row, as of the snapshots read:
snnTorch at commit 634fc22, Norse at 065a3b4); each row is written in SPEC's
own equations and parameters, so it names the order, not the library's
parametrisation (snnTorch's `beta*U + I`, Norse's Euler steps in `dt`).
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
    # snnTorch `Synaptic` (snntorch/_neurons/synaptic.py, `_base_state_function`:
    # the current is decayed and jumps by the input, then the membrane adds that
    # new current; its docstring: I[t+1] = a*I[t] + I_in[t+1], U[t+1] = b*U[t] +
    # I[t+1]). Norse `LIFCell` (norse/torch/module/lif.py) steps with
    # `lif_feed_forward_step` (norse/torch/functional/lif.py): the current jumps
    # by the input first and the voltage update reads it, since Norse PR #326
    # ("Change order of spike integration to reduce delay", v1.0.0; before it the
    # voltage read the previous current, as SPEC does).
    Alternative("current-same-step",
                "IAF/LIF/LIFSoftReset membrane integrates the synaptic current already "
                "updated with this step's input, not the previous step's",
                Semantics(current="same_step")),
    # snnTorch: every surrogate's forward pass, `Heaviside.forward` among them
    # (snntorch/surrogate.py), is `input_ > 0`, fed `mem - threshold` by
    # `SpikingNeuron.fire` and `mem_reset` (snntorch/_neurons/neurons.py, whose
    # docstrings say "if mem > threshold"; the `Heaviside` docstring writes >=, the
    # code is >). Norse: `heaviside` (norse/torch/functional/heaviside.py,
    # documented H[n] = 0 for n <= 0) via `threshold` (functional/threshold.py)
    # on `v - v_th`, for every surrogate `method`. SRM and the spiking pools
    # (composed.py, stateless.py) do not read this switch yet.
    Alternative("spike-strictly-above-threshold",
                "a membrane exactly at the threshold does not spike (H(0) = 0: V > threshold, "
                "not V >= threshold)",
                Semantics(spike_at_threshold=False)),
    # snnTorch `reset_mechanism="zero"` (snntorch/_neurons/leaky.py `_base_zero`,
    # synaptic.py `_base_zero`: the membrane times (1 - reset)); Norse's reset
    # v = (1 - z)*v + z*v_reset (`lif_feed_forward_step`) with its default
    # `LIFParameters.v_reset = 0`. Observable where SPEC subtracts (LIFSoftReset;
    # SimpleIAF, IAF, SimpleLIF, AdaptiveLIF given a reset_val) or resets to
    # reset_val (LIF given one).
    Alternative("reset-to-zero",
                "every resetting neuron sets its membrane to zero on a spike (V - V*S), "
                "whatever its own reset",
                Semantics(reset="zero")),
    # snnTorch's default `reset_mechanism="subtract"` (`SpikingNeuron.__init__`,
    # snntorch/_neurons/neurons.py; leaky.py and synaptic.py `_base_sub` subtract
    # reset * threshold). Observable where SPEC resets to zero (reset_val None in
    # SimpleIAF, IAF, SimpleLIF, AdaptiveLIF, LIF) or subtracts another amount.
    Alternative("reset-by-subtracting-threshold",
                "every resetting neuron subtracts its threshold on a spike "
                "(V - threshold*S), whatever its own reset",
                Semantics(reset="subtract_threshold")),
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
