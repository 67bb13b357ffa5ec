"""Which layer a NIR node becomes (SPEC.md §10's numbering)."""

import re
from typing import Sequence

from ..snn.graph import strongly_connected_components


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
                  for component in strongly_connected_components(len(ordered), sources_of)]
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


