"""Shape inference for `StatefulModel.init_state` (SPEC.md §4.2).

Output shapes are found layer by layer with abstract evaluation. A layer
that reads a layer whose shape is still unknown (a feedback edge) is first
evaluated without that input; passes repeat until nothing changes, then a
last strict pass checks every layer against all of its inputs.
"""

from typing import Dict, List, Optional, Sequence, Tuple

from .graph import GraphStructure, is_int
from .layers.compound import receives_input_list
from .layers.stateful import abstract_output_shape, as_shape

Shape = Tuple[int, ...]


def _layer_name(layers, index: int) -> str:
    return f"layer {index} ({type(layers[index]).__name__})"


def input_parts(struct: GraphStructure, index: int, output_shapes: Dict[int, Shape],
                input_shapes: Sequence[Shape]) -> List[Tuple[str, Optional[Shape]]]:
    """`(name, shape)` of each input of layer `index`, in concatenation order."""
    return struct.layer_inputs(index, lambda j: (f"layer {j}", output_shapes.get(j)),
                               lambda k: (f"external input {k}", input_shapes[k]))


def _describe(parts) -> str:
    return " + ".join(f"{name} {shape}" for name, shape in parts)


def concatenated_shape(layers, index: int, parts, context="init_state") -> Shape:
    """The shape of the concatenation (axis 0) of `parts`, or a clear error."""
    shapes = [shape for _, shape in parts]
    if len(shapes) == 1:
        return shapes[0]
    trailing = {shape[1:] for shape in shapes}
    if any(len(shape) == 0 for shape in shapes) or len(trailing) > 1:
        raise ValueError(
            f"{context}: the inputs of {_layer_name(layers, index)} cannot be concatenated "
            f"along axis 0: {_describe(parts)}; every input needs the same shape after "
            "its first axis.")
    return (sum(shape[0] for shape in shapes),) + shapes[0][1:]


def evaluate_layer(layers, index: int, parts, dtype, state=None, context="init_state"):
    """Abstractly run one step of layer `index`; return its output's shape.

    A stateful layer uses `state`, or a fresh `init_state` of its input shape.
    Any failure becomes a `ValueError` naming the layer and its input shapes.
    """
    if receives_input_list(layers[index]):
        input_shape, described = [shape for _, shape in parts], _describe(parts)
    else:
        input_shape = concatenated_shape(layers, index, parts, context)
        described = (f"{input_shape} = {_describe(parts)}" if len(parts) > 1
                     else f"{input_shape} from {_describe(parts)}")
    try:
        return abstract_output_shape(layers[index], input_shape, dtype, state)
    except Exception as error:  # noqa: BLE001 - re-raised with the layer and shapes
        raise ValueError(
            f"{context}: {_layer_name(layers, index)} cannot take its input of shape "
            f"{described}: {type(error).__name__}: {error}") from error


def _is_shape(value) -> bool:
    return isinstance(value, tuple) and all(is_int(d) for d in value)


def _given_shape(value):
    return as_shape(tuple(value) if isinstance(value, list) else value)


def input_shapes(in_shape, num_inputs: int) -> List[Shape]:
    """`in_shape` as one shape per external input. As upstream reads it: a tuple
    of ints is one shape, an int `n` the shape `(n,)`, and a list holds one
    entry per external input, an int `n` in it meaning `(n,)` (SPEC.md §4.2)."""
    if _is_shape(as_shape(in_shape)):
        shapes, names = [as_shape(in_shape)], ["in_shape"]
    else:
        try:
            if isinstance(in_shape, (str, bytes)):
                raise TypeError
            shapes = [as_shape(shape if is_int(shape) else tuple(shape)) for shape in in_shape]
        except TypeError:
            raise ValueError(f"init_state: in_shape must be a shape (tuple of ints) or a "
                             f"sequence of shapes, got {in_shape!r}") from None
        names = [f"in_shape[{k}]" for k in range(len(shapes))]
    for name, shape in zip(names, shapes):
        if not _is_shape(shape):
            raise ValueError(f"init_state: {name} = {shape!r} is not a shape (a tuple of ints).")
        if any(d < 0 for d in shape):
            raise ValueError(f"init_state: {name} = {shape} has a negative dimension.")
    if len(shapes) != num_inputs:
        raise ValueError(f"init_state: the graph reads {num_inputs} external input(s) but "
                         f"in_shape gives {len(shapes)} shape(s): {shapes}.")
    return shapes


def given_input_parts(layers, index: int, given) -> List[Tuple[str, Shape]]:
    """`shapes[index]` as input parts: one part, or one per entry for a layer
    that receives a list."""
    if receives_input_list(layers[index]):
        if is_int(given) or not all(is_int(s) or isinstance(s, (tuple, list)) for s in given):
            raise ValueError(
                f"init_state: {_layer_name(layers, index)} receives a list of inputs, so "
                f"shapes[{index}] must be a list with one shape per input, got {given!r}.")
        return [(f"shapes[{index}][{k}]", _given_shape(s)) for k, s in enumerate(given)]
    return [(f"shapes[{index}]", _given_shape(given))]


def infer_output_shapes(layers, struct: GraphStructure, input_shapes: Sequence[Shape],
                        shapes: Optional[Sequence] = None, dtype=None) -> List[Shape]:
    """Every layer's output shape.

    `shapes[i]`, when given, is the shape of what layer `i` receives (its
    input: an int `n` means `(n,)`; a list of shapes for a layer that
    receives a list), as upstream SNNAX's examples pass it; it settles
    feedback edges and must agree with the graph (SPEC.md §4.2).
    """
    num_layers = struct.num_layers
    given: Dict[int, list] = {}
    if shapes is not None:
        if len(shapes) != num_layers:
            raise ValueError(f"init_state: shapes has {len(shapes)} entries but the model "
                             f"has {num_layers} layers.")
        given = {i: given_input_parts(layers, i, s) for i, s in enumerate(shapes)
                 if s is not None}
    known: Dict[int, Shape] = {i: evaluate_layer(layers, i, parts, dtype)
                               for i, parts in given.items()}

    for _ in range(num_layers + 1):
        changed = False
        for i in range(num_layers):
            parts = input_parts(struct, i, known, input_shapes)
            available = [(name, shape) for name, shape in parts if shape is not None]
            if not available or i in given:
                continue
            if len(available) == len(parts):
                shape = evaluate_layer(layers, i, parts, dtype)
            else:
                try:  # provisional: a feedback input's shape is not known yet
                    shape = evaluate_layer(layers, i, available, dtype)
                except ValueError:
                    continue
            if known.get(i) != shape:
                known[i] = shape
                changed = True
        if not changed:
            break

    for i in range(num_layers):
        parts = input_parts(struct, i, known, input_shapes)
        unknown = [name for name, shape in parts if shape is None]
        if unknown or i not in known:
            raise ValueError(
                f"init_state: cannot infer the shapes around {_layer_name(layers, i)} "
                f"(unknown: {', '.join(unknown) or f'layer {i}'}); pass "
                "shapes=[input shape of each layer, or None] to init_state.")
        if i in given:
            received = ([shape for _, shape in parts] if receives_input_list(layers[i])
                        else concatenated_shape(layers, i, parts))
            expected = ([shape for _, shape in given[i]] if receives_input_list(layers[i])
                        else given[i][0][1])
            if received != expected:
                raise ValueError(
                    f"init_state: shapes[{i}] says {_layer_name(layers, i)} receives "
                    f"{expected}, but the graph gives it {_describe(parts)}; shapes[{i}] is "
                    "the shape of what the layer receives (SPEC.md §4.2): fix it or the graph.")
        shape = evaluate_layer(layers, i, parts, dtype)
        if shape != known[i]:
            raise ValueError(
                f"init_state: {_layer_name(layers, i)} outputs shape {shape} for its input "
                f"{_describe(parts)}, but the inferred shape is {known[i]}; pass shapes=[input "
                "shape of each layer, or None] to settle the feedback edges.")
    return [known[i] for i in range(num_layers)]


def layer_input_shape(layers, struct, index, output_shapes, input_shapes):
    """The shape of what layer `index` receives (a list of shapes for a layer that
    takes a list)."""
    parts = input_parts(struct, index, dict(enumerate(output_shapes)), input_shapes)
    if receives_input_list(layers[index]):
        return [shape for _, shape in parts]
    return concatenated_shape(layers, index, parts)
