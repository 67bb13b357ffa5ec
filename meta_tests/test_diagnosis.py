"""Diagnosis of deviations (SPEC.md section 9, not normative).

A fake implementation computes a hand-built run under one catalogued
alternative (the oracle itself, run with that alternative's semantics);
diagnosis must then name exactly that alternative. End to end, a real
deviation (upstream SNNAX's one-step edge delay, and the same bug planted in
snnax_ref) must be named in the failure message.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from spec_tests import oracle
from spec_tests.adapters import AdapterUnavailable, load_adapter
from spec_tests.compare import TOLERANCES, Mismatch
from spec_tests.description import DELAYED, STRAIGHT_THROUGH, LayerSpec, NetworkSpec, RunSpec
from spec_tests.failures.diagnosis import NOT_EXPLAINED, diagnose, explain
from spec_tests.oracle import alternatives, neurons
from spec_tests.oracle.alternatives import BY_NAME, CATALOGUE
from spec_tests.oracle.defaults import SPEC_SEMANTICS
from spec_tests.keys import with_dropout_masks
from spec_tests.properties import (check_chunked_run_conforms, check_conforms,
                                   check_conforms_from_state)
from meta_tests.test_cli import OracleAdapter

L = LayerSpec
FLOAT64 = TOLERANCES["float64"]


def arr(*values):
    return np.array(values, dtype=np.float64)


def inputs(steps, features, seed=0, scale=1.3):
    """Irregular positive inputs: no membrane lands within the margin of a threshold."""
    return np.random.default_rng(seed).uniform(0.05, scale, size=(steps, features))


def chain_of_iafs(forward):
    """external input -> SimpleIAF -> SimpleIAF."""
    network = NetworkSpec(layers=(L("SimpleIAF"), L("SimpleIAF")),
                          input_layer_ids=((0,), ()), input_connectivity=((), (0,)),
                          final_layer_ids=(1,), input_shapes=((2,),))
    return RunSpec(network, (inputs(8, 2),), forward=forward)


def three_part_concatenation():
    """Layer 1, a Linear, reads [layer 0, input 0, input 1]: every order gives
    another output."""
    weight = np.arange(1.0, 13.0).reshape(2, 6) / 10.0
    network = NetworkSpec(layers=(L("SimpleLI", params={"decay_constants": arr(0.8)}),
                                  L("Linear", params={"weight": weight})),
                          input_layer_ids=((0,), (0, 1)), input_connectivity=((), (0,)),
                          final_layer_ids=(1,), input_shapes=((2,), (2,)))
    return RunSpec(network, (inputs(5, 2, seed=1), inputs(5, 2, seed=2)))


def side_by_side(*layers, steps=9, seed=3):
    """Every layer reads external input 0 and is a final layer."""
    n = len(layers)
    network = NetworkSpec(layers=tuple(layers), input_layer_ids=((0,),) * n,
                          input_connectivity=((),) * n, final_layer_ids=tuple(range(n)),
                          input_shapes=((3,),))
    return RunSpec(network, (inputs(steps, 3, seed=seed, scale=2.5),))


def iaf_family():
    return side_by_side(
        L("SimpleIAF", {"threshold": 1.0}, {"leak": arr(0.1)}),
        L("IAF", {"threshold": 0.4}, {"decay_constants": arr(0.6), "leak": arr(0.05)}),
        L("SimpleLIF", {"threshold": 0.7}, {"decay_constants": arr(0.7)}),
        L("AdaptiveLIF", {"threshold": 0.6},
          {"decay_constants": arr(0.6), "ada_decay_constant": arr(0.8),
           "ada_step_val": arr(0.3), "ada_coupling_var": arr(0.5)}))


def lif_family():
    return side_by_side(
        L("LIF", {"threshold": 0.5}, {"decay_constants": arr(0.6, 0.55)}),
        L("LIFSoftReset", {"threshold": 0.5}, {"decay_constants": arr(0.6, 0.55)}))


def constants_below_their_clamps():
    return side_by_side(
        L("SimpleLI", params={"decay_constants": arr(0.3)}),
        L("AdaptiveLIF", {"threshold": 0.6},
          {"decay_constants": arr(0.9), "ada_decay_constant": arr(0.2),
           "ada_step_val": arr(0.3), "ada_coupling_var": arr(0.5)}))


def an_iaf(threshold=0.4):
    return L("IAF", {"threshold": threshold}, {"decay_constants": arr(0.6), "leak": arr(0.05)})


def neurons_with_a_synaptic_current():
    """IAF, LIF and LIFSoftReset: the neurons whose membrane reads a synaptic current."""
    return side_by_side(an_iaf(), *lif_family().network.layers)


def neurons_whose_reset_is_not_to_zero():
    """LIFSoftReset subtracts one, SimpleIAF and AdaptiveLIF subtract reset_val,
    LIF resets to reset_val."""
    return side_by_side(
        L("LIFSoftReset", {"threshold": 0.5}, {"decay_constants": arr(0.6, 0.55)}),
        L("SimpleIAF", {"threshold": 1.0, "reset_val": 0.5}, {"leak": arr(0.1)}),
        L("AdaptiveLIF", {"threshold": 0.6, "reset_val": 0.25},
          {"decay_constants": arr(0.6), "ada_decay_constant": arr(0.8),
           "ada_step_val": arr(0.3), "ada_coupling_var": arr(0.5)}),
        L("LIF", {"threshold": 0.5, "reset_val": 0.25}, {"decay_constants": arr(0.6, 0.55)}))


def every_resetting_neuron():
    """The six resetting neurons, reset_val None: all but LIFSoftReset reset to zero.
    (IAF's threshold is raised so that subtracting it shows in its spikes.)"""
    layers = iaf_family().network.layers + lif_family().network.layers
    return side_by_side(*(an_iaf(0.8) if layer.kind == "IAF" else layer for layer in layers))


# Dyadic inputs and constants: every membrane below is exact in float arithmetic.
ON_THE_THRESHOLD_INPUTS = np.array([[0.5, 1.0, 0.25], [0.5, 0.0, 0.75], [0.25, 1.0, 0.25],
                                    [0.75, 0.5, 0.5], [1.0, 0.0, 0.25], [0.5, 1.0, 1.0]])


def membranes_on_their_thresholds():
    """Exact membranes that meet their thresholds, so H(0) decides spikes: e.g.
    SimpleIAF's 0.5 + 0.5 = 1 at step 1, SigmaDelta's 0.5 at step 0 (feature 0)."""
    network = NetworkSpec(
        layers=(L("SimpleIAF", {"threshold": 1.0}),
                L("SimpleLIF", {"threshold": 0.5}, {"decay_constants": arr(0.5)}),
                L("LIF", {"threshold": 0.125}, {"decay_constants": arr(0.5, 0.5)}),
                L("SigmaDelta", {"threshold": 0.5}, {"decay_constants": arr(0.5, 0.5, 0.5)})),
        input_layer_ids=((0,),) * 4, input_connectivity=((),) * 4,
        final_layer_ids=(0, 1, 2, 3), input_shapes=((3,),))
    return RunSpec(network, (ON_THE_THRESHOLD_INPUTS,))


# One hand-built run per alternative, on which that alternative changes the result.
RUN_FOR = {
    "every-edge-delayed": lambda: chain_of_iafs(STRAIGHT_THROUGH),
    "every-edge-straight-through": lambda: chain_of_iafs(DELAYED),
    "external-inputs-first": three_part_concatenation,
    "inputs-reversed": three_part_concatenation,
    "iaf-reset-at-step-start": iaf_family,
    "iaf-reset-between-integration-and-read": iaf_family,
    "lif-reset-at-step-end": lif_family,
    "lif-reset-between-integration-and-read": lif_family,
    "constants-not-clamped": constants_below_their_clamps,
    "current-same-step": neurons_with_a_synaptic_current,
    "spike-strictly-above-threshold": membranes_on_their_thresholds,
    "reset-to-zero": neurons_whose_reset_is_not_to_zero,
    "reset-by-subtracting-threshold": every_resetting_neuron,
}


def test_every_catalogued_alternative_has_a_hand_built_run():
    assert sorted(RUN_FOR) == sorted(a.name for a in CATALOGUE)


@pytest.mark.parametrize("name", sorted(RUN_FOR))
def test_a_run_computed_under_an_alternative_is_explained_by_exactly_that_alternative(name):
    run = RUN_FOR[name]()
    imitation = oracle.run(run, margin=FLOAT64.margin, semantics=BY_NAME[name].semantics)
    assert [a.name for a in diagnose(run, imitation, FLOAT64)] == [name]
    assert explain(run, imitation, FLOAT64) == f"explained by: {BY_NAME[name].description}"


LIBRARY_ORDERS = ("current-same-step", "spike-strictly-above-threshold", "reset-to-zero",
                  "reset-by-subtracting-threshold")


@pytest.mark.parametrize("name", LIBRARY_ORDERS)
def test_every_neuron_of_a_library_order_run_shows_the_alternative_in_its_spikes(name):
    """The hand-built run of each other library's update order changes the
    spikes of every neuron in it, so it pins the alternative for each kind."""
    run = RUN_FOR[name]()
    spec = oracle.run(run)
    changed = oracle.run(run, semantics=BY_NAME[name].semantics)
    for layer, want, got in zip(run.network.layers, spec.outputs, changed.outputs):
        assert not np.array_equal(want, got), (name, layer.kind)


@pytest.mark.parametrize("name, layer, state, x, want_V, want_S", [
    # I = 0.75*1 + 0.25*0.5 = 0.875 first; V = 0.5*(0.75 - 0.75*1) + 0.5*0.875 (SPEC: 0.5)
    ("current-same-step", L("LIF", {"threshold": 0.5}, {"decay_constants": arr(0.5, 0.75)}),
     [0.75, 1.0, 1.0], 0.5, 0.4375, 0.0),
    # I = 0.875 first; V = (0.5 - 0.25) + 0.875 (SPEC: 1.25)
    ("current-same-step",
     L("IAF", {"threshold": 2.0}, {"decay_constants": arr(0.75), "leak": arr(0.25)}),
     [0.5, 1.0, 0.0], 0.5, 1.125, 0.0),
    # V = 0.5 + 0.5 = 1 = threshold: silent, not reset (SPEC: spikes, V = 0)
    ("spike-strictly-above-threshold", L("SimpleIAF", {"threshold": 1.0}), [0.5, 0.0], 0.5,
     1.0, 0.0),
    # V = 0.75 - 0.75*1 = 0 (SPEC: 0.75 - 1), then 0.5*0 + 0.5*1
    ("reset-to-zero", L("LIFSoftReset", {"threshold": 0.25}, {"decay_constants": arr(0.5, 0.75)}),
     [0.75, 1.0, 1.0], 0.5, 0.5, 1.0),
    # V = 0.5 + 1 = 1.5 spikes; 1.5 - 1 (SPEC: 1.5 - 1.5)
    ("reset-by-subtracting-threshold", L("SimpleIAF", {"threshold": 1.0}), [0.5, 0.0], 1.0,
     0.5, 1.0)])
def test_a_library_order_alternative_computes_its_equation(name, layer, state, x, want_V, want_S):
    """One step under the alternative, from a dyadic state, against its
    equation worked out by hand (the stored membrane and the spike)."""
    step = getattr(neurons, layer.kind)
    (V, *_, S), _, _ = step(layer, [arr(v) for v in state], arr(x), BY_NAME[name].semantics)
    assert (V[0], S[0]) == (want_V, want_S)


@pytest.mark.parametrize("library, timing", [
    ("Norse LIFCell: the current jumps, the voltage reads it, spikes, resets",
     "lif-reset-at-step-end"),
    ("snnTorch Synaptic(reset_mechanism='zero', reset_delay=True): the current, the "
     "membrane, its reset with the previous spikes, the spikes",
     "lif-reset-between-integration-and-read")])
def test_a_lif_stepped_in_another_librarys_order_is_explained_by_the_pair(library, timing):
    """Both libraries reset a LIF to zero, as LIF does with reset_val None, and
    compare with >, which no membrane of irregular inputs meets exactly: what
    remains of their order is the current read and the reset timing."""
    run = side_by_side(L("LIF", {"threshold": 0.5}, {"decay_constants": arr(0.6, 0.55)}))
    pair = alternatives.combine(BY_NAME[timing], BY_NAME["current-same-step"])
    imitation = oracle.run(run, semantics=pair.semantics)
    assert [a.name for a in diagnose(run, imitation, FLOAT64)] == [pair.name], library


def test_the_reset_moved_across_the_step_boundary_changes_only_the_stored_membrane():
    for name, run in (("iaf-reset-at-step-start", iaf_family()),
                      ("lif-reset-at-step-end", lif_family())):
        spec = oracle.run(run)
        moved = oracle.run(run, semantics=BY_NAME[name].semantics)
        for want, got in zip(spec.outputs, moved.outputs):
            np.testing.assert_array_equal(want, got)
        assert any(not np.array_equal(s[0], m[0])
                   for s, m in zip(spec.final_states, moved.final_states)), name


def test_a_run_that_needs_two_alternatives_is_explained_by_the_pair():
    run = RunSpec(NetworkSpec(
        layers=(L("SimpleLI", params={"decay_constants": arr(0.3)}),
                L("SimpleLI", params={"decay_constants": arr(0.2)})),
        input_layer_ids=((0,), ()), input_connectivity=((), (0,)), final_layer_ids=(1,),
        input_shapes=((2,),)), (inputs(6, 2),))
    both = alternatives.combine(BY_NAME["every-edge-delayed"], BY_NAME["constants-not-clamped"])
    imitation = oracle.run(run, semantics=both.semantics)
    assert [a.name for a in diagnose(run, imitation, FLOAT64)] == [both.name]
    assert explain(run, imitation, FLOAT64) == (
        "explained by: every edge delayed one step + decay constants (and the AdaptiveLIF "
        "and SRM constants) not clamped")


def test_alternatives_that_set_the_same_switch_do_not_combine():
    assert alternatives.combine(BY_NAME["external-inputs-first"],
                                BY_NAME["inputs-reversed"]) is None


def test_a_deviation_no_alternative_reproduces_is_reported_as_not_explained():
    run = chain_of_iafs(STRAIGHT_THROUGH)
    wrong = oracle.run(run)
    wrong.final_states[0][0] = wrong.final_states[0][0] + 0.25
    assert diagnose(run, wrong, FLOAT64) == []
    assert explain(run, wrong, FLOAT64) == NOT_EXPLAINED


def _equation(layer, state, x):
    """SPEC §3's step of a resetting neuron, written out plainly: the stored
    membrane and the spikes."""
    kind, reset_val = layer.kind, layer.hyper.get("reset_val")
    params = layer.params
    if "decay_constants" in params:    # V reads the previous current: its decay is not needed
        a = np.minimum(np.maximum(params["decay_constants"][0], 0.5), 1.0)
    V, S_prev = state[0], state[-1]
    if kind in ("LIF", "LIFSoftReset"):
        if kind == "LIF":
            V = V - V * S_prev if reset_val is None else V - (V - reset_val) * S_prev
        else:
            V = V - S_prev if reset_val is None else V - reset_val * S_prev
        V = a * V + (1.0 - a) * state[1]
    elif kind == "AdaptiveLIF":
        V = a * V + (1.0 - a) * (x + state[1])
    elif kind == "SimpleLIF":
        V = a * V + (1.0 - a) * x
    else:                              # SimpleIAF, IAF
        V = (V - params["leak"]) + (state[1] if kind == "IAF" else x)
    S = np.where(V - layer.hyper["threshold"] >= 0.0, 1.0, 0.0)
    if kind in ("LIF", "LIFSoftReset"):
        return V, S
    if reset_val is None:
        return V - V * S, S
    return V - (np.logaddexp(0.0, reset_val) if kind == "SimpleLIF" else reset_val) * S, S


def test_spec_reset_timings_reproduce_the_oracle_neurons_exactly():
    """Each resetting neuron of neurons.py, which the reset alternatives run
    with another timing passed explicitly, is at SPEC's timing §3's equation
    bit for bit; every other timing changes its step."""
    rng = np.random.default_rng(7)
    for layer in iaf_family().network.layers + lif_family().network.layers:
        switch = "lif_reset" if layer.kind.startswith("LIF") else "iaf_reset"
        for reset_val in (None, 0.3):
            layer = L(layer.kind, dict(layer.hyper, reset_val=reset_val), layer.params)
            size = len(neurons.STATE_NAMES[layer.kind])
            state = [rng.normal(size=3) for _ in range(size - 1)] + [np.ones(3)]
            x = rng.normal(size=3)
            step = getattr(neurons, layer.kind)
            (V, *_, S), spikes, _ = step(layer, state, x)
            want_V, want_S = _equation(layer, state, x)
            np.testing.assert_array_equal(V, want_V, err_msg=f"{layer.kind} {reset_val}")
            np.testing.assert_array_equal(S, want_S, err_msg=f"{layer.kind} {reset_val}")
            for timing in {"start", "between", "end"} - {getattr(SPEC_SEMANTICS, switch)}:
                moved = step(layer, state, x, replace(SPEC_SEMANTICS, **{switch: timing}))
                assert not np.array_equal(moved[0][0], V), (layer.kind, reset_val, timing)


# --- wired into check_conforms -------------------------------------------------------

def test_a_failing_check_says_which_alternative_explains_it():
    adapter = OracleAdapter(BY_NAME["every-edge-delayed"].semantics)
    with pytest.raises(Mismatch) as failure:
        check_conforms(adapter, chain_of_iafs(STRAIGHT_THROUGH))
    lines = str(failure.value).splitlines()
    assert lines[0].startswith("outputs[0] (layer 1, SimpleIAF)")
    assert lines[-1] == "explained by: every edge delayed one step"


def test_a_diagnosis_that_crashes_still_reports_the_mismatch(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")
    monkeypatch.setattr("spec_tests.failures.diagnosis.diagnose", broken)
    with pytest.raises(Mismatch) as failure:
        check_conforms(OracleAdapter(BY_NAME["every-edge-delayed"].semantics),
                       chain_of_iafs(STRAIGHT_THROUGH))
    assert str(failure.value).splitlines()[-1] == "diagnosis failed (RuntimeError: boom)"


def test_a_passing_check_runs_no_diagnosis(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("diagnosis ran on a passing check")
    monkeypatch.setattr("spec_tests.properties.explain", forbidden)
    check_conforms(OracleAdapter(), chain_of_iafs(STRAIGHT_THROUGH))


class SettableOracleAdapter(OracleAdapter):
    """The oracle with a state that can be set: `set_state` hands the given
    states to the next run; with `forget`, it drops them, so a second call
    starts from the default state again (a state-handling bug)."""

    forget = False

    def set_state(self, model, network, states, outputs):
        return 0 if self.forget else ("given", states, outputs)

    def run(self, model, state, inputs, burnin, key_seed=1):
        if not isinstance(state, tuple):
            return super().run(model, state, inputs, burnin, key_seed)
        network, forward, dtype = model
        run = RunSpec(network, tuple(np.asarray(x, dtype=np.float64) for x in inputs), forward,
                      burnin, key_seed=key_seed)
        result = oracle.run(with_dropout_masks(run, dtype), semantics=self.semantics,
                            initial_states=state[1], initial_outputs=state[2])
        return result, result.outputs


class ForgetfulAdapter(SettableOracleAdapter):
    forget = True


def test_a_chunked_run_that_fails_only_in_two_calls_blames_the_state_handed_over():
    with pytest.raises(Mismatch) as failure:
        # split at 4: both layers hold charge there (at 3 a spike had just reset them)
        check_chunked_run_conforms(ForgetfulAdapter(), (chain_of_iafs(STRAIGHT_THROUGH), 4))
    lines = str(failure.value).splitlines()
    assert lines[0].startswith("run in two calls, 4 + 4 steps: ")
    assert lines[-2] == NOT_EXPLAINED
    assert lines[-1].startswith("in one call: conforms, so the state handed between")


def test_a_chunked_run_of_a_deviating_implementation_is_diagnosed_as_a_whole_run_is():
    adapter = SettableOracleAdapter(BY_NAME["every-edge-delayed"].semantics)
    with pytest.raises(Mismatch) as failure:
        check_chunked_run_conforms(adapter, (chain_of_iafs(STRAIGHT_THROUGH), 3))
    lines = str(failure.value).splitlines()
    assert lines[-2:] == ["explained by: every edge delayed one step",
                          "in one call: deviates as well"]


def test_a_run_from_a_given_state_is_diagnosed_from_that_state():
    adapter = SettableOracleAdapter(BY_NAME["every-edge-delayed"].semantics)
    with pytest.raises(Mismatch) as failure:
        check_conforms_from_state(adapter, (chain_of_iafs(STRAIGHT_THROUGH), 5))
    lines = str(failure.value).splitlines()
    assert lines[0].startswith("run from a random valid state (seed 5): ")
    assert lines[-1] == "explained by: every edge delayed one step"


# --- end to end ----------------------------------------------------------------------

def test_upstream_snnax_default_forward_fn_is_explained_by_every_edge_delayed_one_step():
    """Upstream's default_forward_fn reads every edge from the previous step's carry."""
    try:
        adapter = load_adapter("spec_tests.adapters.upstream_adapter:adapter")
    except AdapterUnavailable as error:
        pytest.skip(str(error))
    with pytest.raises(Mismatch) as failure:
        check_conforms(adapter, chain_of_iafs(STRAIGHT_THROUGH))
    assert str(failure.value).splitlines()[-1] == "explained by: every edge delayed one step"


@pytest.mark.parametrize("mutant_name, run, name", [
    ("iaf-new-current", lambda: side_by_side(an_iaf()), "current-same-step"),
    ("heaviside-zero-is-zero", membranes_on_their_thresholds, "spike-strictly-above-threshold")])
def test_a_planted_update_order_bug_in_snnax_ref_is_explained_by_its_alternative(
        mutant_name, run, name):
    """The bugs of issue #24: IAF reading this step's current, H(0) = 0."""
    pytest.importorskip("jax")
    from spec_tests.tools.mutants import MUTANTS, planted
    (mutant,) = [m for m in MUTANTS if m.name == mutant_name]
    assert mutant.adapter == "step"
    adapter = load_adapter("spec_tests.adapters.snnax_ref_adapter:step_adapter")
    with planted(mutant), pytest.raises(Mismatch) as failure:
        check_conforms(adapter, run())
    assert str(failure.value).splitlines()[-1] == (
        f"explained by: {BY_NAME[name].description}")


def test_the_planted_feed_forward_delay_in_snnax_ref_is_explained_by_every_edge_delayed():
    pytest.importorskip("jax")
    from spec_tests.tools.mutants import MUTANTS, planted
    (mutant,) = [m for m in MUTANTS if m.name == "feedforward-reads-t-1"]
    assert mutant.adapter == "step"
    adapter = load_adapter("spec_tests.adapters.snnax_ref_adapter:step_adapter")
    with planted(mutant), pytest.raises(Mismatch) as failure:
        check_conforms(adapter, chain_of_iafs(STRAIGHT_THROUGH))
    assert str(failure.value).splitlines()[-1] == "explained by: every edge delayed one step"
