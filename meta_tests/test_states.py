"""Meta-tests of the state rows' ingredients: the oracle's random valid states,
the adapter's `set_state`, the drawn execution plans and the step counts the
state rows generate (SPEC.md §4.1, §4.6, §8)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from spec_tests import oracle
from spec_tests.adapters import execute
from spec_tests.description import RunSpec
from spec_tests.keys import with_dropout_masks
from spec_tests.adapters.snnax_ref_adapter import adapter as drawn_adapter
from spec_tests.adapters.snnax_ref_adapter import draw_plan, step_adapter
from spec_tests.oracle.shapes import infer_network_shapes
from spec_tests.oracle.states import implied_output, state_names
from spec_tests.strategies import (UNEVEN_CHUNK_STEPS, chunked_runs, isolated_networks, networks,
                         runs_from_states)

ANY_NETWORK = st.one_of(networks(), st.sampled_from(["SRM", "SpikeCounter", "BatchNormLayer",
                                                     "CompoundLayer", "ResNetBlock", "Parallel",
                                                     "SigmaDelta", "SpikingMaxPool2d"]
                                                    ).flatmap(isolated_networks))


@settings(max_examples=60, deadline=None)
@given(network=ANY_NETWORK, seed=st.integers(0, 2**32 - 1))
def test_random_valid_state_has_the_default_shapes_and_valid_values(network, seed):
    """Same shapes as SPEC's default initial state; spikes 0/1, counts
    non-negative whole numbers, variances positive; an output that a state
    component determines is that component."""
    states, outputs = oracle.random_valid_state(network, np.random.default_rng(seed))
    run = with_dropout_masks(RunSpec(network, tuple(np.ones((3,) + tuple(s))
                                                    for s in network.input_shapes)))
    default_states, default_outputs = oracle.init_state(network, run.dropout_masks)
    assert [[a.shape for a in s] for s in states] == [[a.shape for a in s]
                                                      for s in default_states]
    assert [o.shape for o in outputs] == [o.shape for o in default_outputs]
    for layer, state, output in zip(network.layers, states, outputs):
        for name, value in zip(state_names(layer), state):
            assert np.all(np.isfinite(value))
            if name == "S":
                assert set(np.unique(value)) <= {0.0, 1.0}
            if name == "count":
                assert np.all(value >= 0) and np.all(value == np.round(value))
            if name == "var":
                assert np.all(value > 0)
        implied = implied_output(layer, state)
        if implied is not None:
            np.testing.assert_array_equal(output, implied)
    # The oracle accepts it as a starting point.
    oracle.run(run, initial_states=states, initial_outputs=outputs)


@settings(max_examples=10, deadline=None)
@given(network=ANY_NETWORK)
def test_random_valid_state_is_deterministic_in_the_seed(network):
    first = oracle.random_valid_state(network, np.random.default_rng(7))
    second = oracle.random_valid_state(network, np.random.default_rng(7))
    for a, b in zip(first[0] + [first[1]], second[0] + [second[1]]):
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)


@settings(max_examples=6, deadline=None)
@given(example=runs_from_states())
def test_set_state_inverts_read_states(example):
    """snnax_ref's adapter: reading back a state set with `set_state` gives it
    unchanged, nested member states (None for stateless members) included."""
    run, seed = example
    states, outputs = oracle.random_valid_state(run.network, np.random.default_rng(seed))
    with step_adapter.precision("float64"):
        model = step_adapter.build(run.network, run.forward, "float64")
        state = step_adapter.set_state(model, run.network, states, outputs)
        read, read_outputs = step_adapter.read_states(model, run.network, state)
    for given_state, got in zip(states, read):
        assert len(given_state) == len(got)
        for a, b in zip(given_state, got):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(outputs, read_outputs):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=3, deadline=None)
@given(example=runs_from_states())
def test_a_run_from_the_default_state_set_explicitly_equals_a_plain_run(example):
    run, _ = example
    default = oracle.init_state(run.network)
    plain = execute(step_adapter, run)
    explicit = execute(step_adapter, run, initial=default)
    for a, b in zip(plain.outputs, explicit.outputs):
        np.testing.assert_array_equal(a, b)


def test_drawn_plans_cover_every_option_and_are_stable():
    """The default adapter draws every plan (graph only for the default
    forward function), the same one for the same inputs; a run that can take
    the fused LIF scan takes it in some draws and not in others."""
    rng = np.random.default_rng(0)
    seen, fused_seen = set(), set()
    for _ in range(200):
        inputs = [rng.normal(size=(int(rng.integers(1, 20)), 3))]
        plan = draw_plan(inputs, graph_allowed=True)
        assert plan == draw_plan([x.copy() for x in inputs], graph_allowed=True)
        seen.add(tuple(sorted(plan.items())))
        assert draw_plan(inputs, graph_allowed=False)["schedule"] == "step"
        fusable = draw_plan(inputs, graph_allowed=True, fusable=True)
        fused_seen.add(fusable == dict(schedule="graph", checkpoint=False,
                                       unroll=fusable["unroll"], fuse_lif=True))
    assert len(seen) == 2 * 2 * 3 * 2
    assert fused_seen == {True, False}      # a fusable run takes the fused scan, not always
    assert drawn_adapter.draws_plan


def test_state_rows_generate_steps_with_a_partial_checkpoint_chunk():
    """T values whose checkpointed scan ends in a partial chunk occur, and
    chunked runs split T >= 2 steps into two non-empty calls."""
    steps = set()

    @settings(max_examples=60, deadline=None, derandomize=True, database=None)
    @given(example=chunked_runs())
    def collect(example):
        run, split = example
        assert 1 <= split < run.num_steps
        steps.add(run.num_steps)

    collect()
    assert set(UNEVEN_CHUNK_STEPS) & steps, steps
    assert any(t >= 4 and t % max(1, round(np.sqrt(t))) for t in steps), steps


@settings(max_examples=10, deadline=None)
@given(network=ANY_NETWORK)
def test_shapes_agree_with_the_inferred_output_shapes(network):
    _, output_shapes = infer_network_shapes(network)
    _, outputs = oracle.random_valid_state(network, np.random.default_rng(1))
    assert [o.shape for o in outputs] == [tuple(s) for s in output_shapes]
