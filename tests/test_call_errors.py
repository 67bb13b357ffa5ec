"""SPEC.md §2, §3.13, §4.5: bad arguments raise a ValueError that names the
field (`input_batch`, `burnin`, `input_states`, ...), the layer and the shapes."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from snnax_ref import snn


@pytest.fixture
def model(key):
    return snn.Sequential(eqx.nn.Linear(3, 4, key=key), snn.LIF())


@pytest.fixture
def states(model):
    return model.init_state((3,))


def two_input_model():
    structure = snn.GraphStructure(num_layers=1, input_layer_ids=[[0, 1]], final_layer_ids=[0],
                                   input_connectivity=[[]])
    return snn.StatefulModel(structure, [snn.SpikeCounter()])


def test_init_parameters_shape_mismatch():
    with pytest.raises(ValueError, match="init_parameters") as info:
        snn.StatefulLayer.init_parameters(jnp.ones((2, 3)), (4,))
    message = str(info.value)
    assert "(2, 3)" in message and "(4,)" in message
    with pytest.raises(ValueError) as info:
        snn.StatefulLayer.init_parameters(np.ones((2, 2)), (3, 3))
    assert "(2, 2)" in str(info.value) and "(3, 3)" in str(info.value)


def test_resnet_block_shape_mismatch(key):
    block = snn.ResNetBlock(eqx.nn.Linear(3, 4, key=key), snn.SimpleLIF())
    with pytest.raises(ValueError, match="ResNetBlock") as info:
        block.init_state((3,))
    assert "(3,)" in str(info.value) and "(4,)" in str(info.value)
    # In a model the error comes at init_state too, naming the layer.
    model = snn.Sequential(block)
    with pytest.raises(ValueError, match=r"layer 0 \(ResNetBlock\)"):
        model.init_state((3,))
    # A shape-preserving block is fine.
    snn.ResNetBlock(eqx.nn.Linear(3, 3, key=key), snn.SimpleLIF()).init_state((3,))


def test_stateful_model_layer_count_mismatch(key):
    structure = snn.GraphStructure(num_layers=2, input_layer_ids=[[0], []], final_layer_ids=[1],
                                   input_connectivity=[[], [0]])
    with pytest.raises(ValueError, match="layers") as info:
        snn.StatefulModel(structure, [snn.LIF()])
    assert "1" in str(info.value) and "num_layers is 2" in str(info.value)
    with pytest.raises(ValueError, match="layers"):
        snn.StatefulModel(structure, [snn.LIF(), snn.LIF(), snn.LIF()])


def test_input_batch_wrong_number_of_sequences(model, states):
    with pytest.raises(ValueError, match="input_batch") as info:
        model(states, [jnp.ones((2, 3)), jnp.ones((2, 3))], None)
    assert "1 external input" in str(info.value) and "2 sequence" in str(info.value)
    two = two_input_model()
    two_states = two.init_state([(3,), (2,)])
    with pytest.raises(ValueError, match="input_batch"):
        two(two_states, jnp.ones((2, 3)), None)
    # Both given: fine.
    _, (out,) = two(two_states, [jnp.ones((2, 3)), jnp.ones((2, 2))], None)
    assert out.shape == (2, 5)


def test_input_batch_zero_steps(model, states):
    with pytest.raises(ValueError, match="input_batch") as info:
        model(states, jnp.ones((0, 3)), None)
    assert "T = 0" in str(info.value)


def test_input_batch_sequences_of_different_length():
    two = two_input_model()
    two_states = two.init_state([(3,), (2,)])
    with pytest.raises(ValueError, match="input_batch") as info:
        two(two_states, [jnp.ones((4, 3)), jnp.ones((5, 2))], None)
    assert "[4, 5]" in str(info.value)


@pytest.mark.parametrize("dtype", [jnp.int32, jnp.bool_, jnp.uint8, jnp.bfloat16, jnp.float16])
def test_input_batch_of_a_narrower_real_dtype_is_cast_to_the_states(model, states, dtype):
    """Upstream's arithmetic promotes an integer spike train to the state's
    float dtype; casting first computes exactly that (SPEC.md §4.5)."""
    spikes = (jnp.arange(2 * 3).reshape(2, 3) % 2).astype(dtype)
    _, (outputs,) = model(states, spikes, None)
    _, (expected,) = model(states, spikes.astype(jnp.float32), None)
    assert outputs.dtype == jnp.float32 and jnp.array_equal(outputs, expected)
    with pytest.raises(ValueError, match=r"input_batch\[0\].*real numbers"):
        model(states, jnp.ones((2, 3), jnp.complex64), None)


def test_input_batch_dtype_differs_from_state(model, states):
    # float32 state (x64 off), float64 input (x64 on only inside this block).
    assert states[1].state[0].dtype == jnp.float32
    with jax.enable_x64(True):
        xs = jnp.ones((2, 3), jnp.float64)
        assert xs.dtype == jnp.float64
        with pytest.raises(ValueError, match=r"input_batch\[0\]") as info:
            model(states, xs, None)
    assert "float64" in str(info.value) and "float32" in str(info.value)


def test_input_batch_wrong_feature_size(model, states):
    with pytest.raises(ValueError, match="input_batch") as info:
        model(states, jnp.ones((2, 5)), None)
    message = str(info.value)
    assert "layer 0 (Linear)" in message and "(5,)" in message


def test_input_batch_rejected_by_a_stateful_layer():
    model = snn.Sequential(snn.SimpleLIF())
    states = model.init_state((3,))
    with pytest.raises(ValueError, match="input_batch") as info:
        model(states, jnp.ones((2, 4)), None)
    assert "layer 0 (SimpleLIF)" in str(info.value) and "(4,)" in str(info.value)


@pytest.mark.parametrize("burnin", [2, 3])
def test_burnin_not_below_t(model, states, burnin):
    with pytest.raises(ValueError, match="burnin") as info:
        model(states, jnp.ones((2, 3)), None, burnin=burnin)
    assert "T = 2" in str(info.value)


def test_burnin_negative(model, states):
    with pytest.raises(ValueError, match="burnin"):
        model(states, jnp.ones((2, 3)), None, burnin=-1)


@pytest.mark.parametrize("burnin", [1.0, jnp.array(1), True, None])
def test_burnin_not_an_int(model, states, burnin):
    with pytest.raises(ValueError, match="burnin"):
        model(states, jnp.ones((3, 3)), None, burnin=burnin)


def test_burnin_numpy_int_is_accepted(model, states):
    _, (out,) = model(states, jnp.ones((3, 3)), None, burnin=np.int64(1))
    assert out.shape == (2, 4)


def test_input_states_wrong_length(model, states):
    with pytest.raises(ValueError, match="input_states") as info:
        model(states[:1], jnp.ones((2, 3)), None)
    assert "2" in str(info.value)
    with pytest.raises(ValueError, match="input_states"):
        model(states + states[:1], jnp.ones((2, 3)), None)


def test_input_states_not_layer_carries(model, states):
    with pytest.raises(ValueError, match=r"input_states\[1\]"):
        model([states[0], states[1].state], jnp.ones((2, 3)), None)
    with pytest.raises(ValueError, match="input_states"):
        model(None, jnp.ones((2, 3)), None)



def test_input_that_broadcasts_against_the_state_is_refused():
    """One value per step fed to a layer initialised for three would broadcast and
    run; it is refused, naming the layer, the input and the state's shapes (SPEC §7.1)."""
    model = snn.Sequential(snn.SimpleLIF())
    states = model.init_state((3,))
    with pytest.raises(ValueError, match="input_batch") as info:
        model(states, jnp.ones((2, 1)), None)
    message = str(info.value)
    assert "layer 0 (SimpleLIF)" in message and "input_states[0]" in message
    assert "(1,)" in message and "(3,)" in message


_KEY = jax.random.PRNGKey(0)


@pytest.mark.parametrize("layers, states_from, state_shape, input_shape, fragments", [
    # (3,) broadcasts against a (1,) state: the state would change shape.
    ([snn.SimpleLIF()], [snn.SimpleLIF()], (1,), (3,), ["layer 0 (SimpleLIF)", "(1,)", "(3,)"]),
    # states built for another model: the carry at fault and its shape are named.
    ([eqx.nn.Linear(3, 4, key=_KEY), snn.LIF()], [eqx.nn.Linear(3, 5, key=_KEY), snn.LIF()],
     (3,), (3,), ["layer 0 (Linear)", "input_states[0]", "(5,)"]),
], ids=["input-broadcasts-against-the-state", "states-of-another-model"])
def test_states_that_do_not_fit_the_input_name_the_layer_and_the_shapes(
        layers, states_from, state_shape, input_shape, fragments):
    states = snn.Sequential(*states_from).init_state(state_shape)
    with pytest.raises(ValueError, match="input_batch") as info:
        snn.Sequential(*layers)(states, jnp.ones((2, *input_shape)), None)
    for fragment in fragments:
        assert fragment in str(info.value)


def test_a_state_of_the_wrong_structure_names_input_states():
    model = snn.Sequential(snn.LIF())
    states = model.init_state((2,))
    truncated = [snn.LayerCarry(states[0].state[:2], states[0].output)]
    with pytest.raises(ValueError, match="input_batch") as info:
        model(truncated, jnp.ones((2, 2)), None)
    assert "input_states[0]" in str(info.value) and "layer 0 (LIF)" in str(info.value)
