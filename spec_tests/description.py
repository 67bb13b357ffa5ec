"""A spiking network described as plain data.

This is the common language of the NumPy oracle, the Hypothesis strategies and
the adapters: nothing here depends on JAX, equinox or any implementation, so
the oracle can read it and every implementation can be built from it.

A `NetworkSpec` mirrors `snn.GraphStructure` plus one `LayerSpec` per layer.
A `RunSpec` adds what one call of the model needs: the input sequences, the
forward semantics and `burnin`.

Layer kinds and their fields (names follow the constructor arguments of the
documented API; every array is a NumPy float64 array):

=================  ==========================================================
kind               hyper (static)                      / params (arrays)
=================  ==========================================================
SimpleIAF          threshold, reset_val, stop_reset_grad, spike_fn / leak
IAF                threshold, reset_val, stop_reset_grad, spike_fn / decay_constants, leak
SimpleLI           - / decay_constants
SimpleLIF          threshold, reset_val, stop_reset_grad, spike_fn / decay_constants
LIF                threshold, reset_val, stop_reset_grad, spike_fn / decay_constants
LIFSoftReset       threshold, reset_val, stop_reset_grad, spike_fn / decay_constants
AdaptiveLIF        threshold, reset_val, stop_reset_grad, spike_fn /
                   decay_constants, ada_decay_constant, ada_step_val, ada_coupling_var
SigmaDelta         threshold, spike_fn / decay_constants
SRM                threshold, spike_fn / decay_constants, r_decay_constants,
                   reset_val (params, a (1,) array or absent);  members=(inner layer,)
SpikeCounter       -
BatchNormLayer     eps, forget_weight / gamma
Flatten            -
SpikingMaxPool1d   kernel_size, stride, threshold, spike_fn
SpikingMaxPool2d   kernel_size, stride, threshold, spike_fn
CompoundLayer      members=(...)
ResNetBlock        members=(...)
Parallel           members=(...)       (receives its inputs as a list)
Linear             - / weight (out, in), bias (out,) or absent
Conv1d             stride, padding / weight (out, in, k), bias (out,) or absent
Conv2d             stride, padding / weight (out, in, kh, kw), bias (out,) or absent
LayerNorm          eps / weight, bias (both of the normalised shape)
MaxPool1d          kernel_size, stride
MaxPool2d          kernel_size, stride
AvgPool1d          kernel_size, stride
AvgPool2d          kernel_size, stride
Identity           -
Dropout            p (training mode: `eqx.nn.Dropout(p, inference=False)`)
=================  ==========================================================

`spike_fn` is a pair `(name, beta)` with name in {"superspike", "sigmoid",
"piecewise"}. `reset_val` in hyper is a float or None. Decay constants have
shape `(k,)` or `(k, *neuron_shape)`. Kernel sizes, strides and paddings are
ints (the same along every spatial axis). Pooling never pads.

A Dropout layer draws its mask from the key it is called with (SPEC.md
§4.4), so a run with one carries the seeds of its keys (`RunSpec.key_seed`,
`RunSpec.init_key_seed`); the masks those keys give are JAX's PRNG's
business, derived by the harness (`spec_tests/keys.py`) and handed to the
oracle as data (`RunSpec.dropout_masks`). Dropout is a node of the graph,
never a member of a composed layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

STRAIGHT_THROUGH = "straight_through"
DELAYED = "delayed"
FORWARD_KINDS = (STRAIGHT_THROUGH, DELAYED)

# -- layer kinds: the one place the harness names them -------------------------
# (The oracle keeps its own tables, written from SPEC.md.)

# Neurons with `reset_val` and `stop_reset_grad`.
RESETTING_NEURON_KINDS = ("SimpleIAF", "IAF", "SimpleLIF", "LIF", "LIFSoftReset", "AdaptiveLIF")
# Neurons whose output is spikes, with `threshold` and `spike_fn`.
SPIKING_NEURON_KINDS = RESETTING_NEURON_KINDS + ("SigmaDelta",)
# Every stateful single layer, in the documentation's order.
NEURON_KINDS = (
    "SimpleIAF", "IAF", "SimpleLI", "SimpleLIF", "LIF", "LIFSoftReset",
    "AdaptiveLIF", "SigmaDelta", "SRM", "SpikeCounter", "BatchNormLayer",
)
# Layers whose output is spikes.
SPIKE_OUTPUT_KINDS = SPIKING_NEURON_KINDS + ("SRM", "SpikingMaxPool1d", "SpikingMaxPool2d")
# Neurons acting elementwise (output shape = input shape); SRM maps sizes.
ELEMENTWISE_NEURON_KINDS = tuple(kind for kind in NEURON_KINDS if kind != "SRM")
COMPOSED_KINDS = ("CompoundLayer", "ResNetBlock", "Parallel")
SNN_STATELESS_KINDS = ("Flatten", "SpikingMaxPool1d", "SpikingMaxPool2d")
# The documented SNNAX classes, one conformance row each.
DOCUMENTED_CLASSES = NEURON_KINDS + SNN_STATELESS_KINDS + COMPOSED_KINDS
EQUINOX_KINDS = (
    "Linear", "Conv1d", "Conv2d", "LayerNorm", "MaxPool1d", "MaxPool2d",
    "AvgPool1d", "AvgPool2d", "Identity", "Dropout",
)
# Layers that draw from the key they are called with (SPEC.md §4.4).
RANDOM_KINDS = ("Dropout",)
ALL_KINDS = NEURON_KINDS + COMPOSED_KINDS + SNN_STATELESS_KINDS + EQUINOX_KINDS
STATEFUL_KINDS = NEURON_KINDS + ("CompoundLayer", "ResNetBlock")
# By what they do to shapes (a CompoundLayer can do either):
SHAPE_PRESERVING_KINDS = ELEMENTWISE_NEURON_KINDS + (
    "CompoundLayer", "ResNetBlock", "LayerNorm", "Identity", "Dropout")
SIZE_MAPPING_KINDS = ("Linear", "SRM", "Parallel", "CompoundLayer")
IMAGE_KINDS = ("Conv1d", "Conv2d", "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d",
               "SpikingMaxPool1d", "SpikingMaxPool2d", "Flatten")

# The names SPEC.md §3 gives each neuron's state components ("state `[V, I,
# S]`"), in the order of its flat state list (`RunResult.final_states[i]`).
# A composed layer's components are its members', named by
# `state_component_names`; every other kind has none.
STATE_COMPONENTS = {
    "SimpleIAF": ("V", "S"),
    "IAF": ("V", "I", "S"),
    "SimpleLI": ("V",),
    "SimpleLIF": ("V", "S"),
    "LIF": ("V", "I", "S"),
    "LIFSoftReset": ("V", "I", "S"),
    "AdaptiveLIF": ("V", "A", "S"),
    "SigmaDelta": ("i", "e", "m", "s", "S"),
    "SRM": ("p", "q", "r", "S"),
    "SpikeCounter": ("count", "S"),
    "BatchNormLayer": ("mean", "var"),
}


@dataclass(frozen=True, eq=False)
class LayerSpec:
    """One layer: its kind, static hyperparameters, parameter arrays, members."""

    kind: str
    hyper: dict[str, Any] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    members: tuple["LayerSpec", ...] = ()

    def __post_init__(self):
        if self.kind not in ALL_KINDS:
            raise ValueError(f"LayerSpec.kind: unknown kind {self.kind!r}")

    @property
    def is_stateful(self) -> bool:
        return self.kind in STATEFUL_KINDS


@dataclass(frozen=True, eq=False)
class NetworkSpec:
    """A graph of layers, as `snn.GraphStructure` plus the layers themselves."""

    layers: tuple[LayerSpec, ...]
    input_layer_ids: tuple[tuple[int, ...], ...]
    input_connectivity: tuple[tuple[int, ...], ...]
    final_layer_ids: tuple[int, ...]
    input_shapes: tuple[tuple[int, ...], ...]
    # Every layer's output shape, when the generator knows it (feedback edges
    # make it impossible to infer from the inputs alone); None otherwise.
    output_shapes: tuple[tuple[int, ...], ...] | None = None
    # The documented constructor that builds this graph (SPEC.md §5), for an
    # adapter to build it the way users do: ("Sequential",), or
    # ("SequentialLocalFeedback", feedback_layers) with feedback_layers None
    # or pairs ((k, v), ...) of `{k: v}`. None: `GraphStructure` + `StatefulModel`.
    # The graph fields are always the graph the constructor is documented to
    # build, which is what the oracle reads.
    constructor: tuple | None = None

    @property
    def num_layers(self) -> int:
        return len(self.layers)


@dataclass(frozen=True, eq=False)
class DropoutMasks:
    """What one Dropout layer draws in a run: `step`, the mask of every step
    (the layer's key is the same at every step, SPEC.md §4.4), and
    `initial`, the mask of the call that computes its initial output
    (SPEC.md §4.2). Boolean arrays of the layer's input shape; True keeps."""

    step: np.ndarray
    initial: np.ndarray


@dataclass(frozen=True, eq=False)
class RunSpec:
    """One call of a model: network, forward semantics, inputs and burn-in.

    `inputs[k]` has shape `(T, *network.input_shapes[k])`. The model is
    called with the key `jax.random.PRNGKey(key_seed)` and its state made by
    `init_state(..., key=jax.random.PRNGKey(init_key_seed))`.
    `dropout_masks[i]` is layer `i`'s `DropoutMasks` for every Dropout layer
    `i`: the oracle reads them, the harness derives them from the seeds for
    the precision the run is made in (`spec_tests.keys.with_dropout_masks`).
    """

    network: NetworkSpec
    inputs: tuple[np.ndarray, ...]
    forward: str = STRAIGHT_THROUGH
    burnin: int = 0
    key_seed: int = 1
    init_key_seed: int = 0
    dropout_masks: dict[int, DropoutMasks] | None = None

    @property
    def num_steps(self) -> int:
        return int(self.inputs[0].shape[0])


@dataclass
class RunResult:
    """What an implementation (or the oracle) reports for one `RunSpec`.

    `outputs[f]` has shape `(T - burnin, *out_shape)` for the `f`-th final layer.
    `final_states[i]` is layer `i`'s final state as a flat list of arrays, in
    the order of SPEC.md's state layout (members' states concatenated in order
    for composed layers; empty for stateless layers), and
    `final_outputs[i]` its last output.
    `near_threshold_steps` (oracle only) has shape `(T,)`: step `t` is True
    when some spike function anywhere in the network received an argument
    within the oracle's margin of zero at that step, so that a float32
    implementation may legitimately decide that spike the other way.
    """

    outputs: list[np.ndarray]
    final_states: list[list[np.ndarray]]
    final_outputs: list[np.ndarray]
    near_threshold_steps: np.ndarray | None = None


def describe(run: RunSpec) -> str:
    """A one-line human summary of a run, for reports."""
    net = run.network
    kinds = ",".join(layer.kind for layer in net.layers)
    return (f"{net.num_layers} layers [{kinds}] T={run.num_steps} "
            f"burnin={run.burnin} forward={run.forward}")


def state_component_names(layer) -> tuple[str, ...]:
    """The SPEC names of `layer`'s flat state components, in order: a neuron's
    from `STATE_COMPONENTS`; a CompoundLayer's or ResNetBlock's its members'
    concatenated, prefixed with the member, `layers[k].V` (a stateless member
    has none); any other kind's none."""
    if layer.kind in STATE_COMPONENTS:
        return STATE_COMPONENTS[layer.kind]
    if layer.kind in ("CompoundLayer", "ResNetBlock"):
        return tuple(f"layers[{k}].{name}" for k, member in enumerate(layer.members)
                     for name in state_component_names(member))
    return ()
