"""`to_nir`: a `StatefulModel` as a NIR graph (SPEC.md §10)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import nir
import numpy as np

from .. import snn
from ..snn.graph import strongly_connected_components
from ..snn.layers.stateful import default_init_fn
from ..snn.shapes import input_shapes as shape_of_inputs
from .step import check_dt, time_constant_of_decay


def _is_summing_compound(layer) -> bool:
    """`CompoundLayer(Parallel([Identity()] * k), inner)`: sums its k inputs."""
    return (type(layer) is snn.CompoundLayer and len(layer.layers) == 2
            and type(layer.layers[0]) is snn.Parallel
            and all(type(m) is eqx.nn.Identity for m in layer.layers[0].layers))


def _layer_problem(index: int, layer, message: str) -> ValueError:
    return ValueError(f"to_nir: layer {index} ({type(layer).__name__}): {message}")


def _decay_times(layer, index, entry: int, shape, dt) -> np.ndarray:
    """tau per neuron for the decay constant `dc[entry]`."""
    constants = np.asarray(layer.decay_constants, dtype=np.float64)
    return time_constant_of_decay(np.broadcast_to(constants[entry], shape), dt)


def _threshold_array(layer, shape) -> np.ndarray:
    return np.broadcast_to(np.asarray(layer.threshold, dtype=np.float64), shape).copy()


def _neuron_node(index: int, layer, shape: tuple, dt: float):
    kind = type(layer)
    if getattr(layer, "init_fn", default_init_fn) is not default_init_fn:
        raise _layer_problem(index, layer, "init_fn is not the default (zeros): a NIR graph "
                                           "carries no initial state (SPEC.md §10)")
    zeros = np.zeros(shape)
    if kind is snn.SimpleLI:
        return nir.LI(tau=_decay_times(layer, index, 0, shape, dt), r=np.ones(shape),
                      v_leak=zeros)
    if layer.reset_val is not None and kind in (snn.SimpleLIF, snn.SimpleIAF):
        raise _layer_problem(index, layer, f"reset_val={np.asarray(layer.reset_val).tolist()} "
                                           "subtracts a constant per spike; NIR resets to "
                                           "v_reset (only reset_val=None, reset to 0, maps)")
    threshold = _threshold_array(layer, shape)
    if kind is snn.SimpleLIF:
        return nir.LIF(tau=_decay_times(layer, index, 0, shape, dt), r=np.ones(shape),
                       v_leak=zeros, v_threshold=threshold, v_reset=zeros.copy())
    if kind is snn.LIF:
        tau_mem = _decay_times(layer, index, 0, shape, dt)
        tau_syn = _decay_times(layer, index, 1, shape, dt)
        # Each step adds its input unscaled, as snnTorch's and Norse's discrete neurons do
        # (and snnTorch's importer requires): r = tau_mem/dt and w_in = tau_syn/dt, the
        # gain r*w_in folded into the threshold and the reset (SPEC.md §10). A decay of 1
        # (tau = inf) ignores its input, so any gain is exact there: 1.
        r = np.where(np.isfinite(tau_mem), tau_mem / dt, 1.0)
        w_in = np.where(np.isfinite(tau_syn), tau_syn / dt, 1.0)
        gain = r * w_in
        reset = zeros.copy() if layer.reset_val is None else np.broadcast_to(
            np.asarray(layer.reset_val, dtype=np.float64), shape) * gain
        return nir.CubaLIF(tau_syn=tau_syn, tau_mem=tau_mem, r=r, v_leak=zeros,
                           v_threshold=threshold * gain, v_reset=reset, w_in=w_in)
    if kind is snn.SimpleIAF:
        leak = np.asarray(layer.leak, dtype=np.float64)
        if np.any(leak != 0):
            raise _layer_problem(index, layer, f"leak={leak.tolist()}: NIR's IF has no "
                                               "constant leak (only leak=0 maps)")
        return nir.IF(r=np.full(shape, 1.0 / dt), v_threshold=threshold, v_reset=zeros)
    raise AssertionError(kind)


NEURON_CLASSES = (snn.SimpleLI, snn.SimpleLIF, snn.LIF, snn.SimpleIAF)


def _symmetric_padding(index, layer, padding) -> tuple:
    pads = []
    for low, high in padding:
        if low != high:
            raise _layer_problem(index, layer, f"padding={padding}: NIR pads both sides "
                                               "of an axis equally")
        pads.append(int(low))
    return tuple(pads)


def _layer_node(index: int, layer, in_shape: tuple, dt: float):
    """The NIR node computing `layer` on an input of `in_shape`."""
    kind = type(layer)
    if kind in NEURON_CLASSES:
        return _neuron_node(index, layer, tuple(in_shape), dt)
    if kind is eqx.nn.Linear:
        if layer.in_features == "scalar" or layer.out_features == "scalar":
            raise _layer_problem(index, layer, "in_features/out_features 'scalar' has no NIR "
                                               "counterpart (weights are (out, in))")
        weight = np.asarray(layer.weight, dtype=np.float64)
        if layer.use_bias:
            return nir.Affine(weight=weight, bias=np.asarray(layer.bias, dtype=np.float64))
        return nir.Linear(weight=weight)
    if isinstance(layer, eqx.nn.Conv) and layer.num_spatial_dims in (1, 2) and not isinstance(
            layer, eqx.nn.ConvTranspose):
        if getattr(layer, "padding_mode", "ZEROS") != "ZEROS":
            raise _layer_problem(index, layer, f"padding_mode={layer.padding_mode!r}: NIR "
                                               "pads with zeros")
        padding = _symmetric_padding(index, layer, layer.padding)
        weight = np.asarray(layer.weight, dtype=np.float64)
        bias = (np.asarray(layer.bias, dtype=np.float64).reshape(-1) if layer.use_bias
                else np.zeros(weight.shape[0]))
        if layer.num_spatial_dims == 1:
            return nir.Conv1d(input_shape=int(in_shape[1]), weight=weight,
                              stride=int(layer.stride[0]), padding=padding[0],
                              dilation=int(layer.dilation[0]), groups=int(layer.groups),
                              bias=bias)
        return nir.Conv2d(input_shape=tuple(int(s) for s in in_shape[1:]), weight=weight,
                          stride=tuple(int(s) for s in layer.stride), padding=padding,
                          dilation=tuple(int(d) for d in layer.dilation),
                          groups=int(layer.groups), bias=bias)
    if kind is eqx.nn.AvgPool2d:
        padding = _symmetric_padding(index, layer, layer.padding)
        if any(padding) or layer.use_ceil:
            raise _layer_problem(index, layer, f"padding={layer.padding}, use_ceil="
                                               f"{layer.use_ceil}: only unpadded floor pooling "
                                               "maps (SPEC.md §10)")
        return nir.AvgPool2d(kernel_size=np.asarray(layer.kernel_size),
                             stride=np.asarray(layer.stride), padding=np.zeros(2, dtype=int))
    if kind is snn.Flatten:
        return nir.Flatten(input_type={"input": np.asarray(in_shape)}, start_dim=0,
                           end_dim=-1)
    raise _layer_problem(index, layer, "has no NIR counterpart (SPEC.md §10 lists the classes "
                                       "that map)")


def _node_name(index: int, layer) -> str:
    inner = layer.layers[1] if _is_summing_compound(layer) else layer
    return f"layer{index}_{type(inner).__name__}"


def _port_names(prefix: str, count: int) -> list:
    return [prefix] if count == 1 else [f"{prefix}{k}" for k in range(count)]


def to_nir(model, in_shape, *, dt, shapes=None) -> "nir.NIRGraph":
    """The NIR graph of `model`, discretised at time step `dt` (SPEC.md §10).

    Layer `i` becomes the node `layer{i}_{Class}`; external input `k` the
    node `input` (`input{k}` with several), final layer `f` the node `output`
    (`output{f}`); `dt` is recorded in `graph.metadata["dt"]`.

    **Arguments:**

    - `model`: a `snn.StatefulModel` (e.g. `snn.Sequential`).
    - `in_shape`: the shape of one sample (a list of shapes with several
      inputs), as `model.init_state` takes it.
    - `dt`: the time step (a positive number).
    - `shapes`: what each layer receives, as `model.init_state` takes it.

    **Returns:**

    A `nir.NIRGraph`. Raises `ValueError` naming the layer, its class and the
    field for anything NIR cannot express.
    """
    dt = check_dt(dt)
    if not isinstance(model, snn.StatefulModel):
        raise TypeError(f"to_nir: model must be a snn.StatefulModel (e.g. snn.Sequential), "
                        f"got {type(model).__name__}")
    if model.forward_fn is not snn.default_forward_fn:
        raise ValueError(f"to_nir: forward_fn {getattr(model.forward_fn, '__name__', '?')}: "
                         "only default_forward_fn maps (NIR edges carry no delay; SPEC.md §10)")
    graph = model.graph_structure
    carries = model.init_state(in_shape, shapes=shapes, key=jax.random.PRNGKey(0))
    input_shapes = shape_of_inputs(in_shape, graph.num_inputs)
    output_shapes = [tuple(jnp.shape(carry.output)) for carry in carries]
    input_names = _port_names("input", len(input_shapes))
    names = [_node_name(i, layer) for i, layer in enumerate(model.layers)]

    nodes = {name: nir.Input(input_type={"input": np.asarray(shape)})
             for name, shape in zip(input_names, input_shapes)}
    edges = []
    for i, layer in enumerate(model.layers):
        sources = ([(names[j], output_shapes[j]) for j in graph.input_connectivity[i]]
                   + [(input_names[k], input_shapes[k]) for k in graph.input_layer_ids[i]])
        inner = layer
        if _is_summing_compound(layer):
            inner = layer.layers[1]
            if len(layer.layers[0].layers) != len(sources):
                raise _layer_problem(i, layer, f"its Parallel has {len(layer.layers[0].layers)} "
                                               f"members for {len(sources)} inputs")
            if len({shape for _, shape in sources}) > 1:
                raise _layer_problem(i, layer, "sums inputs of shapes "
                                               f"{[shape for _, shape in sources]}")
        elif isinstance(layer, snn.CompoundLayer) or type(layer) is snn.Parallel:
            raise _layer_problem(i, layer, "has no NIR counterpart (only CompoundLayer("
                                           "Parallel([Identity()] * k), layer), which sums "
                                           "k inputs, maps)")
        elif len(sources) > 1:
            raise _layer_problem(i, layer, f"concatenates {len(sources)} inputs "
                                           f"({', '.join(n for n, _ in sources)}); NIR sums the "
                                           "inputs of a node: wrap it as CompoundLayer(Parallel"
                                           "([Identity()] * k), layer) to sum them instead")
        nodes[names[i]] = _layer_node(i, inner, sources[0][1], dt)
        edges.extend((source, names[i]) for source, _ in sources)

    components = strongly_connected_components(len(names), graph.input_connectivity)
    component_of = {names[i]: k for k, c in enumerate(components) for i in c}
    for i in range(len(names)):
        for j in graph.input_connectivity[i]:
            if j >= i and component_of[names[j]] != component_of[names[i]]:
                raise ValueError(
                    f"to_nir: layer {i} ({type(model.layers[i]).__name__}) reads layer {j} "
                    "one step late (an edge j -> i with j >= i) although the edge lies on no "
                    "cycle; a NIR edge outside a cycle carries no delay (SPEC.md §10)")
    output_names = _port_names("output", len(graph.final_layer_ids))
    for name, f in zip(output_names, graph.final_layer_ids):
        nodes[name] = nir.Output(output_type={"output": np.asarray(output_shapes[f])})
        edges.append((names[f], name))
    # Types are set here, not inferred by nir: its inference adds an Output node for
    # every layer no other node reads, which would make that layer a final one.
    for i, layer in enumerate(model.layers):
        node = nodes[names[i]]
        if isinstance(node, nir.AvgPool2d):
            receives = [s for s, t in edges if t == names[i]][0]
            node.input_type = {"input": np.asarray(nodes[receives].output_type["output"])}
            node.output_type = {"output": np.asarray(output_shapes[i])}
    graph = nir.NIRGraph(nodes=nodes, edges=edges, type_check=False,
                         metadata={"dt": dt, "exporter": "snnax_ref"})
    # nir's check takes a convolution's input channels to be weight.shape[1], which
    # is wrong for groups > 1.
    if not any(isinstance(node, (nir.Conv1d, nir.Conv2d)) and int(node.groups) > 1
               for node in nodes.values()):
        graph.check_types()
    return graph
