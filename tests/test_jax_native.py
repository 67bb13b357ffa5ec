"""SPEC.md §6: the model works under eqx.filter_jit, filter_vmap, filter_grad,
in float32 and float64, and is deterministic."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from snnax_ref import snn


def positive_linear(n_in, n_out, key):
    linear = eqx.nn.Linear(n_in, n_out, key=key)
    return eqx.tree_at(lambda m: (m.weight, m.bias), linear,
                       (2.0 * jnp.abs(linear.weight), jnp.abs(linear.bias)))


def spiking_network(key):
    k1, k2 = jax.random.split(key)
    return snn.Sequential(positive_linear(3, 5, k1), snn.LIF([0.75, 0.5]),
                          positive_linear(5, 2, k2), snn.SimpleLIF([0.75]))


class Noise(eqx.Module):
    def __call__(self, x, *, key=None):
        return x if key is None else x + jax.random.normal(key, x.shape)


def inputs(T=10, seed=1):
    return jax.random.uniform(jax.random.PRNGKey(seed), (T, 3), minval=0.0, maxval=3.0)


def assert_trees_equal(a, b):
    leaves_a, leaves_b = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(leaves_a) == len(leaves_b)
    for x, y in zip(leaves_a, leaves_b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_filter_jit_equals_eager(key):
    model = spiking_network(key)
    states = model.init_state((3,))
    xs = inputs()
    eager_states, (eager,) = model(states, xs, None)
    run = eqx.filter_jit(lambda m, s, x: m(s, x, None, burnin=2))
    jit_states, (jitted,) = run(model, states, xs)
    assert float(eager.sum()) > 0
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager[2:]), rtol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(jit_states),
                    jax.tree_util.tree_leaves(eager_states)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)
    # init_state under filter_jit too.
    jit_init = eqx.filter_jit(lambda m: m.init_state((3,)))(model)
    assert_trees_equal(jit_init, states)


def test_vmap_equals_per_sample(key):
    model = snn.Sequential(positive_linear(3, 5, key), snn.LIF([0.75, 0.5]), Noise(),
                           snn.SimpleLIF([0.75]))
    states = model.init_state((3,))
    batch = 4
    xs = jax.random.uniform(jax.random.PRNGKey(2), (batch, 10, 3), minval=0.0, maxval=3.0)
    keys = jax.random.split(jax.random.PRNGKey(3), batch)
    batched_states = jax.tree_util.tree_map(lambda leaf: jnp.stack([leaf] * batch), states)

    run = eqx.filter_vmap(lambda s, x, k: model(s, x, k))
    final_b, (out_b,) = run(batched_states, xs, keys)
    assert out_b.shape == (batch, 10, 5)
    for b in range(batch):
        final_1, (out_1,) = model(states, xs[b], keys[b])
        np.testing.assert_allclose(np.asarray(out_b[b]), np.asarray(out_1), rtol=1e-6, atol=1e-6)
        for x, y in zip(jax.tree_util.tree_leaves(final_b), jax.tree_util.tree_leaves(final_1)):
            np.testing.assert_allclose(np.asarray(x[b]), np.asarray(y), rtol=1e-5, atol=1e-6)
    assert float(out_b.sum()) > 0
    # Under filter_jit as well, and with init_state vmapped.
    init_b = eqx.filter_vmap(lambda _: model.init_state((3,)))(jnp.arange(batch))
    _, (out_j,) = eqx.filter_jit(run)(init_b, xs, keys)
    np.testing.assert_allclose(np.asarray(out_j), np.asarray(out_b), rtol=1e-6, atol=1e-6)


def test_filter_grad_through_spikes(key):
    model = spiking_network(key)
    states = model.init_state((3,))
    xs = inputs()

    @eqx.filter_grad
    def grads(m):
        return m(states, xs, None)[1][0].sum()

    g = grads(model)
    for leaf in jax.tree_util.tree_leaves(eqx.filter(g, eqx.is_inexact_array)):
        assert np.all(np.isfinite(np.asarray(leaf)))
    # The surrogate carries the gradient through both spiking layers.
    assert np.any(np.asarray(g.layers[0].weight) != 0.0)
    assert np.any(np.asarray(g.layers[2].weight) != 0.0)
    assert np.any(np.asarray(g.layers[1].decay_constants) != 0.0)
    # And under filter_jit.
    g_jit = eqx.filter_jit(grads)(model)
    np.testing.assert_allclose(np.asarray(g_jit.layers[0].weight), np.asarray(g.layers[0].weight),
                               rtol=1e-5, atol=1e-7)


def test_float64():
    with jax.enable_x64(True):
        model = spiking_network(jax.random.PRNGKey(0))
        states = model.init_state((3,))
        for leaf in jax.tree_util.tree_leaves(states):
            assert leaf.dtype == jnp.float64
        assert model.layers[1].decay_constants.dtype == jnp.float64
        xs = jnp.asarray(inputs(), jnp.float64)
        final_states, (out,) = model(states, xs, jax.random.PRNGKey(1))
        assert out.dtype == jnp.float64
        for leaf in jax.tree_util.tree_leaves(final_states):
            assert leaf.dtype == jnp.float64
        assert float(out.sum()) > 0
        grad = jax.grad(lambda x: model(states, x, None)[1][0].sum())(xs)
        assert grad.dtype == jnp.float64 and np.all(np.isfinite(np.asarray(grad)))
    # Back in float32, the same model class gives float32.
    states = spiking_network(jax.random.PRNGKey(0)).init_state((3,))
    assert all(leaf.dtype == jnp.float32 for leaf in jax.tree_util.tree_leaves(states))


def test_deterministic(key):
    model = snn.Sequential(positive_linear(3, 5, key), Noise(), snn.LIF([0.75, 0.5]),
                           snn.SimpleLIF([0.75]))
    states = model.init_state((3,), key=key)
    xs = inputs()
    run_key = jax.random.PRNGKey(5)
    first = model(states, xs, run_key)
    second = model(states, xs, run_key)
    assert_trees_equal(first, second)
    jitted = eqx.filter_jit(lambda m, s, x, k: m(s, x, k))
    assert_trees_equal(jitted(model, states, xs, run_key), jitted(model, states, xs, run_key))
    # The key matters (Noise uses it): another key gives other outputs.
    other = model(states, xs, jax.random.PRNGKey(6))
    assert not np.array_equal(np.asarray(other[0][2].state[0]),
                              np.asarray(first[0][2].state[0]))
