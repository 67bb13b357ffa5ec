"""NIR interchange: `to_nir` and `from_nir` (SPEC.md §10).

NIR (the Neuromorphic Intermediate Representation, package `nir`) describes
a network as continuous-time nodes joined by edges; the reference runs
discrete steps. The conversions here discretise with forward Euler at a time
step `dt`, which is exactly the reference's `V <- a*V + (1 - a)*x` with
`a = 1 - dt/tau`, and refuse (with a `ValueError` naming the node or layer,
the field and the value) whatever would give another model: a class without
a NIR counterpart, a parameter NIR cannot express in the reference or the
reference cannot express in NIR.

    from snnax_ref import nir as snnax_nir
    graph = snnax_nir.to_nir(model, in_shape, dt=1.0)
    imported = snnax_nir.from_nir(graph, dt=1.0)
    states = imported.init_state()

Summary of the mapping (SPEC.md §10 has the rules and their sources):

    eqx.nn.Linear (bias)   <-> Affine          eqx.nn.Linear (no bias) <-> Linear
    eqx.nn.Conv1d / Conv2d <-> Conv1d / Conv2d eqx.nn.AvgPool2d        <-> AvgPool2d
    snn.Flatten            <-> Flatten          snn.SimpleLI            <-> LI
    snn.SimpleLIF          <-> LIF              snn.LIF                 <-> CubaLIF
    snn.SimpleIAF          <-> IF
    CompoundLayer(Parallel([Identity()] * k), layer) <-> a node with k incoming edges
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

try:
    import nir
except ImportError as error:  # nir is an optional dependency (the `test` extra)
    raise ImportError("snnax_ref.nir needs the `nir` package: pip install nir") from error

from . import snn
from .snn.layers.stateful import default_init_fn
from .snn.schedule import components_sources_first

__all__ = ["to_nir", "from_nir", "layer_order", "NIRImport"]

# The decay range the reference does not clamp (SPEC.md §3: clamp(0.5, dc, 1)).
LOWEST_DECAY = 0.5


# -- shared helpers -----------------------------------------------------------

def _check_dt(dt) -> float:
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.floating, np.integer)):
        raise TypeError(f"dt must be a positive number (the time step), got {dt!r}")
    dt = float(dt)
    if not (math.isfinite(dt) and dt > 0):
        raise ValueError(f"dt must be a positive finite number (the time step), got {dt}")
    return dt


def natural_key(name: str):
    """Sort key comparing digit runs as numbers: 'lif2' < 'lif10'."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", str(name)) if part != ""]


def order_nodes(names: Sequence[str], edges: Sequence[tuple]) -> list:
    """SPEC.md §10 layer numbering: the strongly connected components in
    topological order (among those ready, the one whose first name in
    natural order comes first), the nodes of one component by natural name
    order. An edge to a node numbered no later than its source then lies on
    a cycle, and is read at the previous step."""
    ordered = sorted(names, key=natural_key)
    position = {name: k for k, name in enumerate(ordered)}
    sources_of = [[] for _ in ordered]
    for source, target in edges:
        sources_of[position[target]].append(position[source])
    components = [{ordered[k] for k in component}
                  for component in components_sources_first(len(ordered), sources_of)]
    component_of = {name: k for k, component in enumerate(components) for name in component}
    first_name = [min(component, key=natural_key) for component in components]
    waiting_for = [set() for _ in components]
    for source, target in edges:
        if component_of[source] != component_of[target]:
            waiting_for[component_of[target]].add(component_of[source])
    order, done = [], set()
    while len(done) < len(components):
        ready = [k for k in range(len(components)) if k not in done and waiting_for[k] <= done]
        chosen = min(ready, key=lambda k: natural_key(first_name[k]))
        done.add(chosen)
        order.extend(sorted(components[chosen], key=natural_key))
    return order


def _uniform_or_array(values: np.ndarray):
    """A Python float when every entry is the same, else the array."""
    values = np.asarray(values, dtype=np.float64)
    if values.size and np.all(values == values.flat[0]):
        return float(values.flat[0])
    return values


# -- export: StatefulModel -> NIRGraph ------------------------------------------

def _is_summing_compound(layer) -> bool:
    """`CompoundLayer(Parallel([Identity()] * k), inner)`: sums its k inputs."""
    return (type(layer) is snn.CompoundLayer and len(layer.layers) == 2
            and type(layer.layers[0]) is snn.Parallel
            and all(type(m) is eqx.nn.Identity for m in layer.layers[0].layers))


def _layer_problem(index: int, layer, message: str) -> ValueError:
    return ValueError(f"to_nir: layer {index} ({type(layer).__name__}): {message}")


def _decay_times(layer, index, entry: int, shape, dt) -> np.ndarray:
    """tau = dt / (1 - a) per neuron, a = clamp(0.5, dc[entry], 1) (inf where a = 1)."""
    constants = np.asarray(layer.decay_constants, dtype=np.float64)
    decay = np.clip(np.broadcast_to(constants[entry], shape), LOWEST_DECAY, 1.0)
    with np.errstate(divide="ignore"):
        return np.where(decay < 1.0, dt / np.where(decay < 1.0, 1.0 - decay, 1.0), np.inf)


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
        reset = zeros.copy() if layer.reset_val is None else np.broadcast_to(
            np.asarray(layer.reset_val, dtype=np.float64), shape).copy()
        return nir.CubaLIF(tau_syn=_decay_times(layer, index, 1, shape, dt),
                           tau_mem=_decay_times(layer, index, 0, shape, dt),
                           r=np.ones(shape), v_leak=zeros, v_threshold=threshold,
                           v_reset=reset, w_in=np.ones(shape))
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
    """The NIR graph of `model` (a `snn.StatefulModel`, e.g. `snn.Sequential`)
    for one sample of input shape `in_shape` (as `model.init_state` takes it;
    `shapes` as there), discretised at time step `dt` (SPEC.md §10).

    Layer `i` becomes the node `layer{i}_{Class}`; external input `k` the
    node `input` (`input{k}` with several), final layer `f` the node `output`
    (`output{f}`). Raises `ValueError` naming the layer, its class and the
    field for anything NIR cannot express."""
    dt = _check_dt(dt)
    if not isinstance(model, snn.StatefulModel):
        raise TypeError(f"to_nir: model must be a snn.StatefulModel (e.g. snn.Sequential), "
                        f"got {type(model).__name__}")
    if model.forward_fn is not snn.default_forward_fn:
        raise ValueError(f"to_nir: forward_fn {getattr(model.forward_fn, '__name__', '?')}: "
                         "only default_forward_fn maps (NIR edges carry no delay; SPEC.md §10)")
    graph = model.graph_structure
    carries = model.init_state(in_shape, shapes=shapes, key=jax.random.PRNGKey(0))
    if isinstance(in_shape, (int, np.integer)):
        in_shape = (int(in_shape),)
    input_shapes = ([tuple(in_shape)] if all(isinstance(s, (int, np.integer)) for s in in_shape)
                    else [tuple(s) for s in in_shape])
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

    components = components_sources_first(len(names), graph.input_connectivity)
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


# -- import: NIRGraph -> StatefulModel ------------------------------------------

class NIRImport(NamedTuple):
    """What `from_nir` builds: the model, the shape of each external input
    (`in_shape`: one shape, or a list with several inputs), what each layer
    receives (`shapes`, as `StatefulModel.init_state` takes it) and the NIR
    node name of each layer (`layer_names`)."""

    model: Any
    in_shape: Any
    shapes: list
    layer_names: list

    def init_state(self, key=None):
        """The model's default initial state (SPEC.md §4.2)."""
        return self.model.init_state(self.in_shape, shapes=self.shapes, key=key)


def _node_problem(name: str, node, message: str) -> ValueError:
    return ValueError(f"from_nir: node {name!r} ({type(node).__name__}): {message}")


def _array(value) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def _first_bad(values: np.ndarray, bad: np.ndarray) -> str:
    position = tuple(int(i) for i in np.argwhere(bad)[0]) if values.ndim else ()
    return f"{values[position] if values.ndim else float(values)} at index {position}"


def _require(name, node, field: str, values, bad, why: str) -> None:
    values = _array(values)
    bad = np.asarray(bad)
    if np.any(bad):
        raise _node_problem(name, node, f"{field}={_first_bad(values, bad)}: {why}")


def _decay_constant(name, node, field: str, tau, dt: float) -> np.ndarray:
    """a = 1 - dt/tau, refused outside [0.5, 1] where the reference clamps it."""
    tau = _array(tau)
    _require(name, node, field, tau, ~(tau > 0), "a time constant must be positive")
    decay = 1.0 - dt / tau
    _require(name, node, field, tau, decay < LOWEST_DECAY,
             f"with dt={dt} the decay 1 - dt/tau is below {LOWEST_DECAY}, where the reference "
             f"clamps it (SPEC.md §3); use dt <= tau/2")
    return decay


def _gain(name, node, fields: str, gain) -> np.ndarray:
    gain = _array(gain)
    _require(name, node, fields, gain, ~(gain > 0) | ~np.isfinite(gain),
             "the input gain must be positive and finite to fold into the threshold "
             "(SPEC.md §10)")
    return gain


def _no_leak(name, node) -> None:
    _require(name, node, "v_leak", node.v_leak, _array(node.v_leak) != 0,
             "the reference's membranes decay towards 0 (only v_leak=0 maps)")


def _decay_parameter(decays: Sequence[np.ndarray]):
    """(k,) when every neuron shares each constant, else (k, *shape)."""
    shared = [_uniform_or_array(d) for d in decays]
    if all(isinstance(value, float) for value in shared):
        return jnp.asarray(shared, dtype=float)
    return jnp.asarray(np.stack([np.broadcast_to(d, decays[0].shape) for d in decays]),
                       dtype=float)


def _threshold(values: np.ndarray):
    value = _uniform_or_array(values)
    return value if isinstance(value, float) else jnp.asarray(value, dtype=float)


def _neuron_shape(name, node, in_shape, *fields) -> tuple:
    shape = tuple(int(s) for s in _array(getattr(node, fields[0])).shape)
    if tuple(in_shape) != shape:
        raise _node_problem(name, node, f"its parameters have shape {shape} but it receives "
                                        f"inputs of shape {tuple(in_shape)}")
    return shape


def _import_neuron(name, node, in_shape, dt):
    if isinstance(node, nir.LI):
        _neuron_shape(name, node, in_shape, "tau")
        _no_leak(name, node)
        _require(name, node, "r", node.r, _array(node.r) != 1,
                 "the reference's leaky integrator outputs its membrane, which r would "
                 "scale (only r=1 maps)")
        return snn.SimpleLI(_decay_parameter([_decay_constant(name, node, "tau", node.tau, dt)]))
    if isinstance(node, nir.LIF):
        _neuron_shape(name, node, in_shape, "tau")
        _no_leak(name, node)
        gain = _gain(name, node, "r", node.r)
        _require(name, node, "v_reset", node.v_reset, _array(node.v_reset) != 0,
                 "snn.SimpleLIF resets to 0 (a LIF with v_reset != 0 has no counterpart)")
        return snn.SimpleLIF(_decay_parameter([_decay_constant(name, node, "tau", node.tau, dt)]),
                             threshold=_threshold(_array(node.v_threshold) / gain))
    if isinstance(node, nir.CubaLIF):
        _neuron_shape(name, node, in_shape, "tau_mem")
        _no_leak(name, node)
        gain = _gain(name, node, "r*w_in", _array(node.r) * _array(node.w_in))
        membrane = _decay_constant(name, node, "tau_mem", node.tau_mem, dt)
        current = _decay_constant(name, node, "tau_syn", node.tau_syn, dt)
        reset = _array(node.v_reset) / gain
        reset_val = None if np.all(reset == 0) else jnp.asarray(_uniform_or_array(reset),
                                                                 dtype=float)
        return snn.LIF(_decay_parameter([membrane, current]),
                       threshold=_threshold(_array(node.v_threshold) / gain),
                       reset_val=reset_val)
    if isinstance(node, nir.IF):
        _neuron_shape(name, node, in_shape, "r")
        gain = _gain(name, node, "r", _array(node.r) * dt)
        _require(name, node, "v_reset", node.v_reset, _array(node.v_reset) != 0,
                 "snn.SimpleIAF resets to 0 (an IF with v_reset != 0 has no counterpart)")
        return snn.SimpleIAF(threshold=_threshold(_array(node.v_threshold) / gain))
    raise AssertionError(type(node))


def _spatial(value, dims: int, name, node, field: str) -> tuple:
    values = np.atleast_1d(np.asarray(value)).astype(int).reshape(-1)
    if values.size == 1:
        values = np.repeat(values, dims)
    if values.size != dims:
        raise _node_problem(name, node, f"{field}={np.asarray(value).tolist()}: expected "
                                        f"{dims} value(s)")
    return tuple(int(v) for v in values)


def _conv_padding(name, node, dims, kernel, dilation) -> tuple:
    padding = node.padding
    if isinstance(padding, bytes):
        padding = padding.decode()
    if isinstance(padding, str):
        if padding == "valid":
            return (0,) * dims
        total = [d * (k - 1) for d, k in zip(dilation, kernel)]
        if any(t % 2 for t in total):
            raise _node_problem(name, node, "padding='same' with an even effective kernel pads "
                                            "the two sides unequally")
        return tuple(t // 2 for t in total)
    return _spatial(padding, dims, name, node, "padding")


def _with_arrays(cls, args, kwargs, key, weight, bias):
    """`cls(*args, **kwargs, key=key)` holding `weight` and `bias`, built
    abstractly: its random initialisation would be compiled for every new shape
    only to be thrown away."""
    layer = eqx.filter_eval_shape(cls, *args, key=key, **kwargs)
    layer = eqx.tree_at(lambda m: m.weight, layer, jnp.asarray(weight, dtype=float))
    if bias is not None:
        layer = eqx.tree_at(lambda m: m.bias, layer, jnp.asarray(bias, dtype=float))
    return layer


def _import_layer(name, node, in_shape, dt, key):
    """`(layer, output shape)` for `node` receiving inputs of `in_shape`."""
    if isinstance(node, (nir.LI, nir.LIF, nir.CubaLIF, nir.IF)):
        return _import_neuron(name, node, in_shape, dt), tuple(in_shape)
    if isinstance(node, (nir.Affine, nir.Linear)):
        weight = _array(node.weight)
        if weight.ndim != 2 or tuple(in_shape) != (weight.shape[1],):
            raise _node_problem(name, node, f"weight of shape {weight.shape} for inputs of shape "
                                            f"{tuple(in_shape)}; a 2-d (out, in) weight maps")
        bias = (np.broadcast_to(_array(node.bias), (weight.shape[0],))
                if isinstance(node, nir.Affine) else None)
        return _with_arrays(eqx.nn.Linear, (weight.shape[1], weight.shape[0]),
                            dict(use_bias=bias is not None), key, weight, bias), (weight.shape[0],)
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        dims = 1 if isinstance(node, nir.Conv1d) else 2
        weight = _array(node.weight)
        groups = int(node.groups)
        if weight.ndim != dims + 2 or len(in_shape) != dims + 1 or (
                in_shape[0] != weight.shape[1] * groups):
            raise _node_problem(name, node, f"weight of shape {weight.shape} (groups {groups}) "
                                            f"for inputs of shape {tuple(in_shape)}")
        kernel = weight.shape[2:]
        stride = _spatial(node.stride, dims, name, node, "stride")
        dilation = _spatial(node.dilation, dims, name, node, "dilation")
        padding = _conv_padding(name, node, dims, kernel, dilation)
        bias = np.broadcast_to(_array(node.bias), (weight.shape[0],))
        with_bias = bool(np.any(bias != 0))
        layer = _with_arrays(eqx.nn.Conv1d if dims == 1 else eqx.nn.Conv2d,
                             (in_shape[0], weight.shape[0], kernel),
                             dict(stride=stride, padding=padding, dilation=dilation,
                                  groups=groups, use_bias=with_bias), key, weight,
                             bias.reshape((-1,) + (1,) * dims) if with_bias else None)
        out = [(s + 2 * p - d * (k - 1) - 1) // st + 1
               for s, p, d, k, st in zip(in_shape[1:], padding, dilation, kernel, stride)]
        if min(out) < 1:
            raise _node_problem(name, node, f"inputs of shape {tuple(in_shape)} are smaller than "
                                            "its kernel")
        return layer, (weight.shape[0], *out)
    if isinstance(node, nir.AvgPool2d):
        kernel = _spatial(node.kernel_size, 2, name, node, "kernel_size")
        stride = _spatial(node.stride, 2, name, node, "stride")
        padding = _spatial(node.padding, 2, name, node, "padding")
        if any(padding):
            raise _node_problem(name, node, f"padding={list(padding)}: only unpadded average "
                                            "pooling maps (SPEC.md §10)")
        if len(in_shape) != 3 or any(s < k for s, k in zip(in_shape[1:], kernel)):
            raise _node_problem(name, node, f"kernel {kernel} for inputs of shape "
                                            f"{tuple(in_shape)}")
        out = [(s - k) // st + 1 for s, k, st in zip(in_shape[1:], kernel, stride)]
        return eqx.nn.AvgPool2d(kernel, stride=stride), (in_shape[0], *out)
    if isinstance(node, nir.Flatten):
        rank = len(in_shape)
        start = int(node.start_dim) % rank if rank else 0
        end = int(node.end_dim) % rank if rank else 0
        if rank and (start, end) != (0, rank - 1):
            raise _node_problem(name, node, f"start_dim={int(node.start_dim)}, end_dim="
                                            f"{int(node.end_dim)} on inputs of shape "
                                            f"{tuple(in_shape)}: snn.Flatten flattens the whole "
                                            "sample (start_dim=0, end_dim=-1)")
        return snn.Flatten(), (int(np.prod(in_shape)),)
    if isinstance(node, nir.NIRGraph):
        raise _node_problem(name, node, "nested graphs are not supported; flatten the subgraph "
                                        "into the top-level graph")
    raise _node_problem(name, node, "has no counterpart in the reference (SPEC.md §10 lists the "
                                    "NIR primitives that map)")


def _graph_parts(graph):
    """(input names, output names, layer names) in natural name order, with the edges checked."""
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"from_nir: graph must be a nir.NIRGraph, got {type(graph).__name__}")
    nodes = graph.nodes
    for source, target in graph.edges:
        for end in (source, target):
            if end not in nodes:
                raise ValueError(f"from_nir: edge ({source!r}, {target!r}) names no node {end!r}")
        if isinstance(nodes[target], nir.Input):
            raise ValueError(f"from_nir: edge ({source!r}, {target!r}) enters Input node "
                             f"{target!r}")
        if isinstance(nodes[source], nir.Output):
            raise ValueError(f"from_nir: edge ({source!r}, {target!r}) leaves Output node "
                             f"{source!r}")
    inputs = sorted((n for n, node in nodes.items() if isinstance(node, nir.Input)),
                    key=natural_key)
    outputs = sorted((n for n, node in nodes.items() if isinstance(node, nir.Output)),
                     key=natural_key)
    layers = [n for n, node in nodes.items() if not isinstance(node, (nir.Input, nir.Output))]
    if not inputs:
        raise ValueError("from_nir: the graph has no Input node")
    if not outputs:
        raise ValueError("from_nir: the graph has no Output node")
    for out in outputs:
        sources = [s for s, t in graph.edges if t == out]
        if len(sources) != 1 or isinstance(nodes[sources[0]], nir.Input):
            raise ValueError(f"from_nir: Output node {out!r} must read exactly one computing "
                             f"node, reads {sources}")
    return inputs, outputs, layers


def layer_order(graph) -> list:
    """The NIR node names of `from_nir(graph)`'s layers, in layer order (SPEC.md §10)."""
    _, _, layers = _graph_parts(graph)
    layer_set = set(layers)
    return order_nodes(layers, [(s, t) for s, t in graph.edges
                                if s in layer_set and t in layer_set])


def _input_shape(node) -> tuple:
    return tuple(int(s) for s in np.asarray(node.input_type["input"]).reshape(-1))


def from_nir(graph, *, dt) -> NIRImport:
    """The reference model of the NIR graph `graph`, discretised at time step
    `dt` (SPEC.md §10). Returns a `NIRImport` (model, in_shape, shapes,
    layer_names); `imported.init_state(key)` initialises it. Raises
    `ValueError` naming the node, the field and the value for whatever the
    reference cannot compute exactly."""
    dt = _check_dt(dt)
    inputs, outputs, _ = _graph_parts(graph)
    names = layer_order(graph)
    index = {name: i for i, name in enumerate(names)}
    input_index = {name: k for k, name in enumerate(inputs)}
    input_shapes = [_input_shape(graph.nodes[name]) for name in inputs]
    incoming = {name: [s for s, t in graph.edges if t == name] for name in names}
    for name in names:
        if not incoming[name]:
            raise ValueError(f"from_nir: node {name!r} ({type(graph.nodes[name]).__name__}) "
                             "has no incoming edge")

    # What each node receives: its sources' shape (they must agree: a NIR node sums them).
    out_shapes: dict = {name: shape for name, shape in zip(inputs, input_shapes)}
    layers: dict = {}
    keys = jax.random.split(jax.random.PRNGKey(0), max(len(names), 1))
    pending = list(names)
    while pending:
        progress = False
        for name in list(pending):
            known = [out_shapes[s] for s in incoming[name] if s in out_shapes]
            if not known:
                continue
            if len(set(known)) > 1:
                raise ValueError(f"from_nir: node {name!r} sums inputs of different shapes "
                                 f"{known} (from {incoming[name]})")
            layers[name], out_shapes[name] = _import_layer(name, graph.nodes[name], known[0], dt,
                                                           keys[index[name]])
            pending.remove(name)
            progress = True
        if not progress:
            raise ValueError(f"from_nir: cannot infer the input shapes of nodes {pending}")
    for name in names:
        shapes = {out_shapes[s] for s in incoming[name]}
        if len(shapes) > 1:
            raise ValueError(f"from_nir: node {name!r} sums inputs of different shapes "
                             f"{sorted(shapes)} (from {incoming[name]})")

    model_layers, layer_shapes, connectivity, external = [], [], [], []
    for name in names:
        from_layers = [index[s] for s in incoming[name] if s in index]
        from_inputs = [input_index[s] for s in incoming[name] if s in input_index]
        connectivity.append(from_layers)
        external.append(from_inputs)
        count = len(from_layers) + len(from_inputs)
        shape = out_shapes[incoming[name][0]]
        layer = layers[name]
        if count > 1:  # a NIR node sums its inputs; the reference would concatenate them
            layer = snn.CompoundLayer(snn.Parallel([eqx.nn.Identity() for _ in range(count)]),
                                      layer)
            layer_shapes.append([shape] * count)
        else:
            layer_shapes.append(shape)
        model_layers.append(layer)
    final = [index[[s for s, t in graph.edges if t == out][0]] for out in outputs]
    structure = snn.GraphStructure(num_layers=len(names), input_layer_ids=external,
                                   final_layer_ids=final, input_connectivity=connectivity)
    model = snn.StatefulModel(structure, model_layers)
    in_shape = input_shapes[0] if len(input_shapes) == 1 else input_shapes
    return NIRImport(model, in_shape, layer_shapes, names)
