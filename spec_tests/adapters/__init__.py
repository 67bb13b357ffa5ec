"""Adapters: how the suite builds and runs a network in one implementation.

An adapter is any object with these members (see `Adapter`); the suite picks
one with `pytest spec_tests --impl=module:attr`, the `SNNAX_REF_IMPL`
environment variable, or `snnax-ref conform --impl module:attr` (the module
must be importable from where the command runs). The networks it is handed
are plain data, `spec_tests/description.py` (`NetworkSpec`, `LayerSpec`,
`RunSpec`: its docstring lists every kind's fields). A worked example for an
implementation other than snnax_ref: `examples/third_party/`.
"""

import contextlib
import importlib
import os
from pathlib import Path
from typing import Any, List, Optional, Protocol, Sequence, Tuple

import numpy as np

from ..description import NetworkSpec, RunResult, RunSpec

DEFAULT_IMPL = "spec_tests.adapters.snnax_ref_adapter:adapter"
ENV_VAR = "SNNAX_REF_IMPL"


class AdapterUnavailable(Exception):
    """Raised by an adapter whose implementation cannot be imported here."""


class Adapter(Protocol):
    """What the suite needs from an implementation.

    - `name`: shown in reports.
    - `deviations_file`: optional path of a known-deviations file.
    - `build(network, forward, dtype)`: a model for `network`.
    - `init_state(model, network, key_seed=0)`: the model's default initial
      state, made with the key `jax.random.PRNGKey(key_seed)`.
    - `run(model, state, inputs, burnin, key_seed=1)`: `(final_state,
      outputs)` of the model called with the key `jax.random.PRNGKey(key_seed)`,
      outputs as arrays `(T - burnin, ...)`, one per final layer. (The keys
      decide what a random layer such as Dropout draws; `RunSpec.key_seed`,
      `RunSpec.init_key_seed`.)
    - `read_states(model, network, final_state)`: `(states, outputs)`, per
      layer the flat list of state arrays in SPEC order and its last output.
    - optional `set_state(model, network, states, outputs)`: the model state
      whose layers hold the given flat states and outputs (in `read_states`'s
      format, the inverse of `read_states`); adapters without it skip the
      state rows (`spec_tests/rows.py`: "state: given initial state",
      "state: chunked run").
    - optional `graph_of(model)`: `(input_layer_ids, input_connectivity)` of
      the graph the model was built with; for a network built by a documented
      constructor (`NetworkSpec.constructor`: `Sequential`,
      `SequentialLocalFeedback`) the suite then checks it is the graph SPEC.md
      §5 documents, naming the edges missing or added.
    - optional `plan_note()`: a line naming the execution plan of the latest
      run (for failure messages), or None.
    - optional `precision(dtype)`: a context manager every call runs inside,
      with `dtype` "float64" or "float32": a JAX adapter turns float64 on
      there (`jax.enable_x64(dtype == "float64")`), since the float64 rows
      compare to 1e-10.
    - optional `supports`: a `spec_tests.adapters.support.Support` declaring
      what a partial implementation builds (layer kinds, forward functions,
      feedback edges, ...); the rows then run on those networks only, and a
      row with none is "not applicable". Without it, everything is tested.
    - optional `jvp(run, param_tangents, input_tangents, dtype)`:
      `(outputs, output_tangents)` of the whole run `run` (a RunSpec) along
      the given direction; optional `vjp(run, output_cotangents, dtype)`:
      `(param_cotangents, input_cotangents)`. Parameters are the flat list
      `spec_tests.gradients.flat_params(run.network)`, inputs one array per
      input sequence; adapters without them skip the gradient properties.
    """

    name: str
    deviations_file: Optional[Path]

    def build(self, network: NetworkSpec, forward: str, dtype: str) -> Any: ...

    def init_state(self, model: Any, network: NetworkSpec, key_seed: int = 0) -> Any: ...

    def run(self, model: Any, state: Any, inputs: Sequence[np.ndarray],
            burnin: int, key_seed: int = 1) -> Tuple[Any, List[np.ndarray]]: ...

    def read_states(self, model: Any, network: NetworkSpec,
                    final_state: Any) -> Tuple[List[List[np.ndarray]], List[np.ndarray]]: ...


class StateNotSettable(Exception):
    """The adapter has no `set_state`: runs from a given state cannot be made."""


def _as_result(outputs, states, last_outputs) -> RunResult:
    return RunResult(
        outputs=[np.asarray(o, dtype=np.float64) for o in outputs],
        final_states=[[np.asarray(a, dtype=np.float64) for a in s] for s in states],
        final_outputs=[np.asarray(o, dtype=np.float64) for o in last_outputs],
    )


def _start_state(adapter, model, run, initial, dtype):
    network = run.network
    if initial is None:
        return adapter.init_state(model, network, key_seed=run.init_key_seed)
    set_state = getattr(adapter, "set_state", None)
    if set_state is None:
        raise StateNotSettable(f"adapter {getattr(adapter, 'name', adapter)!r} has no set_state")
    states, outputs = initial
    return set_state(model, network, [[np.asarray(a, dtype=dtype) for a in s] for s in states],
                     [np.asarray(o, dtype=dtype) for o in outputs])


def check_constructed_graph(adapter, model, network: NetworkSpec) -> None:
    """A network built by a documented constructor has the graph SPEC.md §5
    documents, when the adapter can say which graph it built (`graph_of`);
    else an AssertionError naming the constructor and the edges that differ."""
    graph_of = getattr(adapter, "graph_of", None)
    if network.constructor is None or graph_of is None:
        return
    built_inputs, built_connectivity = (tuple(tuple(int(j) for j in ids) for ids in field)
                                        for field in graph_of(model))
    if (built_inputs, built_connectivity) == (network.input_layer_ids,
                                              network.input_connectivity):
        return
    name, *arguments = network.constructor
    call = (f"{name}(<{network.num_layers} layers>"
            + (f", feedback_layers={None if arguments[0] is None else dict(arguments[0])}"
               if arguments else "") + ")")
    missing = [f"{j} -> {i}" for i, sources in enumerate(network.input_connectivity)
               for j in sources if j not in built_connectivity[i]]
    added = [f"{j} -> {i}" for i, sources in enumerate(built_connectivity)
             for j in sources if j not in network.input_connectivity[i]]
    raise AssertionError(
        f"{call} built input_connectivity {built_connectivity} (input_layer_ids "
        f"{built_inputs}) but SPEC.md §5 documents {network.input_connectivity} "
        f"({network.input_layer_ids}): edges missing: {', '.join(missing) or 'none'}; "
        f"edges added: {', '.join(added) or 'none'}")


def execute(adapter: Adapter, run: RunSpec, dtype: str = "float64",
            initial=None) -> RunResult:
    """Run `run` through `adapter` and return what it computed, as NumPy.

    `initial`: None (the model's default initial state) or `(states,
    outputs)` in `read_states`'s format, set through `adapter.set_state`."""
    precision = getattr(adapter, "precision", None)
    with precision(dtype) if precision else contextlib.nullcontext():
        model = adapter.build(run.network, run.forward, dtype)
        check_constructed_graph(adapter, model, run.network)
        state = _start_state(adapter, model, run, initial, dtype)
        inputs = [np.asarray(x, dtype=dtype) for x in run.inputs]
        final_state, outputs = adapter.run(model, state, inputs, run.burnin,
                                           key_seed=run.key_seed)
        states, last_outputs = adapter.read_states(model, run.network, final_state)
    return _as_result(outputs, states, last_outputs)


def execute_chunked(adapter: Adapter, run: RunSpec, split: int,
                    dtype: str = "float64") -> RunResult:
    """Run `run` (no burn-in) as two calls, steps `[0, split)` then `[split, T)`:
    the second starts from the first's final state, read with `read_states`
    and set back with `set_state`; both are called with the run's key (SPEC.md
    §4.4: one key per sequence, the same split at every step). The outputs
    are the two calls' outputs concatenated, the final state the second's."""
    if run.burnin:
        raise ValueError("execute_chunked: a chunked run has no burn-in")
    if not 0 < split < run.num_steps:
        raise ValueError(f"execute_chunked: split {split} outside (0, {run.num_steps})")
    if getattr(adapter, "set_state", None) is None:
        raise StateNotSettable(f"adapter {getattr(adapter, 'name', adapter)!r} has no set_state")
    precision = getattr(adapter, "precision", None)
    with precision(dtype) if precision else contextlib.nullcontext():
        model = adapter.build(run.network, run.forward, dtype)
        state = adapter.init_state(model, run.network, key_seed=run.init_key_seed)
        inputs = [np.asarray(x, dtype=dtype) for x in run.inputs]
        middle, first = adapter.run(model, state, [x[:split] for x in inputs], 0,
                                    key_seed=run.key_seed)
        notes = [getattr(adapter, "plan_note", lambda: None)()]
        states, last_outputs = adapter.read_states(model, run.network, middle)
        state = _start_state(adapter, model, run, (states, last_outputs), dtype)
        final_state, second = adapter.run(model, state, [x[split:] for x in inputs], 0,
                                          key_seed=run.key_seed)
        notes.append(getattr(adapter, "plan_note", lambda: None)())
        states, last_outputs = adapter.read_states(model, run.network, final_state)
    result = _as_result([np.concatenate([np.asarray(a), np.asarray(b)])
                         for a, b in zip(first, second)], states, last_outputs)
    result.plan_notes = [n for n in notes if n]
    return result


def chosen_impl(spec: Optional[str] = None) -> str:
    """The implementation under test, as `module:attr`: `spec` (an `--impl`
    option) if given, else the `SNNAX_REF_IMPL` environment variable, else
    snnax_ref's adapter. Every place that resolves `--impl` asks this."""
    return spec or os.environ.get(ENV_VAR) or DEFAULT_IMPL


def load_adapter(spec: Optional[str] = None) -> Adapter:
    """The adapter named `module:attr` (`chosen_impl(spec)`)."""
    spec = chosen_impl(spec)
    if ":" not in spec:
        raise ValueError(f"--impl {spec!r}: expected 'module:attr', e.g. {DEFAULT_IMPL}")
    module_name, attr = spec.split(":", 1)
    module = importlib.import_module(module_name)
    adapter = getattr(module, attr)
    # A class or a factory function is called; an adapter object is used as is.
    if isinstance(adapter, type) or not hasattr(adapter, "build"):
        adapter = adapter()
    return adapter


def describe_load_error(impl: str, error: BaseException) -> str:
    """Why adapter `impl` could not be loaded: the exception's type and
    message (for `AdapterUnavailable`, its reason), then its causes."""
    if isinstance(error, AdapterUnavailable):
        lines = [f"adapter {impl} is unavailable here (AdapterUnavailable): {error}"]
    else:
        lines = [f"adapter {impl} cannot be loaded: {type(error).__name__}: {error}"]
    seen = {id(error)}
    cause = error.__cause__ or error.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        lines.append(f"  caused by {type(cause).__name__}: {cause}")
        cause = cause.__cause__ or cause.__context__
    return "\n".join(lines)


def deviation_id(nodeid: str) -> str:
    """What known-deviations files match against: the node id without its file."""
    return nodeid.split("::", 1)[-1]


def read_deviations(path: Optional[Path]) -> List[Tuple[str, str]]:
    """`(test-id prefix, reason)` pairs from a known-deviations file.

    One prefix per line, then `#` and the reason; blank lines and lines
    starting with `#` are ignored. A line without a reason is an error.
    """
    if path is None or not Path(path).exists():
        return []
    entries = []
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        prefix, _, reason = stripped.partition("#")
        if not reason.strip():
            raise ValueError(f"{path}:{number}: every known deviation needs a reason after '#'")
        entries.append((prefix.strip(), reason.strip()))
    return entries
