"""The worked example of testing another implementation (examples/third_party/,
docs/guides/testing-another-implementation.md) conforms on its rows, and its
planted bug is caught.

`snnax-ref conform` runs in a subprocess, as a user runs it (it runs pytest
itself), from the repository root's PYTHONPATH so that `examples.third_party`
imports; a few rows keep it fast.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "third_party"


def _conform(tmp_path, impl, *rows):
    """`snnax-ref conform --impl impl --rows rows...`: (exit status, output, rows by name)."""
    command = [sys.executable, "-m", "spec_tests.tools.cli", "conform", "--impl", impl,
               "--rows", *rows, "--shrink-seconds", "2", "--jobs", "1",
               "--report-dir", str(tmp_path)]
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]))
    environment.pop("SNNAX_REF_IMPL", None)
    done = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=600)
    report = json.loads((tmp_path / "conformance-report.json").read_text())
    return done.returncode, done.stdout + done.stderr, {r["row"]: r for r in report["rows"]}


def test_the_example_does_not_import_snnax_ref():
    for path in EXAMPLE.glob("*.py"):
        assert not re.search(r"^\s*(import|from)\s+snnax_ref", path.read_text(), re.M), path


def test_the_example_conforms_on_its_rows_and_the_rest_is_not_applicable(tmp_path):
    code, output, rows = _conform(tmp_path, "examples.third_party.adapter:adapter",
                                  "LIF", "Linear", "graph: straight-through reads", "SimpleLI")
    assert code == 0, output
    for name in ("LIF", "Linear", "graph: straight-through reads"):
        assert rows[name]["outcome"] == "passed" and rows[name]["tried"] > 0, rows[name]
    assert rows["SimpleLI"]["outcome"] == "not applicable", rows["SimpleLI"]
    assert "conforms on 3 of 4 rows" in output.splitlines()[-1], output


def test_the_planted_bug_fails_the_lif_row(tmp_path):
    code, output, rows = _conform(tmp_path, "examples.third_party.adapter:adapter_with_bug",
                                  "LIF", "Linear")
    assert code == 1, output
    assert rows["LIF"]["outcome"] == "failed", rows["LIF"]
    assert rows["Linear"]["outcome"] == "passed", rows["Linear"]
    assert "adapter_with_bug" in rows["LIF"]["repro"]
