"""SPEC rules traced to SNNAX's documentation and code (issue: SPEC fidelity).

Each test pins one rule where an earlier SPEC departed from upstream SNNAX
without saying so; hand-computed values where a number is involved.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnax_ref import snn
from spec_tests import oracle
from spec_tests.description import STRAIGHT_THROUGH, LayerSpec, NetworkSpec, RunSpec

L = LayerSpec


# --- §3: one value per layer, read as element [0] ---------------------------------

def test_adaptive_lif_reads_one_value_per_layer():
    """ada_* are one value per layer (upstream reads element [0])."""
    layer = snn.AdaptiveLIF(0.5, ada_decay_constant=[0.5], ada_step_val=[1.0],
                            ada_coupling_var=[0.5])
    state = layer.init_state((3,))
    (membrane, adaptation, spikes), _ = layer(state, jnp.full(3, 4.0))
    # V = 0.5*0 + 0.5*(4 + 0) = 2;  S = H(2 - 1) = 1;
    # A = (1 - 0.5)*0.5*2 + 0.5*0 - 1*1 = -0.5;  V = V - V*S = 0
    np.testing.assert_allclose(adaptation, [-0.5] * 3)
    np.testing.assert_allclose(membrane, [0.0] * 3)
    assert adaptation.shape == (3,)
    # Per neuron through `shape`: (1, *shape), still one entry.
    per_neuron = snn.AdaptiveLIF(0.5, ada_step_val=[[0.0, 1.0, 2.0]], shape=(3,))
    _, _ = per_neuron(per_neuron.init_state((3,)), jnp.full(3, 4.0))
    for name in ("ada_decay_constant", "ada_step_val", "ada_coupling_var"):
        with pytest.raises(ValueError, match=f"AdaptiveLIF: {name} needs 1 entry"):
            snn.AdaptiveLIF(0.9, **{name: []})
        with pytest.warns(UserWarning, match=f"AdaptiveLIF: {name} has 2 entries"):
            snn.AdaptiveLIF(0.9, **{name: [0.5, 0.6]})


def test_a_scalar_is_the_single_decay_constant_and_extra_entries_are_ignored_with_a_warning():
    """The documented `SimpleLIF(0.9)`; too few entries are refused; extra
    entries are kept and ignored, as upstream ignores them, with a warning
    (upstream's SHD config gives AdaptiveLIF two)."""
    for layer_class in (snn.SimpleLIF, snn.SimpleLI, snn.IAF, snn.AdaptiveLIF):
        assert layer_class(0.9).decay_constants.tolist() == pytest.approx([0.9])
    with pytest.raises(ValueError, match=r"LIF: decay_constants needs 2 entries .*got 1"):
        snn.LIF([0.9])
    with pytest.raises(ValueError, match="SigmaDelta: decay_constants needs 3"):
        snn.SigmaDelta([0.9])
    with pytest.warns(UserWarning, match=r"LIF: decay_constants has 3 entries .* reads 2"):
        assert snn.LIF([0.9, 0.8, 0.7]).decay_constants.shape == (3,)
    with pytest.warns(UserWarning, match="IAF: decay_constants has 2 entries"):
        snn.IAF([0.9, 0.8])
    with pytest.warns(UserWarning, match="AdaptiveLIF: decay_constants has 2 entries"):
        two = snn.AdaptiveLIF([0.7, 0.3], shape=(3,))
    one = snn.AdaptiveLIF([0.7], shape=(3,))
    state, x = one.init_state((3,)), jnp.array([0.5, 2.0, 4.0])
    for _ in range(3):
        (state, out), (state_two, out_two) = one(state, x), two(state, x)
        assert all(jnp.array_equal(a, b) for a, b in zip(state, state_two))


def test_init_parameters_stacks_one_array_per_entry_and_reads_trainable_arrays():
    per_entry = snn.StatefulLayer.init_parameters([jnp.full(4, 0.9), jnp.full(4, 0.8)], (4,))
    assert per_entry.data.shape == (2, 4)
    np.testing.assert_allclose(per_entry.data[1], [0.8] * 4)
    frozen = snn.StatefulLayer.init_parameters([0.5], None, requires_grad=False)
    again = snn.StatefulLayer.init_parameters(frozen, None)
    assert not again.requires_grad and again.data.tolist() == [0.5]
    with pytest.raises(ValueError, match="entry 1 has shape"):
        snn.StatefulLayer.init_parameters([jnp.ones(4), jnp.ones(3)], (4,))


# --- §6: lax.clamp has derivative 0 at its bounds -------------------------------------

def test_clamped_constant_on_its_bound_gets_no_gradient():
    """Upstream clamps with lax.clamp: a decay of exactly 1.0 (or 0.5) does not train."""
    def current(decay):
        layer = snn.LIF([0.9, decay])
        state = [jnp.zeros(1), jnp.ones(1), jnp.zeros(1)]
        return layer(state, jnp.full(1, 3.0))[0][1].sum()   # I = b*1 + (1 - b)*3

    assert float(jax.grad(current)(1.0)) == 0.0
    assert float(jax.grad(current)(0.5)) == 0.0
    assert float(jax.grad(current)(0.8)) == pytest.approx(1.0 - 3.0)


# --- §1: the documented sigmoid surrogate ---------------------------------------------

def test_sigmoid_surrogate_is_the_documented_formula():
    from snnax_ref.functional import sigmoid_surrogate

    def slope(beta, x):
        return float(jax.grad(lambda v: sigmoid_surrogate(beta)(v))(jnp.float32(x)))

    s = 1.0 / (1.0 + np.exp(-2.0 * 0.3))
    assert slope(2.0, 0.3) == pytest.approx(s * (1.0 - 2.0 * s), rel=1e-5)
    assert slope(1.0, 0.0) == pytest.approx(0.25)


# --- §3.12: forget_weight weighs the previous statistics ------------------------------

def test_batchnorm_forget_weight_weighs_the_previous_statistics():
    layer = snn.BatchNormLayer(forget_weight=0.25)
    (mean, var), y = layer(layer.init_state((1,)), jnp.array([2.0]))
    # mean = 0.25*0 + 0.75*2 = 1.5; var = 0.25*1 + 0.75*(0.5)**2 = 0.4375
    np.testing.assert_allclose(mean, [1.5])
    np.testing.assert_allclose(var, [0.4375])
    np.testing.assert_allclose(y, [0.8 * 0.5 / np.sqrt(0.4375 + 1e-5)], rtol=1e-6)


# --- §3.8: init_fn initialises SigmaDelta's membrane -----------------------------------

def test_sigma_delta_init_fn_initialises_the_membrane():
    layer = snn.SigmaDelta(init_fn=lambda shape, key: jnp.full(shape, 0.7))
    state = layer.init_state((2,))
    assert [float(a[0]) for a in state] == pytest.approx([0.0, 0.0, 0.7, 0.0, 0.0])


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
