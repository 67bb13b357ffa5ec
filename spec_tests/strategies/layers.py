"""Strategies for hyperparameters and single layers: thresholds, decay
constants, spike functions; neuron, shape-preserving, Linear and mapping
layers; image layers and image stems (a chain of them ending in Flatten).

Arrays are drawn from a NumPy generator seeded by Hypothesis (`_rng`);
shapes, kinds and scalars are drawn by Hypothesis itself, so they shrink.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ..description import (ELEMENTWISE_NEURON_KINDS, RESETTING_NEURON_KINDS,
                           SHAPE_PRESERVING_KINDS, SIZE_MAPPING_KINDS, SPIKING_NEURON_KINDS,
                           LayerSpec)

MAX_VECTOR_SIZE = 24


def _rng(draw, label):
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1), label=label))


def vector_sizes(low: int = 1, high: int = 8):
    """The size of a vector input or output."""
    return st.integers(low, high)



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
def linear_layers(draw, in_features: int, out_features: int, gains=(1.5, 3.0, 5.0)):
    """A Linear layer whose weights (of a gain drawn from `gains`) make
    downstream neurons spike."""
    rng = _rng(draw, "linear seed")
    gain = draw(st.sampled_from(gains), label="weight gain")
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

