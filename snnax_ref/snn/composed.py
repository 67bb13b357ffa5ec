"""Composed architectures: chains, parallel sums, compound layers, local feedback."""

from typing import Callable, Dict, Optional

import equinox as eqx

from .architecture import StatefulModel
from .forward import default_forward_fn
from .graph import GraphStructure
from .layers.compound import CompoundLayer
from .layers.parallel import Parallel

__all__ = ["Sequential", "Parallel", "CompoundLayer", "SequentialLocalFeedback",
           "gen_feed_forward_struct", "default_forward_fn"]


def gen_feed_forward_struct(num_layers: int) -> GraphStructure:
    """The chain `input -> 0 -> 1 -> ... -> num_layers - 1`, returning the last layer
    (SPEC.md §5, §11).

    Upstream's name and signature (`snnax.snn.composed`).

    **Arguments:**

    - `num_layers`: the length of the chain.

    **Returns:** a `GraphStructure` with `input_layer_ids = ((0,), (), ...)`,
    `input_connectivity = ((), (0,), (1,), ...)` and
    `final_layer_ids = (num_layers - 1,)`.
    """
    return GraphStructure(
        num_layers=num_layers,
        input_layer_ids=[[0]] + [[] for _ in range(num_layers - 1)],
        final_layer_ids=[num_layers - 1],
        input_connectivity=[[]] + [[i] for i in range(num_layers - 1)],
    )


class Sequential(StatefulModel):
    """A feed-forward chain of layers; supports `len` and indexing (SPEC.md §5).

    `Sequential(*layers)` is `StatefulModel(gen_feed_forward_struct(len(layers)),
    layers)`: external input 0 feeds layer 0, layer `i` feeds layer `i + 1`,
    and the model returns the last layer's output.

    **Arguments:**

    - `layers`: the layers, in order (at least one).
    - `forward_fn`: as `StatefulModel`'s.
    - `options`: `StatefulModel`'s keyword options (`schedule`,
      `checkpoint`, `unroll`, `fuse_lif`, `loop_fn`).
    """

    def __init__(self, *layers: eqx.Module, forward_fn: Callable = default_forward_fn,
                 **options) -> None:
        if not layers:
            raise ValueError("Sequential needs at least one layer.")
        super().__init__(gen_feed_forward_struct(len(layers)), list(layers), forward_fn,
                         **options)

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)


class SequentialLocalFeedback(Sequential):
    """`Sequential` plus feedback edges (SPEC.md §5).

    The feedback edge comes after the feed-forward edge in concatenation
    order, so layer `v` receives `[previous layer's output, layer k's output]`
    concatenated (or as a list, for a layer that takes one).

    **Arguments:**

    - `layers`: the layers, in order (at least one).
    - `forward_fn`: as `StatefulModel`'s.
    - `feedback_layers`: `None` (default): every `CompoundLayer` reads its
      own previous output; a dict `{k: v}`: layer `v` also reads layer `k`.
    - `options`: `StatefulModel`'s keyword options.
    """

    def __init__(self, *layers: eqx.Module, forward_fn: Callable = default_forward_fn,
                 feedback_layers: Optional[Dict[int, int]] = None, **options) -> None:
        if not layers:
            raise ValueError("SequentialLocalFeedback needs at least one layer.")
        chain = gen_feed_forward_struct(len(layers))
        connectivity = [list(sources) for sources in chain.input_connectivity]
        if feedback_layers is None:
            feedback_layers_items = [(i, i) for i, layer in enumerate(layers)
                                     if isinstance(layer, CompoundLayer)]
        elif isinstance(feedback_layers, dict):
            feedback_layers_items = list(feedback_layers.items())
        else:
            raise TypeError("SequentialLocalFeedback: feedback_layers must be a dict "
                            "{source layer id: reading layer id} or None, got "
                            f"{type(feedback_layers).__name__} {feedback_layers!r}.")
        for source, target in feedback_layers_items:
            for name, layer_id in (("key", source), ("value", target)):
                if isinstance(layer_id, bool) or not isinstance(layer_id, int) \
                        or not 0 <= layer_id < len(layers):
                    raise ValueError(f"SequentialLocalFeedback: feedback_layers {name} "
                                     f"{layer_id} is not a layer id in [0, {len(layers)}).")
            connectivity[target].append(source)
        structure = GraphStructure(len(layers), chain.input_layer_ids, chain.final_layer_ids,
                                   connectivity)
        StatefulModel.__init__(self, structure, list(layers), forward_fn, **options)
