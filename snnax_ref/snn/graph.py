"""`GraphStructure`: which layer reads which, validated when it is built."""

from dataclasses import dataclass
from typing import Sequence, Tuple


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
        from .checks import checked_graph_fields, checked_num_layers  # imports the rest of snn
        num_layers = checked_num_layers(num_layers)
        if final_layer_ids is None:
            final_layer_ids = [num_layers - 1]
        fields = checked_graph_fields(num_layers, input_layer_ids, final_layer_ids,
                                      input_connectivity)
        object.__setattr__(self, "num_layers", num_layers)
        for name, value in zip(("input_layer_ids", "final_layer_ids", "input_connectivity"),
                               fields):
            object.__setattr__(self, name, value)

    @property
    def num_inputs(self) -> int:
        """The number of external inputs: one more than the largest id used."""
        return 1 + max(i for ids in self.input_layer_ids for i in ids)

    @property
    def output_layer_ids(self) -> Tuple[int, ...]:
        """Alias of `final_layer_ids`."""
        return self.final_layer_ids
