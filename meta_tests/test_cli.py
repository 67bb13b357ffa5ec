"""`snnax-ref conform`'s exit statuses and reports, against small fake adapters.

The CLI runs in a subprocess (it runs pytest itself), restricted with
`--rows` to one or two quick rows and with a one-second shrink budget. The
fake adapters below are importable as `meta_tests.test_cli:<name>`; the
conforming one runs the NumPy oracle itself, so these tests do not depend on
snnax_ref being right.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from spec_tests.adapters import AdapterUnavailable, read_deviations
from spec_tests.description import RunSpec

REPO = Path(__file__).resolve().parents[1]
DEVIATIONS_ENV = "SNNAX_TEST_DEVIATIONS"


# -- fake adapters -------------------------------------------------------------

class OracleAdapter:
    """Conforms by construction: runs the oracle (under `semantics`, an
    alternative of `spec_tests/oracle/alternatives.py`, to play a deviating
    implementation; None is SPEC). No gradients, no functional module, so the
    gradient rows skip."""

    name = "oracle (test adapter)"

    def __init__(self, semantics=None):
        path = os.environ.get(DEVIATIONS_ENV)
        self.deviations_file = Path(path) if path else None
        self.semantics = semantics

    def build(self, network, forward, dtype):
        return network, forward, dtype

    def init_state(self, model, network, key_seed=0):
        return key_seed   # all the oracle needs of the default state

    def run(self, model, state, inputs, burnin, key_seed=1):
        from spec_tests import oracle
        from spec_tests.keys import with_dropout_masks
        network, forward, dtype = model
        run = RunSpec(network, tuple(np.asarray(x, dtype=np.float64) for x in inputs),
                      forward, burnin, key_seed=key_seed, init_key_seed=state)
        result = oracle.run(with_dropout_masks(run, dtype), semantics=self.semantics)
        return result, result.outputs

    def read_states(self, model, network, final_state):
        return final_state.final_states, final_state.final_outputs


class _WrongSurrogates:
    """Spike functions with the right value H(x) and a zero derivative."""

    def __getattr__(self, name):
        import jax.numpy as jnp
        return lambda beta: (lambda x: jnp.where(x >= 0, 1.0, 0.0))


class WrongAdapter(OracleAdapter):
    """Wrong on purpose: every output is off by one, surrogates have no slope."""

    name = "wrong (test adapter)"
    functional = _WrongSurrogates()

    def precision(self, dtype):
        import jax
        return jax.enable_x64(dtype == "float64")

    def run(self, model, state, inputs, burnin, key_seed=1):
        final, outputs = super().run(model, state, inputs, burnin, key_seed)
        return final, [o + 1.0 for o in outputs]


class LazilyUnavailableAdapter(OracleAdapter):
    """Imports its implementation on first use, and it is not there."""

    def build(self, network, forward, dtype):
        raise AdapterUnavailable("frobnicate is not installed")


def unavailable_adapter():
    """A factory that fails like upstream SNNAX without chex."""
    try:
        raise ModuleNotFoundError("No module named 'chex'")
    except ModuleNotFoundError as error:
        raise AdapterUnavailable("snnax needs chex") from error


# -- helpers -------------------------------------------------------------------

def _conform(tmp_path, *args, env=None):
    """Run `snnax-ref conform` in a subprocess; `(exit status, output)`."""
    jobs = () if "--jobs" in args else ("--jobs", "1")   # the suite's workers hold the cores
    command = [sys.executable, "-m", "spec_tests.tools.cli", "conform",
               "--report-dir", str(tmp_path / "reports"), "--shrink-seconds", "1", *jobs, *args]
    environment = dict(os.environ, **(env or {}))
    environment.pop("SNNAX_REF_IMPL", None)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in [environment.get("PYTHONPATH")] if p])
    done = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


def _json_report(tmp_path):
    return json.loads((tmp_path / "reports" / "conformance-report.json").read_text())


# -- harness errors --------------------------------------------------------------

def test_a_module_that_does_not_exist_is_a_harness_error(tmp_path):
    code, output = _conform(tmp_path, "--impl", "nonexistent:thing",
                            "--junit-xml", str(tmp_path / "junit.xml"))
    assert code == 2, output
    assert "ModuleNotFoundError" in output and "nonexistent" in output, output
    suite = ET.parse(tmp_path / "junit.xml").getroot().find("testsuite")
    assert suite.find("testcase/error") is not None
    assert _json_report(tmp_path)["exit_code"] == 2


def test_an_unavailable_adapter_is_a_harness_error_with_its_reason(tmp_path):
    code, output = _conform(tmp_path, "--impl",
                            "meta_tests.test_cli:unavailable_adapter")
    assert code == 2, output
    assert "AdapterUnavailable" in output and "snnax needs chex" in output, output
    assert "No module named 'chex'" in output, output


def test_an_adapter_unavailable_at_build_time_skips_every_row(tmp_path):
    code, output = _conform(tmp_path, "--impl",
                            "meta_tests.test_cli:LazilyUnavailableAdapter",
                            "--rows", "Identity")
    assert code == 3, output
    report = _json_report(tmp_path)
    (row,) = report["rows"]
    assert row["outcome"] == "skipped" and "frobnicate is not installed" in row["message"]
    assert "frobnicate is not installed" in output       # listed under the table


def test_an_unknown_row_is_a_harness_error(tmp_path):
    code, output = _conform(tmp_path, "--impl", "meta_tests.test_cli:OracleAdapter",
                            "--rows", "NoSuchRow")
    assert code >= 2, output
    assert "NoSuchRow" in output


# -- results -----------------------------------------------------------------------

def test_a_conforming_adapter_exits_0_and_lists_its_skips(tmp_path):
    code, output = _conform(tmp_path, "--impl", "meta_tests.test_cli:OracleAdapter",
                            "--rows", "Identity", "gradient: frozen parameters")
    assert code == 0, output
    rows = {r["row"]: r for r in _json_report(tmp_path)["rows"]}
    assert rows["Identity"]["outcome"] == "passed" and rows["Identity"]["tried"] > 0
    assert rows["Identity"]["seconds"] > 0
    # The oracle adapter has no gradients: that row is not applicable, and the
    # verdict says the run conforms on one row of two, not on every row.
    assert rows["gradient: frozen parameters"]["outcome"] == "not applicable"
    assert "not checked:" in output and "gradient: frozen parameters" in output
    assert ("exit 0: conforms on 1 of 2 rows (1 not applicable: gradient: frozen parameters)"
            in output)


def test_a_wrong_adapter_exits_1_with_reports_ci_can_read(tmp_path):
    junit, deviations = tmp_path / "junit.xml", tmp_path / "deviations.txt"
    code, output = _conform(tmp_path, "--impl", "meta_tests.test_cli:WrongAdapter",
                            "--rows", "Identity", "gradient: surrogates",
                            "--junit-xml", str(junit), "--write-deviations", str(deviations))
    assert code == 1, output

    report = _json_report(tmp_path)
    assert report["shrink_seconds"] == 1.0 and report["exit_code"] == 1
    rows = {r["row"]: r for r in report["rows"]}
    assert set(rows) == {"Identity", "gradient: surrogates"}
    for row in rows.values():
        assert row["outcome"] == "failed" and row["message"] and row["repro"], row
        assert row["seconds"] > 0
    # The pinned surrogate row carries pytest's message and Hypothesis' example.
    assert "AssertionError" in rows["gradient: surrogates"]["message"]
    repro = rows["gradient: surrogates"]["repro"]
    assert "Falsifying example" in repro or "Failing test case" in repro, repro
    markdown = (tmp_path / "reports" / "conformance-report.md").read_text()
    assert "## gradient: surrogates: minimal failing network" in markdown
    assert "shrink_seconds: 1.0" in markdown

    cases = ET.parse(junit).getroot().findall("testsuite/testcase")
    assert sorted(c.get("name") for c in cases) == ["Identity", "gradient: surrogates"]
    for case in cases:
        failure = case.find("failure")
        assert failure is not None and failure.text and failure.get("message")
        assert float(case.get("time")) > 0

    entries = read_deviations(deviations)
    assert sorted(prefix for prefix, _ in entries) == [
        "test_class_conforms[Identity]", "test_surrogate_derivative_matches_its_formula"]
    assert all(reason.startswith("TODO: reason") for _, reason in entries)

    # Fed back as the adapter's known deviations, the same rows are skipped:
    # nothing is left to test, which is a harness error, not a pass.
    code, output = _conform(tmp_path, "--impl", "meta_tests.test_cli:WrongAdapter",
                            "--rows", "Identity", "gradient: surrogates",
                            env={DEVIATIONS_ENV: str(deviations)})
    assert code == 3, output
    outcomes = {r["row"]: r["outcome"] for r in _json_report(tmp_path)["rows"]}
    assert outcomes == {"Identity": "known deviation", "gradient: surrogates": "known deviation"}


def test_jobs_split_the_units_and_report_as_one_process(tmp_path):
    """`--jobs 2` runs the rows in two processes and reports what one process
    reports: the same rows, networks tried, outcomes, verdict and exit status;
    a job that breaks breaks the run, naming why."""
    rows = ("--rows", "Identity", "Flatten", "graph: burnin")
    impl = ("--impl", "meta_tests.test_cli:OracleAdapter")
    reports = {}
    for jobs in ("1", "2"):
        (tmp_path / jobs).mkdir()
        code, output = _conform(tmp_path / jobs, *impl, *rows, "--jobs", jobs)
        assert code == 0, output
        reports[jobs] = _json_report(tmp_path / jobs)
    assert "[job 2/2]" in output and "2 jobs" in output     # the children's progress
    one, two = reports["1"], reports["2"]
    same = lambda r: [(x["row"], x["tried"], x["failed"], x["outcome"]) for x in r["rows"]]  # noqa: E731
    assert same(one) == same(two) and len(two["rows"]) == 3
    assert one["verdict"] == two["verdict"] and one["never_exercised"] == two["never_exercised"]
    assert sorted(map(tuple, one["units"])) == sorted(map(tuple, two["units"]))

    for name in ("wrong", "unknown"):
        (tmp_path / name).mkdir()
    code, output = _conform(tmp_path / "wrong", "--impl", "meta_tests.test_cli:WrongAdapter",
                            *rows, "--jobs", "2")
    assert code == 1, output
    assert {r["outcome"] for r in _json_report(tmp_path / "wrong")["rows"]} == {"failed"}
    code, output = _conform(tmp_path / "unknown", *impl, "--rows", "NoSuchRow", "Identity",
                            "--jobs", "2")
    assert code == 4 and "NoSuchRow" in output, output


def test_the_report_says_whether_xla_compiled_with_the_quick_settings(tmp_path):
    """`conform` compiles with spec_tests/quick_compile.py's flags unless told
    `--no-quick-compile`, which its jobs inherit; the header line and the JSON
    report say which."""
    from spec_tests import quick_compile
    rows = ("--impl", "meta_tests.test_cli:OracleAdapter", "--rows", "Identity", "Flatten")
    known = quick_compile.supported(quick_compile.FLAGS)   # a later jaxlib may drop one
    for name, extra, expected in (("quick", (), list(quick_compile.FLAGS) if known else []),
                                  ("default", ("--no-quick-compile", "--jobs", "2"), [])):
        (tmp_path / name).mkdir()
        code, output = _conform(tmp_path / name, *rows, *extra)
        assert code == 0, output
        assert _json_report(tmp_path / name)["quick_compile"] == expected
        assert f"quick compile = {'on' if expected else 'off'}" in output, output
    # Each job is told so on its command line (its environment may hold the flags).
    from argparse import Namespace
    from spec_tests.tools.jobs import child_command
    args = Namespace(profile="ci", seeds=1, rows=None, shrink_seconds=None,
                     compilation_cache=True, quick_compile=False)
    assert "--no-quick-compile" in child_command(args, "m:a", "1/2", tmp_path)
    assert "--no-quick-compile" not in child_command(Namespace(**{**vars(args),
                                                                   "quick_compile": True}),
                                                     "m:a", "1/2", tmp_path)


# -- plain pytest ----------------------------------------------------------------------

def test_pytest_with_an_adapter_that_does_not_exist_is_not_green(tmp_path):
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
               str(REPO / "spec_tests" / "test_gradients.py"), "--impl", "nonexistent:thing",
               "--rows", "gradient: frozen parameters", f"--rootdir={REPO}"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, PYTHONPATH=str(REPO)))
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "ModuleNotFoundError" in output and "nonexistent" in output, output
    assert "1 failed" in output and "1 skipped" in output, output


# -- report writers, in process ----------------------------------------------------------

def _rows():
    from spec_tests.tools.report import RowStats
    passed = RowStats("LIF", tried=8, outcome="passed", seconds=1.5,
                      tests={"test_class_conforms[LIF]": {"outcome": "passed", "message": "",
                                                           "seconds": 1.5}})
    failed = RowStats("gradient: pinned semantics", tried=2, failed=1, outcome="failed",
                      message="AssertionError: boom\nmore", repro="# replay", seconds=0.25,
                      tests={"test_a": {"outcome": "passed", "message": "", "seconds": 0.1},
                             "test_b": {"outcome": "failed", "message": "AssertionError: boom",
                                        "seconds": 0.15}})
    known = RowStats("SRM", outcome="known deviation", message="known deviation: upstream bug",
                     tests={"test_class_conforms[SRM]": {
                         "outcome": "known deviation", "message": "known deviation: upstream bug",
                         "seconds": 0.0}})
    return [passed, failed, known]


def test_junit_has_one_testcase_per_row():
    import tempfile

    from spec_tests.tools.report import write_junit
    with tempfile.TemporaryDirectory() as directory:
        path = write_junit(Path(directory) / "j.xml", {"impl": "x:y", "seconds": 2.0}, _rows())
        suite = ET.parse(path).getroot().find("testsuite")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["LIF", "gradient: pinned semantics", "SRM"]
    assert cases[0].find("failure") is None and cases[0].get("time") == "1.500"
    assert cases[1].find("failure").get("message") == "AssertionError: boom"
    assert "# replay" in cases[1].find("failure").text
    assert "upstream bug" in cases[2].find("skipped").get("message")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")


def test_written_deviations_read_back():
    import tempfile

    from spec_tests.tools.report import write_deviations
    with tempfile.TemporaryDirectory() as directory:
        path = write_deviations(Path(directory) / "d.txt", {"impl": "x:y"}, _rows())
        entries = read_deviations(path)
    assert entries == [("test_b", "TODO: reason — AssertionError: boom"),
                       ("test_class_conforms[SRM]", "upstream bug")]


def test_the_table_lists_time_and_skip_reasons():
    from spec_tests.tools.report import table
    text = table(_rows())
    assert "seconds" in text and "1.5" in text
    assert "SRM: test_class_conforms[SRM]: known deviation: upstream bug" in text


@pytest.mark.parametrize("status", [0, 1, 2, 3, 4])
def test_exit_statuses_are_documented(status):
    from spec_tests.tools.cli import EXIT_MEANINGS, __doc__ as usage
    assert status in EXIT_MEANINGS and f"  {status}  " in usage
