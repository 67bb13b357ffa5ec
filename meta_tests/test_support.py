"""A partial implementation (`spec_tests.adapters.support.Support`): every row
runs on the networks it supports, a row with none is "not applicable", and the
verdict says on how many rows the implementation conforms."""

from __future__ import annotations

import numpy as np
import pytest

from meta_tests.test_cli import OracleAdapter, _conform, _json_report
from spec_tests.adapters.support import Support, features_of, never_exercised
from spec_tests.description import ALL_KINDS, DELAYED, LayerSpec, NetworkSpec, RunSpec
from spec_tests.tools.cli import _exit_code
from spec_tests.tools.report import NOT_APPLICABLE, PASSED, RowStats, verdict


class NoSimpleLINoFeedback(OracleAdapter):
    """The oracle, declared without SimpleLI and without feedback edges."""

    name = "oracle without SimpleLI and feedback (test adapter)"
    supports = Support(kinds=set(ALL_KINDS) - {"SimpleLI"}, feedback=False)


def _run(connectivity, kinds=("Identity", "LIF"), inputs=1, forward=DELAYED) -> RunSpec:
    layers = tuple(LayerSpec(kind) for kind in kinds)
    network = NetworkSpec(layers, ((0,),) + ((),) * (len(layers) - 1), connectivity,
                          (len(layers) - 1,), ((2,),) * inputs)
    return RunSpec(network, tuple(np.zeros((3, 2)) for _ in range(inputs)), forward)


def test_a_run_outside_the_declaration_is_named_by_its_first_reason():
    support = Support(kinds={"Identity", "LIF"}, forwards={"straight_through"},
                      feedback=False, dtypes={"float64"})
    chain = _run(((), (0,)), forward="straight_through")
    assert support.unsupported(chain, "float64") is None
    assert support.unsupported(chain, "float32") == "dtype float32"
    assert support.unsupported(_run(((), (0,))), "float64") == "forward function delayed"
    assert support.unsupported(_run(((1,), (0,)), forward="straight_through"),
                               "float64") == "feedback edges"
    assert support.unsupported(_run(((), (0,)), kinds=("Identity", "SimpleLI"),
                                    forward="straight_through"), "float64") == "kind SimpleLI"
    assert features_of(_run(((1,), (0,)))) >= {"kind:LIF", "feedback edges", "forward:delayed"}


@pytest.mark.parametrize("arguments, message", [
    (dict(kinds={"LIFF"}), "unknown kind"),
    (dict(forwards={"straight-through"}), "unknown"),
    (dict(kinds="LIF"), "a set of names"),
])
def test_a_declaration_with_a_name_the_suite_does_not_know_is_refused(arguments, message):
    with pytest.raises((TypeError, ValueError), match=message):
        Support(**arguments)


def test_a_partial_implementation_runs_each_row_on_what_it_supports(tmp_path):
    code, output = _conform(tmp_path, "--impl", "meta_tests.test_support:NoSimpleLINoFeedback",
                            "--rows", "SimpleLI", "Identity", "graph: feedback delay",
                            "graph: straight-through reads")
    assert code == 0, output
    report = _json_report(tmp_path)
    rows = {r["row"]: r for r in report["rows"]}
    assert rows["SimpleLI"]["outcome"] == rows["graph: feedback delay"]["outcome"] \
        == "not applicable"
    assert "kind SimpleLI" in rows["SimpleLI"]["message"]
    assert "feedback edges" in rows["graph: feedback delay"]["message"]
    # The straight-through row draws SimpleLI among its simple layers: those
    # networks are passed over, the others run.
    assert rows["graph: straight-through reads"]["outcome"] == "passed"
    assert rows["graph: straight-through reads"]["tried"] > 0
    assert {"kind:SimpleLI", "feedback edges"} <= set(report["never_exercised"])
    assert report["verdict"] == ("conforms on 2 of 4 rows (2 not applicable: SimpleLI, "
                                 "graph: feedback delay)")
    assert "exit 0: conforms on 2 of 4 rows" in output
    assert "every row" not in output.splitlines()[-1]


def test_a_coverage_floor_fails_a_run_that_checked_fewer_rows():
    checked = RowStats("Identity", tried=8, outcome=PASSED)
    rows = [checked, RowStats("SimpleLI", outcome=NOT_APPLICABLE)]
    assert _exit_code(0, rows, [], require_rows=1) == (0, "")
    code, problem = _exit_code(0, rows, [], require_rows=2)
    assert code == 3 and problem == "1 rows were checked, fewer than --require-rows 2"
    assert verdict(rows) == "conforms on 1 of 2 rows (1 not applicable: SimpleLI)"
    assert verdict([checked]) == "every row conforms (1 of 1 rows)"


def test_never_exercised_lists_what_no_checked_run_contained():
    assert "kind:SimpleLI" in never_exercised({"kind:LIF"})
    assert "kind:LIF" not in never_exercised({"kind:LIF"})
