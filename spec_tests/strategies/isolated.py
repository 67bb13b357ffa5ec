"""Strategies for one layer in isolation (the class rows).

A class row tests one class and nothing else: a network of one layer (the
class, with its members when it is composed), fed directly by external input
over T steps, under the default forward function, without burn-in. No edge
exists, so no graph rule (edge timing, concatenation order, final_layer_ids,
burn-in) can decide whether it passes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..description import (DOCUMENTED_CLASSES, ELEMENTWISE_NEURON_KINDS, EQUINOX_KINDS,
                           IMAGE_KINDS, STRAIGHT_THROUGH, LayerSpec, NetworkSpec, RunSpec)
from .layers import image_layers, mapping_layers, shape_preserving_layers, vector_sizes
from .networks import input_sequences, with_key_seeds

ISOLATED_KINDS = DOCUMENTED_CLASSES + EQUINOX_KINDS

@st.composite
def image_shapes(draw, spatial: int | None = None):
    """`(channels, *spatial sizes)`, channels first, 1 or 2 spatial axes."""
    spatial = spatial or draw(st.sampled_from([1, 2]), label="spatial dims")
    channels = draw(st.integers(1, 3), label="channels")
    return (channels,) + tuple(draw(st.integers(2, 6), label="spatial size")
                               for _ in range(spatial))


def neuron_shapes():
    """Shapes of a layer of neurons: mostly vectors, sometimes images."""
    return st.one_of(vector_sizes().map(lambda n: (n,)), vector_sizes().map(lambda n: (n,)),
                     image_shapes())


@st.composite
def isolated_layers(draw, kind: str):
    """`(layer, input_shapes, output_shape)`: one layer of `kind` and the
    shapes of the external inputs that feed it (several only for Parallel,
    which gets one input per member)."""
    if kind in ELEMENTWISE_NEURON_KINDS or kind in ("LayerNorm", "Identity", "Dropout"):
        shape = draw(neuron_shapes(), label="neuron shape")
        return draw(shape_preserving_layers(shape, kind)), (shape,), shape
    if kind in ("CompoundLayer", "ResNetBlock"):
        size = draw(vector_sizes(), label="input size")
        if kind == "CompoundLayer" and draw(st.booleans(), label="Linear first"):
            out = draw(vector_sizes(), label="output size")
            return draw(mapping_layers([size], out, kind)), ((size,),), (out,)
        return draw(shape_preserving_layers((size,), kind)), ((size,),), (size,)
    if kind in ("Linear", "SRM", "Parallel"):
        parts = draw(st.integers(1, 3), label="members") if kind == "Parallel" else 1
        sizes = [draw(vector_sizes(), label="input size") for _ in range(parts)]
        out = draw(vector_sizes(), label="output size")
        return (draw(mapping_layers(sizes, out, kind)), tuple((s,) for s in sizes), (out,))
    if kind == "Flatten":
        shape = draw(image_shapes())
        return LayerSpec("Flatten"), (shape,), (int(np.prod(shape)),)
    if kind in IMAGE_KINDS:
        base, spatial = kind[:-2], int(kind[-2])
        shape = draw(image_shapes(spatial), label="image shape")
        layer, out = draw(image_layers(shape, base))
        return layer, (shape,), out
    raise ValueError(f"no isolated layer of kind {kind!r}")


@st.composite
def isolated_networks(draw, kind: str):
    """A network of one layer of `kind`, reading every external input
    directly (`input_layer_ids=[[0, ...]]`, no edges, `final_layer_ids=[0]`)."""
    layer, input_shapes, output_shape = draw(isolated_layers(kind), label=f"one {kind}")
    return NetworkSpec(layers=(layer,),
                       input_layer_ids=(tuple(range(len(input_shapes))),),
                       input_connectivity=((),), final_layer_ids=(0,),
                       input_shapes=tuple(input_shapes), output_shapes=(output_shape,))


@st.composite
def isolated_runs(draw, kind: str, max_steps: int = 50, steps=None):
    """One layer of `kind` driven by external input for T in [1, max_steps]
    steps (or drawn from the strategy `steps`), straight-through, no burn-in."""
    network = draw(isolated_networks(kind), label="network")
    num_steps = draw(steps if steps is not None else st.integers(1, max_steps), label="T")
    # A lone neuron sees only these inputs: means up to the largest
    # threshold, so that most runs spike whatever the decay constants.
    inputs = draw(input_sequences(network.input_shapes, num_steps, (1.0, 1.5)),
                  label="inputs")
    return draw(with_key_seeds(RunSpec(network=network, inputs=inputs,
                                       forward=STRAIGHT_THROUGH, burnin=0)))

