"""Strategies for whole random networks and their runs: topologies (who
reads whom: feed-forward, feedback, self-loops), networks of 1 to 8 layers
whose shapes fit (maybe headed by an image stem), input sequences, runs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import strategies as st

from ..description import (DELAYED, IMAGE_KINDS, RANDOM_KINDS, SHAPE_PRESERVING_KINDS,
                           SIZE_MAPPING_KINDS, STRAIGHT_THROUGH, NetworkSpec, RunSpec)
from .layers import (MAX_VECTOR_SIZE, _rng, image_stems, mapping_layers,
                     shape_preserving_layers)

MAX_LAYERS = 8


@st.composite
def topologies(draw, num_layers: int, num_inputs: int, first_layer: int = 0):
    """Edges for layers `first_layer..num_layers-1`: feed-forward edges, feedback
    edges and self-loops, and external inputs; every layer gets an input."""
    sources = []
    for i in range(first_layer, num_layers):
        feed_forward = draw(st.lists(st.integers(first_layer, i - 1), max_size=2, unique=True),
                            label=f"feed-forward sources of {i}") if i > first_layer else []
        feedback = draw(st.lists(st.integers(i, num_layers - 1), min_size=1, max_size=1),
                        label=f"feedback sources of {i}") if draw(
            st.integers(0, 2), label=f"feedback? {i}") == 0 else []
        first = i == first_layer  # the first layer always reads an external input
        external = draw(st.lists(st.integers(0, num_inputs - 1), min_size=1 if first else 0,
                                 max_size=2, unique=True),
                        label=f"external inputs of {i}") if (
            first or draw(st.integers(0, 3), label=f"external? {i}") == 0) else []
        if not feed_forward and not feedback and not external:
            if i > first_layer:
                feed_forward = [i - 1]
            else:
                external = [0]
        sources.append([("layer", j) for j in feed_forward + feedback]
                       + [("input", k) for k in external])
    return sources


@st.composite
def networks(draw, required_kind: str | None = None):
    """A valid network of 1 to 8 layers whose shapes fit, with `required_kind` in it."""
    image_required = required_kind in IMAGE_KINDS
    use_stem = image_required or draw(st.integers(0, 4), label="image stem?") == 0
    layers: list = []
    shapes: list = []
    sources: list = []
    input_shapes: list = []
    if use_stem:
        image_shape, stem = draw(image_stems(required_kind if image_required else None))
        input_shapes.append(image_shape)
        for index, (layer, shape) in enumerate(stem):
            layers.append(layer)
            shapes.append(shape)
            sources.append([("input", 0)] if index == 0 else [("layer", index - 1)])
    stem_length = len(layers)
    # Vector layers read "vector inputs" 0..n-1; with a stem, vector input 0 is
    # the stem's flattened output (an edge from its Flatten layer) and vector
    # input k >= 1 is external input k (external input 0 being the image).
    vector_inputs = draw(st.integers(1, 3), label="vector inputs")
    for _ in range(1 if use_stem else 0, vector_inputs):
        input_shapes.append((draw(st.integers(1, 6), label="input size"),))
    first_vector_input = 1 if use_stem else 0
    max_vector_layers = MAX_LAYERS - stem_length
    min_vector_layers = 0 if (use_stem and not required_kind) or image_required else 1
    num_vector = draw(st.integers(min_vector_layers, max(min_vector_layers, max_vector_layers)),
                      label="vector layers")
    num_layers = stem_length + num_vector
    vector_sources = draw(topologies(num_layers, vector_inputs, stem_length))
    for layer_sources in vector_sources:
        edges = [source for source in layer_sources if source[0] == "layer"]
        externals = []
        for kind, index in layer_sources:
            if kind == "input" and use_stem and index == 0:
                edges.append(("layer", stem_length - 1))
            elif kind == "input":
                externals.append(("input", index))
        sources.append(edges + externals)

    # Which vector layer hosts the required kind (when it is not an image kind).
    host = None
    if required_kind and not image_required and num_vector:
        host = draw(st.integers(stem_length, num_layers - 1), label="host of required kind")
        if required_kind in SHAPE_PRESERVING_KINDS and required_kind != "CompoundLayer":
            # A shape-preserving layer cannot sit on a feedback edge of its own.
            kept = [s for s in sources[host] if not (s[0] == "layer" and s[1] >= host)]
            sources[host] = kept or ([("layer", host - 1)] if host > stem_length
                                     else [("input", first_vector_input)])

    def part_size(source):
        kind, index = source
        if kind == "input":
            return input_shapes[index][0]
        return shapes[index][0]

    mapping = {}
    for i in range(stem_length, num_layers):
        has_feedback = any(kind == "layer" and j >= i for kind, j in sources[i])
        forced = required_kind if i == host else None
        if forced in SHAPE_PRESERVING_KINDS and (forced != "CompoundLayer" or not has_feedback):
            preserve = True
        elif forced in SIZE_MAPPING_KINDS:
            preserve = False
        else:
            preserve = not has_feedback and draw(st.integers(0, 4), label=f"preserve {i}") < 3
        size = sum(part_size(s) for s in sources[i]) if preserve else None
        if preserve and size > MAX_VECTOR_SIZE and forced is None:
            preserve = False
        if preserve:
            layers.append(draw(shape_preserving_layers((size,), forced)))
            shapes.append((size,))
        else:
            mapping[i] = forced
            layers.append(None)
            shapes.append((draw(st.integers(1, 6), label=f"out size {i}"),))
    for i, forced in mapping.items():
        part_sizes = [part_size(s) for s in sources[i]]
        layers[i] = draw(mapping_layers(part_sizes, shapes[i][0], forced))

    used_inputs = sorted({index for layer_sources in sources
                          for kind, index in layer_sources if kind == "input"})
    renumber = {old: new for new, old in enumerate(used_inputs)}
    input_layer_ids = tuple(tuple(renumber[index] for kind, index in s if kind == "input")
                            for s in sources)
    connectivity = tuple(tuple(index for kind, index in s if kind == "layer") for s in sources)
    final_layer_ids = tuple(draw(st.lists(st.integers(0, num_layers - 1), min_size=1,
                                          max_size=3, unique=True), label="final layers"))
    if num_layers - 1 not in final_layer_ids and draw(st.booleans(), label="last is final"):
        final_layer_ids = final_layer_ids + (num_layers - 1,)
    return NetworkSpec(
        layers=tuple(layers),
        input_layer_ids=input_layer_ids,
        input_connectivity=connectivity,
        final_layer_ids=final_layer_ids,
        input_shapes=tuple(input_shapes[k] for k in used_inputs),
        output_shapes=tuple(shapes),
    )


@st.composite
def input_sequences(draw, input_shapes, num_steps: int, current_means=(1.0,),
                    styles=("spikes", "current")):
    """One `(T, *shape)` array per input: spike trains or analogue currents
    (normal, with a mean drawn from `current_means`), of the `styles` given."""
    sequences = []
    for k, shape in enumerate(input_shapes):
        rng = _rng(draw, f"input {k} seed")
        style = draw(st.sampled_from(styles), label=f"input {k} style")
        if style == "spikes":
            rate = draw(st.sampled_from([0.2, 0.5, 0.8]), label="spike rate")
            amplitude = draw(st.sampled_from([1.0, 2.0]), label="amplitude")
            sequences.append(amplitude * (rng.random((num_steps,) + shape) < rate))
        else:
            scale = draw(st.sampled_from([0.5, 1.5, 3.0]), label="input scale")
            mean = (current_means[0] if len(current_means) == 1
                    else draw(st.sampled_from(current_means), label="input mean"))
            sequences.append(rng.normal(mean, scale, (num_steps,) + shape))
    return tuple(np.asarray(s, dtype=np.float64) for s in sequences)


@st.composite
def runs(draw, required_kind: str | None = None, forward: str | None = None,
         max_steps: int = 50, steps=None):
    """A network, its inputs for T in [1, max_steps] (or drawn from the
    strategy `steps`), a forward function, a burnin."""
    network = draw(networks(required_kind), label="network")
    num_steps = draw(steps if steps is not None else st.integers(1, max_steps), label="T")
    inputs = draw(input_sequences(network.input_shapes, num_steps), label="inputs")
    forward = forward or draw(st.sampled_from([STRAIGHT_THROUGH, DELAYED]), label="forward")
    burnin = draw(st.integers(0, num_steps - 1), label="burnin") if draw(
        st.booleans(), label="use burnin") else 0
    return draw(with_key_seeds(RunSpec(network=network, inputs=inputs, forward=forward,
                                       burnin=burnin)))


@st.composite
def with_key_seeds(draw, run: RunSpec):
    """`run` with the seeds of its keys drawn when it has a random layer (a run
    without one keeps the default seeds, and draws nothing)."""
    if not any(layer.kind in RANDOM_KINDS for layer in run.network.layers):
        return run
    seeds = st.integers(0, 2**31 - 1)
    return replace(run, key_seed=draw(seeds, label="key seed"),
                   init_key_seed=draw(seeds, label="init_state key seed"))

