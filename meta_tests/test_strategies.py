"""Meta-tests: the strategies generate what they claim."""

from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings

from dataclasses import replace

from spec_tests import oracle
from spec_tests.description import (ALL_KINDS, DELAYED, DOCUMENTED_CLASSES, EQUINOX_KINDS, IMAGE_KINDS,
                           SPIKE_OUTPUT_KINDS, STRAIGHT_THROUGH, describe)
from spec_tests.keys import dropout_mask, layer_key, with_dropout_masks
from spec_tests.strategies import (COMPOSED_IN_GRAPH, ISOLATED_KINDS, MAX_LAYERS, SIMPLE_KINDS,
                          burnin_runs, composed_in_graph_runs, concatenation_runs, feedback_runs,
                          final_layer_runs, isolated_runs, networks, random_layer_key_runs, runs,
                          several_inputs_and_outputs_runs, straight_through_runs)

META = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))


def _kinds(network):
    found = []
    stack = list(network.layers)
    while stack:
        layer = stack.pop()
        found.append(layer.kind)
        stack.extend(layer.members)
    return found


@META
@given(run=runs())
def test_generated_runs_are_valid_networks_the_oracle_accepts(run):
    """Every generated run has 1..8 layers, inputs of the declared shapes, a
    burnin in [0, T), and shapes the oracle can settle."""
    network = run.network
    assert 1 <= network.num_layers <= MAX_LAYERS
    assert 1 <= run.num_steps <= 50 and 0 <= run.burnin < run.num_steps
    assert run.forward in (STRAIGHT_THROUGH, DELAYED)
    assert all(kind in ALL_KINDS for kind in _kinds(network))
    for sequence, shape in zip(run.inputs, network.input_shapes):
        assert sequence.shape == (run.num_steps,) + tuple(shape)
    assert network.final_layer_ids and all(0 <= f < network.num_layers
                                           for f in network.final_layer_ids)
    _, output_shapes = oracle.infer_network_shapes(network)
    assert [tuple(s) for s in output_shapes] == [tuple(s) for s in network.output_shapes]


def test_required_kind_is_always_in_the_network():
    """`runs(required_kind=k)` puts a layer of kind k in every network."""
    for kind in DOCUMENTED_CLASSES + ("Conv1d", "Conv2d", "LayerNorm", "Identity", "Linear",
                                      "Dropout"):
        @settings(max_examples=6, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(network=networks(kind))
        def contains(network):
            assert kind in _kinds(network), kind
        contains()


def test_generated_graphs_cover_feedback_self_loops_several_inputs_and_outputs():
    """Across a batch of networks: feed-forward edges, feedback edges,
    self-loops, several external inputs, several final layers, image stems,
    random layers (Dropout)."""
    seen = Counter()

    # 150 networks, not 60: the draws differ between processes (they did
    # under pytest-xdist), and Dropout, one kind among many, must show up in
    # any of them.
    @settings(META, max_examples=150)
    @given(network=networks())
    def record(network):
        for i, sources in enumerate(network.input_connectivity):
            for j in sources:
                seen["feed-forward" if j < i else "self-loop" if j == i else "feedback"] += 1
        seen["several inputs"] += len(network.input_shapes) > 1
        seen["several final layers"] += len(network.final_layer_ids) > 1
        seen["image stem"] += any(k in IMAGE_KINDS for k in _kinds(network))
        seen["random layer"] += "Dropout" in _kinds(network)
    record()
    for feature in ("feed-forward", "feedback", "self-loop", "several inputs",
                    "several final layers", "image stem", "random layer"):
        assert seen[feature] > 0, (feature, seen)


def test_generated_runs_really_spike_and_are_not_saturated():
    """Most generated runs of at least 5 steps spike somewhere, and few spike
    at every neuron and every step (judged on every spiking layer, not only
    the final ones)."""
    silent, saturated, counted = 0, 0, 0
    seen = set()

    @settings(META, max_examples=200)
    @given(run=runs(forward=STRAIGHT_THROUGH))
    def record(run):
        nonlocal silent, saturated, counted
        network = run.network
        spiking = tuple(i for i, layer in enumerate(network.layers)
                        if layer.kind in SPIKE_OUTPUT_KINDS or (
                            layer.kind == "CompoundLayer"
                            and layer.members[-1].kind in SPIKE_OUTPUT_KINDS))
        if not spiking or run.num_steps < 5:
            return  # LIF-like neurons cannot spike in their first steps
        fingerprint = (describe(run), tuple(float(x.sum()) for x in run.inputs))
        if fingerprint in seen:
            return  # Hypothesis replays near-duplicates; count each run once
        seen.add(fingerprint)
        watched = with_dropout_masks(replace(run, network=replace(network,
                                                                  final_layer_ids=spiking),
                                             burnin=0))
        rates = [float(np.mean(o)) for o in oracle.run(watched).outputs]
        counted += 1
        silent += all(rate == 0 for rate in rates)
        saturated += all(rate == 1 for rate in rates)
    record()
    assert counted >= 15, counted
    assert silent / counted <= 0.2, (silent, counted)
    assert saturated / counted <= 0.1, (saturated, counted)


# -- the class rows: one layer, in isolation ----------------------------------

def test_isolated_runs_are_one_layer_of_the_class_fed_by_external_input():
    """`isolated_runs(k)` is always a network of exactly one layer of kind k
    (with members when k is composed), reading every external input directly:
    no edge, final_layer_ids=[0], straight-through, no burn-in; a Parallel
    reads one input per member, every other layer one input."""
    for kind in ISOLATED_KINDS:
        seen_members = set()

        @settings(META, max_examples=8)
        @given(run=isolated_runs(kind))
        def one_layer(run):
            network = run.network
            assert network.num_layers == 1 and network.layers[0].kind == kind, kind
            assert network.input_connectivity == ((),)
            assert network.final_layer_ids == (0,)
            assert run.forward == STRAIGHT_THROUGH and run.burnin == 0
            inputs = len(network.input_shapes)
            assert network.input_layer_ids == (tuple(range(inputs)),)
            layer = network.layers[0]
            assert inputs == (len(layer.members) if kind == "Parallel" else 1), kind
            if kind in ("SRM", "Parallel", "CompoundLayer", "ResNetBlock"):
                assert layer.members, kind
            seen_members.add(len(layer.members))
            _, output_shapes = oracle.infer_network_shapes(network)
            assert [tuple(s) for s in output_shapes] == [tuple(s) for s in network.output_shapes]
            assert all(x.shape == (run.num_steps,) + tuple(s)
                       for x, s in zip(run.inputs, network.input_shapes))
        one_layer()
        if kind == "Parallel":
            assert max(seen_members) >= 2, seen_members
    assert set(ISOLATED_KINDS) == set(DOCUMENTED_CLASSES + EQUINOX_KINDS)


def test_isolated_spiking_layers_really_spike():
    """Most isolated runs of a spiking class (at least 5 steps) spike, and
    few spike at every neuron and every step."""
    for kind in SPIKE_OUTPUT_KINDS:
        rates = []

        @settings(META, max_examples=20)
        @given(run=isolated_runs(kind))
        def record(run):
            if run.num_steps >= 5:
                rates.append(float(np.mean(oracle.run(run).outputs[0])))
        record()
        assert len(rates) >= 8, (kind, rates)
        # Silent runs are legitimate: a decay constant at or above 1 clamps to 1
        # and freezes LIF's current or a membrane, which the clamp-edge draws
        # need; still, most runs must spike.
        assert sum(rate == 0 for rate in rates) <= 0.45 * len(rates), (kind, rates)
        # A pool spikes wherever its window's maximum reaches the threshold.
        saturated = 0.5 if "Pool" in kind else 0.35
        assert sum(rate == 1 for rate in rates) <= saturated * len(rates), (kind, rates)


# -- the graph rows: one rule each ---------------------------------------------

def _edges(network):
    return [(j, i) for i, sources in enumerate(network.input_connectivity) for j in sources]


def _simple(layer, dropout_allowed=False):
    if layer.kind == "Dropout":
        return dropout_allowed
    if layer.kind in SIMPLE_KINDS:
        return True
    return layer.kind in COMPOSED_IN_GRAPH and all(map(_simple, layer.members))


# Which edges each graph row's networks may have: the fewest other rules.
EDGES_ALLOWED = {straight_through_runs: "feed-forward", feedback_runs: "feedback",
                 concatenation_runs: "feed-forward", several_inputs_and_outputs_runs: "none",
                 final_layer_runs: "none", burnin_runs: "none",
                 composed_in_graph_runs: "feedback", random_layer_key_runs: "none"}


def _graph_row(strategy, check, examples=30):
    """Run `check(run, seen)` on `examples` runs of `strategy`, after the
    checks every graph row shares: a valid network of simple layers whose
    shapes the oracle settles, every external input read, only the edges the
    row allows (`EDGES_ALLOWED`). Returns the Counter `check` filled."""
    seen = Counter()
    allowed = EDGES_ALLOWED[strategy]

    @settings(META, max_examples=examples)
    @given(run=strategy())
    def record(run):
        network = run.network
        assert 1 <= network.num_layers <= MAX_LAYERS
        assert all(_simple(layer, strategy is random_layer_key_runs)
                   for layer in network.layers), _kinds(network)
        edges = _edges(network)
        if allowed == "none":
            assert not edges, edges
        elif allowed == "feedback":
            assert all(j >= i for j, i in edges), edges
        else:
            assert all(j < i for j, i in edges), edges
        _, output_shapes = oracle.infer_network_shapes(network)
        assert [tuple(s) for s in output_shapes] == [tuple(s) for s in network.output_shapes]
        used = {k for ids in network.input_layer_ids for k in ids}
        assert used == set(range(len(network.input_shapes)))
        if strategy not in (final_layer_runs, several_inputs_and_outputs_runs):
            assert network.final_layer_ids == (network.num_layers - 1,)
        if strategy is not burnin_runs:
            assert run.burnin == 0
        assert run.forward == STRAIGHT_THROUGH
        check(run, seen)
    record()
    return seen


def test_straight_through_runs_have_feed_forward_edges_that_matter():
    """Every run has a feed-forward edge j -> i (j < i), no other edge, and one
    input per layer; in most runs reading those edges at t - 1 instead would
    change the outputs or the final states."""
    def check(run, seen):
        network = run.network
        edges = _edges(network)
        assert edges and all(j < i for j, i in edges), edges
        assert all(len(c) + len(e) == 1 for c, e in zip(network.input_connectivity,
                                                         network.input_layer_ids))
        delayed = oracle.run(replace(run, forward=DELAYED))
        right = oracle.run(run)
        arrays = lambda r: r.outputs + [a for s in r.final_states for a in s]  # noqa: E731
        seen["delay visible"] += not all(np.array_equal(a, b) for a, b in
                                         zip(arrays(right), arrays(delayed)))
        seen["runs"] += 1
    # Some runs legitimately hide the delay (a frozen decay, an input of zero
    # at the only step); 60 runs keep the share stable whatever examples
    # Hypothesis draws under load.
    seen = _graph_row(straight_through_runs, check, examples=60)
    assert seen["delay visible"] >= 0.7 * seen["runs"], seen


def test_feedback_runs_always_have_an_edge_j_to_i_with_j_at_least_i():
    """Every run has an edge j -> i with j >= i and only such edges; across
    runs, self-loops and edges from a later layer both occur."""
    def check(run, seen):
        edges = _edges(run.network)
        assert any(j >= i for j, i in edges), edges
        seen["self-loop"] += any(j == i for j, i in edges)
        seen["from a later layer"] += any(j > i for j, i in edges)
    seen = _graph_row(feedback_runs, check)
    assert seen["self-loop"] and seen["from a later layer"], seen


def test_concatenation_runs_always_have_a_layer_with_several_inputs():
    """Every run has a layer with at least two inputs; across runs, layers
    mixing connected layers and external inputs, several external inputs,
    and sources listed out of index order all occur."""
    def check(run, seen):
        network = run.network
        counts = [len(c) + len(e) for c, e in zip(network.input_connectivity,
                                                   network.input_layer_ids)]
        assert max(counts) >= 2, counts
        seen["mixed"] += any(c and e for c, e in zip(network.input_connectivity,
                                                     network.input_layer_ids))
        seen["several external"] += any(len(e) >= 2 for e in network.input_layer_ids)
        seen["unsorted"] += any(list(c) != sorted(c) for c in network.input_connectivity) or any(
            list(e) != sorted(e) for e in network.input_layer_ids)
    seen = _graph_row(concatenation_runs, check)
    assert seen["mixed"] and seen["several external"] and seen["unsorted"], seen


def test_several_inputs_and_outputs_runs_have_both():
    """Every run has at least two external inputs, each read by some layer,
    and at least two final layers."""
    def check(run, seen):
        assert len(run.network.input_shapes) >= 2
        assert len(run.network.final_layer_ids) >= 2
        seen["unsorted finals"] += list(run.network.final_layer_ids) != sorted(
            run.network.final_layer_ids)
    assert _graph_row(several_inputs_and_outputs_runs, check)["unsorted finals"]


def test_final_layer_runs_return_layers_other_than_the_last():
    """Every run's final_layer_ids names a layer other than the last; across
    runs, several final layers out of index order occur."""
    def check(run, seen):
        finals = run.network.final_layer_ids
        assert any(f != run.network.num_layers - 1 for f in finals), finals
        seen["unsorted"] += list(finals) != sorted(finals)
    assert _graph_row(final_layer_runs, check)["unsorted"]


def test_burnin_runs_always_burn_in():
    """Every run has 1 <= burnin < T."""
    def check(run, seen):
        assert 1 <= run.burnin < run.num_steps
    _graph_row(burnin_runs, check)


def test_composed_in_graph_runs_put_a_composed_layer_in_a_graph():
    """Every run has a composed layer; across runs: a Parallel reading
    several sources one of which is a layer, a CompoundLayer reading a
    feedback edge or self-loop, one headed by a Parallel, and a ResNetBlock."""
    def check(run, seen):
        network = run.network
        hosts = [i for i, layer in enumerate(network.layers) if layer.kind in COMPOSED_IN_GRAPH]
        assert hosts, _kinds(network)
        for i in hosts:
            kind, connected = network.layers[i].kind, network.input_connectivity[i]
            if kind == "Parallel":
                assert len(connected) + len(network.input_layer_ids[i]) >= 2
                seen["Parallel reading a layer"] += bool(connected)
            seen["CompoundLayer on an edge"] += kind == "CompoundLayer" and bool(connected)
            seen["CompoundLayer headed by a Parallel"] += kind == "CompoundLayer" and (
                network.layers[i].members[0].kind == "Parallel")
            seen["ResNetBlock"] += kind == "ResNetBlock"
    seen = _graph_row(composed_in_graph_runs, check, examples=40)
    assert all(seen[k] for k in ("Parallel reading a layer", "CompoundLayer on an edge",
                                 "CompoundLayer headed by a Parallel", "ResNetBlock")), seen


def test_random_layer_key_runs_have_dropout_layers_whose_masks_show():
    """Every run has at least two layers, one or more of them Dropout layers,
    drawn key seeds and inputs that are never zero; across runs, several
    Dropout layers in one network occur, and in most runs handing every
    Dropout layer the key of the next layer (time-parallel layers given
    another layer's keys) changes some layer's outputs or last output."""
    def check(run, seen):
        network = run.network
        dropouts = [i for i, layer in enumerate(network.layers) if layer.kind == "Dropout"]
        assert network.num_layers >= 2 and dropouts, _kinds(network)
        assert all(np.all(x != 0) for x in run.inputs)
        seen["several Dropout layers"] += len(dropouts) >= 2
        run = with_dropout_masks(run)
        right = oracle.run(run)
        wrong_masks = {  # the masks layer i would draw with layer i+1's key
            i: replace(masks, step=dropout_mask(
                layer_key(run.key_seed, network.num_layers, (i + 1) % network.num_layers),
                network.layers[i].hyper["p"], masks.step.shape))
            for i, masks in run.dropout_masks.items()}
        wrong = oracle.run(replace(run, dropout_masks=wrong_masks))
        arrays = lambda r: r.outputs + r.final_outputs  # noqa: E731
        seen["wrong keys visible"] += not all(np.array_equal(a, b) for a, b in
                                              zip(arrays(right), arrays(wrong)))
        seen["runs"] += 1
    seen = _graph_row(random_layer_key_runs, check, examples=40)
    assert seen["several Dropout layers"], seen
    assert seen["wrong keys visible"] >= 0.8 * seen["runs"], seen
