"""Random valid model states, for runs that start from a state given as input.

`random_valid_state(network, rng)` returns `(states, outputs)` in the format of
`network.run`'s `initial_states` / `initial_outputs` (and of `RunResult`):
per layer its flat state list, with the shapes of `initial_layer_state`, and
its output before the first step, with the layer's output shape.

A state is *valid* when some run could have left it: spikes are 0 or 1,
BatchNormLayer's running variance is positive, SpikeCounter's count is a
non-negative whole number, other components (membranes, currents, traces,
running means) are real. A layer whose output is one of its state
components (every neuron but BatchNormLayer: its spikes `S`, SimpleLI's
membrane, SpikeCounter's last input; a CompoundLayer ending in such a
neuron) gets that component as its output, as every step leaves it; any
other layer gets a random output of its output shape (0/1 for a spiking
pool). NumPy only.
"""

from __future__ import annotations

import numpy as np

from spec_tests.oracle.neurons import STATE_NAMES
from spec_tests.oracle.shapes import infer_network_shapes, initial_layer_state

SPIKING_OUTPUT_KINDS = ("SpikingMaxPool1d", "SpikingMaxPool2d")


def state_names(layer) -> list[str]:
    """The names of the layer's flat state components, in SPEC order."""
    if layer.kind in STATE_NAMES:
        return list(STATE_NAMES[layer.kind])
    if layer.kind in ("CompoundLayer", "ResNetBlock"):
        return [name for member in layer.members for name in state_names(member)]
    return []


def random_component(name: str, shape, rng) -> np.ndarray:
    """One state component of `shape`, valid for its meaning."""
    if name == "S":
        return (rng.random(shape) < 0.5).astype(np.float64)
    if name == "count":
        return rng.integers(0, 6, size=shape).astype(np.float64)
    if name == "var":
        return rng.uniform(0.2, 2.0, size=shape)
    return rng.normal(0.0, 1.0, size=shape)


def random_layer_state(layer, input_shape, rng) -> list[np.ndarray]:
    """A random valid flat state, shaped as `initial_layer_state(layer, input_shape)`."""
    template = initial_layer_state(layer, input_shape)
    names = state_names(layer)
    if len(names) != len(template):
        raise ValueError(f"{layer.kind}: {len(names)} state names for {len(template)} arrays")
    return [random_component(name, a.shape, rng) for name, a in zip(names, template)]


def implied_output(layer, state):
    """The layer's output when its state determines it (a copy), else None."""
    if layer.kind in STATE_NAMES and layer.kind != "BatchNormLayer":
        return np.array(state[-1])
    if layer.kind == "CompoundLayer":
        last = layer.members[-1]
        size = len(state_names(last))
        return implied_output(last, state[len(state) - size:]) if size else None
    return None


def random_output(layer, shape, rng) -> np.ndarray:
    if layer.kind in SPIKING_OUTPUT_KINDS:
        return (rng.random(shape) < 0.5).astype(np.float64)
    return rng.normal(0.0, 1.0, size=shape)


def random_valid_state(network, rng):
    """`(states, outputs)`: a random valid state of every layer of `network`
    and its output before the first step (see the module docstring)."""
    input_shapes, output_shapes = infer_network_shapes(network)
    states, outputs = [], []
    for layer, in_shape, out_shape in zip(network.layers, input_shapes, output_shapes):
        state = random_layer_state(layer, in_shape, rng)
        output = implied_output(layer, state)
        states.append(state)
        outputs.append(random_output(layer, tuple(out_shape), rng) if output is None
                       else output)
    return states, outputs
