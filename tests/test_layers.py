"""SPEC.md §2-3: StatefulLayer, parameters and every predefined layer, by hand.

Every expected value below is computed by hand in the comments; the inputs
and constants are dyadic numbers, so float32 arithmetic is exact and the
spikes at `V == threshold` are not left to rounding.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnax_ref import snn


def run_layer(layer, inputs, shape=(1,)):
    """Step `layer` over `inputs` (scalars or arrays); return [(state, output)] per step."""
    state = layer.init_state(shape, key=jax.random.PRNGKey(0))
    history = []
    for x in inputs:
        x = jnp.broadcast_to(jnp.asarray(x, jnp.float32), shape)
        state, out = layer(state, x)
        history.append((state, out))
    return history


def component(history, index):
    """State component `index` at each step, as floats (neuron 0)."""
    return [float(np.asarray(state[index]).reshape(-1)[0]) for state, _ in history]


def outputs(history):
    return [float(np.asarray(out).reshape(-1)[0]) for _, out in history]


def run_in_model(layer, inputs):
    """The same layer run as a one-layer Sequential: outputs (T,)."""
    model = snn.Sequential(layer)
    states = model.init_state((1,))
    xs = jnp.asarray(inputs, jnp.float32).reshape(-1, 1)
    _, (out,) = model(states, xs, None)
    return np.asarray(out)[:, 0].tolist()


# --- StatefulLayer parameters -------------------------------------------------------


def test_requires_grad_false_gets_zero_gradient():
    frozen = snn.StatefulLayer.init_parameters(0.5, (2,), requires_grad=False)
    trainable = snn.StatefulLayer.init_parameters(0.5, (2,), requires_grad=True)

    def loss(parameter):
        return jnp.sum(3.0 * parameter.data ** 2)

    # jax.grad over the module as a pytree, and eqx.filter_grad.
    for grad_fn in (jax.grad, eqx.filter_grad):
        np.testing.assert_array_equal(np.asarray(grad_fn(loss)(frozen).value), [0.0, 0.0])
        np.testing.assert_array_equal(np.asarray(grad_fn(loss)(trainable).value), [3.0, 3.0])
    # The forward value is not changed by freezing.
    np.testing.assert_array_equal(np.asarray(frozen.data), [0.5, 0.5])
    # requires_grad is static: not a leaf, part of the tree structure.
    assert jax.tree_util.tree_leaves(frozen) == [frozen.value]
    assert jax.tree_util.tree_structure(frozen) != jax.tree_util.tree_structure(trainable)

    # Inside a layer: the frozen parameter gets exactly zero gradient.
    class Scale(snn.StatefulLayer):
        alpha: snn.TrainableArray
        beta: snn.TrainableArray

        def __init__(self):
            super().__init__()
            self.alpha = self.init_parameters(2.0, (1,), requires_grad=False)
            self.beta = self.init_parameters(3.0, (1,))

        def __call__(self, state, x, *, key=None):
            out = self.alpha.data * self.beta.data * x
            return out, out

    layer = Scale()
    grads = eqx.filter_grad(lambda m: m(jnp.zeros(1), jnp.ones(1))[1].sum())(layer)
    assert float(grads.alpha.value[0]) == 0.0
    assert float(grads.beta.value[0]) == 2.0


def test_init_parameters_layouts():
    init = snn.StatefulLayer.init_parameters
    # A scalar is broadcast to shape.
    p = init(0.5, (2, 3)).data
    assert p.shape == (2, 3) and jnp.issubdtype(p.dtype, jnp.floating)
    np.testing.assert_array_equal(np.asarray(p), np.full((2, 3), 0.5))
    # An int becomes a float array.
    assert jnp.issubdtype(init(1).data.dtype, jnp.floating)
    # A sequence of k scalars is k per-entry constants, whatever the shape:
    # with shape (k,) too it becomes (k, k), not one value per neuron.
    p = init([0.25, 0.5, 0.75], (3,)).data
    assert p.shape == (3, 3)
    np.testing.assert_array_equal(np.asarray(p[:, 0]), [0.25, 0.5, 0.75])
    # An array of shape `shape` is one value per neuron, kept.
    np.testing.assert_array_equal(np.asarray(init(jnp.array([0.25, 0.5, 0.75]), (3,)).data),
                                  [0.25, 0.5, 0.75])
    # An array already laid out (k, *shape), e.g. another layer's constants, is kept.
    laid_out = init([0.25, 0.5], (3, 4)).data
    assert init(laid_out, (3, 4)).data.shape == (2, 3, 4)
    assert snn.LIF(snn.LIF([0.9, 0.8], shape=(3, 4)).decay_constants,
                   shape=(3, 4)).decay_constants.shape == (2, 3, 4)
    # k scalars with another shape are broadcast per entry to (k, *shape).
    p = init([0.25, 0.5], (3,)).data
    assert p.shape == (2, 3)
    np.testing.assert_array_equal(np.asarray(p), [[0.25] * 3, [0.5] * 3])
    p = init([0.25, 0.5], (2, 4)).data
    assert p.shape == (2, 2, 4)
    np.testing.assert_array_equal(np.asarray(p[1]), np.full((2, 4), 0.5))
    # No shape: kept as given.
    assert init([0.95, 0.9]).data.shape == (2,)
    # An array of the full shape is kept.
    assert init(jnp.ones((2, 3)), (2, 3)).data.shape == (2, 3)


def test_stateful_layer_defaults():
    layer = snn.StatefulLayer()
    state = layer.init_state((2, 3), key=jax.random.PRNGKey(0))
    # The default state is the single array init_fn(shape, key): zeros.
    assert isinstance(state, jax.Array) and state.shape == (2, 3)
    np.testing.assert_array_equal(np.asarray(state), np.zeros((2, 3)))
    assert state.dtype == jnp.zeros(()).dtype
    out = layer.init_out((4,))
    assert out.shape == (4,) and not np.any(np.asarray(out))
    with pytest.raises(NotImplementedError):
        layer(state, jnp.zeros((2, 3)))
    # A custom init_fn initialises the first state component only.
    lif = snn.LIF(init_fn=lambda shape, key: jnp.full(shape, 0.5))
    v, i, s = lif.init_state((2,), key=jax.random.PRNGKey(0))
    np.testing.assert_array_equal(np.asarray(v), [0.5, 0.5])
    np.testing.assert_array_equal(np.asarray(i), [0.0, 0.0])
    np.testing.assert_array_equal(np.asarray(s), [0.0, 0.0])


def test_trainable_leaves_of_lif():
    lif = snn.LIF([0.5, 0.75])
    leaves = jax.tree_util.tree_leaves(eqx.filter(lif, eqx.is_inexact_array))
    # Only the decay constants are arrays; threshold (a Python float) is constant.
    assert len(leaves) == 1 and leaves[0] is lif.decay_constants
    assert jnp.issubdtype(lif.decay_constants.dtype, jnp.floating)
    assert isinstance(lif.threshold, float) and lif.threshold == 1.0

    # reset_val is stored as given, as upstream stores it: a Python number is
    # a constant, not a trainable leaf.
    assert snn.LIF([0.5, 0.75], reset_val=0).reset_val == 0
    assert len(jax.tree_util.tree_leaves(eqx.filter(snn.LIF([0.5, 0.75], reset_val=0.5),
                                                    eqx.is_inexact_array))) == 1
    # An array threshold and an array reset_val are trainable too.
    lif = snn.LIF([0.5, 0.75], threshold=jnp.array(1.0), reset_val=jnp.array(0.0))
    params = eqx.filter(lif, eqx.is_inexact_array)
    assert isinstance(params.threshold, jax.Array)
    assert isinstance(params.reset_val, jax.Array)
    assert jnp.issubdtype(lif.reset_val.dtype, jnp.floating)

    # The gradient reaches the decay constants and the array threshold.
    def loss(layer):
        state = layer.init_state((1,))
        total = 0.0
        for _ in range(4):
            state, out = layer(state, jnp.full((1,), 3.0))
            total = total + out.sum()
        return total

    grads = eqx.filter_grad(loss)(lif)
    assert np.all(np.isfinite(np.asarray(grads.decay_constants)))
    assert np.any(np.asarray(grads.decay_constants) != 0.0)
    assert float(grads.threshold) != 0.0

    # leak and the AdaptiveLIF constants are float arrays.
    iaf = snn.SimpleIAF(leak=1)
    assert isinstance(iaf.leak, jax.Array) and jnp.issubdtype(iaf.leak.dtype, jnp.floating)
    ada = snn.AdaptiveLIF()
    for name in ("decay_constants", "ada_decay_constant", "ada_step_val", "ada_coupling_var"):
        value = getattr(ada, name)
        assert isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jnp.floating), name


def test_default_decay_constants():
    for cls in (snn.IAF, snn.SimpleLI, snn.SimpleLIF, snn.AdaptiveLIF):
        assert np.asarray(cls().decay_constants).tolist() == pytest.approx([0.95]), cls
    for cls in (snn.LIF, snn.LIFSoftReset):
        assert np.asarray(cls().decay_constants).tolist() == pytest.approx([0.95, 0.9]), cls
    srm = snn.SRM(eqx.nn.Identity())
    assert np.asarray(srm.decay_constants).tolist() == pytest.approx([0.95, 0.9])
    assert np.asarray(srm.r_decay_constants).tolist() == pytest.approx([0.9])
    assert np.asarray(snn.SigmaDelta().decay_constants).tolist() == pytest.approx([0.95] * 3)


# --- Neurons, step by step ------------------------------------------------------------


def test_simple_iaf():
    layer = snn.SimpleIAF(leak=0.25)
    history = run_layer(layer, [0.75, 0.75, 0.75])
    # V: -0.25 + 0.75 = 0.5;  0.25 + 0.75 = 1.0 -> spike, V = 0;  -0.25 + 0.75 = 0.5
    assert outputs(history) == [0.0, 1.0, 0.0]
    assert component(history, 0) == [0.5, 0.0, 0.5]
    assert component(history, 1) == [0.0, 1.0, 0.0]  # state [V, S]
    assert run_in_model(layer, [0.75, 0.75, 0.75]) == [0.0, 1.0, 0.0]

    # reset_val subtracts a constant: V = 1.0 - 0.5 = 0.5, then 0.25 + 0.75 = 1.0 again.
    history = run_layer(snn.SimpleIAF(leak=0.25, reset_val=0.5), [0.75, 0.75, 0.75])
    assert outputs(history) == [0.0, 1.0, 1.0]
    assert component(history, 0) == [0.5, 0.5, 0.5]


def test_iaf():
    layer = snn.IAF([0.5])
    history = run_layer(layer, [2.0, 2.0, 2.0])
    # b = 0.5
    # t1: V = 0 + I(0) = 0;  I = 0.5*0 + 0.5*2 = 1;  S = 0
    # t2: V = 0 + 1 = 1;     I = 0.5 + 1 = 1.5;       S = 1, V = 0
    # t3: V = 0 + 1.5;       I = 0.75 + 1 = 1.75;     S = 1, V = 0
    assert component(history, 0) == [0.0, 0.0, 0.0]
    assert component(history, 1) == [1.0, 1.5, 1.75]
    assert outputs(history) == [0.0, 1.0, 1.0]
    assert component(history, 2) == outputs(history)  # state [V, I, S]
    # The decay is clamped to [0.5, 1]: 0.25 acts as 0.5.
    assert component(run_layer(snn.IAF([0.25]), [2.0, 2.0, 2.0]), 1) == [1.0, 1.5, 1.75]
    # leak and reset_val: leak 0.25, reset_val 0.5, threshold 0.5
    history = run_layer(snn.IAF([0.5], leak=0.25, reset_val=0.5, threshold=0.5),
                        [2.0, 2.0, 2.0])
    # t1: V = -0.25 + 0 = -0.25; I = 1;   S = 0
    # t2: V = -0.5 + 1 = 0.5;    I = 1.5; S = 1, V = 0.5 - 0.5 = 0
    # t3: V = -0.25 + 1.5 = 1.25; I = 1.75; S = 1, V = 0.75
    assert component(history, 0) == [-0.25, 0.0, 0.75]
    assert outputs(history) == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("cls", [snn.SimpleLI, snn.LI])
def test_simple_li(cls):
    assert snn.LI is snn.SimpleLI
    layer = cls([0.5])
    history = run_layer(layer, [1.0, 1.0, 1.0])
    # V = 0.5*V + 0.5*1: 0.5, 0.75, 0.875; the output is V, the state [V].
    assert outputs(history) == [0.5, 0.75, 0.875]
    assert all(isinstance(state, list) and len(state) == 1 for state, _ in history)
    assert component(history, 0) == [0.5, 0.75, 0.875]
    assert run_in_model(layer, [1.0, 1.0, 1.0]) == [0.5, 0.75, 0.875]
    # Clamped to [0.5, 1].
    assert outputs(run_layer(cls([0.25]), [1.0, 1.0])) == [0.5, 0.75]
    assert outputs(run_layer(cls([1.5]), [1.0, 1.0])) == [0.0, 0.0]


def test_simple_lif():
    history = run_layer(snn.SimpleLIF([0.5]), [1.5, 1.5, 1.5])
    # t1: V = 0.75, S = 0;  t2: V = 0.375 + 0.75 = 1.125, S = 1, V = 0;  t3: V = 0.75
    assert outputs(history) == [0.0, 1.0, 0.0]
    assert component(history, 0) == [0.75, 0.0, 0.75]
    assert component(history, 1) == [0.0, 1.0, 0.0]  # state [V, S]
    # Clamped: 0.25 acts as 0.5.
    assert component(run_layer(snn.SimpleLIF([0.25]), [1.5, 1.5, 1.5]), 0) == [0.75, 0.0, 0.75]


def test_simple_lif_reset_val_goes_through_softplus():
    history = run_layer(snn.SimpleLIF([0.5], reset_val=0.0), [1.5, 1.5, 1.5])
    softplus0 = np.log(2.0)
    # t2: V = 1.125 - softplus(0) = 1.125 - ln 2;  t3: V = 0.5*V + 0.75 (no spike)
    v2 = 1.125 - softplus0
    v3 = 0.5 * v2 + 0.75
    assert outputs(history) == [0.0, 1.0, 0.0]
    np.testing.assert_allclose(component(history, 0), [0.75, v2, v3], rtol=1e-6)
    history = run_layer(snn.SimpleLIF([0.5], reset_val=1.0), [1.5, 1.5])
    np.testing.assert_allclose(component(history, 0)[1], 1.125 - np.log1p(np.e), rtol=1e-6)


def test_lif_resets_before_integrating():
    layer = snn.LIF([0.5, 0.5])
    history = run_layer(layer, [2.0, 2.0, 2.0, 2.0])
    # a = b = 0.5
    # t1: reset with S_prev = 0; V = 0 + 0.5*I_prev(0) = 0;  I = 0.5*2 = 1;        S = 0
    # t2: V = 0 + 0.5*1 = 0.5;                              I = 0.5 + 1 = 1.5;  S = 0
    # t3: V = 0.25 + 0.75 = 1.0;                             I = 0.75 + 1 = 1.75; S = 1
    #     (the stored V is NOT reset at the spike step)
    # t4: reset first: V = 1 - 1*1 = 0; V = 0 + 0.5*1.75 = 0.875; I = 1.875;     S = 0
    assert component(history, 0) == [0.0, 0.5, 1.0, 0.875]
    assert component(history, 1) == [1.0, 1.5, 1.75, 1.875]
    assert outputs(history) == [0.0, 0.0, 1.0, 0.0]
    assert component(history, 2) == outputs(history)  # state [V, I, S]
    assert run_in_model(layer, [2.0, 2.0, 2.0, 2.0]) == [0.0, 0.0, 1.0, 0.0]

    # reset_val: V = V - (V - reset_val)*S_prev, i.e. V jumps to reset_val.
    history = run_layer(snn.LIF([0.5, 0.5], reset_val=0.25), [2.0, 2.0, 2.0, 2.0])
    # t4: V = 1 - (1 - 0.25) = 0.25; V = 0.125 + 0.875 = 1.0 -> S = 1
    assert component(history, 0) == [0.0, 0.5, 1.0, 1.0]
    assert outputs(history) == [0.0, 0.0, 1.0, 1.0]


def test_lif_current_reaches_membrane_one_step_later():
    history = run_layer(snn.LIF([0.5, 0.5], threshold=100.0), [4.0, 0.0, 0.0])
    # t1: V = 0 (I_prev = 0), I = 0.5*4 = 2
    # t2: V = 0.5*2 = 1,      I = 1
    # t3: V = 0.5 + 0.5 = 1,  I = 0.5
    assert component(history, 1) == [2.0, 1.0, 0.5]
    assert component(history, 0) == [0.0, 1.0, 1.0]
    # The first step's membrane does not depend on the first input at all.
    layer = snn.LIF([0.5, 0.5])
    state = layer.init_state((1,))
    dv_dx = jax.grad(lambda x: layer(state, x)[0][0].sum())(jnp.ones(1))
    assert float(dv_dx[0]) == 0.0


def test_lif_soft_reset():
    layer = snn.LIFSoftReset([0.5, 0.5], threshold=0.5)
    history = run_layer(layer, [4.0, 4.0, 4.0, 4.0])
    # t1: V = 0,                      I = 2,   S = 0
    # t2: V = 0 + 1 = 1,              I = 3,   S = 1
    # t3: V = 1 - 1 = 0 -> 0 + 1.5,   I = 3.5, S = 1
    # t4: V = 1.5 - 1 = 0.5 -> 0.25 + 1.75 = 2.0, I = 3.75, S = 1
    assert component(history, 0) == [0.0, 1.0, 1.5, 2.0]
    assert component(history, 1) == [2.0, 3.0, 3.5, 3.75]
    assert outputs(history) == [0.0, 1.0, 1.0, 1.0]
    # LIF resets V*S instead: t4 V = 1.5 - 1.5 = 0 -> 1.75.
    assert component(run_layer(snn.LIF([0.5, 0.5], threshold=0.5), [4.0] * 4), 0)[3] == 1.75
    # With reset_val: V = V - reset_val*S_prev.
    history = run_layer(snn.LIFSoftReset([0.5, 0.5], threshold=0.5, reset_val=0.5), [4.0] * 4)
    # t3: V = 1 - 0.5 = 0.5 -> 0.25 + 1.5 = 1.75;  t4: V = 1.25 -> 0.625 + 1.75 = 2.375
    assert component(history, 0) == [0.0, 1.0, 1.75, 2.375]


def test_adaptive_lif_adaptation_reads_unreset_membrane():
    layer = snn.AdaptiveLIF([0.5], ada_decay_constant=0.5, ada_step_val=1.0,
                            ada_coupling_var=0.5)
    history = run_layer(layer, [2.0, 0.0])
    # a = b = 0.5, c = 0.5, d = 1
    # t1: V = 0.5*(2 + 0) = 1; S = 1; A = 0.5*0.5*V(=1, unreset) + 0 - 1 = -0.75; V = 0
    # t2: V = 0 + 0.5*(0 - 0.75) = -0.375; S = 0;
    #     A = 0.25*(-0.375) + 0.5*(-0.75) = -0.46875
    assert component(history, 0) == [0.0, -0.375]
    assert component(history, 1) == [-0.75, -0.46875]
    assert outputs(history) == [1.0, 0.0]
    assert component(history, 2) == outputs(history)  # state [V, A, S]
    # (With the reset membrane A would be 0 - 1 = -1.)

    # The spike term of A is stop-gradiented: dA/dx = (1 - b)*c*dV/dx = 0.25*0.5,
    # whatever stop_reset_grad is.
    for stop in (True, False):
        layer = snn.AdaptiveLIF([0.5], ada_decay_constant=0.5, ada_step_val=1.0,
                                ada_coupling_var=0.5, stop_reset_grad=stop)
        state = layer.init_state((1,))
        da_dx = jax.grad(lambda x: layer(state, x)[0][1].sum())(jnp.full((1,), 2.0))
        assert float(da_dx[0]) == 0.125

    # Constants are clamped: d = clamp(0, 5, 2) = 2, c = clamp(-1, 3, 1) = 1.
    layer = snn.AdaptiveLIF([0.5], ada_decay_constant=0.5, ada_step_val=5.0,
                            ada_coupling_var=3.0)
    # t1: V = 1, S = 1, A = 0.5*1*1 - 2 = -1.5
    assert component(run_layer(layer, [2.0]), 1) == [-1.5]


def test_sigma_delta_decays_are_not_clamped():
    layer = snn.SigmaDelta([0.25, 0.25, 0.25])
    history = run_layer(layer, [2.0, 2.0])
    # t1: i = 2; e = 2 - 0 = 2; m = 2; S = 1; s = 1
    # t2: i = 0.5 + 2 = 2.5; e = 2.5 - 1 = 1.5; m = 0.5 + 1.5 = 2.0; S = 1; s = 0.25 + 1
    # (clamped to 0.5, i would be 3 at t2)
    states = [[float(v[0]) for v in state] for state, _ in history]
    assert states == [[2.0, 2.0, 2.0, 1.0, 1.0], [2.5, 1.5, 2.0, 1.25, 1.0]]
    assert outputs(history) == [1.0, 1.0]
    # Above one, too: i = 1.5*2 + 2 = 5.
    assert component(run_layer(snn.SigmaDelta([1.5, 0.5, 0.5]), [2.0, 2.0]), 0) == [2.0, 5.0]
    # The default is [0.95, 0.95, 0.95], unclamped (not 0.95 and 1 or anything else).
    history = run_layer(snn.SigmaDelta(threshold=100.0), [1.0, 1.0])
    np.testing.assert_allclose(component(history, 0), [1.0, 1.95], rtol=1e-6)
    np.testing.assert_allclose(component(history, 2), [1.0, 0.95 + 1.95], rtol=1e-6)


def test_srm_refractory_decay_is_clamped():
    layer = snn.SRM(eqx.nn.Identity(), decay_constants=[0.5, 0.5], r_decay_constants=[0.25],
                    reset_val=1.0, threshold=0.5)
    history = run_layer(layer, [4.0, 4.0, 4.0])
    # a = b = 0.5, g = clamp(0.5, 0.25, 1) = 0.5, rv = 1
    # t1: p = 2;   q = 1;    r = 0;             V = 1;            S = 1
    # t2: p = 3;   q = 2;    r = 0.5*0 + 1 = 1; V = 2 - 1 = 1;    S = 1
    # t3: p = 3.5; q = 2.75; r = 0.5*1 + 1 = 1.5; V = 2.75 - 1.5 = 1.25
    # (with g = 0.25 unclamped, r would be 1.25 at t3)
    assert component(history, 0) == [2.0, 3.0, 3.5]
    assert component(history, 1) == [1.0, 2.0, 2.75]
    assert component(history, 2) == [0.0, 1.0, 1.5]
    assert outputs(history) == [1.0, 1.0, 1.0]
    assert component(history, 3) == outputs(history)  # state [p, q, r, S]


def test_srm_reset_val_and_shapes():
    # rv = clamp(0, 3, 2) = 2: t2 r = 2*S_prev = 2, V = q - rv*r = 2 - 4 < 0.5
    layer = snn.SRM(eqx.nn.Identity(), decay_constants=[0.5, 0.5], r_decay_constants=[0.5],
                    reset_val=3.0, threshold=0.5)
    history = run_layer(layer, [4.0, 4.0])
    assert component(history, 2) == [0.0, 2.0]
    assert outputs(history) == [1.0, 0.0]
    # reset_val None: no refractoriness, r stays 0.
    history = run_layer(snn.SRM(eqx.nn.Identity(), [0.5, 0.5], threshold=0.5), [4.0, 4.0])
    assert component(history, 2) == [0.0, 0.0]
    # p, q have the input's shape; r, S the shape of the inner layer's output.
    linear = eqx.nn.Linear(3, 2, key=jax.random.PRNGKey(1))
    p, q, r, s = snn.SRM(linear).init_state((3,))
    assert p.shape == q.shape == (3,) and r.shape == s.shape == (2,)
    model = snn.Sequential(snn.SRM(linear))
    states = model.init_state((3,))
    _, (out,) = model(states, jnp.ones((4, 3)), None)
    assert out.shape == (4, 2)


def test_srm_reset_val_must_be_one_scalar():
    assert snn.SRM(eqx.nn.Identity(), reset_val=[1.5]).reset_val.data.shape == (1,)
    assert snn.SRM(eqx.nn.Identity(), reset_val=1.5).reset_val.data.shape == (1,)
    with pytest.raises(ValueError, match=r"SRM: reset_val needs 1 entry"):
        snn.SRM(eqx.nn.Identity(), reset_val=[])
    # Upstream reads reset_val[0] and ignores the rest: kept, with a warning.
    with pytest.warns(UserWarning, match=r"SRM: reset_val has 2 entries"):
        assert snn.SRM(eqx.nn.Identity(), reset_val=[0.5, 1.5]).reset_val.data.shape == (2,)


def test_srm_reset_val_is_frozen_when_omitted_and_trainable_when_given():
    """SPEC §3.9: upstream freezes the default reset value (requires_grad=False)."""
    def refractory_gradient(layer):
        state = [jnp.zeros(1), jnp.zeros(1), jnp.ones(1), jnp.ones(1)]

        def membrane_term(model):
            return model(state, jnp.ones(1))[0][2].sum()
        return eqx.filter_grad(membrane_term)(layer).reset_val.value

    assert float(refractory_gradient(snn.SRM(eqx.nn.Identity()))[0]) == 0.0
    assert float(refractory_gradient(snn.SRM(eqx.nn.Identity(), reset_val=0.5))[0]) != 0.0
    # Upstream stores an init_fn and never calls it: ignored, with a warning.
    with pytest.warns(UserWarning, match="SRM: init_fn is ignored"):
        srm = snn.SRM(eqx.nn.Identity(), init_fn=lambda shape, key: jnp.ones(shape))
    assert not any(x.any() for x in srm.init_state((2,)))


def test_srm_refractory_input_is_always_stop_gradiented():
    for stop in (True, False):
        layer = snn.SRM(eqx.nn.Identity(), [0.5, 0.5], reset_val=1.0, stop_reset_grad=stop)

        def refractory_after_spike(prev_spikes):
            return layer([jnp.zeros(1), jnp.zeros(1), jnp.zeros(1), prev_spikes],
                         jnp.zeros(1))[0][2].sum()

        assert float(jax.grad(refractory_after_spike)(jnp.ones(1))[0]) == 0.0


def test_spike_counter():
    layer = snn.SpikeCounter()
    history = run_layer(layer, [1.0, 0.0, 1.0])
    assert outputs(history) == [1.0, 0.0, 1.0]  # S = x
    assert component(history, 0) == [1.0, 1.0, 2.0]  # count
    assert component(history, 1) == outputs(history)  # state [count, S]
    assert run_in_model(layer, [1.0, 0.0, 1.0, 1.0]) == [1.0, 0.0, 1.0, 1.0]


def test_flatten():
    x = jnp.arange(6.0).reshape(2, 3)
    out = snn.Flatten()(x)
    assert out.shape == (6,)
    np.testing.assert_array_equal(np.asarray(out), np.arange(6.0))
    model = snn.Sequential(snn.Flatten(), snn.SpikeCounter())
    states = model.init_state((2, 3))
    assert states[1].output.shape == (6,)
    _, (y,) = model(states, jnp.stack([x, 2 * x]), None)
    np.testing.assert_array_equal(np.asarray(y), np.stack([np.arange(6.0), 2 * np.arange(6.0)]))


def test_spiking_max_pool_1d():
    x = jnp.array([[0.5, 1.0, 0.25, 2.0]])  # (channels, width)
    # max over windows of 2, stride 1: [1, 1, 2]; minus threshold 1.5: [-0.5, -0.5, 0.5]
    out = snn.SpikingMaxPool1d(2, threshold=1.5)(x)
    np.testing.assert_array_equal(np.asarray(out), [[0.0, 0.0, 1.0]])
    # stride 2: max [1, 2] >= 1 -> both spike (H(0) = 1)
    out = snn.SpikingMaxPool1d(2, stride=2)(x)
    np.testing.assert_array_equal(np.asarray(out), [[1.0, 1.0]])
    # The spike function's surrogate is used: d out / d x at the max is 1/(1 + 10*0.5).
    grad = jax.grad(lambda v: snn.SpikingMaxPool1d(4, threshold=1.5)(v).sum())(x)
    np.testing.assert_allclose(np.asarray(grad), [[0.0, 0.0, 0.0, 1.0 / 6.0]], rtol=1e-6)


def test_spiking_max_pool_2d():
    x = jnp.array([[[0.0, 0.5, 0.0, 0.0],
                    [0.25, 0.0, 0.0, 3.0],
                    [1.0, 0.0, 0.0, 0.0],
                    [0.0, 0.0, 0.5, 0.0]]])  # (1, 4, 4)
    out = snn.SpikingMaxPool2d(2, stride=2)(x)
    # window maxima [[0.5, 3], [1, 0.5]] >= 1
    np.testing.assert_array_equal(np.asarray(out), [[[0.0, 1.0], [1.0, 0.0]]])
    out = snn.SpikingMaxPool2d(2, stride=2, threshold=0.5)(x)
    np.testing.assert_array_equal(np.asarray(out), [[[1.0, 1.0], [1.0, 1.0]]])
    assert snn.SpikingMaxPool2d(2)(x).shape == (1, 3, 3)


def test_stop_reset_grad():
    def grad_of_membrane(layer):
        state = layer.init_state((1,))
        return float(jax.grad(lambda x: layer(state, x)[0][0].sum())(jnp.full((1,), 3.0))[0])

    # SimpleLIF, a = 0.5, x = 3: V = 1.5, S = 1, V' = V - R(V*S).
    # stop_reset_grad=True:  dV'/dx = dV/dx = 0.5
    # stop_reset_grad=False: dV'/dx = 0.5 - (0.5*S + V*H'(0.5)*0.5)
    #                              = 0.5 - 0.5 - 1.5*(1/(1 + 10*0.5))*0.5 = -0.125
    assert grad_of_membrane(snn.SimpleLIF([0.5])) == 0.5
    assert grad_of_membrane(snn.SimpleLIF([0.5], stop_reset_grad=False)) == pytest.approx(-0.125)

    # LIF: the reset uses the previous step's spikes. State V = 1.5, S_prev = 1, I = 0:
    # V' = V - R(V*S_prev) = 0 (then 0.5*V' + 0.5*I).  dV'/dS_prev is 0 or -V*0.5.
    layer_true = snn.LIF([0.5, 0.5])
    layer_false = snn.LIF([0.5, 0.5], stop_reset_grad=False)

    def grad_wrt_previous_spikes(layer):
        def f(s_prev):
            state = [jnp.full((1,), 1.5), jnp.zeros(1), s_prev]
            return layer(state, jnp.zeros(1))[0][0].sum()
        return float(jax.grad(f)(jnp.ones(1))[0])

    assert grad_wrt_previous_spikes(layer_true) == 0.0
    assert grad_wrt_previous_spikes(layer_false) == -0.75

    # SimpleIAF with reset_val: V - R(reset_val*S): d/dreset_val is 0 or -S.
    def grad_wrt_reset_val(stop):
        def f(reset_val):
            layer = snn.SimpleIAF(reset_val=reset_val, stop_reset_grad=stop)
            return layer(layer.init_state((1,)), jnp.full((1,), 2.0))[0][0].sum()
        return float(jax.grad(f)(0.5))

    assert grad_wrt_reset_val(True) == 0.0
    assert grad_wrt_reset_val(False) == -1.0


def test_per_neuron_parameters_with_shape():
    # One decay per neuron, given as an array (no shape: kept as given).
    layer = snn.SimpleLI([[0.5, 1.0]])
    assert layer.decay_constants.shape == (1, 2)
    history = run_layer(layer, [1.0, 1.0], shape=(2,))
    np.testing.assert_array_equal(np.asarray(history[1][1]), [0.75, 0.0])
    # Per-component constants broadcast over a neuron shape.
    layer = snn.LIF([0.5, 0.5], shape=(3,))
    assert layer.decay_constants.shape == (2, 3)
    history = run_layer(layer, [2.0, 2.0, 2.0], shape=(3,))
    assert component(history, 0) == [0.0, 0.5, 1.0]
    np.testing.assert_array_equal(np.asarray(history[-1][0][0]), [1.0, 1.0, 1.0])


def test_batchnorm_layer_equations():
    layer = snn.BatchNormLayer(forget_weight=0.5)
    mean0, var0 = layer.init_state((1,))
    assert float(mean0[0]) == 0.0 and float(var0[0]) == 1.0  # var starts at one
    assert isinstance(layer.gamma, jax.Array) and jnp.issubdtype(layer.gamma.dtype, jnp.floating)
    history = run_layer(layer, [2.0, 4.0])
    # t1: mean = 0.5*0 + 0.5*2 = 1;   var = 0.5*1 + 0.5*(2 - 1)^2 = 1
    #     y = 0.8*(2 - 1)/sqrt(1 + 1e-5)
    # t2: mean = 0.5 + 2 = 2.5;       var = 0.5 + 0.5*1.5^2 = 1.625
    #     y = 0.8*1.5/sqrt(1.625 + 1e-5)
    assert component(history, 0) == [1.0, 2.5]
    assert component(history, 1) == [1.0, 1.625]
    np.testing.assert_allclose(outputs(history),
                               [0.8 / np.sqrt(1 + 1e-5), 1.2 / np.sqrt(1.625 + 1e-5)], rtol=1e-6)
    # gamma and eps are used as given; each feature is normalised on its own.
    layer = snn.BatchNormLayer(eps=0.0, forget_weight=0.5, gamma=2.0)
    state = layer.init_state((2,))
    _, y = layer(state, jnp.array([2.0, -2.0]))
    np.testing.assert_allclose(np.asarray(y), [2.0, -2.0], rtol=1e-6)
    # gamma is trainable.
    grads = eqx.filter_grad(lambda m: m(state, jnp.array([2.0, -2.0]))[1][0])(layer)
    assert float(np.asarray(grads.gamma).reshape(-1)[0]) == pytest.approx(1.0)


def test_resnet_block_adds_input():
    block = snn.ResNetBlock(eqx.nn.Lambda(lambda x: 2.0 * x), snn.SimpleLI([0.5]))
    history = run_layer(block, [1.0, 1.0])
    # member 1: V = 0.5*V + 0.5*(2*1): 1, 1.5; output V + x: 2, 2.5
    assert outputs(history) == [2.0, 2.5]
    state = history[-1][0]
    assert state[0] is None and float(state[1][0][0]) == 1.5
    assert run_in_model(block, [1.0, 1.0]) == [2.0, 2.5]
    # Without the skip connection (a CompoundLayer): 1, 1.5.
    compound = snn.CompoundLayer(eqx.nn.Lambda(lambda x: 2.0 * x), snn.SimpleLI([0.5]))
    assert outputs(run_layer(compound, [1.0, 1.0])) == [1.0, 1.5]


def test_spiking_pool_refuses_an_input_smaller_than_its_window():
    with pytest.raises(ValueError, match=r"SpikingMaxPool1d: input of shape \(1, 4\) is smaller"):
        snn.SpikingMaxPool1d(10)(jnp.ones((1, 4)))
    model = snn.Sequential(snn.SpikingMaxPool2d(3))
    with pytest.raises(ValueError, match=r"layer 0 \(SpikingMaxPool2d\)"):
        model.init_state((1, 2, 5))
    assert snn.SpikingMaxPool1d(2, padding=1)(jnp.ones((1, 1))).shape == (1, 2)


def test_spiking_pools_pass_use_ceil_on_to_equinoxs_pooling():
    """Upstream passes its extra arguments on to equinox's pool (SPEC.md §3.11)."""
    x = jnp.arange(2 * 5 * 5, dtype=float).reshape(2, 5, 5) / 10.0
    ceil = snn.SpikingMaxPool2d(2, 2, use_ceil=True, threshold=2.0)
    pooled = eqx.nn.MaxPool2d(2, 2, use_ceil=True)(x)
    assert ceil(x).shape == pooled.shape == (2, 3, 3)
    assert jnp.array_equal(ceil(x), jnp.where(pooled >= 2.0, 1.0, 0.0))
    assert snn.SpikingMaxPool2d(2, 2)(x).shape == (2, 2, 2)
    assert snn.SpikingMaxPool1d(2, 2, 0, True)(x[:, 0]).shape == (2, 3)


def test_srm_starts_from_its_inner_layer_at_rest(key):
    """Upstream's SRM.init_out is its layer applied to zeros of the input shape
    (a Linear's bias): what the next layer reads at t = 0 (SPEC.md §3.9)."""
    linear = eqx.nn.Linear(3, 2, key=key)
    srm = snn.SRM(linear)
    assert jnp.array_equal(srm.init_out((3,)), linear.bias)
    model = snn.Sequential(srm, eqx.nn.Identity(), forward_fn=snn.delayed_forward_fn)
    states = model.init_state((3,))
    assert jnp.array_equal(states[0].output, linear.bias)
    assert [x.shape for x in states[0].state] == [(3,), (3,), (2,), (2,)]
    assert not any(x.any() for x in states[0].state)
    # With every edge delayed, the next layer's first output is SRM's initial one.
    _, (out,) = model(states, jnp.zeros((2, 3)), None)
    assert jnp.array_equal(out[0], linear.bias)


def test_shapes_given_as_numpy_arrays_and_integers_are_shapes():
    """Upstream's examples compute shapes with NumPy (SPEC.md §2, §4.2)."""
    lif = snn.LIF([0.9, 0.8], shape=np.array([2, 3]))
    assert lif.shape == (2, 3) and lif.decay_constants.shape == (2, 2, 3)
    assert snn.LIF(shape=np.int64(4)).shape == (4,)
    model = snn.Sequential(eqx.nn.Linear(3, 4, key=jax.random.PRNGKey(0)), snn.LIF())
    states = model.init_state([(3,)], shapes=[np.int64(3), np.int64(4)])
    assert [x.shape for x in states[1].state] == [(4,)] * 3


def test_unknown_arguments_of_simple_lif_and_spike_counter_are_ignored_with_a_warning():
    """Upstream's SimpleLIF and SpikeCounter take **kwargs and ignore them (SPEC.md §3.4, §3.10)."""
    with pytest.warns(UserWarning, match=r"SimpleLIF: ignoring unknown argument\(s\) \['tau'\]"):
        lif = snn.SimpleLIF([0.9], tau=3.0)
    assert jnp.array_equal(lif.decay_constants, snn.SimpleLIF([0.9]).decay_constants)
    with pytest.warns(UserWarning, match=r"SpikeCounter: ignoring unknown argument\(s\)"):
        snn.SpikeCounter((3,), threshold=1.0)
    with pytest.raises(TypeError):
        snn.LIF([0.9, 0.8], tau=3.0)   # upstream's LIF takes no **kwargs either


def test_a_requires_state_layer_is_called_as_a_stateless_layer():
    """Upstream's `RequiresStateLayer` base carries no state (SPEC.md §3.11)."""
    class Doubler(snn.layers.stateful.RequiresStateLayer):
        def __call__(self, x, *, key=None):
            return 2.0 * x

    model = snn.Sequential(Doubler(), snn.SpikeCounter())
    states = model.init_state((3,))
    assert states[0].state is None
    _, (counts,) = model(states, jnp.ones((4, 3)), None)
    assert jnp.array_equal(counts, jnp.full((4, 3), 2.0))


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
