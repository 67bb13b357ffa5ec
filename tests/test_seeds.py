"""The examples of the SNNAX documentation's two seed pages, run as tests.

Only the import line changed, plus what equinox itself forces: fields
declared on the class, `eqx.nn.Linear(10, 20, key=...)` for `eqx.Linear(10, 20)`.
"""

from typing import Callable, Optional, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import pytest
from jax import Array
from jax.random import PRNGKey

from snnax_ref import snn


class CustomLayer(snn.layers.StatefulLayer):
    alpha: snn.TrainableArray
    beta: snn.TrainableArray

    def __init__(self,
                 alpha: float,
                 beta: float,
                 init_fn: Optional[Callable] = None) -> None:
        # Custom initialization function
        super().__init__(init_fn)
        self.alpha = self.init_parameters(alpha, (1,), requires_grad=False)
        self.beta = self.init_parameters(beta, (1,), requires_grad=True)

    def __call__(self,
                 state: Array,
                 synaptic_input: Array, *,
                 key: Optional[PRNGKey] = None) -> Sequence[Array]:
        # Custom neuron dynamics
        alpha = self.alpha.data[0]
        beta = self.beta.data[0]
        mem_pot = state
        mem_pot = alpha * mem_pot + (1. - alpha) * beta * synaptic_input

        output = mem_pot
        state = mem_pot
        return state, output


def test_custom_layer_runs_in_a_model_and_alpha_is_frozen():
    custom_layer = CustomLayer(alpha=0.9, beta=0.1)
    model = snn.Sequential(custom_layer)
    states = model.init_state((3,))
    x = jnp.ones((4, 3))
    _, (outputs,) = model(states, x, key=None)
    expected, membrane = [], 0.0
    for _ in range(4):
        membrane = 0.9 * membrane + 0.1 * 0.1 * 1.0
        expected.append(membrane)
    assert jnp.allclose(outputs[:, 0], jnp.array(expected), rtol=1e-6)

    def loss(layer):
        return model_with(layer)(states, x, None)[1][0].sum()

    def model_with(layer):
        return snn.Sequential(layer)

    grads = eqx.filter_grad(loss)(custom_layer)
    assert float(grads.alpha.value[0]) == 0.0
    assert float(grads.beta.value[0]) != 0.0


def seed_layers(key):
    return [
        eqx.nn.Linear(10, 20, key=key),
        eqx.nn.LayerNorm(20),
        snn.LIF(),
    ]


def test_custom_topology_reports_layer0_shapes(key):
    graph_structure = snn.GraphStructure(
        num_layers=3,
        input_layer_ids=[[0], [], []],
        final_layer_ids=[2],
        input_connectivity=[[2], [0], [1]],
    )
    model = snn.StatefulModel(graph_structure=graph_structure, layers=seed_layers(key))
    with pytest.raises(ValueError) as info:
        model.init_state((10,), key=key)
    message = str(info.value)
    assert "layer 0 (Linear)" in message
    assert "(30,)" in message and "layer 2 (20,)" in message and "external input 0 (10,)" in message


def test_custom_topology_with_fitting_linear_runs(key):
    graph_structure = snn.GraphStructure(
        num_layers=3, input_layer_ids=[[0], [], []], final_layer_ids=[2],
        input_connectivity=[[2], [0], [1]])
    layers = [eqx.nn.Linear(30, 20, key=key), eqx.nn.LayerNorm(20), snn.LIF()]
    model = snn.StatefulModel(graph_structure, layers)
    # Linear(30, 20) cannot be evaluated without its feedback input, so the
    # feedback source's shape is given.
    with pytest.raises(ValueError, match="pass shapes="):
        model.init_state((10,), key=key)
    states = model.init_state((10,), shapes=[None, None, (20,)], key=key)
    _, (spikes,) = model(states, 3.0 * jnp.ones((5, 10)), key)
    assert spikes.shape == (5, 20)


class CustomModel(snn.StatefulModel):
    def __init__(self):
        # Custom __init__ method
        graph_structure = snn.GraphStructure(
            num_layers=2,
            input_layer_ids=[[0], []],
            final_layer_ids=[1],
            input_connectivity=[[], [0]]
        )
        layers = [
            eqx.nn.Linear(10, 20, key=jax.random.PRNGKey(0)),
            snn.LIF()
        ]
        super().__init__(graph_structure, layers)

    def init_state(self, in_shape, shapes=None, key=PRNGKey(0)):
        # Custom initialization
        return super().init_state(in_shape, shapes, key)

    def __call__(self, input_states, input_batch, key, burnin=0):
        # Custom forward pass
        return super().__call__(input_states, input_batch, key, burnin)


def test_custom_model_subclass(key):
    model = CustomModel()
    states = model.init_state((10,))
    final_states, (spikes,) = model(states, jnp.ones((6, 10)), key, burnin=2)
    assert spikes.shape == (4, 20)
    assert len(final_states) == 2


def test_five_layer_graph(key):
    graph_structure = snn.GraphStructure(
        num_layers=5,
        input_layer_ids=[[0], [], [], [0, 1], []],
        final_layer_ids=[4],
        input_connectivity=[[], [0, 2], [1], [2, 3], [3]]
    )
    keys = jax.random.split(key, 5)
    layers = [
        eqx.nn.Linear(4, 8, key=keys[0]),
        eqx.nn.Linear(16, 8, key=keys[1]),    # layer 0 (8) + layer 2 (8)
        snn.LIF(),
        eqx.nn.Linear(20, 5, key=keys[3]),    # layer 2 (8) + layer 3 (self, 5) + inputs 0 (4), 1 (3)
        snn.SimpleLIF(),
    ]
    model = snn.StatefulModel(graph_structure, layers)
    # Feedback sources (layers 2 and 3) cannot be inferred before their readers:
    # shapes gives what layers 1 and 3 receive.
    states = model.init_state([(4,), (3,)], shapes=[None, (16,), None, (20,), None], key=key)
    assert [tuple(c.output.shape) for c in states] == [(8,), (8,), (8,), (5,), (5,)]
    inputs = [jnp.ones((7, 4)), jnp.ones((7, 3))]
    _, (out,) = model(states, inputs, key)
    assert out.shape == (7, 5)


def test_lif_without_arguments():
    lif = snn.LIF()
    assert lif.decay_constants.tolist() == pytest.approx([0.95, 0.9])
    assert lif.threshold == 1.0
