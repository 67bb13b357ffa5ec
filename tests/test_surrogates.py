"""SPEC.md §1: spike functions are H(x) forward, a surrogate derivative backward."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnax_ref.functional import (heaviside, piecewise_surrogate, sigmoid_surrogate,
                                  superspike_surrogate)

ALL_SPIKE_FNS = [superspike_surrogate(), superspike_surrogate(3.0), sigmoid_surrogate(),
                 sigmoid_surrogate(4.0), piecewise_surrogate(), piecewise_surrogate(2.0)]
POINTS = [-3.0, -1.0, -0.4, -0.01, 0.0, 0.01, 0.3, 0.5, 1.0, 2.5]


def grad_at(spike_fn, x, dtype=jnp.float32):
    return float(jax.grad(lambda v: spike_fn(v))(jnp.asarray(x, dtype)))


@pytest.mark.parametrize("spike_fn", ALL_SPIKE_FNS, ids=repr)
def test_heaviside_at_zero_is_one(spike_fn):
    assert float(spike_fn(jnp.float32(0.0))) == 1.0
    assert float(heaviside(jnp.float32(0.0))) == 1.0
    x = jnp.array([-2.0, -1e-7, 0.0, 1e-7, 2.0], jnp.float32)
    np.testing.assert_array_equal(np.asarray(spike_fn(x)), [0.0, 0.0, 1.0, 1.0, 1.0])
    # The output keeps the dtype of x.
    assert spike_fn(x).dtype == jnp.float32
    assert spike_fn(x.astype(jnp.bfloat16)).dtype == jnp.bfloat16
    assert spike_fn(x.astype(jnp.float16)).dtype == jnp.float16


@pytest.mark.parametrize("spike_fn", ALL_SPIKE_FNS, ids=repr)
def test_heaviside_of_nan_is_nan(spike_fn):
    """Upstream's `jnp.heaviside(x, 1.)`: a NaN membrane spikes NaN (SPEC.md §1)."""
    x = jnp.array([jnp.nan, -1.0, 1.0], jnp.float32)
    assert np.isnan(float(heaviside(x)[0])) and np.isnan(float(spike_fn(x)[0]))
    np.testing.assert_array_equal(np.asarray(spike_fn(x))[1:], [0.0, 1.0])


@pytest.mark.parametrize("beta", [0.5, 1.0, 10.0, 25.0])
def test_superspike_surrogate_derivative_formula(beta):
    spike_fn = superspike_surrogate(beta)
    for x in POINTS:
        expected = 1.0 / (1.0 + beta * abs(x))
        assert grad_at(spike_fn, x) == pytest.approx(expected, rel=1e-6)


def test_superspike_default_beta_is_ten():
    assert superspike_surrogate().beta == 10.0
    assert grad_at(superspike_surrogate(), 0.5) == pytest.approx(1.0 / 6.0, rel=1e-6)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0, 5.0, 20.0])
def test_sigmoid_surrogate_derivative_formula(beta):
    spike_fn = sigmoid_surrogate(beta)
    for x in POINTS:
        s = 1.0 / (1.0 + np.exp(-beta * x))
        expected = s * (1.0 - beta * s)     # the Functions page's formula
        got = grad_at(spike_fn, x)
        assert got == pytest.approx(expected, rel=2e-4, abs=1e-6)
        if beta == 1.0:  # ... which is the derivative of sigmoid(x) at beta = 1
            reference = float(jax.grad(jax.nn.sigmoid)(jnp.float32(x)))
            assert got == pytest.approx(reference, rel=2e-4, abs=1e-6)
    if beta != 1.0:  # not the derivative of sigmoid(beta*x), which the reference once used
        s = 1.0 / (1.0 + np.exp(-beta * 1.0))
        assert grad_at(spike_fn, 1.0) != pytest.approx(beta * s * (1.0 - s), rel=1e-3)


def test_sigmoid_default_beta_is_one():
    # For beta = 1 this is the documentation's sigma(x)(1 - sigma(x)); at 0 it is 1/4.
    assert sigmoid_surrogate().beta == 1.0
    assert grad_at(sigmoid_surrogate(), 0.0) == pytest.approx(0.25, rel=1e-6)


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_piecewise_window_is_closed(beta):
    spike_fn = piecewise_surrogate(beta)
    for x in (-beta, beta):
        assert grad_at(spike_fn, x) == 1.0
    for x in (-beta * (1 + 1e-3), beta * (1 + 1e-3), 3 * beta, -3 * beta):
        assert grad_at(spike_fn, x) == 0.0
    for x in (0.0, 0.5 * beta, -0.999 * beta):
        assert grad_at(spike_fn, x) == 1.0
    # Exactly at +-beta in float64 too (no rounding luck from float32).
    with jax.enable_x64(True):
        assert grad_at(spike_fn, beta, jnp.float64) == 1.0
        assert grad_at(spike_fn, -beta, jnp.float64) == 1.0
        assert grad_at(spike_fn, np.nextafter(beta, np.inf), jnp.float64) == 0.0


def test_piecewise_default_beta_is_half():
    assert piecewise_surrogate().beta == 0.5
    assert grad_at(piecewise_surrogate(), 0.5) == 1.0
    assert grad_at(piecewise_surrogate(), 0.51) == 0.0


def test_surrogate_is_used_by_jvp_and_vjp():
    spike_fn = superspike_surrogate(10.0)
    x = jnp.array([-1.0, 0.0, 0.5], jnp.float32)
    expected = 1.0 / (1.0 + 10.0 * np.abs(np.asarray(x)))
    primal, tangent = jax.jvp(spike_fn, (x,), (jnp.ones_like(x),))
    np.testing.assert_array_equal(np.asarray(primal), [0.0, 1.0, 1.0])
    np.testing.assert_allclose(np.asarray(tangent), expected, rtol=1e-6)
    _, pullback = jax.vjp(spike_fn, x)
    (cotangent,) = pullback(2.0 * jnp.ones_like(x))
    np.testing.assert_allclose(np.asarray(cotangent), 2.0 * expected, rtol=1e-6)


def test_spike_functions_compare_by_value():
    for make in (superspike_surrogate, sigmoid_surrogate, piecewise_surrogate):
        a, b = make(2.0), make(2.0)
        assert a is not b
        assert a == b and hash(a) == hash(b)
        assert a != make(3.0)
        # beta is static: the module has no array leaves.
        assert jax.tree_util.tree_leaves(a) == []
    assert superspike_surrogate(1.0) != sigmoid_surrogate(1.0)

    traces = []

    @eqx.filter_jit
    def apply(spike_fn, x):
        traces.append(1)
        return spike_fn(x)

    x = jnp.ones(3)
    apply(superspike_surrogate(10.0), x)
    apply(superspike_surrogate(10.0), x)
    assert len(traces) == 1
    apply(superspike_surrogate(5.0), x)
    assert len(traces) == 2
