"""`GraphStructure`: which layer reads which, validated when it is built."""

from dataclasses import dataclass
from typing import Sequence, Tuple


@dataclass(frozen=True)
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
    field and the index (SPEC.md §4).
    """

    num_layers: int
    input_layer_ids: Sequence[Sequence[int]]
    final_layer_ids: Sequence[int]
    input_connectivity: Sequence[Sequence[int]]

    def __post_init__(self):
        from .checks import checked_graph_fields  # checks imports the rest of snn
        fields = checked_graph_fields(self.num_layers, self.input_layer_ids,
                                      self.final_layer_ids, self.input_connectivity)
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
