"""SPEC.md §4-5: the model state, init_state, the timing of edges, keys, outputs,
burn-in and the composed architectures.

Identity-like layers make the timing of every edge visible as exact numbers.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnax_ref import snn
from spec_tests.description import STRAIGHT_THROUGH, LayerSpec, NetworkSpec, RunSpec

L = LayerSpec
from spec_tests import oracle
from snnax_ref.snn.architecture import LayerCarry


def seq(values):
    """A (T, 1) input sequence."""
    return jnp.asarray(values, jnp.float32).reshape(-1, 1)


def flat(array):
    return np.asarray(array).reshape(-1).tolist()


def graph(num_layers, input_layer_ids, final_layer_ids, input_connectivity):
    return snn.GraphStructure(num_layers=num_layers, input_layer_ids=input_layer_ids,
                              final_layer_ids=final_layer_ids,
                              input_connectivity=input_connectivity)


def sum_keepdims():
    """Sums its (concatenated) input into one feature."""
    return eqx.nn.Lambda(lambda v: v.sum(keepdims=True))


def scale(factor):
    return eqx.nn.Lambda(lambda v: factor * v)


class KeyedInit(snn.StatefulLayer):
    """State `init_fn(shape, key)` (normal), output before the first step uniform(key)."""

    def __init__(self):
        super().__init__(init_fn=lambda shape, key: jax.random.normal(key, shape))

    def init_out(self, shape, *, key=None):
        return jax.random.uniform(key, shape)

    def __call__(self, state, x, *, key=None):
        return state, x


class Noise(eqx.Module):
    """Stateless: `x + uniform(key)`, or `x - 1` when called without a key."""

    def __call__(self, x, *, key=None):
        return x - 1.0 if key is None else x + jax.random.uniform(key, x.shape)


class StatefulNoise(snn.StatefulLayer):
    """Stateful: `x + uniform(key)`, or `x - 1` when called without a key."""

    def __call__(self, state, x, *, key=None):
        return state, (x - 1.0 if key is None else x + jax.random.uniform(key, x.shape))


def positive_linear(n_in, n_out, key):
    """A Linear layer with positive weights and biases, so that the network does spike."""
    linear = eqx.nn.Linear(n_in, n_out, key=key)
    return eqx.tree_at(lambda m: (m.weight, m.bias), linear,
                       (2.0 * jnp.abs(linear.weight), jnp.abs(linear.bias)))


def spiking_chain(key, n_in=3, n_hidden=5, n_out=2):
    k1, k2 = jax.random.split(key)
    return snn.Sequential(positive_linear(n_in, n_hidden, k1), snn.LIF([0.75, 0.5]),
                          positive_linear(n_hidden, n_out, k2), snn.SimpleLIF([0.75]))


# --- 4.1 the model state -------------------------------------------------------------


def test_state_is_layer_carry_per_layer(key):
    linear = positive_linear(2, 3, key)
    model = snn.Sequential(linear, snn.SimpleLIF([0.5], threshold=0.5), snn.SpikeCounter())
    states = model.init_state((2,))
    assert isinstance(states, list) and len(states) == 3
    assert all(isinstance(carry, LayerCarry) for carry in states)
    assert states[0].state is None  # a stateless layer
    v, s = states[1].state
    assert v.shape == s.shape == (3,)
    for carry in states:
        assert carry[-1] is carry.output
        assert carry.output.shape == (3,)
    # A stateless layer's initial output is the layer applied to its initial
    # input (SPEC §4.2): here the Linear's bias; stateful layers start at zeros.
    np.testing.assert_array_equal(np.asarray(states[0].output), np.asarray(linear.bias))
    assert not np.any(np.asarray(states[1].output)) and not np.any(np.asarray(states[2].output))

    xs = jax.random.uniform(key, (6, 2), minval=0.0, maxval=2.0)
    final_states, (counted,) = model(states, xs, None)
    assert all(isinstance(carry, LayerCarry) for carry in final_states)
    assert final_states[0].state is None
    # Each output is the layer's latest output.
    np.testing.assert_allclose(np.asarray(final_states[0].output), np.asarray(linear(xs[-1])),
                               rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(final_states[1].output),
                                  np.asarray(final_states[1].state[-1]))
    np.testing.assert_array_equal(np.asarray(final_states[2].output), np.asarray(counted[-1]))
    # The counter's own state counted every spike of the run.
    np.testing.assert_array_equal(np.asarray(final_states[2].state[0]),
                                  np.asarray(counted.sum(axis=0)))
    assert float(counted.sum()) > 0


def test_chunked_run_equals_whole_run(key):
    model = spiking_chain(key)
    states = model.init_state((3,))
    xs = jax.random.uniform(jax.random.PRNGKey(3), (12, 3), minval=0.0, maxval=3.0)
    whole_states, (whole,) = model(states, xs, None)
    middle_states, (first,) = model(states, xs[:5], None)
    end_states, (second,) = model(middle_states, xs[5:], None)
    assert float(whole.sum()) > 0  # the network does spike
    np.testing.assert_allclose(np.asarray(jnp.concatenate([first, second])), np.asarray(whole),
                               rtol=1e-6, atol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(end_states),
                    jax.tree_util.tree_leaves(whole_states)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)

    # With a feedback edge too: the carried outputs are what the next chunk reads.
    model = snn.StatefulModel(graph(2, [[0], []], [1], [[1], [0]]),
                              [sum_keepdims(), snn.SimpleLI([0.5])])
    states = model.init_state((1,))
    xs = seq([1.0, 2.0, 0.0, 1.0, 3.0])
    _, (whole,) = model(states, xs, None)
    middle, (first,) = model(states, xs[:2], None)
    _, (second,) = model(middle, xs[2:], None)
    assert flat(jnp.concatenate([first, second])) == flat(whole)


# --- 4.2 init_state --------------------------------------------------------------------


def test_init_state_one_or_several_input_shapes():
    # A tuple of ints is one shape, whatever its length.
    model = snn.Sequential(snn.Flatten())
    assert model.init_state((2, 3))[0].output.shape == (6,)
    assert model.init_state([(2, 3)])[0].output.shape == (6,)

    # Two external inputs: a sequence of shapes, one per input (concatenated).
    two_inputs = snn.StatefulModel(graph(1, [[0, 1]], [0], [[]]), [eqx.nn.Identity()])
    assert two_inputs.graph_structure.num_inputs == 2
    assert two_inputs.init_state([(2,), (3,)])[0].output.shape == (5,)
    assert two_inputs.init_state(((2,), (3,)))[0].output.shape == (5,)
    # (2, 3) is one shape, not two: the graph needs two.
    with pytest.raises(ValueError, match="2 external input"):
        two_inputs.init_state((2, 3))
    # As upstream reads them: a list holds one entry per input, an int n is (n,).
    assert two_inputs.init_state([2, 3])[0].output.shape == (5,)
    assert two_inputs.init_state([np.int64(2), (3,)])[0].output.shape == (5,)
    assert model.init_state(6)[0].output.shape == (6,)
    assert model.init_state(np.array([2, 3]))[0].output.shape == (6,)
    assert model.init_state((np.int64(2), 3))[0].output.shape == (6,)
    with pytest.raises(ValueError, match="external input"):
        model.init_state([(2,), (3,)])
    with pytest.raises(ValueError, match="external input"):
        model.init_state([2, 3])     # two inputs of shapes (2,) and (3,); the model has one


def test_init_state_shapes_are_what_each_layer_receives(key):
    model = snn.Sequential(eqx.nn.Linear(3, 4, key=key), snn.SimpleLIF())
    states = model.init_state((3,), shapes=[(3,), None])  # input shapes, as upstream's examples
    assert states[0].output.shape == (4,)
    assert [x.shape for x in states[1].state] == [(4,), (4,)]
    states = model.init_state((3,), shapes=[3, 4])         # an int n means (n,)
    assert states[1].output.shape == (4,)
    with pytest.raises(ValueError, match=r"shapes\[0\]") as info:
        model.init_state((3,), shapes=[(4,), None])  # layer 0's *output* shape: wrong
    assert "(3,)" in str(info.value) and "(4,)" in str(info.value)
    with pytest.raises(ValueError, match=r"layer 1 \(SimpleLIF\)"):
        model.init_state((3,), shapes=[None, (5,)])
    with pytest.raises(ValueError, match="shapes"):
        model.init_state((3,), shapes=[None])

    # Where a feedback source cannot be inferred, shapes settles it.
    feedback = snn.StatefulModel(graph(2, [[0], []], [1], [[1], [0]]),
                                 [eqx.nn.Linear(5, 2, key=key), scale(1.0)])
    with pytest.raises(ValueError, match="shapes="):
        feedback.init_state((3,))
    states = feedback.init_state((3,), shapes=[(5,), None])
    assert [c.output.shape for c in states] == [(2,), (2,)]


def test_init_state_takes_upstreams_positional_key(key):
    """Upstream's tutorials call `model.init_state(in_shape, key)`."""
    model = snn.Sequential(eqx.nn.Linear(3, 4, key=key), snn.LIF())
    positional = model.init_state((3,), jax.random.PRNGKey(5))
    keyword = model.init_state((3,), key=jax.random.PRNGKey(5))
    assert jax.tree_util.tree_all(jax.tree_util.tree_map(
        lambda a, b: bool(jnp.array_equal(a, b)), positional, keyword))


def test_init_state_key_split_per_layer():
    model = snn.Sequential(KeyedInit(), eqx.nn.Identity(), KeyedInit())
    key = jax.random.PRNGKey(42)
    keys = jax.random.split(key, 3)
    states = model.init_state((3,), key=key)
    for i in (0, 2):
        np.testing.assert_array_equal(np.asarray(states[i].state),
                                      np.asarray(jax.random.normal(keys[i], (3,))))
        np.testing.assert_array_equal(np.asarray(states[i].output),
                                      np.asarray(jax.random.uniform(keys[i], (3,))))
    assert not np.array_equal(np.asarray(states[0].state), np.asarray(states[2].state))
    # The stateless Identity's initial output: itself applied to layer 0's initial output.
    np.testing.assert_array_equal(np.asarray(states[1].output), np.asarray(states[0].output))
    # key=None means PRNGKey(0).
    default = model.init_state((3,))
    np.testing.assert_array_equal(
        np.asarray(default[2].state),
        np.asarray(jax.random.normal(jax.random.split(jax.random.PRNGKey(0), 3)[2], (3,))))


def test_init_state_with_a_layer_that_needs_a_key(key):
    # Shape inference must not call layers without a key (Dropout refuses).
    model = snn.Sequential(eqx.nn.Linear(3, 4, key=key), eqx.nn.Dropout(0.5), snn.LIF())
    states = model.init_state((3,))
    _, (out,) = model(states, jnp.ones((2, 3)), key)
    assert out.shape == (2, 4)
    compound = snn.Sequential(snn.CompoundLayer(eqx.nn.Linear(3, 4, key=key),
                                                eqx.nn.Dropout(0.5)))
    assert compound.init_state((3,))[0].output.shape == (4,)


# --- 4.3 inputs of a layer ----------------------------------------------------------------


def test_concatenation_order():
    # layer 2 reads layers [1, 0] and external inputs [1, 0]: out1, out0, ext1, ext0.
    model = snn.StatefulModel(graph(3, [[0], [1], [1, 0]], [2], [[], [], [1, 0]]),
                              [scale(10.0), scale(100.0), eqx.nn.Identity()])
    states = model.init_state([(2,), (1,)])
    assert states[2].output.shape == (6,)
    ext0 = jnp.array([[1.0, 2.0]])
    ext1 = jnp.array([[3.0]])
    _, (out,) = model(states, [ext0, ext1], None)
    assert flat(out) == [300.0, 10.0, 20.0, 3.0, 1.0, 2.0]

    # A single input is passed unchanged (not reshaped or wrapped).
    model = snn.StatefulModel(graph(1, [[0]], [0], [[]]), [eqx.nn.Identity()])
    states = model.init_state((2, 2))
    _, (out,) = model(states, jnp.arange(4.0).reshape(1, 2, 2), None)
    assert out.shape == (1, 2, 2)


def test_parallel_in_graph_gets_list(key):
    # Parallel applies member k to inputs[k] and sums.
    parallel = snn.Parallel([scale(1.0), scale(100.0)])
    assert flat(parallel([jnp.array([1.0, 2.0]), jnp.array([3.0, 4.0])])) == [301.0, 402.0]
    with pytest.raises(ValueError):
        parallel([jnp.array([1.0, 2.0])])

    # In a graph: [layer 0's output, external input 1], unconcatenated, in that order.
    model = snn.StatefulModel(graph(2, [[0], [1]], [1], [[], [0]]),
                              [scale(10.0), snn.Parallel([scale(1.0), scale(100.0)])])
    states = model.init_state([(2,), (2,)])
    _, (out,) = model(states, [jnp.array([[1.0, 2.0]]), jnp.array([[3.0, 4.0]])], None)
    assert flat(out) == [310.0, 420.0]  # 10*[1, 2] + 100*[3, 4]

    # Members may take inputs of different shapes.
    k1, k2 = jax.random.split(key)
    lin_a, lin_b = eqx.nn.Linear(2, 3, key=k1), eqx.nn.Linear(5, 3, key=k2)
    model = snn.StatefulModel(graph(1, [[0, 1]], [0], [[]]), [snn.Parallel([lin_a, lin_b])])
    states = model.init_state([(2,), (5,)])
    assert states[0].output.shape == (3,)
    a, b = jnp.ones((1, 2)), jnp.arange(5.0).reshape(1, 5)
    _, (out,) = model(states, [a, b], None)
    np.testing.assert_allclose(np.asarray(out[0]), np.asarray(lin_a(a[0]) + lin_b(b[0])),
                               rtol=1e-6)


# --- 4.4 forward functions ------------------------------------------------------------------


def test_feedforward_edge_reads_same_step():
    xs = seq([1.0, 2.0, 3.0])
    model = snn.StatefulModel(graph(3, [[0], [], []], [0, 1, 2], [[], [0], [1]]),
                              [eqx.nn.Identity(), eqx.nn.Identity(), eqx.nn.Identity()])
    _, outs = model(model.init_state((1,)), xs, None)
    assert [flat(o) for o in outs] == [[1.0, 2.0, 3.0]] * 3
    # Stateful layers too, and a skip edge 0 -> 2.
    model = snn.StatefulModel(graph(3, [[0], [], []], [2], [[], [0], [0, 1]]),
                              [snn.SpikeCounter(), snn.SpikeCounter(), sum_keepdims()])
    _, (out,) = model(model.init_state((1,)), xs, None)
    assert flat(out) == [2.0, 4.0, 6.0]


def test_feedback_edge_reads_previous_step():
    # layer 0 = out1[t-1] + x[t] (feedback), layer 1 = 2*out0[t] (feed-forward).
    model = snn.StatefulModel(graph(2, [[0], []], [0, 1], [[1], [0]]),
                              [sum_keepdims(), scale(2.0)])
    _, (out0, out1) = model(model.init_state((1,)), seq([1.0, 1.0, 1.0]), None)
    # t0: 0 + 1 = 1, 2;  t1: 2 + 1 = 3, 6;  t2: 6 + 1 = 7, 14
    assert flat(out0) == [1.0, 3.0, 7.0]
    assert flat(out1) == [2.0, 6.0, 14.0]

    # A self-loop reads the previous step: a running sum.
    model = snn.StatefulModel(graph(1, [[0]], [0], [[0]]), [sum_keepdims()])
    _, (out,) = model(model.init_state((1,)), seq([1.0, 2.0, 3.0]), None)
    assert flat(out) == [1.0, 3.0, 6.0]


def test_delayed_every_edge_reads_previous_step():
    assert snn.debug_forward_fn is snn.delayed_forward_fn
    assert snn.architecture.debug_forward_fn is snn.architecture.delayed_forward_fn
    chain = graph(3, [[0], [], []], [0, 1, 2], [[], [0], [1]])
    layers = [eqx.nn.Identity(), eqx.nn.Identity(), eqx.nn.Identity()]
    model = snn.StatefulModel(chain, layers, forward_fn=snn.delayed_forward_fn)
    states = model.init_state((1,))
    _, outs = model(states, seq([1.0, 2.0, 3.0]), None)
    # External inputs are read at t; every edge one step late.
    assert [flat(o) for o in outs] == [[1.0, 2.0, 3.0], [0.0, 1.0, 2.0], [0.0, 0.0, 1.0]]

    # At t = 0, "t - 1" is the output stored in the initial state.
    states[0] = LayerCarry(None, jnp.array([5.0]))
    states[1] = LayerCarry(None, jnp.array([7.0]))
    _, outs = model(states, seq([1.0, 2.0, 3.0]), None)
    assert [flat(o) for o in outs] == [[1.0, 2.0, 3.0], [5.0, 1.0, 2.0], [7.0, 5.0, 1.0]]
    # The default forward function reads the same initial state only on feedback edges.
    _, outs = snn.StatefulModel(chain, layers)(states, seq([1.0, 2.0, 3.0]), None)
    assert [flat(o) for o in outs] == [[1.0, 2.0, 3.0]] * 3

    # The feedback example, delayed: out0 = out1[t-1] + x[t], out1 = 2*out0[t-1].
    model = snn.StatefulModel(graph(2, [[0], []], [0, 1], [[1], [0]]),
                              [sum_keepdims(), scale(2.0)], forward_fn=snn.debug_forward_fn)
    _, (out0, out1) = model(model.init_state((1,)), seq([1.0, 1.0, 1.0]), None)
    assert flat(out0) == [1.0, 1.0, 3.0]
    assert flat(out1) == [0.0, 2.0, 2.0]


@pytest.mark.parametrize("schedule", ["step", "graph"])
def test_keys_split_over_steps_and_layers(schedule):
    model = snn.StatefulModel(graph(2, [[0], [0]], [0, 1], [[], []]),
                              [StatefulNoise(), Noise()], schedule=schedule)
    states = model.init_state((2,))
    num_steps = 4
    xs = jnp.zeros((num_steps, 2))
    key = jax.random.PRNGKey(7)
    _, outs = model(states, xs, key)
    # One key for the whole sequence: every step splits it the same way.
    layer_keys = jax.random.split(key, 2)
    for t in range(num_steps):
        for i in range(2):
            np.testing.assert_array_equal(np.asarray(outs[i][t]),
                                          np.asarray(jax.random.uniform(layer_keys[i], (2,))))
    # With burn-in the steps keep their keys: the outputs are the last steps'.
    _, burnt = model(states, xs, key, burnin=1)
    for i in range(2):
        np.testing.assert_array_equal(np.asarray(burnt[i]), np.asarray(outs[i][1:]))
    # key=None gives every layer key=None.
    _, outs = model(states, xs, None)
    assert [flat(o) for o in outs] == [[-1.0] * 8, [-1.0] * 8]


# --- 4.5 __call__ ---------------------------------------------------------------------


def test_outputs_are_final_layers_stacked_over_time():
    model = snn.StatefulModel(graph(2, [[0], []], [1, 0], [[], [0]]),
                              [scale(2.0), sum_keepdims()])
    xs = jnp.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    final_states, outs = model(model.init_state((2,)), xs, None)
    assert isinstance(outs, list) and len(outs) == 2
    assert outs[0].shape == (3, 1) and outs[1].shape == (3, 2)
    assert flat(outs[0]) == [6.0, 14.0, 22.0]  # layer 1 first
    assert np.asarray(outs[1]).tolist() == [[2.0, 4.0], [6.0, 8.0], [10.0, 12.0]]
    assert flat(final_states[1].output) == [22.0]
    # The same layer twice, and burn-in shortens every output.
    model = snn.StatefulModel(graph(2, [[0], []], [0, 1, 0], [[], [0]]),
                              [scale(2.0), sum_keepdims()])
    _, outs = model(model.init_state((2,)), xs, None, burnin=1)
    assert [o.shape for o in outs] == [(2, 2), (2, 1), (2, 2)]
    assert flat(outs[1]) == [14.0, 22.0]


def test_burnin_drops_outputs_and_gradient(key):
    model = snn.Sequential(eqx.nn.Linear(2, 3, key=key), snn.LIF([0.75, 0.75]),
                           snn.SimpleLI([0.5]))
    states = model.init_state((2,))
    xs = jax.random.uniform(jax.random.PRNGKey(1), (6, 2), minval=0.0, maxval=4.0)
    full_states, (full,) = model(states, xs, None)
    burnt_states, (burnt,) = model(states, xs, None, burnin=2)
    assert full.shape == (6, 3) and burnt.shape == (4, 3)
    np.testing.assert_allclose(np.asarray(burnt), np.asarray(full[2:]), rtol=1e-6, atol=1e-7)
    # final_states is the state after all T steps.
    for a, b in zip(jax.tree_util.tree_leaves(burnt_states),
                    jax.tree_util.tree_leaves(full_states)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)

    def loss(inputs, burnin):
        return model(states, inputs, None, burnin=burnin)[1][0].sum()

    grad_full = jax.grad(loss)(xs, 0)
    grad_burnt = jax.grad(loss)(xs, 2)
    assert np.all(np.asarray(grad_full[:2]) != 0.0)  # these steps matter without burn-in
    np.testing.assert_array_equal(np.asarray(grad_burnt[:2]), np.zeros((2, 2)))
    # (LIF integrates the previous step's current: the last input reaches no output.)
    assert np.all(np.asarray(grad_burnt[2:-1]) != 0.0)
    # The gradient w.r.t. the initial state is cut as well.
    grad_state = jax.grad(lambda s: model(s, xs, None, burnin=2)[1][0].sum())(states)
    assert all(not np.any(np.asarray(leaf)) for leaf in jax.tree_util.tree_leaves(grad_state))


# --- 5 composed architectures -------------------------------------------------------------


def test_sequential_is_a_chain(key):
    layers = [eqx.nn.Linear(2, 3, key=key), snn.SimpleLI([0.5]), snn.SpikeCounter()]
    model = snn.Sequential(*layers)
    assert model.graph_structure == snn.GraphStructure(
        num_layers=3, input_layer_ids=[[0], [], []], final_layer_ids=[2],
        input_connectivity=[[], [0], [1]])
    assert model.forward_fn is snn.default_forward_fn
    assert len(model) == 3
    assert model[0] is layers[0] and model[1] is layers[1] and model[-1] is layers[2]
    assert isinstance(model, snn.StatefulModel)
    delayed = snn.Sequential(*layers, forward_fn=snn.delayed_forward_fn)
    assert delayed.forward_fn is snn.delayed_forward_fn
    # One layer: input and output are the same layer.
    single = snn.Sequential(snn.SpikeCounter())
    assert single.graph_structure.input_connectivity == ((),)
    assert single.graph_structure.final_layer_ids == (0,)
    # It computes the composition: SimpleLI over the linear outputs.
    xs = jnp.ones((2, 2))
    _, (out,) = model(model.init_state((2,)), xs, None)
    y = layers[0](xs[0])
    np.testing.assert_allclose(np.asarray(out), np.asarray(jnp.stack([0.5 * y, 0.75 * y])),
                               rtol=1e-6)


def test_compound_layer_state_and_output(key):
    compound = snn.CompoundLayer(scale(2.0), snn.SimpleLI([0.5]), snn.SpikeCounter())
    assert isinstance(compound, snn.StatefulLayer)
    model = snn.Sequential(compound)
    states = model.init_state((1,))
    state = states[0].state
    assert len(state) == 3 and state[0] is None
    assert len(state[1]) == 1 and len(state[2]) == 2
    final_states, (out,) = model(states, seq([1.0, 1.0]), None)
    # t1: 2 -> V = 1 -> count 1, out 1;  t2: 2 -> V = 0.5 + 1 = 1.5 -> count 2.5, out 1.5
    assert flat(out) == [1.0, 1.5]
    member_states = final_states[0].state
    assert member_states[0] is None
    assert flat(member_states[1][0]) == [1.5]
    assert flat(member_states[2][0]) == [2.5]
    assert flat(final_states[0].output) == [1.5]
    # Members that change the shape: each member's state has its own input's shape.
    compound = snn.CompoundLayer(eqx.nn.Linear(3, 2, key=key), snn.SimpleLIF())
    state = compound.init_state((3,), key=key)
    assert state[0] is None and [x.shape for x in state[1]] == [(2,), (2,)]
    assert snn.Sequential(compound).init_state((3,))[0].output.shape == (2,)


def test_sequential_local_feedback_edges():
    # Default: every CompoundLayer reads its own previous output, after the
    # feed-forward edge: layer 1 gets [out0[t], out1[t-1]].
    reader = eqx.nn.Lambda(lambda v: v[:1] + 10.0 * v[1:].sum(keepdims=True))
    model = snn.SequentialLocalFeedback(eqx.nn.Identity(), snn.CompoundLayer(reader))
    assert model.graph_structure.input_connectivity == ((), (0, 1))
    assert model.graph_structure.input_layer_ids == ((0,), ())
    assert model.graph_structure.final_layer_ids == (1,)
    assert len(model) == 2 and isinstance(model, snn.Sequential)
    _, (out,) = model(model.init_state((1,)), seq([1.0, 1.0, 1.0]), None)
    assert flat(out) == [1.0, 11.0, 111.0]  # x + 10*out[t-1]; reversed would be 10, 20, 30

    # Only CompoundLayers get a self-loop.
    plain = snn.SequentialLocalFeedback(eqx.nn.Identity(), snn.SimpleLI())
    assert plain.graph_structure.input_connectivity == ((), (0,))

    # feedback_layers={1: 0}: layer 0 also reads layer 1 (before its external input).
    first = eqx.nn.Lambda(lambda v: 10.0 * v[:-1].sum(keepdims=True) + v[-1:])
    model = snn.SequentialLocalFeedback(first, eqx.nn.Identity(), feedback_layers={1: 0})
    assert model.graph_structure.input_connectivity == ((1,), (0,))
    _, (out,) = model(model.init_state((1,)), seq([1.0, 1.0, 1.0]), None)
    assert flat(out) == [1.0, 11.0, 111.0]

    # An explicit dict replaces the default self-loops, and is appended after
    # the feed-forward edge.
    model = snn.SequentialLocalFeedback(eqx.nn.Identity(), snn.CompoundLayer(reader),
                                        eqx.nn.Identity(), feedback_layers={2: 1})
    assert model.graph_structure.input_connectivity == ((), (0, 2), (1,))
    with pytest.raises(ValueError, match="feedback_layers"):
        snn.SequentialLocalFeedback(eqx.nn.Identity(), feedback_layers={3: 0})


# --- §5: Parallel members are stateless; key is passed on -----------------------------

def test_parallel_refuses_stateful_members_and_passes_keys():
    with pytest.raises(ValueError, match=r"Parallel: layers\[1\] \(LIF\) is stateful"):
        snn.Parallel([eqx.nn.Identity(), snn.LIF()])
    dropout = snn.Parallel([eqx.nn.Dropout(0.5), eqx.nn.Dropout(0.5)])
    key, ones = jax.random.PRNGKey(0), jnp.ones(64)
    out = dropout([ones, ones], key=key)
    # Member k gets split(key, 2)[k]: two different masks, not one key for both.
    first, second = (eqx.nn.Dropout(0.5)(ones, key=k) for k in jax.random.split(key, 2))
    assert not jnp.array_equal(first, second)
    assert jnp.array_equal(out, first + second)


# --- §4.3 and §5: upstream's recurrent idiom -------------------------------------------

def _upstream_recurrent_idiom(key, inputs, hidden):
    """As upstream's examples/benchmarks/model/snn_recmlp.py builds it (with a
    plain Linear for the recurrent weights)."""
    k_ff, k_rec, k_out = jax.random.split(key, 3)
    feed_forward = eqx.nn.Linear(inputs, hidden, key=k_ff)
    recurrent = eqx.nn.Linear(hidden, hidden, use_bias=False, key=k_rec)
    readout = eqx.nn.Linear(hidden, 2, key=k_out)
    cell = snn.CompoundLayer(snn.Parallel([feed_forward, recurrent]),
                             eqx.nn.LayerNorm((hidden,), use_weight=False, use_bias=False, eps=1e-4),
                             snn.LIFSoftReset([0.9, 0.8], reset_val=1, shape=[hidden]))
    model = snn.SequentialLocalFeedback(snn.Flatten(), cell, readout, feedback_layers=None)
    return model, (feed_forward, recurrent, readout)


def test_upstreams_recurrent_idiom_runs_and_matches_the_oracle():
    jax.config.update("jax_enable_x64", True)
    try:
        key = jax.random.PRNGKey(3)
        model, (ff, rec, readout) = _upstream_recurrent_idiom(key, inputs=6, hidden=5)
        # The compound layer reads [layer 0 (feed-forward), itself (feedback)] as a list.
        assert model.graph_structure.input_connectivity[1] == (0, 1)
        # shapes: what each layer receives (upstream's examples pass in_channels
        # for the Flatten, i.e. its output: SPEC §4.2 refuses that clearly).
        with pytest.raises(ValueError, match=r"shapes\[0\] says layer 0 \(Flatten\) receives"):
            model.init_state([(2, 3)], shapes=[6, [6, 5], 5], key=key)
        state = model.init_state([(2, 3)], shapes=[(2, 3), [6, 5], 5], key=key)
        xs = 2.0 * jax.random.normal(key, (12, 2, 3), dtype=jnp.float64)
        _, (outputs,) = model(state, xs, key)

        def linear(layer):
            bias = None if layer.bias is None else np.asarray(layer.bias)
            return L("Linear", params={"weight": np.asarray(layer.weight), "bias": bias})

        cell = L("CompoundLayer", members=(
            L("Parallel", members=(linear(ff), linear(rec))),
            L("LayerNorm", {"eps": 1e-4}, {}),
            L("LIFSoftReset", {"reset_val": 1.0},
              {"decay_constants": np.broadcast_to(np.array([[0.9], [0.8]]), (2, 5))})))
        network = NetworkSpec(layers=(L("Flatten"), cell, linear(readout)),
                              input_layer_ids=((0,), (), ()),
                              input_connectivity=((), (0, 1), (1,)),
                              final_layer_ids=(2,), input_shapes=((2, 3),),
                              output_shapes=((6,), (5,), (2,)))
        expected = oracle.run(RunSpec(network, (np.asarray(xs),), STRAIGHT_THROUGH))
        np.testing.assert_allclose(np.asarray(outputs), expected.outputs[0], rtol=1e-10,
                                   atol=1e-10)
        assert np.any(expected.final_states[1][0])  # the cell's membrane moved
    finally:
        jax.config.update("jax_enable_x64", False)
