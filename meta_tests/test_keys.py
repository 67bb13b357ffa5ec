"""The random draws the harness hands the oracle (`spec_tests/keys.py`)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spec_tests import oracle
from spec_tests.adapters.snnax_ref_adapter import step_adapter
from spec_tests.description import DELAYED, LayerSpec, NetworkSpec, RunSpec
from spec_tests.keys import dropout_mask, layer_key, with_dropout_masks
from spec_tests.properties import check_conforms


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("p", [0.25, 0.5, 0.75])
def test_dropout_masks_are_what_equinox_draws(dtype, p):
    """The mask derived for layer i of n is where `eqx.nn.Dropout(p)` called
    with `split(PRNGKey(seed), n)[i]` keeps its input, in either precision
    (the draws differ between them)."""
    with jax.enable_x64(dtype == "float64"):
        for seed, n, i in [(0, 1, 0), (7, 3, 2), (12345, 5, 1)]:
            key = layer_key(seed, n, i)
            kept = np.asarray(eqx.nn.Dropout(p)(jnp.ones((4, 5), dtype=dtype), key=key)) != 0
            np.testing.assert_array_equal(dropout_mask(key, p, (4, 5)), kept)


def _linear_dropout_identity(p=0.5):
    """Linear (bias only) -> Dropout -> Identity: under delayed_forward_fn the
    Identity's first output is the Dropout's initial output, which init_state
    computes from the Linear's initial output (its bias) with the init key."""
    weight = np.zeros((6, 1))
    bias = np.arange(1.0, 7.0)
    return NetworkSpec(
        layers=(LayerSpec("Linear", {}, {"weight": weight, "bias": bias}),
                LayerSpec("Dropout", {"p": p}), LayerSpec("Identity")),
        input_layer_ids=((0,), (), ()), input_connectivity=((), (0,), (1,)),
        final_layer_ids=(2,), input_shapes=((1,),), output_shapes=((6,), (6,), (6,)))


def test_a_dropout_layers_initial_output_is_drawn_with_the_init_key():
    """The oracle's initial output of a Dropout layer keeps its input where
    the mask of `split(PRNGKey(init_key_seed), n)[i]` does, its later
    outputs where the mask of `split(PRNGKey(key_seed), n)[i]` does; and
    the reference agrees on both."""
    network = _linear_dropout_identity()
    bias = network.layers[0].params["bias"]
    for key_seed, init_key_seed in [(1, 0), (3, 8), (8, 3)]:
        run = with_dropout_masks(RunSpec(network, (np.ones((3, 1)),), DELAYED,
                                         key_seed=key_seed, init_key_seed=init_key_seed))
        first, second = oracle.run(run).outputs[0][:2]
        with jax.enable_x64(True):
            initial = dropout_mask(layer_key(init_key_seed, 3, 1), 0.5, (6,))
            step = dropout_mask(layer_key(key_seed, 3, 1), 0.5, (6,))
        np.testing.assert_array_equal(first, np.where(initial, bias / 0.5, 0.0))
        np.testing.assert_array_equal(second, np.where(step, bias / 0.5, 0.0))
        assert not np.array_equal(initial, step)
        check_conforms(step_adapter, run)


def test_the_oracle_refuses_a_dropout_layer_without_its_mask():
    network = _linear_dropout_identity()
    with pytest.raises(ValueError, match="dropout_masks: layer 1 is a Dropout layer"):
        oracle.run(RunSpec(network, (np.ones((2, 1)),)))
