"""Hypothesis strategies for valid random spiking networks and their inputs.

Each strategy is named after what it generates and composes the smaller ones:

    runs                 -> a RunSpec: network, inputs, forward semantics, burnin
    networks             -> a NetworkSpec (1 to 8 layers, any connectivity)
    topologies           -> who reads whom: feed-forward, feedback, self-loops
    image_stems          -> a chain of image layers ending in Flatten
    shape_preserving_layers / mapping_layers -> one LayerSpec that fits
    neuron_layers        -> one neuron LayerSpec of a given shape
    thresholds, decay_constants, spike_functions -> hyperparameters

    isolated_runs        -> one layer of a given class fed by external input
                            (the class rows: no graph rule involved)
    straight_through_runs, feedback_runs, concatenation_runs,
    several_inputs_and_outputs_runs, final_layer_runs, burnin_runs,
    composed_in_graph_runs -> networks of simple layers exercising one graph
                            rule each (the graph rows), built from wirings
                            (feed_forward_trees, feed_forward_wirings,
                            feedback_wirings, edge_free_wirings) and
                            simple_networks

Arrays are drawn from a NumPy generator seeded by Hypothesis (fast, and
reproducible from the printed example); shapes, kinds, edges and scalars are
drawn by Hypothesis itself, so they shrink.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from hypothesis import strategies as st

from .description import (DELAYED, DOCUMENTED_CLASSES, ELEMENTWISE_NEURON_KINDS, EQUINOX_KINDS,
                          IMAGE_KINDS, RANDOM_KINDS, RESETTING_NEURON_KINDS,
                          SHAPE_PRESERVING_KINDS, SIZE_MAPPING_KINDS, SPIKING_NEURON_KINDS,
                          STRAIGHT_THROUGH, LayerSpec, NetworkSpec, RunSpec)

MAX_LAYERS = 8
MAX_VECTOR_SIZE = 24


def _rng(draw, label):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1), label=label))


# -- hyperparameters -----------------------------------------------------------

def real_numbers(low, high):
    """Floats in [low, high], never NaN and never subnormal: XLA on CPU flushes
    subnormals to zero, so `clamp(0, 1e-308, 2)` would sit exactly on its bound
    there (derivative 1/2) and strictly inside it in NumPy (derivative 1), a
    difference of floating-point environment, not of semantics."""
    return st.floats(low, high, allow_nan=False, allow_subnormal=False)


def surrogate_arguments(beta: float):
    """Points at which to check a spike function with parameter `beta`: 0,
    the edges of the piecewise window (on and just outside them), and reals
    around it, never subnormal (see `real_numbers`: XLA on CPU flushes the
    argument -1e-308 to zero, where H is 1, while in exact arithmetic H is 0)."""
    edges = st.sampled_from([0.0, beta, -beta, float(np.nextafter(beta, np.inf)),
                             -float(np.nextafter(beta, np.inf))])
    return st.one_of(edges, real_numbers(-5 * beta - 1, 5 * beta + 1))


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
    kind = kind or draw(st.sampled_from(ELEMENTWISE_NEURON_KINDS), label="neuron kind")
    hyper: dict = {}
    params: dict = {}
    if kind in SPIKING_NEURON_KINDS:
        hyper["threshold"] = draw(thresholds(), label="threshold")
        hyper["spike_fn"] = draw(spike_functions(), label="spike_fn")
    if kind in RESETTING_NEURON_KINDS:
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
        # One entry per layer, read as [0] (SPEC §3.7): shared (1,) or per neuron (1, *shape).
        params["ada_decay_constant"] = draw(decay_constants(1, shape, 0.3, 1.1),
                                            label="ada decay")
        params["ada_step_val"] = draw(decay_constants(1, shape, -0.5, 2.5), label="ada step")
        params["ada_coupling_var"] = draw(decay_constants(1, shape, -1.5, 1.5),
                                          label="ada coupling")
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


def dropout_layers():
    """A Dropout layer in training mode, dropping a quarter to three quarters."""
    return st.sampled_from([0.25, 0.5, 0.75]).map(lambda p: LayerSpec("Dropout", {"p": p}))


@st.composite
def shape_preserving_layers(draw, shape: tuple, kind: str | None = None):
    """A layer whose output has the shape of its input."""
    kind = kind or draw(st.sampled_from(SHAPE_PRESERVING_KINDS), label="preserving kind")
    if kind in ELEMENTWISE_NEURON_KINDS:
        return draw(neuron_layers(shape, kind))
    if kind == "LayerNorm":
        return draw(layer_norms(shape))
    if kind == "Identity":
        return LayerSpec("Identity")
    if kind == "Dropout":
        return draw(dropout_layers(), label="dropout")
    if kind == "CompoundLayer":
        first = draw(st.one_of(neuron_layers(shape), layer_norms(shape)), label="member 0")
        second = draw(neuron_layers(shape, draw(st.sampled_from(SPIKING_NEURON_KINDS))),
                      label="member 1")
        return LayerSpec("CompoundLayer", members=(first, second))
    if kind == "ResNetBlock":
        members = (draw(neuron_layers(shape, draw(st.sampled_from(SPIKING_NEURON_KINDS)))),)
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
    kind = kind or draw(st.sampled_from(SIZE_MAPPING_KINDS), label="mapping kind")
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
        neuron = draw(neuron_layers((out_features,), draw(st.sampled_from(SPIKING_NEURON_KINDS))))
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


# -- one layer in isolation (the class rows) ------------------------------------
#
# A class row tests one class and nothing else: a network of one layer (the
# class, with its members when it is composed), fed directly by external input
# over T steps, under the default forward function, without burn-in. No edge
# exists, so no graph rule (edge timing, concatenation order, final_layer_ids,
# burn-in) can decide whether it passes.

ISOLATED_KINDS = DOCUMENTED_CLASSES + EQUINOX_KINDS


def vector_sizes(low: int = 1, high: int = 8):
    """The size of a vector input or output."""
    return st.integers(low, high)


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


# -- graph rules, one at a time (the graph rows) --------------------------------
#
# A graph row tests one rule of SPEC.md section 4 on networks of simple layers
# (Linear, Identity, SimpleIAF, LIF, SimpleLI; composed layers in their own
# row). A *wiring* lists, per layer, its sources: ("layer", j) for the edge
# j -> i, ("input", k) for external input k. Each row's wirings use as few
# other graph rules as its own rule allows, so that a deviation in one rule
# turns few rows red:
#
#   straight-through reads   feed-forward edges, one input per layer
#   feedback delay           edges j -> i with j >= i only (no feed-forward
#                            edge); a layer may also read external input
#                            (concatenation)
#   concatenation order      feed-forward edges and external inputs, a layer
#                            with several of them (no feedback edge)
#   several inputs/outputs,  no edges at all: every layer reads external input
#   final_layer_ids
#   burnin                   one layer
#   composed layers          as the feedback row, with one composed layer
#
# Except in the rows about final_layer_ids, the model returns the last layer.

SIMPLE_NEURONS = ("SimpleIAF", "LIF", "SimpleLI")
# What the graph rows build from (Dropout only in the row about random layers).
SIMPLE_KINDS = ("Linear", "Identity", "Dropout") + SIMPLE_NEURONS
COMPOSED_IN_GRAPH = ("Parallel", "CompoundLayer", "ResNetBlock")
SIMPLE_MAX_STEPS = 30


def wiring_edges(wiring):
    """Every edge `(j, i)` of a wiring."""
    return [(j, i) for i, sources in enumerate(wiring) for kind, j in sources if kind == "layer"]


@st.composite
def input_sizes(draw, min_inputs: int = 1, max_inputs: int = 2):
    """The sizes of the external (vector) inputs."""
    count = draw(st.integers(min_inputs, max_inputs), label="external inputs")
    return [draw(vector_sizes(1, 6), label=f"size of input {k}") for k in range(count)]


@st.composite
def external_reads(draw, num_inputs: int, required: bool):
    """Which external inputs one layer reads, in order (none unless `required` or drawn)."""
    if not required and draw(st.booleans(), label="reads external input?"):
        return []
    chosen = draw(st.lists(st.integers(0, num_inputs - 1), min_size=1, max_size=2, unique=True),
                  label="external inputs read")
    return [("input", k) for k in chosen]


def _use_every_input(draw, wiring, num_inputs):
    """Make every external input read by some layer (so none is unused)."""
    read = {k for sources in wiring for kind, k in sources if kind == "input"}
    for k in range(num_inputs):
        if k not in read:
            layer = draw(st.integers(0, len(wiring) - 1), label=f"reader of input {k}")
            wiring[layer].append(("input", k))
    return wiring


def _ordered(sources):
    """Connected layers first, then external inputs (the order is the spec's
    concern, not the wiring's: NetworkSpec keeps the two lists apart)."""
    return ([s for s in sources if s[0] == "layer"] + [s for s in sources if s[0] == "input"])


@st.composite
def feed_forward_wirings(draw, num_layers: int, num_inputs: int):
    """Only feed-forward edges (j < i): layer 0 reads external input, every
    other layer reads one or two earlier layers (at step t) and sometimes
    external input too."""
    wiring = [draw(external_reads(num_inputs, required=True), label="sources of layer 0")]
    for i in range(1, num_layers):
        sources = draw(st.lists(st.integers(0, i - 1), min_size=1, max_size=2, unique=True),
                       label=f"feed-forward sources of {i}")
        wiring.append([("layer", j) for j in sources]
                      + draw(external_reads(num_inputs, required=False)))
    return _use_every_input(draw, wiring, num_inputs)


@st.composite
def feed_forward_trees(draw, num_layers: int):
    """Feed-forward edges only, one input per layer: layer 0 reads external
    input 0 and every other layer reads exactly one earlier layer."""
    return [[("input", 0)]] + [
        [("layer", draw(st.integers(0, i - 1), label=f"source of {i}"))]
        for i in range(1, num_layers)]


@st.composite
def edge_free_wirings(draw, num_layers: int, num_inputs: int):
    """No edges: every layer reads exactly one external input, every input
    is read."""
    wiring = [[("input", draw(st.integers(0, num_inputs - 1), label=f"input of {i}"))]
              for i in range(num_layers)]
    read = {k for sources in wiring for _, k in sources}
    for k in range(num_inputs):  # give an unread input to a layer reading a shared one
        if k not in read:
            shared = [i for i, [(_, j)] in enumerate(wiring)
                      if sum(s == [("input", j)] for s in wiring) > 1]
            wiring[draw(st.sampled_from(shared), label=f"reader of input {k}")] = [("input", k)]
            read.add(k)
    return wiring


@st.composite
def feedback_wirings(draw, num_layers: int, num_inputs: int, min_feedback: int = 1):
    """Only edges j -> i with j >= i (feedback edges and self-loops), at
    least `min_feedback` of them, and external inputs: a layer reads external
    input unless a later layer feeds it."""
    wiring = []
    for i in range(num_layers):
        feedback = draw(st.lists(st.integers(i, num_layers - 1), max_size=2, unique=True),
                        label=f"feedback sources of {i}")
        # A layer reads external input unless a later layer feeds it.
        wiring.append([("layer", j) for j in feedback]
                      + draw(external_reads(num_inputs, required=max(feedback, default=i) == i)))
    while len(wiring_edges(wiring)) < min_feedback:
        i = draw(st.integers(0, num_layers - 1), label="target of a forced feedback edge")
        j = draw(st.integers(i, num_layers - 1), label="source of a forced feedback edge")
        if ("layer", j) not in wiring[i]:
            wiring[i].insert(0, ("layer", j))
    return _use_every_input(draw, wiring, num_inputs)


@st.composite
def simple_linear_layers(draw, in_features: int, out_features: int, recurrent: bool):
    """A Linear layer; one on a feedback edge has small weights (gain < 1),
    so that a Linear self-loop does not grow without bound over T steps."""
    rng = _rng(draw, "linear seed")
    gain = draw(st.sampled_from([0.5, 0.9] if recurrent else [1.5, 3.0]), label="weight gain")
    params = {"weight": rng.normal(0, gain / np.sqrt(in_features), (out_features, in_features))}
    if draw(st.booleans(), label="bias"):
        params["bias"] = rng.normal(0.5, 0.5, (out_features,))
    return LayerSpec("Linear", {}, params)


@st.composite
def simple_preserving_layers(draw, size: int):
    """A simple shape-preserving layer: a SimpleIAF, LIF or SimpleLI neuron, or Identity."""
    kind = draw(st.sampled_from(SIMPLE_NEURONS + ("Identity",)), label="simple kind")
    if kind == "Identity":
        return LayerSpec("Identity")
    return draw(neuron_layers((size,), kind))


@st.composite
def simple_composed_layers(draw, kind: str, part_sizes: list, out_size: int | None):
    """A composed layer of simple members: Parallel (one Linear per part),
    CompoundLayer (a Linear, or a Parallel of one Linear per part as in
    upstream's recurrent idiom, then a neuron; two neurons when `out_size` is
    None), ResNetBlock (one neuron, shape preserving)."""
    in_size = sum(part_sizes)
    if kind == "Parallel":
        members = tuple(draw(simple_linear_layers(size, out_size, recurrent=True))
                        for size in part_sizes)
        return LayerSpec("Parallel", members=members)
    neuron = lambda size: neuron_layers(  # noqa: E731
        (size,), draw(st.sampled_from(SIMPLE_NEURONS[:2]), label="member kind"))
    if kind == "CompoundLayer" and out_size is not None:
        head = (draw(simple_composed_layers("Parallel", part_sizes, out_size))
                if draw(st.booleans(), label="headed by a Parallel")
                else draw(simple_linear_layers(in_size, out_size, recurrent=True)))
        return LayerSpec("CompoundLayer", members=(head, draw(neuron(out_size))))
    if kind == "CompoundLayer":
        return LayerSpec("CompoundLayer", members=(draw(neuron(in_size)), draw(neuron(in_size))))
    if kind == "ResNetBlock":
        return LayerSpec("ResNetBlock", members=(draw(neuron(in_size)),))
    raise ValueError(f"{kind} is not a composed kind")


@st.composite
def simple_networks(draw, wiring, input_sizes: list, final_layer_ids=None, composed=None,
                    dropout_ids=()):
    """Simple layers on `wiring`: a layer reading a feedback edge is a Linear
    (its output size is drawn, so the edge's shape is known up front), any
    other is a simple neuron or Identity over its concatenated input, or a
    Linear. `composed` maps layer ids to a composed kind to put there; the
    layers `dropout_ids` (none reading a feedback edge) are Dropout layers.
    `final_layer_ids` defaults to the last layer."""
    wiring = [_ordered(sources) for sources in wiring]
    num_layers = len(wiring)
    composed = dict(composed or {})
    dropout_ids = set(dropout_ids)
    shapes: list = [None] * num_layers
    preserving = [False] * num_layers

    def part_size(source):
        kind, index = source
        return input_sizes[index] if kind == "input" else shapes[index][0]

    for i, sources in enumerate(wiring):
        reads_feedback = any(kind == "layer" and j >= i for kind, j in sources)
        kind = composed.get(i)
        if kind == "ResNetBlock" or (kind == "CompoundLayer" and not reads_feedback
                                     and draw(st.booleans(), label="neuron-only compound")):
            preserving[i] = True
        elif i in dropout_ids:
            preserving[i] = True
        elif kind is None and not reads_feedback:
            preserving[i] = draw(st.integers(0, 2), label=f"simple neuron at {i}?") > 0
        if (preserving[i] and kind is None and i not in dropout_ids
                and sum(map(part_size, sources)) > MAX_VECTOR_SIZE):
            preserving[i] = False
        if preserving[i]:
            shapes[i] = (sum(part_size(s) for s in sources),)
        else:
            shapes[i] = (draw(vector_sizes(1, 6), label=f"out size {i}"),)
    layers = []
    for i, sources in enumerate(wiring):
        parts = [part_size(s) for s in sources]
        reads_feedback = any(kind == "layer" and j >= i for kind, j in sources)
        if i in composed:
            layers.append(draw(simple_composed_layers(
                composed[i], parts, None if preserving[i] else shapes[i][0])))
        elif i in dropout_ids:
            layers.append(draw(dropout_layers(), label=f"dropout {i}"))
        elif preserving[i]:
            layers.append(draw(simple_preserving_layers(shapes[i][0])))
        else:
            layers.append(draw(simple_linear_layers(sum(parts), shapes[i][0], reads_feedback)))
    if final_layer_ids is None:
        final_layer_ids = (num_layers - 1,)
    return NetworkSpec(
        layers=tuple(layers),
        input_layer_ids=tuple(tuple(k for kind, k in s if kind == "input") for s in wiring),
        input_connectivity=tuple(tuple(j for kind, j in s if kind == "layer") for s in wiring),
        final_layer_ids=tuple(final_layer_ids),
        input_shapes=tuple((size,) for size in input_sizes),
        output_shapes=tuple(shapes))


@st.composite
def simple_runs(draw, network, forward: str = STRAIGHT_THROUGH, burnin: bool = False,
                max_steps: int = SIMPLE_MAX_STEPS, styles=("spikes", "current")):
    """`network` driven for T in [1, max_steps] steps (T >= 2 and a burn-in in
    [1, T) when `burnin`) by inputs of the `styles` given."""
    num_steps = draw(st.integers(2 if burnin else 1, max_steps), label="T")
    inputs = draw(input_sequences(network.input_shapes, num_steps, styles=styles),
                  label="inputs")
    steps_burnt = draw(st.integers(1, num_steps - 1), label="burnin") if burnin else 0
    return draw(with_key_seeds(RunSpec(network=network, inputs=inputs, forward=forward,
                                       burnin=steps_burnt)))


@st.composite
def straight_through_runs(draw):
    """Feed-forward edges only (each read at step t), one input per layer."""
    sizes = draw(input_sizes(1, 1), label="input size")
    wiring = draw(feed_forward_trees(draw(st.integers(2, 5), label="layers")))
    return draw(simple_runs(draw(simple_networks(wiring, sizes), label="network")))


@st.composite
def feedback_runs(draw):
    """At least one edge j -> i with j >= i (self-loops included), each read
    at step t - 1, and no feed-forward edge."""
    sizes = draw(input_sizes(), label="input sizes")
    wiring = draw(feedback_wirings(draw(st.integers(1, 4), label="layers"), len(sizes)))
    return draw(simple_runs(draw(simple_networks(wiring, sizes), label="network")))


@st.composite
def concatenation_runs(draw):
    """A layer with several inputs: feed-forward edges, in the order of its
    input_connectivity (any order), then external inputs, in the order of its
    input_layer_ids (any order), concatenated along axis 0."""
    sizes = draw(input_sizes(1, 3), label="input sizes")
    num_layers = draw(st.integers(1, 4), label="layers")
    wiring = (draw(feed_forward_wirings(num_layers, len(sizes))) if num_layers > 1
              else [[("input", 0)]])
    host = draw(st.integers(0, num_layers - 1), label="layer with several inputs")
    while len(wiring[host]) < 2:
        unread = ([("layer", j) for j in range(host)] + [("input", k) for k in range(len(sizes))])
        unread = [source for source in unread if source not in wiring[host]]
        if not unread:
            sizes.append(draw(vector_sizes(1, 6), label="size of another input"))
            unread = [("input", len(sizes) - 1)]
        wiring[host].append(draw(st.sampled_from(unread), label="another source"))
    wiring = _use_every_input(draw, wiring, len(sizes))
    for i, sources in enumerate(wiring):  # any order within each list
        edges = [s for s in sources if s[0] == "layer"]
        externals = [s for s in sources if s[0] == "input"]
        wiring[i] = (draw(st.permutations(edges), label=f"edge order of {i}")
                     + draw(st.permutations(externals), label=f"input order of {i}"))
    return draw(simple_runs(draw(simple_networks(wiring, sizes), label="network")))


@st.composite
def final_layer_choices(draw, num_layers: int, min_size: int = 1):
    """Final layers in any order, at least one of them not the last layer."""
    chosen = draw(st.lists(st.integers(0, num_layers - 1), min_size=min_size,
                           max_size=min(3, num_layers), unique=True), label="final layers")
    if chosen == [num_layers - 1]:
        chosen = [draw(st.integers(0, num_layers - 2), label="a non-last final layer")]
    return tuple(chosen)


@st.composite
def several_inputs_and_outputs_runs(draw):
    """Two or three external inputs, each read by some layer, and two or three
    final layers; no edges."""
    sizes = draw(input_sizes(2, 3), label="input sizes")
    num_layers = draw(st.integers(len(sizes), 4), label="layers")
    wiring = draw(edge_free_wirings(num_layers, len(sizes)))
    finals = draw(final_layer_choices(num_layers, min_size=2))
    return draw(simple_runs(draw(simple_networks(wiring, sizes, finals), label="network")))


@st.composite
def final_layer_runs(draw):
    """`final_layer_ids` naming layers other than the last, in any order; no edges."""
    num_layers = draw(st.integers(2, 5), label="layers")
    wiring = draw(edge_free_wirings(num_layers, 1))
    finals = draw(final_layer_choices(num_layers))
    return draw(simple_runs(draw(simple_networks(wiring, [draw(vector_sizes(1, 6))], finals),
                                 label="network")))


@st.composite
def burnin_runs(draw):
    """A burn-in of at least one step (and fewer than T), on one simple layer
    fed by external input (burn-in is a rule of the whole model: it needs no
    edge)."""
    network = draw(simple_networks([[("input", 0)]], [draw(vector_sizes(1, 6))]),
                   label="network")
    return draw(simple_runs(network, burnin=True))


@st.composite
def composed_in_graph_runs(draw):
    """A composed layer as one node of a graph: a Parallel reading several
    sources (it gets their list, in order), a CompoundLayer on a self-loop or
    feedback edge (as SequentialLocalFeedback builds it), or a ResNetBlock."""
    sizes = draw(input_sizes(1, 3), label="input sizes")
    num_layers = draw(st.integers(1, 4), label="layers")
    wiring = draw(feedback_wirings(num_layers, len(sizes), min_feedback=0))
    host = draw(st.integers(0, num_layers - 1), label="composed layer")
    kind = draw(st.sampled_from(COMPOSED_IN_GRAPH), label="composed kind")
    if kind == "Parallel":
        while len(wiring[host]) < 2:
            source = draw(st.one_of(
                st.tuples(st.just("layer"), st.integers(host, num_layers - 1)),
                st.tuples(st.just("input"), st.integers(0, len(sizes) - 1))),
                label="another Parallel source")
            if source not in wiring[host]:
                wiring[host].append(source)
    elif kind == "CompoundLayer" and draw(st.booleans(), label="compound on a loop"):
        source = ("layer", draw(st.integers(host, num_layers - 1), label="loop source"))
        if source not in wiring[host]:
            wiring[host].insert(0, source)
    elif kind == "ResNetBlock":  # shape preserving: it cannot read a feedback edge
        wiring[host] = [s for s in wiring[host] if s[0] == "input"] or [("input", 0)]
    network = draw(simple_networks(wiring, sizes, composed={host: kind}), label="network")
    return draw(simple_runs(network))



@st.composite
def random_layer_key_runs(draw):
    """Two to five layers, all reading the one external input (no edge), one
    or more of them Dropout layers, the model returning the last layer; inputs
    are analogue currents (never exactly zero), so every Dropout layer's
    last output, compared like every layer's, shows its mask: whether layer
    `i` received `split(key, num_layers)[i]` (SPEC.md §4.4), on the step
    path and as a time-parallel layer of the graph schedule (§4.6), and its
    outputs at every step, when it is the last layer, whether that split is
    the same at every step."""
    sizes = [draw(vector_sizes(2, 6), label="input size")]
    num_layers = draw(st.integers(2, 5), label="layers")
    wiring = draw(edge_free_wirings(num_layers, 1))
    dropout_ids = draw(st.lists(st.integers(0, num_layers - 1), min_size=1,
                                max_size=num_layers, unique=True), label="Dropout layers")
    network = draw(simple_networks(wiring, sizes, dropout_ids=dropout_ids), label="network")
    return draw(simple_runs(network, styles=("current",)))


# -- the state rows: runs from a given state, runs in two calls -------------------
#
# Whole random networks and single layers of every class (as in the class rows),
# for T often one whose checkpointed scan (SPEC.md §4.6: chunks of
# round(sqrt(T)) steps, runs of fewer than 4 steps scanned plainly) ends in a
# partial chunk.

UNEVEN_CHUNK_STEPS = (5, 7, 10, 11, 50)


def uneven_chunk_steps(min_steps: int = 1, max_steps: int = 50):
    """T in [min_steps, max_steps], half the time one of UNEVEN_CHUNK_STEPS
    (5 = 2+2+1, 7 = 3+3+1, 10 = 3+3+3+1, 11 = 3+3+3+2, 50 = 7*7+1)."""
    uneven = [t for t in UNEVEN_CHUNK_STEPS if min_steps <= t <= max_steps]
    return st.one_of(st.sampled_from(uneven), st.integers(min_steps, max_steps))


@st.composite
def runs_of_any_network(draw, min_steps: int = 1):
    """A whole random network (straight-through or delayed, maybe a burn-in),
    or one layer of a documented class or equinox ingredient alone."""
    steps = uneven_chunk_steps(min_steps)
    if draw(st.booleans(), label="whole random network?"):
        return draw(runs(steps=steps), label="run")
    kind = draw(st.sampled_from(ISOLATED_KINDS), label="isolated kind")
    return draw(isolated_runs(kind, steps=steps), label="run")


@st.composite
def runs_from_states(draw):
    """`(run, seed)`: a run and the seed of its random valid initial state
    (`oracle.random_valid_state`)."""
    return draw(runs_of_any_network()), draw(st.integers(0, 2**32 - 1), label="state seed")


@st.composite
def chunked_runs(draw):
    """`(run, split)`: a run of T >= 2 steps and where to cut it, `1 <= split < T`."""
    run = draw(runs_of_any_network(min_steps=2))
    return run, draw(st.integers(1, run.num_steps - 1), label="split")
