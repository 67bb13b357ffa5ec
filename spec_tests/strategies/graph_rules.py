"""Strategies for the graph rules, one at a time (the graph rows).

A graph row tests one rule of SPEC.md section 4 on networks of simple layers
(Linear, Identity, SimpleIAF, LIF, SimpleLI; composed layers in their own
row). A *wiring* lists, per layer, its sources: ("layer", j) for the edge
j -> i, ("input", k) for external input k. Each row's wirings use as few
other graph rules as its own rule allows, so that a deviation in one rule
turns few rows red:

  straight-through reads   feed-forward edges, one input per layer
  feedback delay           edges j -> i with j >= i only (no feed-forward
                           edge); a layer may also read external input
                           (concatenation)
  concatenation order      feed-forward edges and external inputs, a layer
                           with several of them (no feedback edge)
  several inputs/outputs,  no edges at all: every layer reads external input
  final_layer_ids
  burnin                   one layer
  composed layers          as the feedback row, with one composed layer

Except in the rows about final_layer_ids, the model returns the last layer.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from ..description import STRAIGHT_THROUGH, LayerSpec, NetworkSpec, RunSpec
from .layers import MAX_VECTOR_SIZE, dropout_layers, linear_layers, neuron_layers, vector_sizes
from .networks import input_sequences, with_key_seeds

SIMPLE_NEURONS = ("SimpleIAF", "LIF", "SimpleLI")
# What the graph rows build from (Dropout only in the row about random layers).
SIMPLE_KINDS = ("Linear", "Identity", "Dropout") + SIMPLE_NEURONS
COMPOSED_IN_GRAPH = ("Parallel", "CompoundLayer", "ResNetBlock")
SIMPLE_MAX_STEPS = 30


def wiring_edges(wiring):
    """Every edge `(j, i)` of a wiring."""
    return [(j, i) for i, sources in enumerate(wiring) for kind, j in sources if kind == "layer"]


@st.composite
def input_sizes(draw, min_inputs: int = 1, max_inputs: int = 2):
    """The sizes of the external (vector) inputs."""
    count = draw(st.integers(min_inputs, max_inputs), label="external inputs")
    return [draw(vector_sizes(1, 6), label=f"size of input {k}") for k in range(count)]


@st.composite
def external_reads(draw, num_inputs: int, required: bool):
    """Which external inputs one layer reads, in order (none unless `required` or drawn)."""
    if not required and draw(st.booleans(), label="reads external input?"):
        return []
    chosen = draw(st.lists(st.integers(0, num_inputs - 1), min_size=1, max_size=2, unique=True),
                  label="external inputs read")
    return [("input", k) for k in chosen]


def _use_every_input(draw, wiring, num_inputs):
    """Make every external input read by some layer (so none is unused)."""
    read = {k for sources in wiring for kind, k in sources if kind == "input"}
    for k in range(num_inputs):
        if k not in read:
            layer = draw(st.integers(0, len(wiring) - 1), label=f"reader of input {k}")
            wiring[layer].append(("input", k))
    return wiring


def _ordered(sources):
    """Connected layers first, then external inputs (the order is the spec's
    concern, not the wiring's: NetworkSpec keeps the two lists apart)."""
    return ([s for s in sources if s[0] == "layer"] + [s for s in sources if s[0] == "input"])


@st.composite
def feed_forward_wirings(draw, num_layers: int, num_inputs: int):
    """Only feed-forward edges (j < i): layer 0 reads external input, every
    other layer reads one or two earlier layers (at step t) and sometimes
    external input too."""
    wiring = [draw(external_reads(num_inputs, required=True), label="sources of layer 0")]
    for i in range(1, num_layers):
        sources = draw(st.lists(st.integers(0, i - 1), min_size=1, max_size=2, unique=True),
                       label=f"feed-forward sources of {i}")
        wiring.append([("layer", j) for j in sources]
                      + draw(external_reads(num_inputs, required=False)))
    return _use_every_input(draw, wiring, num_inputs)


@st.composite
def feed_forward_trees(draw, num_layers: int):
    """Feed-forward edges only, one input per layer: layer 0 reads external
    input 0 and every other layer reads exactly one earlier layer."""
    return [[("input", 0)]] + [
        [("layer", draw(st.integers(0, i - 1), label=f"source of {i}"))]
        for i in range(1, num_layers)]


@st.composite
def edge_free_wirings(draw, num_layers: int, num_inputs: int):
    """No edges: every layer reads exactly one external input, every input
    is read."""
    wiring = [[("input", draw(st.integers(0, num_inputs - 1), label=f"input of {i}"))]
              for i in range(num_layers)]
    read = {k for sources in wiring for _, k in sources}
    for k in range(num_inputs):  # give an unread input to a layer reading a shared one
        if k not in read:
            shared = [i for i, [(_, j)] in enumerate(wiring)
                      if sum(s == [("input", j)] for s in wiring) > 1]
            wiring[draw(st.sampled_from(shared), label=f"reader of input {k}")] = [("input", k)]
            read.add(k)
    return wiring


@st.composite
def feedback_wirings(draw, num_layers: int, num_inputs: int, min_feedback: int = 1):
    """Only edges j -> i with j >= i (feedback edges and self-loops), at
    least `min_feedback` of them, and external inputs: a layer reads external
    input unless a later layer feeds it."""
    wiring = []
    for i in range(num_layers):
        feedback = draw(st.lists(st.integers(i, num_layers - 1), max_size=2, unique=True),
                        label=f"feedback sources of {i}")
        # A layer reads external input unless a later layer feeds it.
        wiring.append([("layer", j) for j in feedback]
                      + draw(external_reads(num_inputs, required=max(feedback, default=i) == i)))
    while len(wiring_edges(wiring)) < min_feedback:
        i = draw(st.integers(0, num_layers - 1), label="target of a forced feedback edge")
        j = draw(st.integers(i, num_layers - 1), label="source of a forced feedback edge")
        if ("layer", j) not in wiring[i]:
            wiring[i].insert(0, ("layer", j))
    return _use_every_input(draw, wiring, num_inputs)


def simple_linear_layers(in_features: int, out_features: int, recurrent: bool):
    """A Linear layer; one on a feedback edge has small weights (gain < 1),
    so that a Linear self-loop does not grow without bound over T steps."""
    return linear_layers(in_features, out_features, [0.5, 0.9] if recurrent else [1.5, 3.0])


@st.composite
def simple_preserving_layers(draw, size: int):
    """A simple shape-preserving layer: a SimpleIAF, LIF or SimpleLI neuron, or Identity."""
    kind = draw(st.sampled_from(SIMPLE_NEURONS + ("Identity",)), label="simple kind")
    if kind == "Identity":
        return LayerSpec("Identity")
    return draw(neuron_layers((size,), kind))


@st.composite
def simple_composed_layers(draw, kind: str, part_sizes: list, out_size: int | None):
    """A composed layer of simple members: Parallel (one Linear per part),
    CompoundLayer (a Linear, or a Parallel of one Linear per part as in
    upstream's recurrent idiom, then a neuron; two neurons when `out_size` is
    None), ResNetBlock (one neuron, shape preserving)."""
    in_size = sum(part_sizes)
    if kind == "Parallel":
        members = tuple(draw(simple_linear_layers(size, out_size, recurrent=True))
                        for size in part_sizes)
        return LayerSpec("Parallel", members=members)
    neuron = lambda size: neuron_layers(  # noqa: E731
        (size,), draw(st.sampled_from(SIMPLE_NEURONS[:2]), label="member kind"))
    if kind == "CompoundLayer" and out_size is not None:
        head = (draw(simple_composed_layers("Parallel", part_sizes, out_size))
                if draw(st.booleans(), label="headed by a Parallel")
                else draw(simple_linear_layers(in_size, out_size, recurrent=True)))
        return LayerSpec("CompoundLayer", members=(head, draw(neuron(out_size))))
    if kind == "CompoundLayer":
        return LayerSpec("CompoundLayer", members=(draw(neuron(in_size)), draw(neuron(in_size))))
    if kind == "ResNetBlock":
        return LayerSpec("ResNetBlock", members=(draw(neuron(in_size)),))
    raise ValueError(f"{kind} is not a composed kind")


@st.composite
def simple_networks(draw, wiring, input_sizes: list, final_layer_ids=None, composed=None,
                    dropout_ids=()):
    """Simple layers on `wiring`: a layer reading a feedback edge is a Linear
    (its output size is drawn, so the edge's shape is known up front), any
    other is a simple neuron or Identity over its concatenated input, or a
    Linear. `composed` maps layer ids to a composed kind to put there; the
    layers `dropout_ids` (none reading a feedback edge) are Dropout layers.
    `final_layer_ids` defaults to the last layer."""
    wiring = [_ordered(sources) for sources in wiring]
    num_layers = len(wiring)
    composed = dict(composed or {})
    dropout_ids = set(dropout_ids)
    shapes: list = [None] * num_layers
    preserving = [False] * num_layers

    def part_size(source):
        kind, index = source
        return input_sizes[index] if kind == "input" else shapes[index][0]

    for i, sources in enumerate(wiring):
        reads_feedback = any(kind == "layer" and j >= i for kind, j in sources)
        kind = composed.get(i)
        if kind == "ResNetBlock" or (kind == "CompoundLayer" and not reads_feedback
                                     and draw(st.booleans(), label="neuron-only compound")):
            preserving[i] = True
        elif i in dropout_ids:
            preserving[i] = True
        elif kind is None and not reads_feedback:
            preserving[i] = draw(st.integers(0, 2), label=f"simple neuron at {i}?") > 0
        if (preserving[i] and kind is None and i not in dropout_ids
                and sum(map(part_size, sources)) > MAX_VECTOR_SIZE):
            preserving[i] = False
        if preserving[i]:
            shapes[i] = (sum(part_size(s) for s in sources),)
        else:
            shapes[i] = (draw(vector_sizes(1, 6), label=f"out size {i}"),)
    layers = []
    for i, sources in enumerate(wiring):
        parts = [part_size(s) for s in sources]
        reads_feedback = any(kind == "layer" and j >= i for kind, j in sources)
        if i in composed:
            layers.append(draw(simple_composed_layers(
                composed[i], parts, None if preserving[i] else shapes[i][0])))
        elif i in dropout_ids:
            layers.append(draw(dropout_layers(), label=f"dropout {i}"))
        elif preserving[i]:
            layers.append(draw(simple_preserving_layers(shapes[i][0])))
        else:
            layers.append(draw(simple_linear_layers(sum(parts), shapes[i][0], reads_feedback)))
    if final_layer_ids is None:
        final_layer_ids = (num_layers - 1,)
    return NetworkSpec(
        layers=tuple(layers),
        input_layer_ids=tuple(tuple(k for kind, k in s if kind == "input") for s in wiring),
        input_connectivity=tuple(tuple(j for kind, j in s if kind == "layer") for s in wiring),
        final_layer_ids=tuple(final_layer_ids),
        input_shapes=tuple((size,) for size in input_sizes),
        output_shapes=tuple(shapes))


@st.composite
def simple_runs(draw, network, forward: str = STRAIGHT_THROUGH, burnin: bool = False,
                max_steps: int = SIMPLE_MAX_STEPS, styles=("spikes", "current")):
    """`network` driven for T in [1, max_steps] steps (T >= 2 and a burn-in in
    [1, T) when `burnin`) by inputs of the `styles` given."""
    num_steps = draw(st.integers(2 if burnin else 1, max_steps), label="T")
    inputs = draw(input_sequences(network.input_shapes, num_steps, styles=styles),
                  label="inputs")
    steps_burnt = draw(st.integers(1, num_steps - 1), label="burnin") if burnin else 0
    return draw(with_key_seeds(RunSpec(network=network, inputs=inputs, forward=forward,
                                       burnin=steps_burnt)))


@st.composite
def straight_through_runs(draw):
    """Feed-forward edges only (each read at step t), one input per layer."""
    sizes = draw(input_sizes(1, 1), label="input size")
    wiring = draw(feed_forward_trees(draw(st.integers(2, 5), label="layers")))
    return draw(simple_runs(draw(simple_networks(wiring, sizes), label="network")))


@st.composite
def feedback_runs(draw):
    """At least one edge j -> i with j >= i (self-loops included), each read
    at step t - 1, and no feed-forward edge."""
    sizes = draw(input_sizes(), label="input sizes")
    wiring = draw(feedback_wirings(draw(st.integers(1, 4), label="layers"), len(sizes)))
    return draw(simple_runs(draw(simple_networks(wiring, sizes), label="network")))


@st.composite
def concatenation_runs(draw):
    """A layer with several inputs: feed-forward edges, in the order of its
    input_connectivity (any order), then external inputs, in the order of its
    input_layer_ids (any order), concatenated along axis 0."""
    sizes = draw(input_sizes(1, 3), label="input sizes")
    num_layers = draw(st.integers(1, 4), label="layers")
    wiring = (draw(feed_forward_wirings(num_layers, len(sizes))) if num_layers > 1
              else [[("input", 0)]])
    host = draw(st.integers(0, num_layers - 1), label="layer with several inputs")
    while len(wiring[host]) < 2:
        unread = ([("layer", j) for j in range(host)] + [("input", k) for k in range(len(sizes))])
        unread = [source for source in unread if source not in wiring[host]]
        if not unread:
            sizes.append(draw(vector_sizes(1, 6), label="size of another input"))
            unread = [("input", len(sizes) - 1)]
        wiring[host].append(draw(st.sampled_from(unread), label="another source"))
    wiring = _use_every_input(draw, wiring, len(sizes))
    for i, sources in enumerate(wiring):  # any order within each list
        edges = [s for s in sources if s[0] == "layer"]
        externals = [s for s in sources if s[0] == "input"]
        wiring[i] = (draw(st.permutations(edges), label=f"edge order of {i}")
                     + draw(st.permutations(externals), label=f"input order of {i}"))
    return draw(simple_runs(draw(simple_networks(wiring, sizes), label="network")))


@st.composite
def final_layer_choices(draw, num_layers: int, min_size: int = 1):
    """Final layers in any order, at least one of them not the last layer."""
    chosen = draw(st.lists(st.integers(0, num_layers - 1), min_size=min_size,
                           max_size=min(3, num_layers), unique=True), label="final layers")
    if chosen == [num_layers - 1]:
        chosen = [draw(st.integers(0, num_layers - 2), label="a non-last final layer")]
    return tuple(chosen)


@st.composite
def several_inputs_and_outputs_runs(draw):
    """Two or three external inputs, each read by some layer, and two or three
    final layers; no edges."""
    sizes = draw(input_sizes(2, 3), label="input sizes")
    num_layers = draw(st.integers(len(sizes), 4), label="layers")
    wiring = draw(edge_free_wirings(num_layers, len(sizes)))
    finals = draw(final_layer_choices(num_layers, min_size=2))
    return draw(simple_runs(draw(simple_networks(wiring, sizes, finals), label="network")))


@st.composite
def final_layer_runs(draw):
    """`final_layer_ids` naming layers other than the last, in any order; no edges."""
    num_layers = draw(st.integers(2, 5), label="layers")
    wiring = draw(edge_free_wirings(num_layers, 1))
    finals = draw(final_layer_choices(num_layers))
    return draw(simple_runs(draw(simple_networks(wiring, [draw(vector_sizes(1, 6))], finals),
                                 label="network")))


@st.composite
def burnin_runs(draw):
    """A burn-in of at least one step (and fewer than T), on one simple layer
    fed by external input (burn-in is a rule of the whole model: it needs no
    edge)."""
    network = draw(simple_networks([[("input", 0)]], [draw(vector_sizes(1, 6))]),
                   label="network")
    return draw(simple_runs(network, burnin=True))


@st.composite
def composed_in_graph_runs(draw):
    """A composed layer as one node of a graph: a Parallel reading several
    sources (it gets their list, in order), a CompoundLayer on a self-loop or
    feedback edge (as SequentialLocalFeedback builds it), or a ResNetBlock."""
    sizes = draw(input_sizes(1, 3), label="input sizes")
    num_layers = draw(st.integers(1, 4), label="layers")
    wiring = draw(feedback_wirings(num_layers, len(sizes), min_feedback=0))
    host = draw(st.integers(0, num_layers - 1), label="composed layer")
    kind = draw(st.sampled_from(COMPOSED_IN_GRAPH), label="composed kind")
    if kind == "Parallel":
        while len(wiring[host]) < 2:
            source = draw(st.one_of(
                st.tuples(st.just("layer"), st.integers(host, num_layers - 1)),
                st.tuples(st.just("input"), st.integers(0, len(sizes) - 1))),
                label="another Parallel source")
            if source not in wiring[host]:
                wiring[host].append(source)
    elif kind == "CompoundLayer" and draw(st.booleans(), label="compound on a loop"):
        source = ("layer", draw(st.integers(host, num_layers - 1), label="loop source"))
        if source not in wiring[host]:
            wiring[host].insert(0, source)
    elif kind == "ResNetBlock":  # shape preserving: it cannot read a feedback edge
        wiring[host] = [s for s in wiring[host] if s[0] == "input"] or [("input", 0)]
    network = draw(simple_networks(wiring, sizes, composed={host: kind}), label="network")
    return draw(simple_runs(network))



@st.composite
def random_layer_key_runs(draw):
    """Two to five layers, all reading the one external input (no edge), one
    or more of them Dropout layers, the model returning the last layer; inputs
    are analogue currents (never exactly zero), so every Dropout layer's
    last output, compared like every layer's, shows its mask: whether layer
    `i` received `split(key, num_layers)[i]` (SPEC.md §4.4), on the step
    path and as a time-parallel layer of the graph schedule (§4.6), and its
    outputs at every step, when it is the last layer, whether that split is
    the same at every step."""
    sizes = [draw(vector_sizes(2, 6), label="input size")]
    num_layers = draw(st.integers(2, 5), label="layers")
    wiring = draw(edge_free_wirings(num_layers, 1))
    dropout_ids = draw(st.lists(st.integers(0, num_layers - 1), min_size=1,
                                max_size=num_layers, unique=True), label="Dropout layers")
    network = draw(simple_networks(wiring, sizes, dropout_ids=dropout_ids), label="network")
    return draw(simple_runs(network, styles=("current",)))


@st.composite
def composed_constructor_runs(draw):
    """A network built by a documented constructor (SPEC §5): `Sequential(*layers)`,
    the chain, or `SequentialLocalFeedback(*layers, feedback_layers=...)`, the
    chain plus, for each `{k: v}`, an edge `k -> v` after the chain's edge (with
    None: a self-loop on every CompoundLayer); the network's graph is that graph."""
    num_layers = draw(st.integers(1, 4), label="layers")
    sizes = draw(input_sizes(1, 1), label="input size")
    wiring = [[("input", 0)]] + [[("layer", i - 1)] for i in range(1, num_layers)]
    composed, constructor = {}, ("Sequential",)
    if draw(st.booleans(), label="SequentialLocalFeedback"):
        if draw(st.booleans(), label="feedback_layers=None"):
            loops = draw(st.lists(st.integers(0, num_layers - 1), min_size=1, max_size=2,
                                  unique=True), label="CompoundLayers")
            composed = {i: "CompoundLayer" for i in loops}
            feedback = None
        else:
            # {k: v}: any source k, any target v but the one k already feeds
            feedback = tuple(sorted(draw(st.dictionaries(
                st.integers(0, num_layers - 1), st.integers(0, num_layers - 1),
                min_size=1, max_size=2).filter(
                    lambda pairs: all(v != k + 1 for k, v in pairs.items())),
                label="feedback_layers").items()))
        for source, target in (feedback or [(i, i) for i in composed]):
            wiring[target].append(("layer", source))
        constructor = ("SequentialLocalFeedback", feedback)
    network = draw(simple_networks(wiring, sizes, composed=composed), label="network")
    return draw(simple_runs(replace(network, constructor=constructor)))
