"""SPEC.md §4: GraphStructure is validated when it is built; each error is a
ValueError naming the field (and the index, where there is one)."""

import pytest

from snnax_ref import snn


def make(num_layers=2, input_layer_ids=([0], []), final_layer_ids=(1,),
         input_connectivity=([], [0])):
    return snn.GraphStructure(num_layers=num_layers, input_layer_ids=list(input_layer_ids),
                              final_layer_ids=list(final_layer_ids),
                              input_connectivity=list(input_connectivity))


def test_valid_graph_is_frozen_and_hashable():
    g = make()
    assert g.num_inputs == 1
    assert g.input_layer_ids == ((0,), ()) and g.input_connectivity == ((), (0,))
    assert g.final_layer_ids == (1,)
    assert hash(g) == hash(make()) and g == make()
    with pytest.raises(Exception):
        g.num_layers = 3
    assert make(input_layer_ids=([0, 2], [])).num_inputs == 3


@pytest.mark.parametrize("num_layers", [0, -1])
def test_num_layers_below_one(num_layers):
    with pytest.raises(ValueError, match="num_layers"):
        snn.GraphStructure(num_layers=num_layers, input_layer_ids=[], final_layer_ids=[0],
                           input_connectivity=[])


def test_num_layers_not_an_int():
    with pytest.raises(ValueError, match="num_layers"):
        make(num_layers=2.0)


def test_input_layer_ids_length_mismatch():
    with pytest.raises(ValueError, match="input_layer_ids") as info:
        make(input_layer_ids=([0],))
    assert "1" in str(info.value) and "2" in str(info.value)
    with pytest.raises(ValueError, match="input_layer_ids"):
        make(input_layer_ids=([0], [], []))


def test_input_connectivity_length_mismatch():
    with pytest.raises(ValueError, match="input_connectivity") as info:
        make(input_connectivity=([], [0], [1]))
    assert "3" in str(info.value) and "2" in str(info.value)
    with pytest.raises(ValueError, match="input_connectivity"):
        make(input_connectivity=([],))


def test_input_connectivity_id_out_of_range():
    with pytest.raises(ValueError, match=r"input_connectivity\[1\]") as info:
        make(input_connectivity=([], [5]))
    assert "5" in str(info.value)
    with pytest.raises(ValueError, match=r"input_connectivity\[1\]"):
        make(input_connectivity=([], [-1]))
    with pytest.raises(ValueError, match=r"input_connectivity\[0\]"):
        make(input_connectivity=([2], [0]))


def test_input_connectivity_id_not_an_int():
    with pytest.raises(ValueError, match=r"input_connectivity\[1\]"):
        make(input_connectivity=([], [0.0]))


def test_input_layer_ids_negative_id():
    with pytest.raises(ValueError, match=r"input_layer_ids\[0\]"):
        make(input_layer_ids=([-1], []))


def test_final_layer_ids_out_of_range():
    with pytest.raises(ValueError, match=r"final_layer_ids\[1\]") as info:
        make(final_layer_ids=(1, 2))
    assert "2" in str(info.value)
    with pytest.raises(ValueError, match=r"final_layer_ids\[0\]"):
        make(final_layer_ids=(-1,))


def test_layer_with_no_input():
    with pytest.raises(ValueError, match="layer 1") as info:
        make(input_connectivity=([], []))
    message = str(info.value)
    assert "input_connectivity[1]" in message and "input_layer_ids[1]" in message


def test_empty_final_layer_ids():
    with pytest.raises(ValueError, match="final_layer_ids"):
        make(final_layer_ids=())


def test_no_external_input_anywhere():
    with pytest.raises(ValueError, match="input_layer_ids") as info:
        make(input_layer_ids=([], []), input_connectivity=([1], [0]))
    assert "external input" in str(info.value)
    with pytest.raises(ValueError, match="input_layer_ids"):
        snn.GraphStructure(num_layers=1, input_layer_ids=[[]], final_layer_ids=[0],
                           input_connectivity=[[0]])


def test_layers_that_are_not_a_sequence_are_named():
    graph = snn.GraphStructure(1, [[0]], [0], [[]])
    with pytest.raises(TypeError, match="layers must be a sequence of modules, one per layer, got int"):
        snn.StatefulModel(graph, 3)


@pytest.mark.parametrize("feedback, error, message", [
    ([1], TypeError, "feedback_layers must be a dict"),
    ({0: 1.5}, ValueError, "feedback_layers value 1.5 is not a layer id"),
    ({2: 0}, ValueError, "feedback_layers key 2 is not a layer id"),
])
def test_malformed_feedback_layers_are_named(feedback, error, message):
    with pytest.raises(error, match=message):
        snn.SequentialLocalFeedback(snn.LIF(), snn.LIF(), feedback_layers=feedback)
