"""The graph schedule: the straight-through semantics, evaluated component by
component instead of step by step (SPEC.md §4.6).

`default_forward_fn` steps every layer once per time step inside `lax.scan`,
so a `Linear` layer becomes `T` small matrix products. The graph schedule
computes the same values in another order:

1. it splits the connectivity graph into strongly connected components and
   orders them topologically;
2. a component that is one stateless layer without a self-loop is
   *time-parallel*: it is evaluated for all `T` steps at once (`vmap` over
   time: one batched matmul or convolution);
3. every other layer (stateful layers, cycles) is scanned over time, in as
   few scans as the time-parallel layers between them allow
   (`graph_stages`): stage `k` evaluates the time-parallel layers whose
   inputs are ready, then scans its layers together, stepping them with the
   forward functions' `step_layers` and reading everything outside the scan
   as precomputed sequences.

An edge `j -> i` still reads step `t` when `j < i` and step `t - 1` when
`j >= i`; across components the `t - 1` read is the source's sequence shifted
by one step, starting from its output in the initial state.
"""

from typing import Callable, Dict, List, NamedTuple, Optional, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import lax

from .forward import LayerCarry, combine_inputs, default_forward_fn, reads_this_step, step_layers
from .fused import is_fusable, lif_scan
from .graph import GraphStructure, strongly_connected_components
from .layers.stateful import StatefulLayer, call_layer, layer_keys
from .scan import scan_over_time


def is_time_parallel(layers, struct: GraphStructure, component: Sequence[int]) -> bool:
    """One stateless layer outside every cycle: all steps can run at once."""
    if len(component) != 1:
        return False
    i = component[0]
    return not isinstance(layers[i], StatefulLayer) and i not in struct.input_connectivity[i]


class Stage(NamedTuple):
    """Time-parallel layers run `at_once` (in dependency order), then one scan of
    `scanned`."""

    at_once: List[int]
    scanned: List[int]


def graph_stages(layers, struct: GraphStructure) -> List[Stage]:
    """The order in which the graph schedule evaluates the layers.

    A time-parallel layer needs the whole sequence of every source, so it
    waits for the scans of its sources; a scanned layer can share one scan
    with the scanned layers it reads, because inside a scan the layers are
    stepped in index order exactly as `default_forward_fn` steps them. Stage
    `k` holds the time-parallel layers at most `k` scans deep and the scanned
    layers whose inputs are all ready by then.
    """
    components = strongly_connected_components(struct.num_layers, struct.input_connectivity)
    stage_of: Dict[int, int] = {}
    at_once = set()
    for members in components:
        inside = set(members)
        sources = {j for i in members for j in struct.input_connectivity[i] if j not in inside}
        if is_time_parallel(layers, struct, members):
            at_once.add(members[0])
            # its scanned sources must have finished: the stage after theirs
            stage_of[members[0]] = max((stage_of[j] + (j not in at_once) for j in sources),
                                       default=0)
        else:
            stage = max((stage_of[j] for j in sources), default=0)
            stage_of.update((i, stage) for i in members)
    stages = [Stage([], []) for _ in range(max(stage_of.values(), default=-1) + 1)]
    for i in (i for members in components for i in members):  # dependency order
        if i in at_once:
            stages[stage_of[i]].at_once.append(i)
    for i in sorted(i for i in stage_of if i not in at_once):
        stages[stage_of[i]].scanned.append(i)
    return [stage for stage in stages if stage.at_once or stage.scanned]


def all_steps_at_once(layer, input_sequences: Sequence, keys: Optional[jax.Array]):
    """A time-parallel layer's outputs `(T, ...)` for its input sequences.

    The layer is `vmap`ped over time, except an `eqx.nn.Linear` fed `(T, in)`,
    which is computed as the product `x @ weight.T (+ bias)`: the same sums,
    but `vmap`ping `weight @ x` makes XLA compute `(out, T)` and transpose it,
    twice over under a batch `vmap` (SPEC.md §4.6).
    """
    inputs = jax.vmap(lambda parts: combine_inputs(layer, parts))(list(input_sequences))
    if (type(layer) is eqx.nn.Linear and isinstance(layer.in_features, int)
            and isinstance(layer.out_features, int) and getattr(inputs, "ndim", 0) == 2
            and inputs.shape[1] == layer.in_features):
        outputs = inputs @ layer.weight.T
        return outputs if layer.bias is None else outputs + layer.bias[None]

    def apply(step_input, key):
        return call_layer(layer, None, step_input, key)[1]

    return jax.vmap(apply)(inputs, keys)


class ExecutionPlan(NamedTuple):
    """How `StatefulModel.__call__` runs (SPEC.md §4.6), fixed when the model is
    built: `schedule` is the resolved "step" (scan the forward function) or
    "graph"; for "graph", `stages` lists per stage the time-parallel layers
    and the layers sharing one scan."""

    schedule: str
    stages: tuple
    checkpoint: bool
    unroll: int
    loop_fn: Optional[Callable] = None   # replaces lax.scan in the step schedule
    fused: tuple = ()                    # layers run by the fused LIF scan (fused.py)

    def __str__(self) -> str:
        options = f"checkpoint={self.checkpoint}, unroll={self.unroll}"
        if self.loop_fn is not None:
            name = getattr(self.loop_fn, "__name__", repr(self.loop_fn))
            return f"step schedule: the forward function run by loop_fn={name}"
        if self.schedule == "step":
            return f"step schedule: one scan of the forward function ({options})"
        lines = [f"graph schedule ({options}):"]
        for k, stage in enumerate(self.stages):
            if stage.at_once:
                lines.append(f"  stage {k}: layers {list(stage.at_once)} for all steps at once")
            if stage.scanned and stage.scanned[0] in self.fused:
                lines.append(f"  stage {k}: the fused LIF scan of layer {stage.scanned[0]}")
            elif stage.scanned:
                lines.append(f"  stage {k}: one scan of layers {list(stage.scanned)}")
        return "\n".join(lines)


def execution_plan(layers, struct: GraphStructure, forward_fn, schedule: str,
                   checkpoint: bool, unroll: int, loop_fn: Callable = lax.scan,
                   fuse_lif: bool = True) -> ExecutionPlan:
    """The plan for `schedule` ("auto", "step" or "graph"), or an error naming the
    option that does not fit: "auto" takes the graph schedule for
    `default_forward_fn` when some layer is time-parallel; "graph" computes
    `default_forward_fn` only. A `loop_fn` other than `lax.scan` runs the step
    schedule with it. With `fuse_lif` and without `checkpoint`, the graph
    schedule runs a stage that scans one fusable LIF layer (`fused.is_fusable`)
    with the fused scan."""
    if schedule not in ("auto", "step", "graph"):
        raise ValueError(f"StatefulModel: schedule must be 'auto', 'step' or 'graph', "
                         f"got {schedule!r}")
    if schedule == "graph" and forward_fn is not default_forward_fn:
        raise ValueError("StatefulModel: schedule='graph' computes the straight-through "
                         "semantics of default_forward_fn; use schedule='step' with "
                         f"{getattr(forward_fn, '__name__', forward_fn)}.")
    if isinstance(unroll, bool) or not isinstance(unroll, int) or unroll < 1:
        raise ValueError(f"StatefulModel: unroll must be a positive int, got {unroll!r}")
    if not callable(loop_fn):
        raise TypeError(f"StatefulModel: loop_fn must be callable like lax.scan(f, init, xs), "
                        f"got {type(loop_fn).__name__}.")
    if loop_fn is not lax.scan:
        name = getattr(loop_fn, "__name__", repr(loop_fn))
        if schedule == "graph":
            raise ValueError(f"StatefulModel: loop_fn={name} runs the step schedule; "
                             "schedule='graph' scans with lax.scan. Use schedule='step' or "
                             "'auto'.")
        if checkpoint or unroll != 1:
            raise ValueError(f"StatefulModel: checkpoint and unroll configure lax.scan; with "
                             f"loop_fn={name} they must be False and 1 (got {checkpoint!r}, "
                             f"{unroll!r}).")
        return ExecutionPlan("step", (), bool(checkpoint), unroll, loop_fn)
    stages = graph_stages(layers, struct) if forward_fn is default_forward_fn else []
    graph = schedule == "graph" or (schedule == "auto" and any(s.at_once for s in stages))
    frozen = tuple(Stage(tuple(s.at_once), tuple(s.scanned)) for s in stages) if graph else ()
    fused = tuple(s.scanned[0] for s in frozen
                  if fuse_lif and not checkpoint and len(s.scanned) == 1
                  and is_fusable(layers[s.scanned[0]],
                                 s.scanned[0] in struct.input_connectivity[s.scanned[0]]))
    return ExecutionPlan("graph" if graph else "step", frozen, bool(checkpoint), unroll,
                         fused=fused)


def graph_schedule(layers, struct: GraphStructure, stages: Sequence[Stage],
                   carry: Sequence[LayerCarry], sequences: Sequence,
                   step_keys: Optional[jax.Array], checkpoint: bool = False, unroll: int = 1,
                   fused: Sequence[int] = ()):
    """Run the whole sequence through `stages` (`graph_stages`); returns
    `(final_carry, final_outputs)` exactly as scanning `default_forward_fn` would.
    A stage scanning one layer listed in `fused` runs `fused.lif_scan`."""
    num_steps = int(sequences[0].shape[0])
    # A scanned layer's outputs are stacked over time only if a layer outside
    # its scan, or the caller, reads them.
    scan_of = {i: k for k, stage in enumerate(stages) for i in stage.scanned}
    needed = set(struct.final_layer_ids)
    for i, sources in enumerate(struct.input_connectivity):
        needed.update(j for j in sources if j in scan_of and scan_of.get(i) != scan_of[j])

    sequence_of: Dict[int, jax.Array] = {}
    new_carry = list(carry)

    def read_sequence(source: int, reader: int):
        """What `reader` sees of `source` over time: step t, or t - 1 (§4.4's rule)."""
        if reads_this_step(source, reader):
            return sequence_of[source]
        return jnp.concatenate([carry[source].output[None], sequence_of[source][:-1]])

    for at_once, scanned in stages:
        for i in at_once:
            # Layer i's key at step t, as step_layers splits the step's key.
            keys = None if step_keys is None else jax.vmap(
                lambda key, i=i: layer_keys(key, struct.num_layers)[i])(step_keys)
            inputs = struct.layer_inputs(i, lambda j: read_sequence(j, i),
                                         lambda k: sequences[k])
            sequence_of[i] = all_steps_at_once(layers[i], inputs, keys)
            new_carry[i] = LayerCarry(None, sequence_of[i][-1])
        if not scanned:
            continue
        # What the scanned layers read from outside the scan, as whole sequences.
        from_layers = {(j, i): read_sequence(j, i) for i in scanned
                       for j in struct.input_connectivity[i] if j not in scanned}
        from_inputs = {k: sequences[k] for i in scanned for k in struct.input_layer_ids[i]}
        stacked = [i for i in scanned if i in needed]

        if scanned[0] in fused:
            (i,) = scanned
            drive = jax.vmap(lambda parts, i=i: combine_inputs(layers[i], parts))(
                struct.layer_inputs(i, lambda j: from_layers[(j, i)], lambda k: from_inputs[k]))
            if jnp.issubdtype(drive.dtype, jnp.inexact):
                final_state, spikes = lif_scan(layers[i], carry[i].state, drive, unroll)
                new_carry[i] = LayerCarry(final_state, spikes[-1])
                sequence_of[i] = spikes
                continue

        def step(scan_carry, step_slice, scanned=scanned, stacked=stacked):
            (layer_now, input_now), step_key = step_slice
            current = step_layers(layers, struct, scanned, dict(zip(scanned, scan_carry)),
                                  step_key, lambda j, i: layer_now[(j, i)],
                                  lambda k: input_now[k])
            return [current[i] for i in scanned], [current[i].output for i in stacked]

        final, stacked_outputs = scan_over_time(step, [carry[i] for i in scanned],
                                                ((from_layers, from_inputs), step_keys),
                                                num_steps, checkpoint=checkpoint, unroll=unroll)
        for i, layer_carry in zip(scanned, final):
            new_carry[i] = layer_carry
        sequence_of.update(zip(stacked, stacked_outputs))

    return new_carry, [sequence_of[f] for f in struct.final_layer_ids]
