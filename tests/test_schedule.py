"""The graph schedule's plan (SPEC.md §4.6): which layers run for all steps at
once, how the rest is grouped into scans, and when `schedule="auto"` uses it.
That its values equal the step scan's is the conformance suite's job
(`spec_tests/test_schedules.py`)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest

from snnax_ref import snn
from snnax_ref.snn.graph import strongly_connected_components
from snnax_ref.snn.schedule import Stage, graph_stages


def _linear(key_index, n=4):
    return eqx.nn.Linear(n, n, key=jax.random.PRNGKey(key_index))


def _stages(model):
    return graph_stages(model.layers, model.graph_structure)


def test_components_come_sources_first():
    struct = snn.GraphStructure(num_layers=4, input_layer_ids=[[0], [], [], []],
                                final_layer_ids=[3],
                                input_connectivity=[[], [0, 2], [1], [2]])
    assert strongly_connected_components(struct.num_layers, struct.input_connectivity) == [[0], [1, 2], [3]]


def test_a_time_parallel_layer_waits_for_the_scan_of_its_sources():
    model = snn.Sequential(_linear(0), snn.LIF(), _linear(1), snn.LIF(), snn.Flatten(),
                           _linear(2), snn.LIF())
    assert _stages(model) == [Stage([0], [1]), Stage([2], [3]), Stage([4, 5], [6])]


def test_consecutive_stateful_layers_share_one_scan():
    model = snn.Sequential(*[snn.CompoundLayer(_linear(i), snn.LIF()) for i in range(3)])
    assert _stages(model) == [Stage([], [0, 1, 2])]


def test_a_self_loop_or_cycle_is_scanned_even_without_state():
    # layer 1 (a Linear) reads itself: it cannot run for all steps at once
    struct = snn.GraphStructure(num_layers=3, input_layer_ids=[[0], [], []],
                                final_layer_ids=[2],
                                input_connectivity=[[], [0, 1], [1]])
    layers = [_linear(0), eqx.nn.Linear(8, 4, key=jax.random.PRNGKey(1)), snn.LIF()]
    assert graph_stages(layers, struct) == [Stage([0], [1, 2])]


def _gained_compound(key_index, gain):
    linear = _linear(key_index)
    return snn.CompoundLayer(eqx.tree_at(lambda l: l.weight, linear, linear.weight * gain),
                             snn.LIF())


def test_scanned_layers_in_one_scan_keep_feedback_reads():
    # Three components (1, then 2, then 0) share one scan. Layer 0 reads only
    # layer 2, through a feedback edge: it must see layer 2's previous step
    # there too (reading the current step changes its spikes, checked below).
    struct = snn.GraphStructure(num_layers=3, input_layer_ids=[[], [0], []],
                                final_layer_ids=[0, 2],
                                input_connectivity=[[2], [], [1]])
    layers = [_gained_compound(0, 100.0), _gained_compound(1, 20.0), _gained_compound(2, 100.0)]
    assert graph_stages(layers, struct) == [Stage([], [0, 1, 2])]
    graph = snn.StatefulModel(struct, layers, schedule="graph")
    step = snn.StatefulModel(struct, layers, schedule="step")
    state = graph.init_state((4,))
    x = 40.0 * jax.random.normal(jax.random.PRNGKey(3), (30, 4))
    graph_state, graph_out = graph(state, x, key=None)
    step_state, step_out = step(state, x, key=None)
    for g, s in zip(graph_out, step_out):
        assert jnp.array_equal(g, s)
    for g, s in zip(jax.tree_util.tree_leaves(graph_state), jax.tree_util.tree_leaves(step_state)):
        assert jnp.allclose(g, s, rtol=1e-6, atol=1e-6)
    # The same layers with layer 2 stepped before layer 0 (a same-step read).
    same_step = snn.StatefulModel(
        snn.GraphStructure(num_layers=3, input_layer_ids=[[0], [], []], final_layer_ids=[2],
                           input_connectivity=[[], [0], [1]]),
        [layers[1], layers[2], layers[0]], schedule="step")
    _, (same_step_out,) = same_step(same_step.init_state((4,)), x, key=None)
    assert not jnp.array_equal(same_step_out, step_out[0])


@pytest.mark.parametrize("layers,expected", [
    ([_linear(0), snn.LIF()], True),
    ([snn.CompoundLayer(_linear(0), snn.LIF()), snn.CompoundLayer(_linear(1), snn.LIF())], False),
], ids=["Linear+LIF", "CompoundLayers only"])
def test_auto_uses_the_graph_schedule_only_when_something_runs_at_once(layers, expected):
    assert snn.Sequential(*layers).uses_graph_schedule is expected
    assert snn.Sequential(*layers, schedule="graph").uses_graph_schedule
    assert not snn.Sequential(*layers, schedule="step").uses_graph_schedule


def test_auto_uses_the_step_scan_for_the_delayed_forward_function():
    model = snn.StatefulModel(snn.GraphStructure(num_layers=2, input_layer_ids=[[0], []],
                                                 final_layer_ids=[1],
                                                 input_connectivity=[[], [0]]),
                              [_linear(0), snn.LIF()], snn.architecture.delayed_forward_fn)
    assert not model.uses_graph_schedule


# --- checkpoint=True: the scan in rematerialised chunks ---------------------------


@pytest.mark.parametrize("num_steps", [1, 3, 4, 9, 10, 17])
def test_chunked_scan_equals_the_plain_scan_and_its_gradient(num_steps):
    from jax import lax
    from snnax_ref.snn.scan import scan_over_time

    def body(carry, x):
        membrane = 0.9 * carry + jnp.sin(x)
        return membrane, membrane ** 2

    xs = jnp.linspace(-1.0, 2.0, num_steps * 3).reshape(num_steps, 3)

    def loss(xs, checkpoint):
        carry, ys = scan_over_time(body, jnp.ones(3), xs, num_steps, checkpoint=checkpoint)
        return jnp.sum(carry) + jnp.sum(ys * jnp.arange(num_steps)[:, None])

    plain_carry, plain_ys = lax.scan(body, jnp.ones(3), xs)
    carry, ys = scan_over_time(body, jnp.ones(3), xs, num_steps, checkpoint=True)
    assert ys.shape == plain_ys.shape
    assert jnp.allclose(ys, plain_ys, rtol=1e-6) and jnp.allclose(carry, plain_carry, rtol=1e-6)
    assert jnp.allclose(jax.grad(loss)(xs, True), jax.grad(loss)(xs, False), rtol=1e-5)


def test_chunks_are_about_the_square_root_of_the_steps():
    from snnax_ref.snn.scan import chunk_length
    assert [chunk_length(t) for t in (1, 4, 10, 500, 2000)] == [1, 2, 3, 22, 45]


@pytest.mark.parametrize("schedule,most", [("step", 0.2), ("graph", 0.8)])
def test_checkpointing_lowers_the_planned_memory_of_a_long_gradient(schedule, most):
    # T = 1000: the scanned values shrink from 1000 steps to 32 chunk
    # boundaries plus one chunk. The graph schedule keeps the sequences it
    # hands from stage to stage (the Linear's output, the LIF's spikes), so
    # less of its memory is scanned values.
    def planned_bytes(checkpoint):
        model = snn.Sequential(_linear(0, 64), snn.LIF(), schedule=schedule,
                               checkpoint=checkpoint)
        state = model.init_state((64,))
        params, static = eqx.partition(model, eqx.is_inexact_array)
        xs = jnp.ones((1000, 64))

        def loss(params):
            return jnp.sum(eqx.combine(params, static)(state, xs, key=None)[1][0])
        stats = jax.jit(jax.grad(loss)).lower(params).compile().memory_analysis()
        return stats.temp_size_in_bytes

    assert planned_bytes(True) < most * planned_bytes(False)


def test_the_execution_plan_is_fixed_at_build_and_printable(key):
    """SPEC §4.6: `model.plan` says which layers run time-parallel, which share
    a scan, and the checkpoint/unroll options, before any call."""
    from snnax_ref.snn.schedule import ExecutionPlan, Stage
    layers = [eqx.nn.Linear(3, 4, key=key), snn.LIF(), eqx.nn.Linear(4, 2, key=key), snn.LIF()]
    model = snn.Sequential(*layers, unroll=2)
    assert model.plan == ExecutionPlan("graph", (Stage((0,), (1,)), Stage((2,), (3,))), False, 2,
                                       fused=(1, 3))
    text = str(model.plan)
    assert "layers [0] for all steps at once" in text and "the fused LIF scan of layer 3" in text
    readable = snn.Sequential(*layers, unroll=2, fuse_lif=False)
    assert readable.plan == ExecutionPlan("graph", model.plan.stages, False, 2)
    assert "one scan of layers [3]" in str(readable.plan)
    step = snn.Sequential(*layers, schedule="step", checkpoint=True)
    assert step.plan == ExecutionPlan("step", (), True, 1)
    assert "step schedule" in str(step.plan)
    delayed = snn.Sequential(*layers, forward_fn=snn.architecture.delayed_forward_fn)
    assert delayed.plan.schedule == "step"


def python_loop(step, carry, xs):
    """`lax.scan`'s contract written as a Python loop (what a user debugging a
    model might pass as upstream's `loop_fn`)."""
    length = jax.tree_util.tree_leaves(xs)[0].shape[0]
    outputs = []
    for t in range(length):
        carry, out = step(carry, jax.tree_util.tree_map(lambda leaf: leaf[t], xs))
        outputs.append(out)
    return carry, jax.tree_util.tree_map(lambda *leaves: jnp.stack(leaves), *outputs)


def test_loop_fn_replaces_the_scan_of_the_step_schedule(key):
    """SPEC §4.6: `StatefulModel(graph, layers, forward_fn, loop_fn)`, upstream's
    fourth parameter, runs the step schedule with `loop_fn` in place of
    `lax.scan`; the values are the same."""
    layers = [eqx.nn.Linear(3, 4, key=key), snn.LIF([0.8, 0.7]), eqx.nn.Linear(4, 2, key=key),
              snn.LIF()]
    graph = snn.GraphStructure(4, [[0], [], [], []], [1, 3], [[], [0], [1], [2]])
    looped = snn.StatefulModel(graph, layers, snn.default_forward_fn, python_loop)
    scanned = snn.StatefulModel(graph, layers)
    assert looped.plan.schedule == "step" and looped.plan.loop_fn is python_loop
    assert "loop_fn=python_loop" in str(looped.plan)
    inputs = 20.0 * jax.random.normal(key, (12, 3))
    states = scanned.init_state((3,), key=key)
    expected = scanned(states, inputs, key)
    actual = looped(states, inputs, key)
    for a, b in zip(jax.tree_util.tree_leaves(actual), jax.tree_util.tree_leaves(expected)):
        assert jnp.allclose(a, b, atol=1e-6)
    assert float(jnp.sum(actual[1][0])) > 0            # it spikes: the comparison means something


def test_loop_fn_with_options_of_lax_scan_is_an_error(key):
    layers = [eqx.nn.Linear(3, 4, key=key), snn.LIF()]
    graph = snn.Sequential(*layers).graph_structure
    with pytest.raises(ValueError, match="loop_fn=python_loop runs the step schedule"):
        snn.StatefulModel(graph, layers, snn.default_forward_fn, python_loop, schedule="graph")
    with pytest.raises(ValueError, match="checkpoint and unroll configure lax.scan"):
        snn.StatefulModel(graph, layers, loop_fn=python_loop, checkpoint=True)
    with pytest.raises(TypeError, match="loop_fn must be callable"):
        snn.StatefulModel(graph, layers, loop_fn="scan")
