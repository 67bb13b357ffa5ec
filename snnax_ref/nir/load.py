"""`from_nir`: a NIR graph as a `StatefulModel` (SPEC.md §10)."""

from typing import Any, NamedTuple, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import nir
import numpy as np

from .. import snn
from ..snn.layers.spiking import LOWEST_DECAY
from ..snn.layers.stateful import abstract_output_shape
from .order import natural_key, order_nodes
from .step import decay_of_time_constant, dt_hint, resolve_dt, time_constant_fields


def _uniform_or_array(values: np.ndarray):
    """A Python float when every entry is the same, else the array."""
    values = np.asarray(values, dtype=np.float64)
    if values.size and np.all(values == values.flat[0]):
        return float(values.flat[0])
    return values


class NIRImport(NamedTuple):
    """What `from_nir` builds (SPEC.md §10): the model, the shape of each
    external input (`in_shape`: one shape, or a list with several inputs),
    what each layer receives (`shapes`, as `StatefulModel.init_state` takes
    it) and the NIR node name of each layer (`layer_names`)."""

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
    """a = 1 - dt/tau (`from_nir` has checked that no decay falls below the clamp bound)."""
    tau = _array(tau)
    _require(name, node, field, tau, ~(tau > 0), "a time constant must be positive")
    return decay_of_time_constant(tau, dt)


def _gain(name, node, fields: str, gain) -> np.ndarray:
    gain = _array(gain)
    _require(name, node, fields, gain, ~(gain > 0) | ~np.isfinite(gain),
             "the input gain must be positive and finite to fold into the threshold "
             "(SPEC.md §10)")
    return gain


def _no_leak(name, node, fields) -> None:
    _require(name, node, "v_leak", fields["v_leak"], fields["v_leak"] != 0,
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


def _neuron_fields(name, node, in_shape, fields) -> dict:
    """Each field as a float64 array of the layer's shape: a shared value (0-d,
    as Norse writes them, or any shape that broadcasts) is broadcast to it."""
    shape = tuple(in_shape)
    arrays = {}
    for field in fields:
        values = _array(getattr(node, field))
        try:
            broadcast = np.broadcast_shapes(values.shape, shape)
        except ValueError:
            broadcast = None
        if broadcast != shape:
            raise _node_problem(name, node, f"{field} has shape {values.shape}, which does not "
                                            f"broadcast to the shape {shape} of its inputs")
        arrays[field] = np.broadcast_to(values, shape)
    return arrays


def _import_neuron(name, node, in_shape, dt):
    if isinstance(node, nir.LI):
        params = _neuron_fields(name, node, in_shape, ("tau", "r", "v_leak"))
        _no_leak(name, node, params)
        _require(name, node, "r", params["r"], params["r"] != 1,
                 "the reference's leaky integrator outputs its membrane, which r would "
                 "scale (only r=1 maps)")
        membrane = _decay_constant(name, node, "tau", params["tau"], dt)
        return snn.SimpleLI(_decay_parameter([membrane]))
    if isinstance(node, nir.LIF):
        params = _neuron_fields(name, node, in_shape,
                                ("tau", "r", "v_leak", "v_threshold", "v_reset"))
        _no_leak(name, node, params)
        gain = _gain(name, node, "r", params["r"])
        _require(name, node, "v_reset", params["v_reset"], params["v_reset"] != 0,
                 "snn.SimpleLIF resets to 0 (a LIF with v_reset != 0 has no counterpart)")
        membrane = _decay_constant(name, node, "tau", params["tau"], dt)
        return snn.SimpleLIF(_decay_parameter([membrane]),
                             threshold=_threshold(params["v_threshold"] / gain))
    if isinstance(node, nir.CubaLIF):
        params = _neuron_fields(name, node, in_shape, ("tau_mem", "tau_syn", "r", "w_in",
                                                      "v_leak", "v_threshold", "v_reset"))
        _no_leak(name, node, params)
        gain = _gain(name, node, "r*w_in", params["r"] * params["w_in"])
        membrane = _decay_constant(name, node, "tau_mem", params["tau_mem"], dt)
        current = _decay_constant(name, node, "tau_syn", params["tau_syn"], dt)
        reset = params["v_reset"] / gain
        reset_val = None if np.all(reset == 0) else jnp.asarray(_uniform_or_array(reset),
                                                                 dtype=float)
        return snn.LIF(_decay_parameter([membrane, current]),
                       threshold=_threshold(params["v_threshold"] / gain), reset_val=reset_val)
    if isinstance(node, nir.IF):
        params = _neuron_fields(name, node, in_shape, ("r", "v_threshold", "v_reset"))
        gain = _gain(name, node, "r", params["r"] * dt)
        _require(name, node, "v_reset", params["v_reset"], params["v_reset"] != 0,
                 "snn.SimpleIAF resets to 0 (an IF with v_reset != 0 has no counterpart)")
        return snn.SimpleIAF(threshold=_threshold(params["v_threshold"] / gain))
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


def _output_shape(name, node, layer, in_shape) -> tuple:
    """The shape `layer` computes from inputs of `in_shape`, evaluated abstractly
    as `init_state` does; an input smaller than the kernel is an error."""
    shape = abstract_output_shape(layer, tuple(in_shape))
    if min(shape) < 1:
        raise _node_problem(name, node, f"inputs of shape {tuple(in_shape)} are smaller than "
                                        "its kernel")
    return shape


def _import_layer(name, node, in_shape, dt, key):
    """`(layer, output shape)` for `node` receiving inputs of `in_shape`."""
    if isinstance(node, (nir.LI, nir.LIF, nir.CubaLIF, nir.IF)):
        return _import_neuron(name, node, in_shape, dt), tuple(in_shape)
    if isinstance(node, (nir.Affine, nir.Linear)):
        weight = _array(node.weight)
        if weight.ndim != 2:
            raise _node_problem(name, node, f"weight of shape {weight.shape}: only a 2-d (out, "
                                            "in) weight maps")
        if tuple(in_shape) != (weight.shape[1],):
            raise _node_problem(name, node, f"its weight of shape {weight.shape} reads inputs of "
                                            f"shape ({weight.shape[1]},), but it receives "
                                            f"{tuple(in_shape)}")
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
        return layer, _output_shape(name, node, layer, in_shape)
    if isinstance(node, nir.AvgPool2d):
        kernel = _spatial(node.kernel_size, 2, name, node, "kernel_size")
        stride = _spatial(node.stride, 2, name, node, "stride")
        padding = _spatial(node.padding, 2, name, node, "padding")
        if any(padding):
            raise _node_problem(name, node, f"padding={list(padding)}: only unpadded average "
                                            "pooling maps (SPEC.md §10)")
        if len(in_shape) != 3:
            raise _node_problem(name, node, f"kernel {kernel} for inputs of shape "
                                            f"{tuple(in_shape)}")
        layer = eqx.nn.AvgPool2d(kernel, stride=stride)
        return layer, _output_shape(name, node, layer, in_shape)
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
    """The NIR node names of `from_nir(graph)`'s layers, in layer order (SPEC.md §10).

    **Arguments:**

    - `graph`: a `nir.NIRGraph`.

    **Returns:**

    A list of node names: the strongly connected components in topological
    order, the nodes of one component in natural name order.
    """
    _, _, layers = _graph_parts(graph)
    layer_set = set(layers)
    return order_nodes(layers, [(s, t) for s, t in graph.edges
                                if s in layer_set and t in layer_set])


def _input_shape(node) -> tuple:
    return tuple(int(s) for s in np.asarray(node.input_type["input"]).reshape(-1))


def _rank_read(node):
    """How many axes `node` reads when its own fields say so, else None."""
    if isinstance(node, (nir.Affine, nir.Linear)):
        return 1
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        return np.ndim(node.weight) - 1
    if isinstance(node, nir.AvgPool2d):
        return 3
    return None


def _sample_shape(graph, name: str) -> tuple:
    """The shape of one sample at Input node `name`: without a leading batch
    axis of size 1 (as exporters traced with a batch write it) when a node it
    feeds reads one axis fewer; a larger batch axis is an error naming it."""
    shape = _input_shape(graph.nodes[name])
    readers = [(target, _rank_read(graph.nodes[target]))
               for source, target in graph.edges if source == name]
    batched = [(target, rank) for target, rank in readers if rank == len(shape) - 1]
    if not shape or not batched:
        return shape
    target, rank = batched[0]
    if shape[0] != 1:
        raise ValueError(
            f"from_nir: Input node {name!r} has shape {shape}, whose leading axis (size "
            f"{shape[0]}) is a batch axis: node {target!r} ({type(graph.nodes[target]).__name__})"
            f" reads {rank}-d samples; the model runs one sample (vmap it over a batch): write "
            f"the Input's shape as {shape[1:]}")
    return shape[1:]


def _check_decays(graph, dt: float) -> None:
    """Refuse a `dt` at which a decay `1 - dt/tau` would fall below the clamp
    bound, naming the first such node and field, and the steps that fit."""
    for name, node in sorted(graph.nodes.items(), key=lambda item: natural_key(item[0])):
        for field, tau in time_constant_fields(node):
            _require(name, node, field, tau, (tau > 0) & (dt / tau > 1.0 - LOWEST_DECAY),
                     f"with dt={dt:g} the decay 1 - dt/tau falls below {LOWEST_DECAY}, "
                     f"where the reference clamps it (SPEC.md §3); {dt_hint(graph)}")


def from_nir(graph, *, dt=None) -> NIRImport:
    """The reference model of the NIR graph `graph`, discretised at time step
    `dt` (SPEC.md §10).

    **Arguments:**

    - `graph`: a `nir.NIRGraph` (e.g. from `nir.read`).
    - `dt`: the time step; by default the graph's `metadata["dt"]` (as
      `to_nir` writes it). A given `dt` wins, with a `TimeStepWarning` when
      the graph records another; with neither, a `ValueError` says which steps
      the known exporters use and which this graph allows.

    **Returns:**

    A `NIRImport` (model, in_shape, shapes, layer_names);
    `imported.init_state(key)` initialises it. Raises `ValueError` naming the
    node, the field and the value for whatever the reference cannot compute
    exactly.
    """
    inputs, outputs, _ = _graph_parts(graph)
    dt = resolve_dt(graph, dt)
    _check_decays(graph, dt)
    names = layer_order(graph)
    index = {name: i for i, name in enumerate(names)}
    input_index = {name: k for k, name in enumerate(inputs)}
    input_shapes = [_sample_shape(graph, name) for name in inputs]
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
