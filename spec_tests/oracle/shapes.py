"""Shapes: every layer's output shape, and the SPEC default initial state.

`output_shape(layer, input_shape)` is the shape rule of each kind.
`infer_network_shapes(network)` settles every layer's input and output shape,
feedback edges included, by repeated passes in index order (SPEC.md 4.2): a
layer whose connected layer's shape is not known yet is first evaluated
without that input ("partial": Linear, convolutions and LayerNorm then take
their output size from their weights without checking the input size), the
passes repeat until nothing changes, and a final strict pass checks every
layer against its full concatenated input.
"""

from __future__ import annotations

import numpy as np

from spec_tests.oracle.defaults import hyper, optional_param, param
from spec_tests.oracle.neurons import STATE_NAMES
from spec_tests.oracle.stateless import CONV_SPATIAL_DIMS, POOL_SPATIAL_DIMS, window_output_size

def receives_input_list(layer) -> bool:
    """SPEC 4.3: a Parallel, or a CompoundLayer whose first member is a Parallel,
    receives its inputs as a list; every other layer their concatenation."""
    return layer.kind == "Parallel" or (
        layer.kind == "CompoundLayer" and layer.members[0].kind == "Parallel")


ELEMENTWISE_KINDS = tuple(kind for kind in STATE_NAMES if kind != "SRM")


def concatenated_shape(shapes) -> tuple[int, ...]:
    """The shape of the concatenation along axis 0 of arrays of these shapes."""
    shapes = [tuple(s) for s in shapes]
    if len(shapes) == 1:
        return shapes[0]
    if any(len(s) == 0 for s in shapes) or len({s[1:] for s in shapes}) != 1:
        raise ValueError(f"cannot concatenate inputs of shapes {shapes} along axis 0")
    return (sum(s[0] for s in shapes),) + shapes[0][1:]


def _needs_dims(layer, shape, dims):
    if len(shape) != dims:
        raise ValueError(f"{layer.kind}: expected an input of {dims} dimensions, got {shape}")


def output_shape(layer, input_shape, partial: bool = False) -> tuple[int, ...]:
    """The shape of `layer`'s output for an input of `input_shape`.

    For Parallel, `input_shape` is a list of shapes (None where unknown when
    `partial`). Raises ValueError when the layer rejects the input.
    """
    kind = layer.kind
    if kind == "Parallel":
        if not isinstance(input_shape, list):
            raise ValueError(f"Parallel: expects a list of inputs, got one of shape {input_shape}")
        shapes = [output_shape(member, s, partial)
                  for member, s in zip(layer.members, input_shape) if s is not None]
        if len(input_shape) != len(layer.members) or not shapes:
            raise ValueError(f"Parallel: {len(layer.members)} members, inputs {input_shape}")
        if len(set(shapes)) != 1:
            raise ValueError(f"Parallel: member outputs {shapes} differ")
        return shapes[0]
    if kind == "CompoundLayer" and receives_input_list(layer):
        shape = input_shape
        for member in layer.members:
            shape = output_shape(member, shape, partial)
        return shape
    input_shape = tuple(int(n) for n in input_shape)
    if kind in ELEMENTWISE_KINDS or kind in ("Identity", "Dropout"):
        return input_shape
    if kind == "SRM":
        return output_shape(layer.members[0], input_shape, partial)
    if kind in ("CompoundLayer", "ResNetBlock"):
        shape = input_shape
        for member in layer.members:
            shape = output_shape(member, shape, partial)
        if kind == "ResNetBlock" and shape != input_shape and not partial:
            raise ValueError(f"ResNetBlock: the last member's output {shape} does not "
                             f"match the block's input {input_shape}")
        return input_shape if kind == "ResNetBlock" else shape
    if kind == "Flatten":
        return (int(np.prod(input_shape)),)
    if kind == "Linear":
        weight = param(layer, "weight")
        _needs_dims(layer, input_shape, 1)
        if input_shape[0] != weight.shape[1] and not partial:
            raise ValueError(f"Linear: weight {weight.shape} expects an input of shape "
                             f"({weight.shape[1]},), got {input_shape}")
        return (weight.shape[0],)
    if kind in CONV_SPATIAL_DIMS:
        weight = param(layer, "weight")
        _needs_dims(layer, input_shape, CONV_SPATIAL_DIMS[kind] + 1)
        if input_shape[0] != weight.shape[1] and not partial:
            raise ValueError(f"{kind}: weight {weight.shape} expects {weight.shape[1]} "
                             f"input channels, got input shape {input_shape}")
        stride, padding = int(hyper(layer, "stride")), int(hyper(layer, "padding"))
        return (weight.shape[0],) + tuple(
            window_output_size(n, weight.shape[2], stride, padding) for n in input_shape[1:])
    if kind == "LayerNorm":
        given = [p.shape for p in (optional_param(layer, "weight"), optional_param(layer, "bias"))
                 if p is not None]
        normalised = given[0] if given else input_shape
        if input_shape != normalised and not partial:
            raise ValueError(f"LayerNorm: normalised shape {normalised} but input {input_shape}")
        return normalised
    if kind in POOL_SPATIAL_DIMS:
        _needs_dims(layer, input_shape, POOL_SPATIAL_DIMS[kind] + 1)
        kernel, stride = int(hyper(layer, "kernel_size")), int(hyper(layer, "stride"))
        return (input_shape[0],) + tuple(
            window_output_size(n, kernel, stride) for n in input_shape[1:])
    raise ValueError(f"unknown layer kind {kind!r}")


def initial_layer_state(layer, input_shape) -> list[np.ndarray]:
    """SPEC's default state for an input of `input_shape`, as a flat list.

    Zeros everywhere (the membrane's default init_fn), except BatchNormLayer's
    running variance, which starts at one; SRM's p, q have the input's shape
    and r, S the inner layer's output shape; stateless layers have none.
    """
    kind = layer.kind
    if kind == "BatchNormLayer":
        return [np.zeros(input_shape), np.ones(input_shape)]
    if kind == "SRM":
        inner_shape = output_shape(layer.members[0], input_shape)
        return [np.zeros(input_shape), np.zeros(input_shape),
                np.zeros(inner_shape), np.zeros(inner_shape)]
    if kind in STATE_NAMES:
        return [np.zeros(input_shape) for _ in STATE_NAMES[kind]]
    if kind in ("CompoundLayer", "ResNetBlock"):
        state, shape = [], input_shape if receives_input_list(layer) else tuple(input_shape)
        for member in layer.members:
            state += initial_layer_state(member, shape)
            shape = output_shape(member, shape)
        return state
    return []


def _input_parts(network, i, output_shapes):
    """The shapes feeding layer i: connected layers in order, then external inputs."""
    return ([output_shapes[j] for j in network.input_connectivity[i]]
            + [tuple(network.input_shapes[k]) for k in network.input_layer_ids[i]])


def _combined_input(layer, parts):
    """What the layer receives: the list (Parallel, or a CompoundLayer headed by
    one), the single part, or the concatenation."""
    if receives_input_list(layer):
        return parts
    known = [p for p in parts if p is not None]
    if not known:
        raise ValueError("no known input")
    return concatenated_shape(known)


def infer_network_shapes(network):
    """(input_shapes, output_shapes), one entry per layer.

    `input_shapes[i]` is the shape layer i receives (a list of shapes for a
    Parallel layer). Raises ValueError naming the layer when the shapes
    cannot be settled or a layer rejects its input.
    """
    n = network.num_layers
    given = getattr(network, "output_shapes", None)
    # Shapes the description gives are a starting point; the strict pass below
    # still checks every layer against them.
    output_shapes = [tuple(s) for s in given] if given is not None else [None] * n
    for _ in range(2 * n + 2):
        changed = False
        for i, layer in enumerate(network.layers):
            parts = _input_parts(network, i, output_shapes)
            partial = any(p is None for p in parts)
            try:
                shape = output_shape(layer, _combined_input(layer, parts), partial)
            except ValueError:
                continue  # try again in the next pass, with more shapes known
            if shape != output_shapes[i]:
                output_shapes[i], changed = shape, True
        if not changed and all(s is not None for s in output_shapes):
            break
    input_shapes = []
    for i, layer in enumerate(network.layers):
        parts = _input_parts(network, i, output_shapes)
        if any(p is None for p in parts):
            missing = [j for j, p in zip(network.input_connectivity[i], parts) if p is None]
            raise ValueError(f"layer {i} ({layer.kind}): the output shapes of layers {missing} "
                             "cannot be inferred; give them explicitly (shapes)")
        try:
            combined = _combined_input(layer, parts)
            shape = output_shape(layer, combined)
        except ValueError as error:
            raise ValueError(f"layer {i} ({layer.kind}) rejects its input: parts {parts}: "
                             f"{error}") from None
        if shape != output_shapes[i]:
            raise ValueError(f"layer {i} ({layer.kind}): output shape {shape} is inconsistent "
                             f"with the feedback shape {output_shapes[i]}")
        input_shapes.append(combined)
    return input_shapes, output_shapes
