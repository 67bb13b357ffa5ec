"""`python -m asv_bench.gate`: errors, and a planted slowdown caught.

Timing never decides a pass/fail test elsewhere in the project; here the
planted slowdown is many times the gate's factor, so the verdict does not
depend on the machine's noise. The gate's false-alarm rate (the same commit
against itself, repeated) and a planted 30 % slowdown are measured, not
tested: `asv_bench/README.md` gives the commands and figures.
"""

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIF_SOURCE = "snnax_ref/snn/layers/lif.py"
LIF_CURRENT_LINE = ("        synaptic_current = current_decay * synaptic_current"
                    " + (1.0 - current_decay) * synaptic_input\n")


def plant_slowdown(tree: Path, extra_ops: int) -> Path:
    """Copy snnax_ref into `tree` with `extra_ops` useless elementwise passes in
    every LIF step (`I + 0*tanh(I)` is `I` for finite `I`: same spikes, more work)."""
    shutil.copytree(REPO / "snnax_ref", tree / "snnax_ref")
    path = tree / LIF_SOURCE
    source = path.read_text()
    if source.count(LIF_CURRENT_LINE) != 1:
        raise AssertionError(f"plant_slowdown: the LIF current update in {LIF_SOURCE} changed")
    waste = "        synaptic_current = synaptic_current + 0.0 * jnp.tanh(synaptic_current)\n"
    path.write_text(source.replace(LIF_CURRENT_LINE, LIF_CURRENT_LINE + waste * extra_ops))
    return tree


def _gate(*args):
    return subprocess.run([sys.executable, "-m", "asv_bench.gate", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600)


def test_gate_catches_a_planted_slowdown_many_times_its_factor(tmp_path):
    base = tmp_path / "base"
    shutil.copytree(REPO / "snnax_ref", base / "snnax_ref")
    slow = plant_slowdown(tmp_path / "slow", extra_ops=40)
    result = _gate(str(base), str(slow), "--n", "64", "--steps", "100", "--rounds", "3")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SLOWER" in result.stdout


def test_gate_names_a_revision_it_cannot_export():
    result = _gate("no-such-revision-xyz", "HEAD")
    assert result.returncode == 2
    assert "no-such-revision-xyz: not a git revision" in result.stderr


def test_gate_refuses_to_time_commits_that_compute_different_spikes(tmp_path):
    base = tmp_path / "base"
    shutil.copytree(REPO / "snnax_ref", base / "snnax_ref")
    other = tmp_path / "other"
    shutil.copytree(REPO / "snnax_ref", other / "snnax_ref")
    path = other / LIF_SOURCE
    path.write_text(path.read_text().replace(LIF_CURRENT_LINE, LIF_CURRENT_LINE.replace(
        "(1.0 - current_decay) * synaptic_input", "(1.0 - current_decay) * 2.0 * synaptic_input")))
    result = _gate(str(base), str(other), "--n", "64", "--steps", "50", "--rounds", "1")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "different spikes" in result.stderr
