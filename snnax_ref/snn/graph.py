"""`GraphStructure`: which layer reads which, validated when it is built."""

from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np


def is_int(value) -> bool:
    """A Python or NumPy integer, not a bool: what a count, an id or a dimension may be."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_connectivity(value) -> bool:
    """A sequence of per-layer sequences (not a flat list of layer ids)."""
    try:
        return len(value) > 0 and all(not isinstance(row, (str, bytes)) and hasattr(row, "__len__")
                                      for row in value)
    except TypeError:
        return False


@dataclass(frozen=True, init=False)
class GraphStructure:
    """The connectivity graph of a `StatefulModel`.

    **Arguments:**

    - `num_layers`: the number of layers.
    - `input_layer_ids`: `input_layer_ids[i]` lists the external inputs fed to
      layer `i` (external inputs are numbered from 0).
    - `final_layer_ids`: the layers whose outputs the model returns, in order.
    - `input_connectivity`: `input_connectivity[i]` lists the layers whose
      outputs feed layer `i`, in concatenation order.

    Every field is checked here; a bad one raises a `ValueError` naming the
    field and the index (SPEC.md §4). Upstream's code signature
    `GraphStructure(num_layers, input_layer_ids, input_connectivity)` is
    accepted too: with three positional arguments the third is
    `input_connectivity`, and `final_layer_ids` omitted is the last layer,
    the one upstream returns (SPEC.md §4).
    """

    num_layers: int
    input_layer_ids: Sequence[Sequence[int]]
    final_layer_ids: Sequence[int]
    input_connectivity: Sequence[Sequence[int]]

    def __init__(self, num_layers, input_layer_ids, final_layer_ids=None,
                 input_connectivity=None):
        if input_connectivity is None and _is_connectivity(final_layer_ids):
            # Upstream's code order (num_layers, input_layer_ids, input_connectivity):
            # the third argument holds one list per layer, never a flat list of ids.
            final_layer_ids, input_connectivity = None, final_layer_ids
        if input_connectivity is None:
            raise TypeError("GraphStructure.input_connectivity is missing (which layers "
                            "feed each layer, one list per layer).")
        num_layers = checked_num_layers(num_layers)
        if final_layer_ids is None:
            final_layer_ids = [num_layers - 1]
        fields = checked_graph_fields(num_layers, input_layer_ids, final_layer_ids,
                                      input_connectivity)
        object.__setattr__(self, "num_layers", num_layers)
        for name, value in zip(("input_layer_ids", "final_layer_ids", "input_connectivity"),
                               fields):
            object.__setattr__(self, name, value)

    def layer_inputs(self, layer: int, from_layer, from_input) -> list:
        """What `layer` reads, in concatenation order (SPEC.md §4.3): `from_layer(j)` for
        each connected layer `j` of `input_connectivity[layer]`, then `from_input(k)` for
        each external input `k` of `input_layer_ids[layer]`. Every path that feeds a
        layer (a step, the graph schedule, shape inference, init_state) asks this.

        **Arguments:**

        - `layer`: the reading layer's index.
        - `from_layer`: `from_layer(j)` gives what the edge from layer `j` reads.
        - `from_input`: `from_input(k)` gives external input `k`.

        **Returns:** the list of what `layer` receives, before concatenation.
        """
        return ([from_layer(j) for j in self.input_connectivity[layer]]
                + [from_input(k) for k in self.input_layer_ids[layer]])

    @property
    def num_inputs(self) -> int:
        """The number of external inputs: one more than the largest id used."""
        return 1 + max(i for ids in self.input_layer_ids for i in ids)

    @property
    def output_layer_ids(self) -> Tuple[int, ...]:
        """Upstream's name for `final_layer_ids`."""
        return self.final_layer_ids


# -- validation (SPEC.md §4) ------------------------------------------------------------

def _as_id_lists(field_name: str, value, num_layers: int) -> Tuple[Tuple[int, ...], ...]:
    try:
        rows = [tuple(row) for row in value]
    except TypeError:
        raise ValueError(f"GraphStructure.{field_name} must be a sequence of sequences "
                         f"of ints, one per layer; got {value!r}") from None
    if len(rows) != num_layers:
        raise ValueError(f"GraphStructure.{field_name} has {len(rows)} entries but "
                         f"num_layers is {num_layers}: give one list per layer.")
    for index, row in enumerate(rows):
        for item in row:
            if not is_int(item):
                raise ValueError(f"GraphStructure.{field_name}[{index}] contains "
                                 f"{item!r}, which is not an int.")
    # NumPy integers (a config's arithmetic) are ints, stored as Python ints.
    return tuple(tuple(int(item) for item in row) for row in rows)


def checked_num_layers(num_layers) -> int:
    """`num_layers` as a positive Python int (a NumPy integer is accepted)."""
    if not is_int(num_layers) or num_layers < 1:
        raise ValueError(f"GraphStructure.num_layers must be a positive int, got {num_layers!r}")
    return int(num_layers)


def checked_graph_fields(num_layers, input_layer_ids, final_layer_ids, input_connectivity):
    """`GraphStructure`'s fields as tuples, or a `ValueError` naming the field and index."""
    num_layers = checked_num_layers(num_layers)
    input_layer_ids = _as_id_lists("input_layer_ids", input_layer_ids, num_layers)
    connectivity = _as_id_lists("input_connectivity", input_connectivity, num_layers)
    try:
        final_layer_ids = tuple(final_layer_ids)
    except TypeError:
        raise ValueError("GraphStructure.final_layer_ids must be a sequence of "
                         f"layer ids, got {final_layer_ids!r}") from None
    if not final_layer_ids:
        raise ValueError("GraphStructure.final_layer_ids is empty: name at least "
                         "one layer whose output the model returns.")
    for position, layer_id in enumerate(final_layer_ids):
        if not is_int(layer_id) or not 0 <= layer_id < num_layers:
            raise ValueError(f"GraphStructure.final_layer_ids[{position}] = {layer_id!r} "
                             f"is not a layer id in [0, {num_layers}).")
    final_layer_ids = tuple(int(layer_id) for layer_id in final_layer_ids)
    for layer, sources in enumerate(connectivity):
        for source in sources:
            if not 0 <= source < num_layers:
                raise ValueError(f"GraphStructure.input_connectivity[{layer}] refers to "
                                 f"layer {source}, outside [0, {num_layers}).")
    for layer, external in enumerate(input_layer_ids):
        for input_id in external:
            if input_id < 0:
                raise ValueError(f"GraphStructure.input_layer_ids[{layer}] refers to "
                                 f"external input {input_id}; ids start at 0.")
    if not any(input_layer_ids):
        raise ValueError("GraphStructure.input_layer_ids feeds no external input to "
                         "any layer: at least one layer must read an external input.")
    for layer in range(num_layers):
        if not connectivity[layer] and not input_layer_ids[layer]:
            raise ValueError(f"GraphStructure: layer {layer} has no input at all "
                             f"(input_connectivity[{layer}] and input_layer_ids[{layer}] "
                             "are both empty).")
    return input_layer_ids, final_layer_ids, connectivity


def strongly_connected_components(num_nodes: int,
                                  sources_of: Sequence[Sequence[int]]) -> List[List[int]]:
    """The strongly connected components of nodes `0 .. num_nodes - 1` with edges
    `j -> i` for `j` in `sources_of[i]` (`input_connectivity`), each sorted,
    sources first. The graph schedule and the NIR numbering both order by them."""
    readers: List[List[int]] = [[] for _ in range(num_nodes)]
    for i, sources in enumerate(sources_of):
        for j in sources:
            readers[j].append(i)
    reach = []  # reach[i]: the nodes that read node i, directly or not, and i itself
    for start in range(num_nodes):
        seen, stack = {start}, [start]
        while stack:
            for reader in readers[stack.pop()]:
                if reader not in seen:
                    seen.add(reader)
                    stack.append(reader)
        reach.append(seen)
    components: Dict[int, List[int]] = {}
    for i in range(num_nodes):  # i and j share a component when each reaches the other
        components.setdefault(min(j for j in reach[i] if i in reach[j]), []).append(i)
    # A component reaching another reaches strictly more nodes: it comes first.
    return sorted(components.values(), key=lambda members: (-len(reach[members[0]]),
                                                             members[0]))
