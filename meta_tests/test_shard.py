"""`snnax-ref conform --seeds M --shard K/N` and `snnax-ref merge`, against the
fake adapters of test_cli.py (plus two here), on two or three cheap rows.

A sharded run merged must give what one unsharded run with the same `--seeds`
gives; a missing or foreign shard must make `merge` a harness error.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys

import numpy as np

from spec_tests.tools.shards import parse_shard, shard_units, slice_seed, units
from .test_cli import REPO, OracleAdapter, _conform

NETWORKS_ENV = "SNNAX_TEST_NETWORKS"
ROWS = ["Identity", "Linear", "gradient: surrogates"]


class LinearIsWrongAdapter(OracleAdapter):
    """Right except for networks with a Linear layer, whose outputs are off by
    one: Identity passes, Linear fails, the gradient rows skip."""

    def run(self, model, state, inputs, burnin, key_seed=1):
        final, outputs = super().run(model, state, inputs, burnin, key_seed)
        network = model[0]
        if any(layer.kind == "Linear" for layer in network.layers):
            outputs = [o + 1.0 for o in outputs]
        return final, outputs


class RecordingAdapter(OracleAdapter):
    """Conforms, and appends a digest of each network it builds to the file
    named by $SNNAX_TEST_NETWORKS."""

    def build(self, network, forward, dtype):
        with np.printoptions(threshold=sys.maxsize, precision=17):
            digest = hashlib.sha256(repr(network).encode()).hexdigest()
        with open(os.environ[NETWORKS_ENV], "a") as file:
            file.write(digest + "\n")
        return super().build(network, forward, dtype)


def _merge(tmp_path, *reports, out="merged"):
    command = [sys.executable, "-m", "spec_tests.tools.cli", "merge", *map(str, reports),
               "--report-dir", str(tmp_path / out), "--junit-xml", str(tmp_path / out / "j.xml")]
    environment = dict(os.environ)
    environment["PYTHONPATH"] = os.pathsep.join(
        [str(REPO)] + [p for p in [environment.get("PYTHONPATH")] if p])
    done = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True,
                          text=True, timeout=600)
    return done.returncode, done.stdout + done.stderr


def _run(tmp_path, name, *args, impl="LinearIsWrongAdapter", env=None):
    """`conform` into tmp_path/name; `(exit status, output, JSON report)`."""
    directory = tmp_path / name
    directory.mkdir()
    code, output = _conform(directory, "--impl", f"meta_tests.test_shard:{impl}",
                            "--rows", *ROWS, *args, env=env)
    report_path = directory / "reports" / "conformance-report.json"
    return code, output, json.loads(report_path.read_text()), report_path


def _verdicts(report):
    return {r["row"]: (r["outcome"], r["tried"], r["failed"]) for r in report["rows"]}


# -- units, in process ---------------------------------------------------------------------

def test_shards_partition_the_units_in_a_fixed_order():
    rows = ["a", "b", "c", "d"]
    every = units(rows, 3)
    assert every[:4] == [("a", 0), ("a", 1), ("a", 2), ("b", 0)]
    for n in (1, 2, 5, 13):
        shards = [shard_units(rows, 3, (k, n)) for k in range(1, n + 1)]
        assert sorted(u for s in shards for u in s) == sorted(every)
        assert sum(map(len, shards)) == len(every)
    assert shard_units(rows, 3, (2, 5)) == [every[1], every[6], every[11]]
    assert parse_shard("2/5") == (2, 5)
    for bad in ("0/3", "4/3", "3", "a/b"):
        try:
            parse_shard(bad)
        except ValueError:
            continue
        raise AssertionError(f"parse_shard accepted {bad!r}")


def test_slice_seeds_are_stable_and_differ():
    assert slice_seed("LIF", 1) == slice_seed("LIF", 1)
    assert slice_seed("LIF", 1) == int.from_bytes(hashlib.sha256(b"LIF/1").digest()[:8], "big")
    assert len({slice_seed(row, s) for row in ("LIF", "Linear") for s in (1, 2, 3)}) == 6


# -- sharded runs, merged ------------------------------------------------------------------

def test_three_shards_merged_equal_one_unsharded_run(tmp_path):
    code, output, whole, _ = _run(tmp_path, "whole", "--seeds", "2")
    assert code == 1, output
    assert whole["seeds"] == 2 and whole["shard"] == "1/1"
    assert whole["units_total"] == 6 and len(whole["units"]) == 6
    verdicts = _verdicts(whole)
    assert {row: v[0] for row, v in verdicts.items()} == {
        "Identity": "passed", "Linear": "failed", "gradient: surrogates": "not applicable"}
    for row in whole["rows"]:
        assert [s["slice"] for s in row["slices"]] == [0, 1], row["row"]
        assert row["slices"][0]["seed"] is None
        assert row["slices"][1]["seed"] == slice_seed(row["row"], 1)
        assert row["tried"] == sum(s["tried"] for s in row["slices"])

    shards = []
    for k in (1, 2, 3):
        code, output, report, path = _run(tmp_path, f"shard{k}", "--seeds", "2",
                                          "--shard", f"{k}/3")
        assert report["shard"] == f"{k}/3" and len(report["units"]) == 2, output
        assert [tuple(u) for u in report["units"]] == shard_units(
            report["row_order"], 2, (k, 3))
        ran = {(r["row"], s["slice"]) for r in report["rows"] for s in r["slices"]}
        assert ran == {tuple(u) for u in report["units"]}
        shards.append(path)

    code, output = _merge(tmp_path, *shards)
    assert code == 1, output                       # Linear's deviation, as unsharded
    merged = json.loads((tmp_path / "merged" / "conformance-report.json").read_text())
    assert merged["exit_code"] == 1 and merged["units_run"] == merged["units_total"] == 6
    assert [r["row"] for r in merged["rows"]] == [r["row"] for r in whole["rows"]]
    assert merged["quick_compile"] == whole["quick_compile"]
    # Whether Linear's shrink ends before the shrink budget depends on the machine's
    # speed; where the clock stopped it in either run, its counts may differ.
    cut_short = {r["row"] for r in whole["rows"] + merged["rows"] if r["shrink_cut_short"]}
    for row, (outcome, tried, failed) in _verdicts(merged).items():
        assert outcome == verdicts[row][0], row
        if row not in cut_short:
            assert (tried, failed) == verdicts[row][1:], row
    linear = next(r for r in merged["rows"] if r["row"] == "Linear")
    assert linear["message"].startswith("seed slice 0: ") and linear["repro"]
    markdown = (tmp_path / "merged" / "conformance-report.md").read_text()
    assert "## Linear: minimal failing network" in markdown
    assert (tmp_path / "merged" / "j.xml").exists()

    # Without shard 2, merge names the units nobody ran.
    code, output = _merge(tmp_path, shards[0], shards[2], out="partial")
    assert code >= 2, output
    missing = json.loads(shards[1].read_text())["units"]
    for row, slice_ in missing:
        assert f"'{row}' slice {slice_}" in output, output
    assert "missing units" in output
    # The same shard twice: its units are run more than once.
    code, output = _merge(tmp_path, *shards, shards[0], out="doubled")
    assert code >= 2 and "more than once" in output, output
    # A shard compiled without the quick flags merges; the header says which did.
    slow = json.loads(shards[1].read_text())
    slow["quick_compile"] = []
    (tmp_path / "slow.json").write_text(json.dumps(slow))
    code, output = _merge(tmp_path, shards[0], tmp_path / "slow.json", shards[2], out="mixed")
    assert code == 1, output
    mixed = json.loads((tmp_path / "mixed" / "conformance-report.json").read_text())
    assert mixed["quick_compile"] == {str(shards[0]): whole["quick_compile"],
                                      str(tmp_path / "slow.json"): [],
                                      str(shards[2]): whole["quick_compile"]}
    # A shard of another run (other --seeds) is not merged.
    foreign = json.loads(shards[1].read_text())
    foreign["seeds"] = 3
    (tmp_path / "foreign.json").write_text(json.dumps(foreign))
    code, output = _merge(tmp_path, shards[0], tmp_path / "foreign.json", shards[2],
                          out="foreign")
    assert code >= 2 and "not a shard of the same run" in output and "seeds" in output, output
    # A shard whose adapter could not be loaded: its harness error is the merge's.
    broken = {key: value for key, value in json.loads(shards[1].read_text()).items()
              if key not in ("row_order", "units", "rows")}
    broken.update(exit_code=2, error="ModuleNotFoundError: no module named 'frob'")
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    code, output = _merge(tmp_path, shards[0], tmp_path / "broken.json", shards[2],
                          out="broken")
    assert code == 2 and "frob" in output, output


def test_more_seeds_try_other_networks(tmp_path):
    seen = {}
    for seeds in (1, 2):
        networks = tmp_path / f"networks{seeds}.txt"
        code, output = _conform(tmp_path, "--impl",
                                "meta_tests.test_shard:RecordingAdapter",
                                "--rows", "Linear", "--seeds", str(seeds),
                                env={NETWORKS_ENV: str(networks)})
        assert code == 0, output
        report = json.loads((tmp_path / "reports" / "conformance-report.json").read_text())
        (row,) = report["rows"]
        seen[seeds] = (row["tried"], networks.read_text().split())
    (tried1, networks1), (tried2, networks2) = seen[1], seen[2]
    assert tried2 == 2 * tried1 > 0
    assert networks2[:len(networks1)] == networks1         # slice 0: today's run, exactly
    assert set(networks2[len(networks1):]) - set(networks1)  # slice 1: other networks


def test_bad_shard_options_are_usage_errors(tmp_path):
    code, output = _conform(tmp_path, "--impl", "meta_tests.test_cli:OracleAdapter",
                            "--rows", "Identity", "--shard", "4/3")
    assert code >= 2 and "1 <= K <= N" in output, output


def test_merge_of_unreadable_reports_is_a_harness_error(tmp_path):
    code, output = _merge(tmp_path, tmp_path / "nope.json")
    assert code >= 2 and "cannot read" in output, output


def test_a_shrink_stopped_by_the_budget_is_reported_as_cut_short(tmp_path):
    # A budget of a microsecond stops Hypothesis at its first shrink attempt on
    # any machine, so the report must say the minimal example may not be minimal.
    code, output, report, _ = _run(tmp_path, "tiny", "--rows", "Linear",
                                   "--shrink-seconds", "1e-6")
    assert code == 1, output
    linear = next(r for r in report["rows"] if r["row"] == "Linear")
    assert linear["outcome"] == "failed" and linear["shrink_cut_short"], linear
    assert "shrinking cut short" in output, output
