"""The graph schedule: the straight-through semantics, evaluated component by
component instead of step by step (SPEC.md §4.6).

`default_forward_fn` steps every layer once per time step inside `lax.scan`,
so a `Linear` layer becomes `T` small matrix products. The graph schedule
computes the same values in another order:

1. it splits the connectivity graph into strongly connected components and
   visits them in topological order;
2. a component that is one stateless layer without a self-loop is evaluated
   for all `T` steps at once (`vmap` over time: one batched matmul or
   convolution);
3. every other component (stateful layers, cycles) is scanned over time on
   its own, reading its inputs from other components as precomputed
   sequences.

An edge `j -> i` still reads step `t` when `j < i` and step `t - 1` when
`j >= i`; across components the `t - 1` read is the source's sequence shifted
by one step, starting from its output in the initial state.
"""

from typing import Dict, List, Optional, Sequence

import jax
import jax.numpy as jnp
import jax.random as jrand
from jax import lax

from .forward import LayerCarry, layer_input
from .graph import GraphStructure
from .layers.stateful import StatefulLayer, call_layer


def strongly_connected_components(struct: GraphStructure) -> List[List[int]]:
    """The components of the graph `j -> i` (j feeds i), sources first."""
    readers: Dict[int, List[int]] = {j: [] for j in range(struct.num_layers)}
    for i, sources in enumerate(struct.input_connectivity):
        for j in sources:
            readers[j].append(i)
    index: Dict[int, int] = {}
    lowlink: Dict[int, int] = {}
    stack: List[int] = []
    on_stack = set()
    components: List[List[int]] = []

    def visit(node: int) -> None:  # Tarjan's algorithm
        index[node] = lowlink[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for reader in readers[node]:
            if reader not in index:
                visit(reader)
                lowlink[node] = min(lowlink[node], lowlink[reader])
            elif reader in on_stack:
                lowlink[node] = min(lowlink[node], index[reader])
        if lowlink[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in range(struct.num_layers):
        if node not in index:
            visit(node)
    return components[::-1]  # Tarjan emits sinks first


def is_time_parallel(layers, struct: GraphStructure, component: Sequence[int]) -> bool:
    """One stateless layer outside every cycle: all steps can run at once."""
    if len(component) != 1:
        return False
    i = component[0]
    return not isinstance(layers[i], StatefulLayer) and i not in struct.input_connectivity[i]


def graph_schedule(layers, struct: GraphStructure, carry: Sequence[LayerCarry],
                   sequences: Sequence, step_keys: Optional[jax.Array],
                   checkpoint: bool = False, unroll: int = 1):
    """Run the whole sequence; returns `(final_carry, final_outputs)` exactly as
    scanning `default_forward_fn` would."""
    num_layers = struct.num_layers
    # keys[t, i] is layer i's key at step t, as default_forward_fn splits them.
    keys = None if step_keys is None else jax.vmap(lambda k: jrand.split(k, num_layers))(step_keys)
    needed = set(struct.final_layer_ids)
    components = strongly_connected_components(struct)
    component_of = {i: c for c, members in enumerate(components) for i in members}
    for i, sources in enumerate(struct.input_connectivity):
        needed.update(j for j in sources if component_of[j] != component_of[i])

    sequence_of: Dict[int, jax.Array] = {}
    new_carry = list(carry)

    def read_sequence(source: int, reader: int):
        """What `reader` sees of `source` over time: step t, or t - 1 if source >= reader."""
        if source < reader:
            return sequence_of[source]
        return jnp.concatenate([carry[source].output[None], sequence_of[source][:-1]])

    def externals(i: int):
        return [sequences[k] for k in struct.input_layer_ids[i]]

    for members in components:
        if is_time_parallel(layers, struct, members):
            i = members[0]
            inputs = [read_sequence(j, i) for j in struct.input_connectivity[i]] + externals(i)
            layer = layers[i]

            def apply(step_inputs, key, layer=layer):
                return call_layer(layer, None, layer_input(layer, step_inputs), key)[1]

            outputs = jax.vmap(apply)(inputs, None if keys is None else keys[:, i])
            sequence_of[i] = outputs
            new_carry[i] = LayerCarry(None, outputs[-1])
            continue

        inside = set(members)
        # Per member, in concatenation order: ("carry", j) or ("sequence", position).
        outside_sequences, plans = [], {}
        for i in members:
            plan = []
            for j in struct.input_connectivity[i]:
                if j in inside:
                    plan.append(("carry", j))
                else:
                    plan.append(("sequence", len(outside_sequences)))
                    outside_sequences.append(read_sequence(j, i))
            for x in externals(i):
                plan.append(("sequence", len(outside_sequences)))
                outside_sequences.append(x)
            plans[i] = plan
        stacked = [i for i in members if i in needed]

        def step(component_carry, step_slice, members=members, plans=plans, stacked=stacked):
            outside_now, step_layer_keys = step_slice
            previous = dict(zip(members, component_carry))
            current = dict(previous)
            for i in members:
                inputs = []
                for where, what in plans[i]:
                    if where == "sequence":
                        inputs.append(outside_now[what])
                    else:  # straight-through inside the component
                        inputs.append(current[what].output if what < i
                                      else previous[what].output)
                key = None if step_layer_keys is None else step_layer_keys[i]
                current[i] = LayerCarry(*call_layer(layers[i], previous[i].state,
                                                    layer_input(layers[i], inputs), key))
            return [current[i] for i in members], [current[i].output for i in stacked]

        body = jax.checkpoint(step) if checkpoint else step
        final, stacked_outputs = lax.scan(body, [carry[i] for i in members],
                                          (outside_sequences, keys), unroll=unroll)
        for i, member_carry in zip(members, final):
            new_carry[i] = member_carry
        sequence_of.update(zip(stacked, stacked_outputs))

    return new_carry, [sequence_of[f] for f in struct.final_layer_ids]
