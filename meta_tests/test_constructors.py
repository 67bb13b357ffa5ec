"""Networks built through the documented constructors (SPEC.md §5): an
adapter builds them as users do, and the suite checks the graph it built,
naming the edges a constructor drops or adds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

from spec_tests.adapters import check_constructed_graph, execute
from spec_tests.adapters.snnax_ref_adapter import SnnaxStyleAdapter, step_adapter
from spec_tests.description import LayerSpec, NetworkSpec, RunSpec
from spec_tests.strategies import composed_constructor_runs


def _self_fed_linear(constructor) -> RunSpec:
    """One Linear reading the input and (SequentialLocalFeedback {0: 0}) itself."""
    linear = LayerSpec("Linear", params={"weight": np.array([[0.5, 0.25]]),
                                         "bias": np.array([0.125])})
    network = NetworkSpec((linear,), ((0,),), ((0,),), (0,), ((1,),), ((1,),), constructor)
    return RunSpec(network, (np.array([[1.0], [2.0]]),))


class DropsFeedbackEdges(SnnaxStyleAdapter):
    """snnax_ref, with a SequentialLocalFeedback that builds the plain chain, as
    upstream SNNAX at b7a55c6 does."""

    def composed(self, network, layers, forward_fn, **options):
        return self.snn.Sequential(*layers, forward_fn=forward_fn, **options)


def test_the_reference_builds_the_documented_graph_through_its_constructors():
    execute(step_adapter, _self_fed_linear(("SequentialLocalFeedback", ((0, 0),))))
    chain = NetworkSpec((LayerSpec("Identity"), LayerSpec("Identity")), ((0,), ()),
                        ((), (0,)), (1,), ((1,),), ((1,), (1,)), ("Sequential",))
    execute(step_adapter, RunSpec(chain, (np.ones((3, 1)),)))


def test_a_constructor_that_drops_its_feedback_edges_is_named():
    dropping = DropsFeedbackEdges(step_adapter.name, step_adapter.snn, step_adapter.functional,
                                  model_options={"schedule": "step"})
    run = _self_fed_linear(("SequentialLocalFeedback", ((0, 0),)))
    with pytest.raises(AssertionError, match=r"SequentialLocalFeedback\(<1 layers>, "
                                             r"feedback_layers=\{0: 0\}\) built "
                                             r"input_connectivity \(\(\),\).*edges missing: "
                                             r"0 -> 0; edges added: none"):
        check_constructed_graph(dropping, dropping.build(run.network, run.forward, "float32"),
                                run.network)


@settings(max_examples=40, deadline=None)
@given(composed_constructor_runs())
def test_every_constructor_run_carries_the_graph_its_constructor_documents(run):
    network = run.network
    name, *arguments = network.constructor
    chain = [[] if i == 0 else [i - 1] for i in range(network.num_layers)]
    if name == "SequentialLocalFeedback":
        pairs = arguments[0] if arguments[0] is not None else [
            (i, i) for i, layer in enumerate(network.layers) if layer.kind == "CompoundLayer"]
        assert pairs, "a SequentialLocalFeedback run has a feedback edge"
        for source, target in pairs:
            chain[target].append(source)
    else:
        assert name == "Sequential"
    assert network.input_connectivity == tuple(tuple(sources) for sources in chain)
    assert network.input_layer_ids == ((0,),) + ((),) * (network.num_layers - 1)
    assert network.final_layer_ids == (network.num_layers - 1,)
