"""Hypothesis strategies for valid random spiking networks and their inputs.

Each strategy is named after what it generates and composes the smaller ones:

    runs                 -> a RunSpec: network, inputs, forward semantics, burnin
    networks             -> a NetworkSpec (1 to 8 layers, any connectivity)
    topologies           -> who reads whom: feed-forward, feedback, self-loops
    image_stems          -> a chain of image layers ending in Flatten
    shape_preserving_layers / mapping_layers -> one LayerSpec that fits
    neuron_layers        -> one neuron LayerSpec of a given shape
    thresholds, decay_constants, spike_functions -> hyperparameters

Arrays are drawn from a NumPy generator seeded by Hypothesis (fast, and
reproducible from the printed example); shapes, kinds, edges and scalars are
drawn by Hypothesis itself, so they shrink.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st

from .description import (DELAYED, STRAIGHT_THROUGH, LayerSpec, NetworkSpec,
                          RunSpec)

MAX_LAYERS = 8
MAX_VECTOR_SIZE = 24

SPIKING_NEURONS = ("SimpleIAF", "IAF", "SimpleLIF", "LIF", "LIFSoftReset",
                   "AdaptiveLIF", "SigmaDelta")
NEURONS = SPIKING_NEURONS + ("SimpleLI", "SpikeCounter", "BatchNormLayer")
PRESERVING_KINDS = NEURONS + ("CompoundLayer", "ResNetBlock", "LayerNorm", "Identity")
MAPPING_KINDS = ("Linear", "SRM", "Parallel", "CompoundLayer")
IMAGE_KINDS = ("Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
               "SpikingMaxPool1d", "SpikingMaxPool2d", "Flatten")

# The documented SNNAX classes a conformance report has a row for.
DOCUMENTED_CLASSES = ("SimpleIAF", "IAF", "SimpleLI", "SimpleLIF", "LIF", "LIFSoftReset",
                      "AdaptiveLIF", "SigmaDelta", "SRM", "SpikeCounter", "BatchNormLayer",
                      "Flatten", "SpikingMaxPool1d", "SpikingMaxPool2d", "CompoundLayer",
                      "ResNetBlock", "Parallel")


def _rng(draw, label):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1), label=label))


# -- hyperparameters -----------------------------------------------------------

def real_numbers(low, high):
    """Floats in [low, high], never NaN and never subnormal: XLA on CPU flushes
    subnormals to zero, so `clamp(0, 1e-308, 2)` would sit exactly on its bound
    there (derivative 1/2) and strictly inside it in NumPy (derivative 1), a
    difference of floating-point environment, not of semantics."""
    return st.floats(low, high, allow_nan=False, allow_subnormal=False)


def spike_functions():
    """`(name, beta)`: the three documented surrogates with a range of slopes."""
    return st.tuples(st.sampled_from(["superspike", "sigmoid", "piecewise"]),
                     st.sampled_from([0.5, 1.0, 2.0, 10.0]))


def thresholds():
    """Thresholds, including exact values that inputs can hit exactly."""
    return st.one_of(st.sampled_from([0.0, 0.5, 1.0]),
                     real_numbers(0.1, 1.5).map(lambda v: round(v, 3)))


def reset_values():
    """None (the neuron's own reset) or a value, inside and outside [0, 2]."""
    return st.sampled_from([None, -0.5, 0.0, 0.3, 1.0, 2.5])


@st.composite
def decay_constants(draw, count: int, neuron_shape: tuple, low=0.3, high=1.1):
    """`count` decay constants, shared `(count,)` or per neuron `(count, *shape)`.

    The range covers both sides of the clamp `[0.5, 1]` and its exact edges.
    """
    per_neuron = draw(st.booleans(), label="per-neuron decay constants")
    if not per_neuron:
        values = [draw(st.one_of(st.sampled_from([0.5, 0.9, 1.0]),
                                 real_numbers(low, high).map(lambda v: round(v, 3))))
                  for _ in range(count)]
        return np.asarray(values, dtype=np.float64)
    rng = _rng(draw, "decay seed")
    return rng.uniform(low, high, size=(count,) + tuple(neuron_shape))


# -- single layers -----------------------------------------------------------

@st.composite
def neuron_layers(draw, shape: tuple, kind: str | None = None):
    """A neuron layer (any documented kind) for neurons of `shape`."""
    kind = kind or draw(st.sampled_from(NEURONS), label="neuron kind")
    hyper: dict = {}
    params: dict = {}
    if kind in SPIKING_NEURONS:
        hyper["threshold"] = draw(thresholds(), label="threshold")
        hyper["spike_fn"] = draw(spike_functions(), label="spike_fn")
    if kind in ("SimpleIAF", "IAF", "SimpleLIF", "LIF", "LIFSoftReset", "AdaptiveLIF"):
        hyper["reset_val"] = draw(reset_values(), label="reset_val")
        hyper["stop_reset_grad"] = draw(st.booleans(), label="stop_reset_grad")
    if kind in ("SimpleIAF", "IAF"):
        params["leak"] = np.asarray(draw(st.sampled_from([0.0, 0.05, 0.2]), label="leak"))
    count = {"IAF": 1, "SimpleLI": 1, "SimpleLIF": 1, "LIF": 2, "LIFSoftReset": 2,
             "AdaptiveLIF": 1, "SigmaDelta": 3}.get(kind)
    if count is not None:
        low, high = (0.0, 1.05) if kind == "SigmaDelta" else (0.3, 1.1)
        params["decay_constants"] = draw(decay_constants(count, shape, low, high),
                                         label="decay_constants")
    if kind == "AdaptiveLIF":
        params["ada_decay_constant"] = np.asarray(draw(real_numbers(0.3, 1.1), label="ada decay"))
        params["ada_step_val"] = np.asarray(draw(real_numbers(-0.5, 2.5), label="ada step"))
        params["ada_coupling_var"] = np.asarray(draw(real_numbers(-1.5, 1.5), label="ada coupling"))
    if kind == "BatchNormLayer":
        hyper["eps"] = 1e-5
        hyper["forget_weight"] = draw(st.sampled_from([0.1, 0.5, 1.0]), label="forget_weight")
        params["gamma"] = np.asarray(draw(real_numbers(0.2, 2.0), label="gamma"))
    return LayerSpec(kind, hyper, params)


@st.composite
def layer_norms(draw, shape: tuple):
    rng = _rng(draw, "layernorm seed")
    return LayerSpec("LayerNorm", {"eps": 1e-5},
                     {"weight": rng.uniform(0.5, 2.0, shape), "bias": rng.normal(0, 0.5, shape)})


@st.composite
def shape_preserving_layers(draw, shape: tuple, kind: str | None = None):
    """A layer whose output has the shape of its input."""
    kind = kind or draw(st.sampled_from(PRESERVING_KINDS), label="preserving kind")
    if kind in NEURONS:
        return draw(neuron_layers(shape, kind))
    if kind == "LayerNorm":
        return draw(layer_norms(shape))
    if kind == "Identity":
        return LayerSpec("Identity")
    if kind == "CompoundLayer":
        first = draw(st.one_of(neuron_layers(shape), layer_norms(shape)), label="member 0")
        second = draw(neuron_layers(shape, draw(st.sampled_from(SPIKING_NEURONS))),
                      label="member 1")
        return LayerSpec("CompoundLayer", members=(first, second))
    if kind == "ResNetBlock":
        members = (draw(neuron_layers(shape, draw(st.sampled_from(SPIKING_NEURONS)))),)
        return LayerSpec("ResNetBlock", members=members)
    raise ValueError(f"{kind} does not preserve shapes")


@st.composite
def linear_layers(draw, in_features: int, out_features: int):
    """A Linear layer whose weights make downstream neurons spike."""
    rng = _rng(draw, "linear seed")
    gain = draw(st.sampled_from([1.5, 3.0, 5.0]), label="weight gain")
    params = {"weight": rng.normal(0, gain / np.sqrt(in_features), (out_features, in_features))}
    if draw(st.booleans(), label="bias"):
        params["bias"] = rng.normal(0.5, 0.5, (out_features,))
    return LayerSpec("Linear", {}, params)


@st.composite
def mapping_layers(draw, part_sizes: list, out_features: int, kind: str | None = None):
    """A layer mapping its (concatenated) inputs to `out_features` features."""
    in_features = sum(part_sizes)
    kind = kind or draw(st.sampled_from(MAPPING_KINDS), label="mapping kind")
    if kind == "Linear":
        return draw(linear_layers(in_features, out_features))
    if kind == "SRM":
        params = {"decay_constants": draw(decay_constants(2, (in_features,))),
                  "r_decay_constants": draw(decay_constants(1, (out_features,)))}
        reset_val = draw(st.sampled_from([None, -0.5, 0.5, 1.0, 2.5, 3.0]),
                         label="SRM reset_val (clamped to [0, 2])")
        if reset_val is not None:
            params["reset_val"] = np.asarray([reset_val])
        hyper = {"threshold": draw(thresholds()), "spike_fn": draw(spike_functions())}
        return LayerSpec("SRM", hyper, params,
                         members=(draw(linear_layers(in_features, out_features)),))
    if kind == "Parallel":
        members = tuple(draw(linear_layers(size, out_features)) for size in part_sizes)
        return LayerSpec("Parallel", members=members)
    if kind == "CompoundLayer":
        neuron = draw(neuron_layers((out_features,), draw(st.sampled_from(SPIKING_NEURONS))))
        return LayerSpec("CompoundLayer",
                         members=(draw(linear_layers(in_features, out_features)), neuron))
    raise ValueError(f"{kind} is not a mapping kind")


# -- image stems -------------------------------------------------------------

def _pooled_size(size, kernel, stride, padding=0):
    return (size + 2 * padding - kernel) // stride + 1


@st.composite
def image_layers(draw, shape: tuple, kind: str):
    """One image layer of `kind` for an input of `shape` (channels first)."""
    spatial = len(shape) - 1
    suffix = f"{spatial}d"
    if kind.startswith("Conv"):
        out_channels = draw(st.integers(1, 3), label="out channels")
        kernel = draw(st.integers(1, 3), label="kernel")
        stride = draw(st.integers(1, 2), label="stride")
        padding = draw(st.integers(0, 1), label="padding")
        if any(_pooled_size(s, kernel, stride, padding) < 1 for s in shape[1:]):
            kernel, stride, padding = 1, 1, 0
        rng = _rng(draw, "conv seed")
        fan_in = shape[0] * kernel ** spatial
        params = {"weight": rng.normal(0, 2.0 / np.sqrt(fan_in),
                                       (out_channels, shape[0]) + (kernel,) * spatial)}
        if draw(st.booleans(), label="conv bias"):
            params["bias"] = rng.normal(0.2, 0.3, (out_channels,))
        out = (out_channels,) + tuple(_pooled_size(s, kernel, stride, padding) for s in shape[1:])
        return LayerSpec("Conv" + suffix, {"stride": stride, "padding": padding}, params), out
    if kind in ("MaxPool", "AvgPool", "SpikingMaxPool"):
        kernel = min(2, *shape[1:])
        stride = draw(st.integers(1, 2), label="pool stride")
        hyper = {"kernel_size": kernel, "stride": stride}
        if kind == "SpikingMaxPool":
            hyper.update(threshold=draw(thresholds()), spike_fn=draw(spike_functions()))
        out = (shape[0],) + tuple(_pooled_size(s, kernel, stride) for s in shape[1:])
        return LayerSpec(kind + suffix, hyper), out
    if kind == "neuron":
        return draw(neuron_layers(shape)), shape
    if kind == "LayerNorm":
        return draw(layer_norms(shape)), shape
    raise ValueError(kind)


@st.composite
def image_stems(draw, required_kind: str | None = None):
    """`(input_shape, layers, flat_size)`: a chain of image layers, then Flatten."""
    spatial = 2 if (required_kind or "").endswith("2d") else 1 if (required_kind or "").endswith(
        "1d") else draw(st.sampled_from([1, 2]), label="spatial dims")
    channels = draw(st.integers(1, 2), label="input channels")
    sizes = tuple(draw(st.integers(3, 7), label="spatial size") for _ in range(spatial))
    shape = (channels,) + sizes
    kinds = draw(st.lists(st.sampled_from(["Conv", "MaxPool", "AvgPool", "SpikingMaxPool",
                                           "neuron", "LayerNorm"]),
                          min_size=1, max_size=3), label="stem kinds")
    if required_kind and required_kind != "Flatten":
        base = required_kind[:-2]
        if base not in kinds:
            kinds[draw(st.integers(0, len(kinds) - 1))] = base
    input_shape, layers = shape, []
    for kind in kinds:
        layer, shape = draw(image_layers(shape, kind))
        layers.append((layer, shape))
    layers.append((LayerSpec("Flatten"), (int(np.prod(shape)),)))
    return input_shape, layers


# -- graphs ------------------------------------------------------------------

@dataclass
class Topology:
    """Who reads whom: `sources[i]` = [("layer", j) | ("input", k), ...] in order."""

    sources: list = field(default_factory=list)


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
        if required_kind in PRESERVING_KINDS and required_kind != "CompoundLayer":
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
        if forced in PRESERVING_KINDS and (forced != "CompoundLayer" or not has_feedback):
            preserve = True
        elif forced in MAPPING_KINDS:
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
def input_sequences(draw, input_shapes, num_steps: int):
    """One `(T, *shape)` array per input: spike trains or analogue currents."""
    sequences = []
    for k, shape in enumerate(input_shapes):
        rng = _rng(draw, f"input {k} seed")
        style = draw(st.sampled_from(["spikes", "current"]), label=f"input {k} style")
        if style == "spikes":
            rate = draw(st.sampled_from([0.2, 0.5, 0.8]), label="spike rate")
            amplitude = draw(st.sampled_from([1.0, 2.0]), label="amplitude")
            sequences.append(amplitude * (rng.random((num_steps,) + shape) < rate))
        else:
            scale = draw(st.sampled_from([0.5, 1.5, 3.0]), label="input scale")
            sequences.append(rng.normal(1.0, scale, (num_steps,) + shape))
    return tuple(np.asarray(s, dtype=np.float64) for s in sequences)


@st.composite
def runs(draw, required_kind: str | None = None, forward: str | None = None,
         max_steps: int = 50):
    """A network, its inputs for T in [1, max_steps], a forward function, a burnin."""
    network = draw(networks(required_kind), label="network")
    num_steps = draw(st.integers(1, max_steps), label="T")
    inputs = draw(input_sequences(network.input_shapes, num_steps), label="inputs")
    forward = forward or draw(st.sampled_from([STRAIGHT_THROUGH, DELAYED]), label="forward")
    burnin = draw(st.integers(0, num_steps - 1), label="burnin") if draw(
        st.booleans(), label="use burnin") else 0
    return RunSpec(network=network, inputs=inputs, forward=forward, burnin=burnin)
