"""Meta-tests: the strategies generate what they claim."""

from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings

from . import oracle
from dataclasses import replace

from .description import ALL_KINDS, DELAYED, STRAIGHT_THROUGH, RunSpec, describe
from .strategies import (DOCUMENTED_CLASSES, IMAGE_KINDS, MAX_LAYERS, networks, runs)

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
    for kind in DOCUMENTED_CLASSES + ("Conv1d", "Conv2d", "LayerNorm", "Identity", "Linear"):
        @settings(max_examples=6, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(network=networks(kind))
        def contains(network):
            assert kind in _kinds(network), kind
        contains()


def test_generated_graphs_cover_feedback_self_loops_several_inputs_and_outputs():
    """Across a batch of networks: feed-forward edges, feedback edges,
    self-loops, several external inputs, several final layers, image stems."""
    seen = Counter()

    @META
    @given(network=networks())
    def record(network):
        for i, sources in enumerate(network.input_connectivity):
            for j in sources:
                seen["feed-forward" if j < i else "self-loop" if j == i else "feedback"] += 1
        seen["several inputs"] += len(network.input_shapes) > 1
        seen["several final layers"] += len(network.final_layer_ids) > 1
        seen["image stem"] += any(k in IMAGE_KINDS for k in _kinds(network))
    record()
    for feature in ("feed-forward", "feedback", "self-loop", "several inputs",
                    "several final layers", "image stem"):
        assert seen[feature] > 0, (feature, seen)


SPIKING_KINDS = ("LIF", "SimpleLIF", "IAF", "SimpleIAF", "LIFSoftReset", "AdaptiveLIF",
                 "SigmaDelta", "SRM", "SpikingMaxPool1d", "SpikingMaxPool2d")


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
                        if layer.kind in SPIKING_KINDS or (
                            layer.kind == "CompoundLayer"
                            and layer.members[-1].kind in SPIKING_KINDS))
        if not spiking or run.num_steps < 5:
            return  # LIF-like neurons cannot spike in their first steps
        fingerprint = (describe(run), tuple(float(x.sum()) for x in run.inputs))
        if fingerprint in seen:
            return  # Hypothesis replays near-duplicates; count each run once
        seen.add(fingerprint)
        watched = RunSpec(replace(network, final_layer_ids=spiking), run.inputs, run.forward)
        rates = [float(np.mean(o)) for o in oracle.run(watched).outputs]
        counted += 1
        silent += all(rate == 0 for rate in rates)
        saturated += all(rate == 1 for rate in rates)
    record()
    assert counted >= 15, counted
    assert silent / counted <= 0.2, (silent, counted)
    assert saturated / counted <= 0.1, (saturated, counted)
