"""The picture of a divergence: where a failed row's minimal run first left
the oracle's, as `compare.Mismatch` attributes, a picklable
`failures.divergence.Divergence`, a text table in the Markdown report and, with
matplotlib (the `plot` extra), a PNG beside it.

The fake adapters below are wrong on purpose and importable as
`meta_tests.test_report:<name>` for `snnax-ref conform`.
"""

from __future__ import annotations

import json
import pickle
import re
import sys

import numpy as np
import pytest

from spec_tests import oracle
from spec_tests.compare import TOLERANCES, Mismatch, assert_run_matches
from spec_tests.description import LayerSpec, NetworkSpec, RunSpec
from spec_tests.properties import check_conforms
from spec_tests.failures.divergence import Divergence, divergence_table, picture_name
from spec_tests.tools.report import FAILED, RowStats, markdown, write_reports
from .test_cli import OracleAdapter, _conform, _json_report
from .test_shard import _merge

FLOAT64 = TOLERANCES["float64"]
WRONG_STEP, WRONG_NEURON, BURNIN, STEPS, NEURONS = 7, 4, 2, 12, 6


# -- fake adapters ----------------------------------------------------------------

class LastStepWrongAdapter(OracleAdapter):
    """Wrong on purpose: the last element of every output is off by 0.5 at
    the last step (any run with an output row fails)."""

    name = "wrong at the last step (test adapter)"

    def run(self, model, state, inputs, burnin, key_seed=1):
        final, outputs = super().run(model, state, inputs, burnin, key_seed)
        outputs = [np.array(o, dtype=np.float64) for o in outputs]
        for o in outputs:
            if o.size:
                o[-1].reshape(-1)[-1] += 0.5
        return final, outputs


class TwoBugsAdapter(LastStepWrongAdapter):
    """Two distinct bugs: it cannot build a network holding a Linear layer,
    and gets the last step wrong in the others."""

    def build(self, network, forward, dtype):
        if any(layer.kind == "Linear" for layer in network.layers):
            raise RuntimeError("this implementation cannot build a Linear layer")
        return super().build(network, forward, dtype)


class OneSpikeWrongAdapter(OracleAdapter):
    """Flips one output spike (neuron WRONG_NEURON at step WRONG_STEP) and,
    with `wrong_state`, one element of layer 0's first final state component."""

    wrong_output, wrong_state = True, False

    def run(self, model, state, inputs, burnin, key_seed=1):
        final, outputs = super().run(model, state, inputs, burnin, key_seed)
        outputs = [np.array(o, dtype=np.float64) for o in outputs]
        if self.wrong_output:
            outputs[0][WRONG_STEP - burnin, WRONG_NEURON] = 1.0 - outputs[0][
                WRONG_STEP - burnin, WRONG_NEURON]
        return final, outputs

    def read_states(self, model, network, final_state):
        states, last = super().read_states(model, network, final_state)
        if self.wrong_state:
            states = [[np.array(c, dtype=np.float64) for c in s] for s in states]
            states[0][0].reshape(-1)[2] += 0.25
        return states, last


class StateWrongAdapter(OneSpikeWrongAdapter):
    wrong_output, wrong_state = False, True


class BothWrongAdapter(OneSpikeWrongAdapter):
    wrong_output, wrong_state = True, True


def one_iaf_layer() -> RunSpec:
    """SimpleIAF neurons fed by irregular positive input: they spike now and then."""
    network = NetworkSpec(layers=(LayerSpec("SimpleIAF"),), input_layer_ids=((0,),),
                          input_connectivity=((),), final_layer_ids=(0,),
                          input_shapes=((NEURONS,),))
    inputs = np.random.default_rng(5).uniform(0.05, 0.7, size=(STEPS, NEURONS))
    return RunSpec(network, (inputs,), burnin=BURNIN)


def _divergence(adapter) -> Divergence:
    with pytest.raises(Mismatch) as failure:
        check_conforms(adapter, one_iaf_layer())
    return failure.value.divergence


# -- compare.Mismatch says where, as attributes ---------------------------------------

def test_a_mismatch_carries_where_it_differs_and_keeps_its_message():
    run = one_iaf_layer()
    expected = oracle.run(run, margin=FLOAT64.margin)
    outputs = [o.copy() for o in expected.outputs]
    outputs[0][WRONG_STEP - BURNIN, WRONG_NEURON] += 3.0
    actual = type(expected)(outputs, expected.final_states, expected.final_outputs)
    with pytest.raises(Mismatch) as failure:
        assert_run_matches(run, expected, actual, FLOAT64)
    m = failure.value
    assert str(m).startswith(
        f"outputs[0] (layer 0, SimpleIAF), rows are steps {BURNIN}..{STEPS - 1}: first "
        f"difference at index ({WRONG_STEP - BURNIN}, {WRONG_NEURON}): expected ")
    assert (m.layer, m.source, m.position, m.first_step, m.step) == (
        0, "output", 0, BURNIN, WRONG_STEP)
    assert m.index == (WRONG_STEP - BURNIN, WRONG_NEURON) and m.component is None
    assert m.what.startswith("outputs[0] (layer 0, SimpleIAF)")
    np.testing.assert_array_equal(m.actual, outputs[0])


def test_a_final_state_mismatch_names_its_component():
    run = one_iaf_layer()
    expected = oracle.run(run, margin=FLOAT64.margin)
    states = [[c.copy() for c in s] for s in expected.final_states]
    states[0][0][3] += 1.0
    actual = type(expected)(expected.outputs, states, expected.final_outputs)
    with pytest.raises(Mismatch) as failure:
        assert_run_matches(run, expected, actual, FLOAT64)
    m = failure.value
    assert str(m).startswith("final state of layer 0 (SimpleIAF), component 0 (V): first "
                             "difference at index (3,)")
    assert (m.layer, m.source, m.component, m.index, m.step) == (0, "state", 0, (3,), STEPS - 1)


# -- the Divergence record -------------------------------------------------------------

def test_a_wrong_spike_gives_a_small_picklable_record_around_its_step():
    d = _divergence(OneSpikeWrongAdapter())
    assert (d.layer, d.kind, d.source, d.step, d.element) == (
        0, "SimpleIAF", "output", WRONG_STEP, (WRONG_NEURON,))
    assert d.steps == tuple(range(WRONG_STEP - 5, STEPS))      # cropped to the window
    assert d.neurons[0] == (WRONG_NEURON,) and 1 < len(d.neurons) <= 4
    assert len(set(d.neurons)) == len(d.neurons)
    assert d.expected.shape == d.actual.shape == (len(d.steps), len(d.neurons))
    i = d.steps.index(WRONG_STEP)
    assert d.actual[i, 0] == 1.0 - d.expected[i, 0]
    np.testing.assert_array_equal(np.delete(d.actual, i, axis=0), np.delete(d.expected, i, axis=0))
    assert d.final_elements == ()            # the states agree
    copy = pickle.loads(pickle.dumps(d))
    assert copy.steps == d.steps and np.array_equal(copy.actual, d.actual)


def test_an_output_divergence_also_shows_the_first_differing_final_state():
    d = _divergence(BothWrongAdapter())
    assert d.source == "output" and d.step == WRONG_STEP
    assert d.final_what == "final state of layer 0 (SimpleIAF), component 0 (V)"
    assert d.final_first == (2,) and d.final_elements == tuple((k,) for k in range(NEURONS))
    assert d.final_actual[2] == d.final_expected[2] + 0.25


def test_a_final_state_divergence_keeps_the_layer_output_and_the_state():
    d = _divergence(StateWrongAdapter())
    assert (d.source, d.component, d.element, d.step) == ("state", 0, (2,), STEPS - 1)
    assert d.steps[-1] == STEPS - 1 and d.neurons[0] == (2,)
    np.testing.assert_array_equal(d.expected, d.actual)      # the outputs agree
    assert d.final_first == (2,) and d.final_actual[2] - d.final_expected[2] == 0.25


def test_a_non_finite_output_is_located_and_shown_as_nan():
    class NanAdapter(OracleAdapter):
        def run(self, model, state, inputs, burnin, key_seed=1):
            final, outputs = super().run(model, state, inputs, burnin, key_seed)
            outputs = [np.array(o, dtype=np.float64) for o in outputs]
            outputs[0][WRONG_STEP - burnin, 1] = np.nan
            return final, outputs
    d = _divergence(NanAdapter())
    assert (d.step, d.element, d.neurons[0]) == (WRONG_STEP, (1,), (1,))
    (marked,) = [line for line in divergence_table(d).splitlines() if line.startswith(">")]
    assert marked.split()[1] == str(WRONG_STEP) and marked.split()[3:] == ["nan", "nan"]


def test_a_shape_mismatch_has_no_picture():
    class WrongShape(OracleAdapter):
        def run(self, model, state, inputs, burnin, key_seed=1):
            final, outputs = super().run(model, state, inputs, burnin, key_seed)
            return final, [o[:, :-1] for o in outputs]
    with pytest.raises(Mismatch) as failure:
        check_conforms(WrongShape(), one_iaf_layer())
    assert failure.value.divergence is None


# -- the text table and the reports -------------------------------------------------------

def _failed_row(adapter, name="SimpleIAF") -> RowStats:
    d = _divergence(adapter)
    return RowStats(name, tried=3, failed=1, outcome=FAILED, message="Mismatch: boom",
                    repro="# replay", divergence=d,
                    tests={f"test_class_conforms[{name}]": {
                        "outcome": FAILED, "message": "Mismatch: boom", "seconds": 0.1}})


def test_the_text_table_shows_the_diverging_neuron_around_its_step():
    d = _divergence(BothWrongAdapter())
    text = divergence_table(d)
    marked = [line for line in text.splitlines() if line.startswith(">")]
    assert len(marked) == 2                            # the step, the state element
    step_line, state_line = marked
    assert step_line.split()[1] == str(WRONG_STEP)
    want, got = d.expected[d.steps.index(WRONG_STEP), 0], d.actual[d.steps.index(WRONG_STEP), 0]
    assert step_line.split()[2:4] == [f"{want:.6g}", f"{got:.6g}"]
    assert f"output of neuron ({WRONG_NEURON},) by step" in text
    shown = [int(line.split()[-4]) for line in text.splitlines()
             if re.match(r"^[> ] +\d+ ", line)]
    assert shown == list(range(WRONG_STEP - 3, WRONG_STEP + 4))   # 3 steps either side
    assert state_line.split()[1] == "(2,)"
    assert "final state of layer 0 (SimpleIAF), component 0 (V) (after step 11)" in text


def test_the_markdown_is_complete_in_text_without_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)          # import fails
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    row = _failed_row(BothWrongAdapter())
    json_path, md_path = write_reports(tmp_path, {"impl": "x:y"}, [row])
    text = md_path.read_text()
    assert divergence_table(row.divergence) in text
    assert "No picture: matplotlib is not installed" in text and "`plot` extra" in text
    assert not list(tmp_path.glob("*.png"))
    (saved,) = json.loads(json_path.read_text())["rows"]
    assert saved["divergence"]["step"] == WRONG_STEP
    assert saved["divergence"]["neurons"][0] == [WRONG_NEURON]
    alone = markdown({"impl": "x:y"}, [row])         # no pictures drawn: the table alone
    assert divergence_table(row.divergence) in alone and "![" not in alone


def test_non_finite_values_stay_readable_in_json(tmp_path):
    row = _failed_row(StateWrongAdapter())
    row.divergence.final_actual = np.array([np.nan, np.inf, -np.inf, 1.0])
    json_path, _ = write_reports(tmp_path, {"impl": "x:y"}, [row])
    saved = json.loads(json_path.read_text(), parse_constant=pytest.fail)
    assert saved["rows"][0]["divergence"]["final_actual"] == ["nan", "inf", "-inf", 1.0]


def test_with_matplotlib_the_markdown_embeds_a_picture(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [_failed_row(BothWrongAdapter(), "graph: straight-through reads"),
            _failed_row(StateWrongAdapter(), "SimpleIAF"),
            _failed_row(OneSpikeWrongAdapter(), "LIF")]
    _, md_path = write_reports(tmp_path, {"impl": "x:y"}, rows)
    text = md_path.read_text()
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert links == [picture_name(r.row) for r in rows]
    assert links[0] == "divergence-graph-straight-through-reads.png"
    for link in links:
        assert (tmp_path / link).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert divergence_table(rows[0].divergence) in text      # the table stays


# -- end to end: snnax-ref conform ------------------------------------------------------------

def _matplotlib_importable() -> bool:
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError:
        return False
    return True


def test_conform_reports_the_divergence_of_a_wrong_adapter(tmp_path):
    code, output = _conform(tmp_path, "--impl",
                            "meta_tests.test_report:LastStepWrongAdapter",
                            "--rows", "Identity")
    assert code == 1, output
    (row,) = _json_report(tmp_path)["rows"]
    d = row["divergence"]
    assert d and d["layer"] == 0 and d["kind"] == "Identity" and d["source"] == "output"
    markdown_text = (tmp_path / "reports" / "conformance-report.md").read_text()
    assert "Where it diverges" in markdown_text
    assert "first difference: outputs[0] (layer 0, Identity)" in markdown_text
    assert re.search(rf"^> +{d['step']} ", markdown_text, re.MULTILINE), markdown_text
    if not _matplotlib_importable():
        assert "No picture: matplotlib is not installed" in markdown_text
    else:
        assert "![Identity: implementation vs oracle around the divergence]" \
               "(divergence-identity.png)" in markdown_text
        assert (tmp_path / "reports" / "divergence-identity.png").stat().st_size > 0


def test_every_distinct_failure_hypothesis_finds_is_reported_with_its_replay(tmp_path):
    """A row with two distinct bugs: both minimal failing networks, each with
    its message and replay script, in the console, the JSON and Markdown
    reports and the JUnit XML; the first keeps the row's divergence."""
    code, output = _conform(tmp_path, "--impl", "meta_tests.test_report:TwoBugsAdapter",
                            "--rows", "forward: straight-through",
                            "--junit-xml", str(tmp_path / "junit.xml"))
    assert code == 1, output
    (row,) = _json_report(tmp_path)["rows"]
    failures = [row] + row["other_failures"]
    assert len(failures) == 2, row["message"]
    messages = sorted(f["message"].split(":")[0] for f in failures)
    assert messages == ["Mismatch", "RuntimeError"], messages
    for failure in failures:
        assert "check_run(run, impl='meta_tests.test_report:TwoBugsAdapter'" in failure["repro"]
    linear = next(f for f in failures if f["message"].startswith("RuntimeError"))
    assert "LayerSpec('Linear'" in linear["repro"]
    markdown_text = (tmp_path / "reports" / "conformance-report.md").read_text()
    assert "### forward: straight-through: distinct failure 2 of 2" in markdown_text
    assert markdown_text.count("check_run(run, impl=") == 2
    assert "distinct failure 2 of 2" in output
    junit = (tmp_path / "junit.xml").read_text()
    assert "distinct failure 2 of 2" in junit and junit.count("check_run(run, impl=") == 2
    # and through `snnax-ref merge` of the (one-shard) report
    code, output = _merge(tmp_path, tmp_path / "reports" / "conformance-report.json")
    assert code == 1, output
    merged = json.loads((tmp_path / "merged" / "conformance-report.json").read_text())
    assert len(merged["rows"][0]["other_failures"]) == 1
    assert "distinct failure 2 of 2" in (tmp_path / "merged" / "conformance-report.md").read_text()


class Float32WrongAdapter(OracleAdapter):
    """Right in float64; in float32 its last output is off by 0.5."""

    def run(self, model, state, inputs, burnin, key_seed=1):
        final, outputs = super().run(model, state, inputs, burnin, key_seed)
        if model[2] == "float32":
            outputs = [np.array(o, dtype=np.float64) for o in outputs]
            outputs[0].reshape(-1)[-1] += 0.5
        return final, outputs


def _replay(script: str) -> str:
    """Run a replay script in this process: what it printed, or its error."""
    import contextlib
    import io
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(script, "<replay>", "exec"), {})
    except Mismatch as mismatch:
        return f"Mismatch: {mismatch}"
    return printed.getvalue().strip()


def test_a_replay_script_checks_in_its_rows_dtype_and_only_its_rows_property():
    """The float32 row's script checks in float32 (where this adapter is
    wrong, in float64 it conforms); a state row's script runs that row's
    property and no whole-run check before it, whose own failure would
    otherwise be the one replayed."""
    from spec_tests.rows import ALL_ROWS
    run = one_iaf_layer()
    script = ALL_ROWS["float32"].repro(run, "meta_tests.test_report:Float32WrongAdapter")
    assert "dtype='float32'" in script
    assert _replay(script).startswith("Mismatch: outputs[0]")
    assert _replay(script.replace("'float32'", "'float64'")) == "conforms"

    chunked = ALL_ROWS["state: chunked run"].repro(
        (run, 3), "meta_tests.test_diagnosis:ForgetfulAdapter")
    assert "check_run" not in chunked and chunked.count("check_chunked_run_conforms(") == 1
