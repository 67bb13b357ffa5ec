"""Named state components (issue #24): messages, reports and divergence
tables name a final state component as SPEC.md §3 does, beside its index
(`component 0 (V)`), from the one table `description.STATE_COMPONENTS`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spec_tests import oracle
from spec_tests.compare import TOLERANCES, Mismatch, assert_run_matches
from spec_tests.description import (NEURON_KINDS, STATE_COMPONENTS, LayerSpec, NetworkSpec,
                                    RunSpec, state_component_names)
from spec_tests.keys import with_dropout_masks
from spec_tests.oracle.states import state_names
from spec_tests.properties import check_conforms
from spec_tests.strategies import ISOLATED_KINDS, isolated_networks
from spec_tests.failures.divergence import divergence_table, plain
from spec_tests.tools.report import FAILED, RowStats, markdown
from .test_cli import OracleAdapter

SPEC = Path(__file__).resolve().parents[1] / "SPEC.md"
FLOAT64 = TOLERANCES["float64"]


def spec_state_layouts() -> dict[str, tuple[str, ...]]:
    """Kind -> names from SPEC.md §3's headings ("### 3.5 `LIF(...)`; state
    `[V, I, S]`"); a heading "as LIF" takes LIF's."""
    layouts = {}
    for heading in re.findall(r"^### 3\.\d+ (.*)$", SPEC.read_text(), flags=re.M):
        kind = re.match(r"`(\w+)", heading)      # None: "3.11 Stateless layers"
        state = re.search(r"state `\[([^\]]*)\]`", heading)
        like = re.search(r"as (\w+)", heading)
        if kind and state:
            layouts[kind.group(1)] = tuple(name.strip() for name in state.group(1).split(","))
        elif kind and like:
            layouts[kind.group(1)] = layouts[like.group(1)]
    return layouts


def test_the_table_is_spec_sections_state_layouts():
    layouts = spec_state_layouts()
    assert set(layouts) == set(NEURON_KINDS) == set(STATE_COMPONENTS)
    assert STATE_COMPONENTS == layouts


@pytest.mark.parametrize("kind", ISOLATED_KINDS)
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_every_kind_names_as_many_components_as_the_oracle_has_state_arrays(kind, data):
    """Every documented class (and equinox ingredient), composed ones with
    their drawn members: one name per array of the oracle's default state;
    the names, members' prefixes aside, are the oracle's own flat layout."""
    network = data.draw(isolated_networks(kind))
    (layer,) = network.layers
    run = with_dropout_masks(RunSpec(network, tuple(np.ones((2,) + tuple(s))
                                                    for s in network.input_shapes)))
    (state,), _ = oracle.init_state(network, run.dropout_masks)
    names = state_component_names(layer)
    assert len(names) == len(state)
    assert len(set(names)) == len(names)
    # the message's names are the oracle's flat layout, prefixed by member
    assert [name.rsplit(".", 1)[-1] for name in names] == state_names(layer)
    if kind in ("CompoundLayer", "ResNetBlock"):
        expected = [f"layers[{k}].{name}" for k, member in enumerate(layer.members)
                    for name in STATE_COMPONENTS.get(member.kind, ())]
        assert list(names) == expected
    elif kind not in NEURON_KINDS:
        assert names == ()


# -- the message, the divergence table and the report ------------------------------------------

def _lif_run() -> RunSpec:
    network = NetworkSpec(layers=(LayerSpec("LIF"),), input_layer_ids=((0,),),
                          input_connectivity=((),), final_layer_ids=(0,), input_shapes=((5,),))
    inputs = np.random.default_rng(3).uniform(0.05, 0.6, size=(9, 5))
    return RunSpec(network, (inputs,))


def _compound_run() -> RunSpec:
    """A CompoundLayer [Linear, LIF]: its flat state is the LIF's, `layers[1].*`."""
    rng = np.random.default_rng(4)
    linear = LayerSpec("Linear", params={"weight": rng.uniform(0.1, 0.5, (5, 4)),
                                         "bias": np.zeros(5)})
    network = NetworkSpec(layers=(LayerSpec("CompoundLayer", members=(linear, LayerSpec("LIF"))),),
                          input_layer_ids=((0,),), input_connectivity=((),),
                          final_layer_ids=(0,), input_shapes=((4,),))
    return RunSpec(network, (rng.uniform(0.0, 1.0, size=(9, 4)),))


class _StateWrong(OracleAdapter):
    """Final state component `component` of layer 0 off by 0.25 at element 1."""

    def __init__(self, component):
        super().__init__()
        self.component = component

    def read_states(self, model, network, final_state):
        states, last = super().read_states(model, network, final_state)
        states = [[np.array(c, dtype=np.float64) for c in s] for s in states]
        states[0][self.component].reshape(-1)[1] += 0.25
        return states, last


@pytest.mark.parametrize("make_run, component, label", [
    (_lif_run, 0, "final state of layer 0 (LIF), component 0 (V)"),
    (_lif_run, 1, "final state of layer 0 (LIF), component 1 (I)"),
    (_compound_run, 0, "final state of layer 0 (CompoundLayer), component 0 (layers[1].V)"),
])
def test_a_state_mismatch_names_the_component_in_message_table_and_report(
        make_run, component, label):
    with pytest.raises(Mismatch) as failure:
        check_conforms(_StateWrong(component), make_run())
    m = failure.value
    name = label.rsplit("(", 1)[1].rstrip(")")
    assert str(m).startswith(f"{label}: first difference at index (1,)")
    assert (m.source, m.component, m.component_name) == ("state", component, name)
    d = m.divergence
    assert (d.component, d.component_name, d.what) == (component, name, label)
    table = divergence_table(d)
    assert f"first difference: {label}" in table
    assert f"{label} (after step 8), by element:" in table
    assert json.loads(json.dumps(plain(d)))["component_name"] == name
    row = RowStats("LIF", tried=1, failed=1, outcome=FAILED, message=f"Mismatch: {m}",
                   divergence=d)
    assert markdown({"impl": "x:y"}, [row]).count(label) >= 2   # message and table


def test_a_wrong_number_of_state_arrays_lists_the_expected_names():
    run = _lif_run()
    expected = oracle.run(run, margin=FLOAT64.margin)
    states = [list(s[:2]) for s in expected.final_states]
    actual = type(expected)(expected.outputs, states, expected.final_outputs)
    with pytest.raises(Mismatch, match=re.escape(
            "final state of layer 0 (LIF): expected 3 arrays [V, I, S], got 2")):
        assert_run_matches(run, expected, actual, FLOAT64)
