"""The float32 tolerance (compare.py, SPEC.md section 8) accepts what float32
arithmetic does to a correct run and still rejects a genuinely wrong one.

These tests run snnax_ref (the reference) in float32: once on the right
network, and once on a deliberately wrong one (every edge read one step late,
LIF's two decay constants swapped), always compared with the oracle's run of
the right network.
"""

from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings

from spec_tests import oracle
from spec_tests.adapters import execute, load_adapter
from spec_tests.compare import (TOLERANCES, Mismatch, assert_run_matches, comparison_horizon,
                      float32_envelope)
from spec_tests.description import DELAYED, LayerSpec, NetworkSpec, RunSpec
from spec_tests.strategies import isolated_runs, straight_through_runs

FLOAT32 = TOLERANCES["float32"]
REFERENCE = "spec_tests.adapters.snnax_ref_adapter:adapter"
CHECK = settings(max_examples=12, deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))


def _fails(run, expected, actual, tolerance=FLOAT32) -> bool:
    try:
        assert_run_matches(run, expected, actual, tolerance)
    except Mismatch:
        return True
    return False


def _largest_visible_difference(run, right, wrong) -> float:
    """How far the float64 runs of the right and the wrong semantics differ
    on what the float32 comparison looks at: outputs up to its horizon, final
    states when it reaches the end."""
    envelope = float32_envelope(run, FLOAT32.growth, FLOAT32.margin)
    horizon = min(envelope.horizon, comparison_horizon(run, right))
    rows = max(0, horizon - run.burnin)
    differences = [0.0] + [float(np.abs(a[:rows] - b[:rows]).max())
                           for a, b in zip(right.outputs, wrong.outputs) if rows]
    if horizon == run.num_steps:
        differences += [float(np.abs(a - b).max()) for s, w in zip(right.final_states,
                                                                   wrong.final_states)
                        for a, b in zip(s, w) if np.size(a)]
    return max(differences)


def test_a_long_float32_run_with_growing_values_passes():
    """A Linear layer on a self-loop (spectral radius 1.3) runs for 40 steps
    and reaches values of about 1e5; some outputs are small differences of
    large terms. The reference's float32 run differs from the oracle by more
    than the fixed 1e-4 + 1e-4*|expected| there, and by less than the error
    allowed to grow with the steps and the magnitudes."""
    rng = np.random.default_rng(5)
    weight = rng.normal(0, 1.0, (3, 5))
    weight[:, :3] *= 1.3 / np.max(np.abs(np.linalg.eigvals(weight[:, :3])))
    linear = LayerSpec("Linear", {}, {"weight": weight, "bias": rng.normal(0.5, 0.5, (3,))})
    network = NetworkSpec(layers=(linear,), input_layer_ids=((0,),), input_connectivity=((0,),),
                          final_layer_ids=(0,), input_shapes=((2,),), output_shapes=((3,),))
    run = RunSpec(network, (rng.normal(1.0, 1.0, (40, 2)),))
    expected = oracle.run(run, margin=FLOAT32.margin)
    actual = execute(load_adapter(REFERENCE), run, "float32")
    assert _fails(run, expected, actual, replace(FLOAT32, growth=0.0))
    assert_run_matches(run, expected, actual, FLOAT32)


def _swap_lif_decays(run):
    lif = run.network.layers[0]
    decays = lif.params["decay_constants"][::-1]
    swapped = LayerSpec("LIF", lif.hyper, dict(lif.params, decay_constants=decays))
    return replace(run, network=replace(run.network, layers=(swapped,)))


def _wrong_runs_fail(strategy, wrong_of):
    """For each generated run: when the wrong semantics (`wrong_of(run)`)
    changes what the comparison looks at by more than 100 times the float32
    allowance, the reference's float32 run of the wrong network fails the
    comparison with the oracle's run of the right one; and most runs change
    that much (the check is not vacuous)."""
    adapter = load_adapter(REFERENCE)
    counts = {"runs": 0, "visible": 0}

    @CHECK
    @given(run=strategy)
    def wrong_fails(run):
        right = oracle.run(run, margin=FLOAT32.margin)
        wrong = wrong_of(run)
        change = _largest_visible_difference(run, right, oracle.run(wrong))
        allowance = float32_envelope(run, FLOAT32.growth, FLOAT32.margin).allowed.max()
        counts["runs"] += 1
        if change > FLOAT32.atol + 100 * allowance:
            counts["visible"] += 1
            assert _fails(run, right, execute(adapter, wrong, "float32")), (change, allowance)
    wrong_fails()
    assert counts["visible"] >= 0.6 * counts["runs"], counts


def test_float32_still_fails_edges_read_one_step_late():
    """Every feed-forward edge read at t - 1 (the delayed forward function on
    a network of feed-forward edges) fails the float32 comparison."""
    _wrong_runs_fail(straight_through_runs(), lambda run: replace(run, forward=DELAYED))


def test_float32_still_fails_swapped_lif_decay_constants():
    """LIF with its membrane and current decay constants swapped fails the
    float32 comparison."""
    _wrong_runs_fail(isolated_runs("LIF"), _swap_lif_decays)
