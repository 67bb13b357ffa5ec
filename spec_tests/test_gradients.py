"""Gradient conformance: surrogate derivatives pointwise, forward- and
reverse-mode derivatives of generated networks against the oracle, burn-in,
frozen parameters, and the stop-gradients of AdaptiveLIF and SRM (SPEC.md §1,
§2, §3.7, §3.9, §4.5).

Each property reads as its docstring. Adapters without `jvp` / `vjp` skip
the network properties with that reason (`GradientsUnsupported`, turned into
a skip by conftest.py, which also records what each test tried).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from . import oracle
from .adapters.support import NOT_APPLICABLE
from .description import LayerSpec, NetworkSpec, RunSpec
from .gradients import (check_frozen_parameters_get_no_gradient, check_jvp_conforms,
                        check_vjp_conforms)
from .keys import with_dropout_masks
from .rows import GRADIENT_ROWS
from .strategies import runs, surrogate_arguments

SURROGATES = {"superspike": "superspike_surrogate", "sigmoid": "sigmoid_surrogate",
              "piecewise": "piecewise_surrogate"}


@pytest.mark.parametrize("row", GRADIENT_ROWS, ids=[r.name.split(": ")[1] for r in GRADIENT_ROWS])
@given(data=st.data())
def test_gradient_conforms(adapter, row, data):
    """Along random directions, the implementation's derivatives of every
    generated network equal the oracle's (forward mode), and reverse mode
    satisfies <v, J u> = <J^T v, u> against them."""
    row.run_check(adapter, data.draw(row.strategy(), label="example"))


def _spike_function(adapter, name, beta):
    functional = getattr(adapter, "functional", None)
    if functional is None:
        pytest.skip(f"{NOT_APPLICABLE}: adapter exposes no functional module")
    return getattr(functional, SURROGATES[name])(beta)


@settings(max_examples=60)
@given(data=st.data())
def test_surrogate_derivative_matches_its_formula(adapter, data):
    """Each spike function's autodiff derivative equals SPEC.md §1's formula at
    every point, x = 0 and the edges of the piecewise window included, and
    its value is H(x) with H(0) = 1."""
    import jax
    name = data.draw(st.sampled_from(sorted(SURROGATES)), label="surrogate")
    beta = data.draw(st.sampled_from([0.5, 1.0, 2.0, 10.0]), label="beta")
    x = data.draw(surrogate_arguments(beta), label="x")  # never subnormal (SPEC.md §6)
    spike = _spike_function(adapter, name, beta)
    with adapter.precision("float64"):
        value, derivative = jax.value_and_grad(lambda v: spike(v))(jax.numpy.float64(x))
    assert float(value) == float(oracle.heaviside(np.float64(x))), (name, beta, x, value)
    expected = float(oracle.surrogate_derivative(name, beta, np.float64(x)))
    assert np.isclose(float(derivative), expected, rtol=1e-12, atol=1e-15), (
        f"d{name}_surrogate({beta})/dx at x={x!r}: expected {expected!r}, got {float(derivative)!r}")


@settings(max_examples=max(1, settings().max_examples // 2))
@given(data=st.data())
def test_burnin_gives_zero_gradient_before_burnin(adapter, data):
    """With burnin > 0, no output depends (in reverse mode) on an input step
    before burnin: those input cotangents are exactly zero."""
    if not hasattr(adapter, "vjp"):
        pytest.skip(f"{NOT_APPLICABLE}: adapter has no vjp()")
    run = data.draw(runs(max_steps=20).filter(lambda r: r.burnin > 0), label="run")
    expected = oracle.run(with_dropout_masks(run))   # only the outputs' shapes are used
    cotangents = [np.ones_like(o) for o in expected.outputs]
    _, inputs_bar = adapter.vjp(run, cotangents, "float64")
    for k, bar in enumerate(inputs_bar):
        before = np.asarray(bar)[:run.burnin]
        assert np.all(before == 0.0), (
            f"input {k}: cotangents before burnin={run.burnin} are not zero: "
            f"max |.| = {np.abs(before).max()}")


# -- pinned semantics on small hand-built networks ----------------------------

def _one_layer_run(layer, inputs, burnin=0):
    size = np.asarray(inputs).shape[1]
    network = NetworkSpec(layers=(layer,), input_layer_ids=((0,),), input_connectivity=((),),
                          final_layer_ids=(0,), input_shapes=((size,),))
    return RunSpec(network, (np.asarray(inputs, dtype=np.float64),), burnin=burnin)


def _require_jvp(adapter):
    if not hasattr(adapter, "jvp"):
        pytest.skip(f"{NOT_APPLICABLE}: adapter has no jvp()")


def test_stop_reset_grad_changes_only_the_reset_path(adapter):
    """SimpleIAF driven over threshold: stop_reset_grad leaves the outputs and
    the first step's tangent (no reset has acted yet) unchanged, changes the
    later tangents (the reset term `V*S` carries a surrogate tangent even on
    steps without a spike), and both settings equal the oracle's tangents."""
    _require_jvp(adapter)
    inputs = np.full((6, 1), 0.6)
    results = {}
    for stop in (True, False):
        layer = LayerSpec("SimpleIAF", {"threshold": 1.0, "spike_fn": ("superspike", 10.0),
                                        "reset_val": None, "stop_reset_grad": stop},
                          {"leak": np.asarray(0.05)})
        run = _one_layer_run(layer, inputs)
        check_jvp_conforms(adapter, run, seed=3)
        results[stop] = adapter.jvp(run, [np.asarray(0.5)], [np.ones_like(inputs)], "float64")
    (out_t, tan_t), (out_f, tan_f) = results[True], results[False]
    np.testing.assert_array_equal(out_t[0], out_f[0])
    assert np.asarray(out_t[0]).max() == 1.0  # it spikes, so the reset acts
    np.testing.assert_array_equal(tan_t[0][:1], tan_f[0][:1])
    assert not np.allclose(tan_t[0][1:], tan_f[0][1:])


def test_adaptive_lif_spike_term_is_stop_gradiented(adapter):
    """AdaptiveLIF's adaptation update `- d*sg(S)` passes no gradient through
    the spike (SPEC.md §3.7): forward and reverse mode equal the oracle's."""
    _require_jvp(adapter)
    rng = np.random.default_rng(7)
    layer = LayerSpec("AdaptiveLIF", {"threshold": 0.5, "spike_fn": ("superspike", 2.0),
                                      "reset_val": None, "stop_reset_grad": True},
                      {"decay_constants": np.asarray([0.8]),
                       "ada_decay_constant": np.asarray([0.7]),
                       "ada_step_val": np.asarray([1.5]), "ada_coupling_var": np.asarray([0.5])})
    run = _one_layer_run(layer, rng.uniform(0.0, 2.0, (12, 3)))
    check_jvp_conforms(adapter, run, seed=1)
    if hasattr(adapter, "vjp"):
        check_vjp_conforms(adapter, run, seed=1)


def test_srm_refractory_input_is_stop_gradiented(adapter):
    """SRM's refractory input `rv*sg(S_prev)` passes no gradient, whatever
    stop_reset_grad would say (SPEC.md §3.9): forward and reverse mode equal
    the oracle's."""
    _require_jvp(adapter)
    rng = np.random.default_rng(11)
    linear = LayerSpec("Linear", {}, {"weight": rng.normal(0, 2.0, (2, 3)),
                                      "bias": rng.normal(0.5, 0.5, (2,))})
    srm = LayerSpec("SRM", {"threshold": 0.5, "spike_fn": ("sigmoid", 2.0)},
                    {"decay_constants": np.asarray([0.7, 0.6]),
                     "r_decay_constants": np.asarray([0.8]), "reset_val": np.asarray([1.0])},
                    members=(linear,))
    run = _one_layer_run(srm, rng.uniform(0.0, 2.0, (12, 3)))
    check_jvp_conforms(adapter, run, seed=2)
    if hasattr(adapter, "vjp"):
        check_vjp_conforms(adapter, run, seed=2)


def test_frozen_parameters_get_exactly_zero_gradient(adapter):
    """`init_parameters(..., requires_grad=False)` gives its parameter exactly
    zero gradient; `requires_grad=True` passes it unchanged (SPEC.md §2)."""
    check_frozen_parameters_get_no_gradient(adapter, np.asarray([0.5, -1.0, 2.0]))
