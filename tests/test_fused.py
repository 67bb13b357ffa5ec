"""The fused LIF scan and the time-parallel Linear product equal the readable
path (SPEC.md §4.6).

`fuse_lif=True` (the default) runs a graph-schedule stage that scans one
`LIF`/`LIFSoftReset` layer with `snn/fused.py`; `fuse_lif=False` scans
the layer's `__call__` and lets JAX differentiate it. On random networks of
Linear and LIF layers (feedback cycles included, whose LIF layers are
scanned together and not fused), the two models give the same values bit
for bit, and the same derivatives, forward and reverse mode, to rounding.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from snnax_ref import snn
from snnax_ref.functional import surrogate
from snnax_ref.snn.schedule import all_steps_at_once

WIDTH = 5
# Derivatives of the two paths are the same sums in another order.
RTOL, ATOL = 1e-9, 1e-9


@st.composite
def lif_layers(draw):
    """An `LIF` or `LIFSoftReset` with drawn constants, reset, threshold and
    surrogate; constants per neuron or per layer."""
    kind = draw(st.sampled_from([snn.LIF, snn.LIFSoftReset]))
    per_neuron = draw(st.booleans())
    decays = draw(st.lists(st.floats(0.3, 1.1), min_size=2, max_size=2))
    threshold = draw(st.sampled_from(["scalar", "array"]))
    spike_fn = draw(st.sampled_from([surrogate.superspike_surrogate(10.0),
                                     surrogate.sigmoid_surrogate(1.0),
                                     surrogate.piecewise_surrogate(0.5)]))
    return kind(decays, spike_fn=spike_fn,
                threshold=0.8 if threshold == "scalar" else jnp.linspace(0.5, 1.0, WIDTH),
                reset_val=draw(st.sampled_from([None, 0.3])),
                stop_reset_grad=draw(st.booleans()),
                shape=(WIDTH,) if per_neuron else None)


@st.composite
def linear_lif_networks(draw):
    """Alternating Linear and LIF layers (all `WIDTH` wide), chained; maybe a
    feedback edge from the last LIF into a later Linear, which makes a cycle."""
    num_pairs = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**16))
    keys = jax.random.split(jax.random.PRNGKey(seed), num_pairs)
    layers, sources = [], []
    for k in range(num_pairs):
        linear_id = len(layers)
        layers.append(eqx.nn.Linear(WIDTH, WIDTH, key=keys[k]))
        sources.append([] if k == 0 else [linear_id - 1])
        layers.append(draw(lif_layers()))
        sources.append([linear_id])
    feedback = draw(st.sampled_from([None] + list(range(2, len(layers), 2))))
    if feedback is not None:
        # Linear `feedback` also reads the last LIF (t - 1): a cycle, scanned together.
        layers[feedback] = eqx.nn.Linear(2 * WIDTH, WIDTH, key=keys[0])
        sources[feedback] = sources[feedback] + [len(layers) - 1]
    num_layers = len(layers)
    graph = snn.GraphStructure(num_layers, [[0]] + [[] for _ in range(num_layers - 1)],
                               [num_layers - 1], sources)
    return graph, layers


def _models(graph, layers):
    fused = snn.StatefulModel(graph, layers)
    readable = snn.StatefulModel(graph, layers, fuse_lif=False)
    assert readable.plan.fused == () and fused.plan.stages == readable.plan.stages
    return fused, readable


def _leaves(tree):
    return jax.tree_util.tree_leaves(tree)


def _assert_close(actual, expected):
    for a, e in zip(_leaves(actual), _leaves(expected), strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=RTOL, atol=ATOL)


@settings(max_examples=25, deadline=None)
@given(network=linear_lif_networks(), steps=st.integers(1, 12), seed=st.integers(0, 2**16))
def test_fused_lif_scans_equal_the_readable_path_in_value_and_derivative(network, steps, seed):
    """On a random Linear/LIF network, the fused model's outputs and final
    states equal the readable model's bit for bit, and its JVP and gradient
    (with respect to parameters, inputs and initial state) equal them to
    rounding."""
    with jax.enable_x64(True):
        graph, layers = network
        layers = jax.tree_util.tree_map(
            lambda leaf: leaf.astype(jnp.float64) if eqx.is_inexact_array(leaf) else leaf,
            layers)
        fused, readable = _models(graph, layers)
        inputs = 20.0 * jax.random.normal(jax.random.PRNGKey(seed), (steps, WIDTH), jnp.float64)
        shapes = [(layer.in_features,) if isinstance(layer, eqx.nn.Linear) else (WIDTH,)
                  for layer in layers]
        state = fused.init_state((WIDTH,), shapes)

        params, layers_static = eqx.partition(layers, eqx.is_inexact_array)
        tangents = jax.tree_util.tree_map(
            lambda leaf: jnp.cos(jnp.arange(leaf.size, dtype=leaf.dtype)).reshape(leaf.shape),
            (params, inputs, state))

        def value_jvp_and_grad(fuse_lif, params, inputs, state, tangents):
            def run(params, inputs, state):
                model = snn.StatefulModel(graph, eqx.combine(params, layers_static),
                                          fuse_lif=fuse_lif)
                return model(state, inputs, key=None)

            def loss(params, inputs, state):
                final, outputs = run(params, inputs, state)
                weights = jnp.sin(jnp.arange(outputs[0].size)).reshape(outputs[0].shape)
                return (jnp.sum(weights * outputs[0])
                        + sum(jnp.sum(jnp.cos(leaf)) for leaf in _leaves(final)))

            primals = (params, inputs, state)
            return (run(*primals), jax.jvp(run, primals, tangents)[1],
                    jax.grad(loss, argnums=(0, 1, 2))(*primals))

        # One compiled program per model (value, JVP and gradient together).
        compiled = jax.jit(value_jvp_and_grad, static_argnums=0)
        fused_value, fused_jvp, fused_grad = compiled(True, params, inputs, state, tangents)
        value, jvp, grad = compiled(False, params, inputs, state, tangents)
        for a, e in zip(_leaves(fused_value), _leaves(value), strict=True):
            assert np.array_equal(np.asarray(a), np.asarray(e))
        _assert_close(fused_jvp, jvp)
        _assert_close(fused_grad, grad)


def test_the_fused_scan_is_planned_only_where_its_equations_hold(key):
    """SPEC §4.6: an LIF scanned alone, with a stop-gradiented reset, is fused;
    one that reads itself, lets the reset's gradient through, is a subclass,
    or runs under `checkpoint=True`, is scanned by its `__call__`."""
    class MyLIF(snn.LIF):
        pass

    def plan(lif, **options):
        model = snn.Sequential(eqx.nn.Linear(3, 3, key=key), lif, **options)
        return model.plan.fused

    assert plan(snn.LIF()) == (1,) and plan(snn.LIFSoftReset()) == (1,)
    assert plan(snn.LIF(stop_reset_grad=False)) == ()
    assert plan(MyLIF()) == ()
    assert plan(snn.LIF(), checkpoint=True) == ()
    assert plan(snn.LIF(), fuse_lif=False) == ()
    self_loop = snn.StatefulModel(snn.GraphStructure(2, [[0], []], [1], [[], [0, 1]]),
                                  [eqx.nn.Linear(3, 3, key=key), snn.LIF()])
    assert self_loop.plan.fused == ()


def test_a_batch_of_fused_runs_equals_its_samples(key):
    """Under `vmap` the fused scan gives each sample's values, and the batch's
    gradient equals the readable path's (the decay tangents are spread over
    the batch, fused.py)."""
    second = eqx.nn.Linear(6, 3, key=jax.random.PRNGKey(1))
    second = eqx.tree_at(lambda linear: linear.weight, second, 20.0 * second.weight)
    layers = [eqx.nn.Linear(4, 6, key=key), snn.LIF((0.9, 0.8)), second, snn.LIFSoftReset()]
    fused, readable = snn.Sequential(*layers), snn.Sequential(*layers, fuse_lif=False)
    inputs = 30.0 * jax.random.normal(key, (5, 60, 4))
    state = fused.init_state((4,))

    def loss(model):
        spikes = jax.vmap(lambda x: model(state, x, key=None)[1][0])(inputs)
        return jnp.sum(spikes * jnp.arange(spikes.shape[-1])[None, None])

    per_sample = [fused(state, x, key=None)[1][0] for x in inputs]
    batched = jax.vmap(lambda x: fused(state, x, key=None)[1][0])(inputs)
    assert np.array_equal(np.stack(per_sample), np.asarray(batched))
    assert float(loss(fused)) == float(loss(readable)) > 0
    for a, e in zip(_leaves(eqx.filter_grad(loss)(fused)), _leaves(eqx.filter_grad(loss)(readable)),
                    strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), rtol=1e-5, atol=1e-5)


@settings(max_examples=20, deadline=None)
@given(steps=st.integers(1, 40), fan_in=st.integers(1, 9), fan_out=st.integers(1, 9),
       bias=st.booleans(), seed=st.integers(0, 2**16))
def test_a_time_parallel_linear_equals_the_layer_mapped_over_time(steps, fan_in, fan_out, bias,
                                                                  seed):
    """SPEC §4.6: a time-parallel `eqx.nn.Linear` computed as `x @ weight.T (+ bias)`
    gives what vmapping the layer over the steps gives."""
    key_layer, key_input = jax.random.split(jax.random.PRNGKey(seed))
    linear = eqx.nn.Linear(fan_in, fan_out, use_bias=bias, key=key_layer)
    inputs = jax.random.normal(key_input, (steps, fan_in))
    expected = jax.vmap(linear)(inputs)
    actual = all_steps_at_once(linear, [inputs], None)
    np.testing.assert_allclose(np.asarray(actual), np.asarray(expected), rtol=1e-6, atol=1e-6)
