"""Run a NIR graph through the NumPy oracle and an implementation, step by step.

    python -m spec_tests.tools.nir_check FILE.nir [--dt DT] [--steps T] [--seed S]
        [--impl module:attr]

The graph is read with `nir.read` and translated into the suite's network
description (`spec_tests.description.NetworkSpec`) by SPEC.md §10's rules,
written here a second time, independently of `snnax_ref.nir`. The oracle
runs that description; so does the implementation (through its adapter,
default snnax_ref's), and snnax_ref's own importer (`snnax_ref.nir.from_nir`)
runs the graph itself. Both are compared with the oracle at every step, with
the suite's float64 tolerances and near-threshold horizon
(`spec_tests/compare.py`), on random inputs: Gaussian, standard deviation 2,
drawn from `numpy.random.default_rng(seed)`.

Exit status: 0 both conform, 1 a deviation (the message says where),
2 the file cannot be read or the graph has no description (the message says
which node and why).

The oracle itself stays NumPy-only: this module, not the oracle, imports `nir`.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass

import numpy as np

from ..description import LayerSpec, NetworkSpec, RunResult, RunSpec

INPUT_SCALE = 2.0


class NotConvertible(ValueError):
    """The graph has no description in the suite's language (SPEC.md §10)."""


# -- SPEC.md §10: numbering the nodes ---------------------------------------------

def _natural(name: str):
    return [(0, int(p), "") if p.isdigit() else (1, 0, p)
            for p in re.split(r"(\d+)", str(name)) if p]


def _reachable(start, successors) -> set:
    seen, todo = {start}, [start]
    while todo:
        for nxt in successors.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def node_order(names, edges) -> list:
    """Components of mutually reachable nodes in topological order, the ready
    component whose first name (natural order) comes first before the others;
    inside a component, natural name order."""
    successors: dict = {}
    for a, b in edges:
        successors.setdefault(a, []).append(b)
    reach = {n: _reachable(n, successors) for n in names}
    components: list = []
    for n in sorted(names, key=_natural):
        if not any(n in c for c in components):
            components.append(sorted((m for m in names if m in reach[n] and n in reach[m]),
                                     key=_natural))
    order: list = []
    while len(order) < len(names):
        ready = [c for c in components if c[0] not in order and all(
            a in order or a in c for a, b in edges if b in c and a in names)]
        order.extend(min(ready, key=lambda c: _natural(c[0])))
    return order


# -- SPEC.md §10: the primitives --------------------------------------------------

def _f(value) -> np.ndarray:
    return np.asarray(value, dtype=np.float64)


def _refuse(name, node, why) -> NotConvertible:
    return NotConvertible(f"node {name!r} ({type(node).__name__}): {why}")


def _one_or_array(values):
    values = _f(values)
    return float(values.flat[0]) if np.all(values == values.flat[0]) else values


def _decays(name, node, taus, dt) -> np.ndarray:
    """Forward Euler: a = 1 - dt/tau per neuron; refused below 0.5 (clamped)."""
    rows = []
    for field, tau in taus:
        tau = _f(tau)
        if np.any(~(tau > 0)):
            raise _refuse(name, node, f"{field} must be positive, got {tau.min()}")
        a = 1.0 - dt / tau
        if np.any(a < 0.5):
            raise _refuse(name, node, f"{field}={tau.min():g} with dt={dt:g}: decay "
                                      f"1 - dt/tau < 0.5 would be clamped; dt <= "
                                      f"{tau.min() / 2:g} keeps it")
        rows.append(a)
    if all(np.all(r == r.flat[0]) for r in rows):
        return np.array([float(r.flat[0]) for r in rows])
    return np.stack(rows)


def _no_v_leak(name, node, params):
    if np.any(params["v_leak"] != 0):
        leak = params["v_leak"].flat[np.argmax(params["v_leak"] != 0)]
        raise _refuse(name, node, f"v_leak={leak} must be 0")


def _positive_gain(name, node, field, gain):
    gain = _f(gain)
    if np.any(~(gain > 0)) or not np.all(np.isfinite(gain)):
        bad = gain[~(gain > 0) | ~np.isfinite(gain)]
        raise _refuse(name, node, f"{field}={bad.flat[0]} must be positive and finite")
    return gain


def _neuron_spec(nir, name, node, shape, dt):
    # A parameter shared by the neurons (0-d, as Norse writes them) stands for every neuron.
    params = {}
    for field in ("tau", "tau_mem", "tau_syn", "r", "w_in", "v_leak", "v_threshold", "v_reset"):
        if getattr(node, field, None) is None:
            continue
        value = _f(getattr(node, field))
        if value.ndim > len(shape) or any(
                own not in (1, size) for own, size in zip(value.shape[::-1], shape[::-1])):
            raise _refuse(name, node, f"{field} of shape {value.shape} for inputs of shape "
                                      f"{shape}")
        params[field] = np.broadcast_to(value, shape)
    if isinstance(node, nir.LI):
        _no_v_leak(name, node, params)
        if np.any(params["r"] != 1):
            raise _refuse(name, node, f"r={params['r'].max()} must be 1")
        return LayerSpec("SimpleLI", {}, {"decay_constants": _decays(name, node,
                                                                     [("tau", params["tau"])], dt)})
    if isinstance(node, nir.LIF):
        _no_v_leak(name, node, params)
        gain = _positive_gain(name, node, "r", params["r"])
        if np.any(params["v_reset"] != 0):
            raise _refuse(name, node, "v_reset must be 0")
        return LayerSpec("SimpleLIF", {"threshold": _one_or_array(params["v_threshold"] / gain),
                                       "reset_val": None},
                         {"decay_constants": _decays(name, node, [("tau", params["tau"])], dt)})
    if isinstance(node, nir.CubaLIF):
        _no_v_leak(name, node, params)
        gain = _positive_gain(name, node, "r*w_in", params["r"] * params["w_in"])
        reset = params["v_reset"] / gain
        return LayerSpec("LIF", {"threshold": _one_or_array(params["v_threshold"] / gain),
                                 "reset_val": None if np.all(reset == 0) else _one_or_array(reset)},
                         {"decay_constants": _decays(name, node, [("tau_mem", params["tau_mem"]),
                                                                  ("tau_syn", params["tau_syn"])], dt)})
    gain = _positive_gain(name, node, "r*dt", params["r"] * dt)  # IF
    if np.any(params["v_reset"] != 0):
        raise _refuse(name, node, "v_reset must be 0")
    return LayerSpec("SimpleIAF", {"threshold": _one_or_array(params["v_threshold"] / gain),
                                   "reset_val": None}, {"leak": np.asarray(0.0)})


def _same_on_every_axis(name, node, field, value, dims) -> int:
    if isinstance(value, (str, bytes)):
        raise _refuse(name, node, f"{field}={value!r}: give it as a number")
    values = np.atleast_1d(np.asarray(value)).astype(int).reshape(-1)
    if values.size not in (1, dims) or np.any(values != values[0]):
        raise _refuse(name, node, f"{field}={values.tolist()}: the suite's description uses "
                                  "one value for every axis")
    return int(values[0])


def _layer_spec(nir, name, node, shape, dt):
    """`(LayerSpec, output shape)` for `node` receiving inputs of `shape`."""
    if isinstance(node, (nir.LI, nir.LIF, nir.CubaLIF, nir.IF)):
        return _neuron_spec(nir, name, node, shape, dt), tuple(shape)
    if isinstance(node, (nir.Affine, nir.Linear)):
        weight = _f(node.weight)
        if weight.ndim != 2 or tuple(shape) != (weight.shape[1],):
            raise _refuse(name, node, f"weight {weight.shape} for inputs of shape {shape}")
        params = {"weight": weight}
        if isinstance(node, nir.Affine):
            params["bias"] = np.broadcast_to(_f(node.bias), (weight.shape[0],)).copy()
        return LayerSpec("Linear", {}, params), (weight.shape[0],)
    if isinstance(node, (nir.Conv1d, nir.Conv2d)):
        dims = 1 if isinstance(node, nir.Conv1d) else 2
        weight = _f(node.weight)
        if int(node.groups) != 1 or _same_on_every_axis(name, node, "dilation", node.dilation,
                                                         dims) != 1:
            raise _refuse(name, node, "groups and dilation other than 1 are not in the "
                                      "suite's description")
        if len(shape) != dims + 1 or shape[0] != weight.shape[1]:
            raise _refuse(name, node, f"weight {weight.shape} for inputs of shape {shape}")
        padding = node.padding
        if isinstance(padding, bytes):
            padding = padding.decode()
        if isinstance(padding, str) and padding == "valid":
            padding = 0
        elif isinstance(padding, str) and padding == "same":
            if any(k % 2 == 0 for k in weight.shape[2:]) or len(set(weight.shape[2:])) > 1:
                raise _refuse(name, node, "padding='same' needs one odd kernel size")
            padding = (weight.shape[2] - 1) // 2
        padding = _same_on_every_axis(name, node, "padding", padding, dims)
        stride = _same_on_every_axis(name, node, "stride", node.stride, dims)
        out = tuple((s + 2 * padding - k) // stride + 1
                    for s, k in zip(shape[1:], weight.shape[2:]))
        spec = LayerSpec(f"Conv{dims}d", {"stride": stride, "padding": padding},
                         {"weight": weight,
                          "bias": np.broadcast_to(_f(node.bias), (weight.shape[0],)).copy()})
        return spec, (weight.shape[0],) + out
    if isinstance(node, nir.AvgPool2d):
        if np.any(np.asarray(node.padding) != 0):
            raise _refuse(name, node, "padded pooling is not in the suite's description")
        kernel = _same_on_every_axis(name, node, "kernel_size", node.kernel_size, 2)
        stride = _same_on_every_axis(name, node, "stride", node.stride, 2)
        if len(shape) != 3 or min(shape[1:]) < kernel:
            raise _refuse(name, node, f"kernel {kernel} for inputs of shape {shape}")
        out = tuple((s - kernel) // stride + 1 for s in shape[1:])
        return LayerSpec("AvgPool2d", {"kernel_size": kernel, "stride": stride}), (shape[0],) + out
    if isinstance(node, nir.Flatten):
        rank = len(shape)
        if [int(node.start_dim) % rank, int(node.end_dim) % rank] != [0, rank - 1]:
            raise _refuse(name, node, f"start_dim={node.start_dim}, end_dim={node.end_dim} does "
                                      f"not flatten the whole sample of shape {shape}")
        return LayerSpec("Flatten"), (int(np.prod(shape)),)
    raise _refuse(name, node, "no counterpart in the reference (SPEC.md §10)")


def _sample_shape(nir, graph, name) -> tuple:
    """An Input node's shape less a leading batch axis of 1 that a node it feeds
    does not read (SPEC.md §10); a larger batch axis has no description."""
    shape = tuple(int(s) for s in np.asarray(graph.nodes[name].input_type["input"]).reshape(-1))
    for source, target in graph.edges:
        node = graph.nodes[target]
        reads = (1 if isinstance(node, (nir.Affine, nir.Linear)) else
                 _f(node.weight).ndim - 1 if isinstance(node, (nir.Conv1d, nir.Conv2d)) else
                 3 if isinstance(node, nir.AvgPool2d) else None)
        if source == name and shape and reads == len(shape) - 1:
            if shape[0] != 1:
                raise NotConvertible(f"Input node {name!r} of shape {shape}: its leading axis "
                                     f"(size {shape[0]}) is a batch axis that node {target!r} "
                                     "does not read")
            return shape[1:]
    return shape


def network_from_nir(graph, dt: float) -> NetworkSpec:
    """The description of `graph` at time step `dt` (SPEC.md §10). Raises
    NotConvertible naming the node for what has none."""
    import nir

    if not dt > 0:
        raise NotConvertible(f"dt={dt} must be positive")
    nodes = graph.nodes
    inputs = sorted((n for n, v in nodes.items() if isinstance(v, nir.Input)), key=_natural)
    outputs = sorted((n for n, v in nodes.items() if isinstance(v, nir.Output)), key=_natural)
    computing = [n for n, v in nodes.items() if not isinstance(v, (nir.Input, nir.Output))]
    if not inputs or not outputs:
        raise NotConvertible("the graph needs an Input and an Output node")
    edges = [(a, b) for a, b in graph.edges]
    names = node_order(computing, [(a, b) for a, b in edges if a in computing and b in computing])
    sources = {n: [a for a, b in edges if b == n] for n in names + outputs}
    for n in outputs:
        if len(sources[n]) != 1 or sources[n][0] not in names:
            raise NotConvertible(f"Output node {n!r} must read one computing node")
    shapes = {n: _sample_shape(nir, graph, n) for n in inputs}
    specs: dict = {}
    while len(specs) < len(names):
        before = len(specs)
        for n in names:
            if n in specs:
                continue
            known = {shapes[a] for a in sources[n] if a in shapes}
            if len(known) > 1:
                raise NotConvertible(f"node {n!r} sums inputs of shapes {sorted(known)}")
            if known:
                specs[n], shapes[n] = _layer_spec(nir, n, nodes[n], known.pop(), dt)
        if len(specs) == before:
            raise NotConvertible(f"no input shape for nodes {[n for n in names if n not in specs]}")
    layers, connectivity, external = [], [], []
    for n in names:
        if len({shapes[a] for a in sources[n]}) > 1:
            raise NotConvertible(f"node {n!r} sums inputs of different shapes")
        from_layers = [names.index(a) for a in sources[n] if a in names]
        from_inputs = [inputs.index(a) for a in sources[n] if a in inputs]
        count = len(from_layers) + len(from_inputs)
        if count == 0:
            raise NotConvertible(f"node {n!r} has no incoming edge")
        spec = specs[n]
        if count > 1:  # NIR sums a node's inputs
            spec = LayerSpec("CompoundLayer", members=(
                LayerSpec("Parallel", members=tuple(LayerSpec("Identity") for _ in range(count))),
                spec))
        layers.append(spec)
        connectivity.append(tuple(from_layers))
        external.append(tuple(from_inputs))
    return NetworkSpec(layers=tuple(layers), input_layer_ids=tuple(external),
                       input_connectivity=tuple(connectivity),
                       final_layer_ids=tuple(names.index(sources[n][0]) for n in outputs),
                       input_shapes=tuple(shapes[n] for n in inputs),
                       output_shapes=tuple(shapes[n] for n in names))


def random_run(network: NetworkSpec, steps: int, seed: int) -> RunSpec:
    """`network` driven for `steps` steps by Gaussian inputs (sd INPUT_SCALE)."""
    rng = np.random.default_rng(seed)
    inputs = tuple(INPUT_SCALE * rng.standard_normal((steps,) + tuple(shape))
                   for shape in network.input_shapes)
    return RunSpec(network=network, inputs=inputs)


# -- the checks ---------------------------------------------------------------------

def check_adapter(adapter, run: RunSpec) -> None:
    """The implementation behind `adapter`, built from the description, equals
    the oracle (raises `compare.Mismatch` otherwise)."""
    from ..properties import check_conforms
    check_conforms(adapter, run, "float64")


def run_imported(graph, run: RunSpec, dt: float) -> RunResult:
    """What `snnax_ref.nir.from_nir(graph, dt=dt)` computes on `run`'s inputs
    (float64, default initial state), as a RunResult."""
    import jax
    import equinox as eqx
    from snnax_ref.nir import from_nir

    with jax.enable_x64(True):
        imported = from_nir(graph, dt=dt)
        state = imported.init_state(jax.random.PRNGKey(0))
        inputs = [jax.numpy.asarray(x) for x in run.inputs]
        final_state, outputs = eqx.filter_jit(imported.model)(
            state, inputs[0] if len(inputs) == 1 else inputs, jax.random.PRNGKey(1))
        states = [[np.asarray(leaf, dtype=np.float64)
                   for leaf in jax.tree_util.tree_leaves(carry.state)] for carry in final_state]
        last = [np.asarray(carry.output, dtype=np.float64) for carry in final_state]
        return RunResult(outputs=[np.asarray(o, dtype=np.float64) for o in outputs],
                         final_states=states, final_outputs=last)


def check_imported(graph, run: RunSpec, dt: float) -> None:
    """snnax_ref's importer equals the oracle on `run` (raises `compare.Mismatch`)."""
    from .. import oracle
    from ..compare import TOLERANCES, assert_run_matches

    tolerance = TOLERANCES["float64"]
    expected = oracle.run(run, margin=tolerance.margin)
    assert_run_matches(run, expected, run_imported(graph, run, dt), tolerance)


@dataclass
class Verdict:
    name: str
    error: Exception | None

    def line(self) -> str:
        return f"{self.name}: " + ("conforms" if self.error is None
                                   else f"DEVIATES\n{self.error}")


def read_graph(path):
    """The NIR graph in `path`, as written (the reader's error when it cannot)."""
    import nir

    # nir's type check refuses a batch axis on an Input and adds an Output to every
    # node no other reads; the description checks the shapes itself (SPEC.md §10).
    return nir.read(path, type_check=False)


def describe_run(graph, dt: float | None = None, steps: int = 50, seed: int = 0):
    """`(run, dt)`: the graph's description driven by random inputs, and the
    time step (`dt`, else the graph's `metadata['dt']`). Raises NotConvertible
    when it has none."""
    from snnax_ref.nir.step import resolve_dt

    try:
        dt = resolve_dt(graph, dt, who="check-nir")
    except ValueError as error:
        raise NotConvertible(str(error)) from None
    return random_run(network_from_nir(graph, dt), steps, seed), dt


def check_graph(graph, run: RunSpec, adapter, dt: float) -> list:
    """One Verdict for the adapter and one for snnax_ref's importer."""
    from ..compare import Mismatch

    verdicts = []
    for name, check in ((f"adapter {getattr(adapter, 'name', adapter)}",
                         lambda: check_adapter(adapter, run)),
                        ("snnax_ref.nir.from_nir", lambda: check_imported(graph, run, dt))):
        try:
            check()
            verdicts.append(Verdict(name, None))
        except Mismatch as mismatch:
            verdicts.append(Verdict(name, mismatch))
    return verdicts


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spec_tests.tools.nir_check",
        description="Run a NIR graph through the NumPy oracle, an implementation's adapter and "
                    "snnax_ref's importer, and compare them step by step (SPEC.md §10).")
    parser.add_argument("file", help="a .nir file (written by nir.write)")
    parser.add_argument("--dt", type=float, default=None,
                        help="time step (default: the graph's metadata['dt'], as snnax_ref's "
                             "to_nir writes it; snnTorch 1.0 files: 1e-4; Norse 1.1 files: its "
                             "dt squared)")
    parser.add_argument("--steps", type=int, default=50, help="time steps T (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    parser.add_argument("--impl", default=None,
                        help="adapter module:attr (default snnax_ref's)")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    try:
        graph = read_graph(args.file)
    except Exception as error:  # h5py, nir and OS errors alike: the file cannot be read
        print(f"nir_check: {args.file}: cannot read it as a NIR graph: "
              f"{type(error).__name__}: {error}", file=sys.stderr)
        return 2
    try:
        run, dt = describe_run(graph, args.dt, args.steps, args.seed)
    except NotConvertible as error:
        print(f"nir_check: {args.file}: the graph has no description: {error}", file=sys.stderr)
        return 2
    from ..adapters import describe_load_error, load_adapter
    try:
        adapter = load_adapter(args.impl)
    except Exception as error:
        print(f"nir_check: {describe_load_error(args.impl or 'default', error)}", file=sys.stderr)
        return 2
    try:
        verdicts = check_graph(graph, run, adapter, dt)
    except ValueError as error:  # snnax_ref's importer refused what the description took
        print(f"nir_check: {args.file}: {type(error).__name__}: {error}", file=sys.stderr)
        return 2
    source = "given" if args.dt is not None else "from the graph's metadata"
    print(f"nir_check: {args.file}, dt={dt:g} ({source}), T={args.steps}, seed={args.seed}")
    for verdict in verdicts:
        print(verdict.line())
    failed = [v for v in verdicts if v.error is not None]
    print("verdict: " + ("DEVIATES" if failed else "conforms"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
