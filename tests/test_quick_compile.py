"""XLA's quick-compile settings (spec_tests/quick_compile.py): added to
$XLA_FLAGS before JAX starts its backend, never over a flag the user set,
never when opted out or too late, and never when this jaxlib does not know
them (an unknown flag would abort the process)."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from spec_tests import quick_compile

ROOT = Path(__file__).resolve().parents[1]
UNKNOWN = "--xla_snnax_ref_no_such_flag=true"

# enable() in a fresh process, then a computation: prints what enable()
# returned and $XLA_FLAGS as JAX started with it.
SCRIPT = """
import json, os, sys
from spec_tests import quick_compile
if len(sys.argv) > 1:
    quick_compile.FLAGS = tuple(sys.argv[1:])
returned = quick_compile.enable()
import jax.numpy as jnp
total = float(jnp.sum(jnp.tanh(jnp.arange(4.0))))
print(json.dumps({"returned": list(returned), "xla_flags": os.environ.get("XLA_FLAGS"),
                  "total": total}))
"""


def _fresh_process(tmp_path, *flags, **environment):
    env = {k: v for k, v in os.environ.items()
           if k not in ("XLA_FLAGS", quick_compile.ENV_VAR, quick_compile.ADDED_VAR)}
    env.update(environment, XDG_CACHE_HOME=str(tmp_path))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", SCRIPT, *flags], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture
def no_quick_compile_variables(monkeypatch):
    """This process's environment without $XLA_FLAGS and the two variables
    of quick_compile, each restored after the test (monkeypatch restores
    only what was present when it deleted it, hence the set first)."""
    for name in ("XLA_FLAGS", quick_compile.ENV_VAR, quick_compile.ADDED_VAR):
        monkeypatch.setenv(name, "placeholder")
        monkeypatch.delenv(name)
    return monkeypatch


def _answers(tmp_path):
    (path,) = (tmp_path / "snnax_ref").glob("xla-flags-*.json")
    return json.loads(path.read_text())


def _known(*flags):
    """Whether the installed jaxlib knows `flags` (a later jaxlib may drop
    one: then enable() must add nothing, and the tests say so)."""
    return quick_compile.supported(tuple(flags))


def test_the_flags_are_in_xla_flags_before_jax_starts(tmp_path):
    """In a new process, enable() adds every flag this jaxlib knows, JAX
    starts and computes with them, and the answer for this jaxlib is
    recorded."""
    known = _known(*quick_compile.FLAGS)
    run = _fresh_process(tmp_path)
    expected = list(quick_compile.FLAGS) if known else []
    assert run["returned"] == expected
    assert (run["xla_flags"] or "").split() == expected
    assert run["total"] == pytest.approx(sum(math.tanh(x) for x in range(4)))
    assert _answers(tmp_path) == {" ".join(quick_compile.FLAGS): known}


def test_a_flag_the_user_set_stays_as_set(tmp_path):
    users, ours = "--xla_backend_optimization_level=2", "--xla_cpu_use_fusion_emitters=false"
    added = [ours] if _known(ours) else []
    run = _fresh_process(tmp_path, XLA_FLAGS=users)
    assert run["returned"] == added
    assert run["xla_flags"].split() == [users] + added


def test_flags_this_jaxlib_does_not_know_are_not_added(tmp_path):
    """An unknown flag would abort JAX at start-up: the child process that
    tries it fails, so enable() adds nothing and the process computes."""
    run = _fresh_process(tmp_path, UNKNOWN)
    assert run["returned"] == [] and run["xla_flags"] is None
    assert _answers(tmp_path) == {UNKNOWN: False}


def test_opted_out_adds_nothing(tmp_path):
    run = _fresh_process(tmp_path, **{quick_compile.ENV_VAR: "off"})
    assert run["returned"] == [] and run["xla_flags"] is None


def test_after_the_backend_started_nothing_is_added(no_quick_compile_variables):
    """This process's backend has started: XLA would not read the flags, so
    enable() neither adds nor claims them."""
    import jax.numpy as jnp
    jnp.zeros(1).block_until_ready()
    assert quick_compile.enable() == ()
    assert "XLA_FLAGS" not in os.environ


def test_a_recorded_answer_is_used_without_asking_again(tmp_path, no_quick_compile_variables):
    monkeypatch = no_quick_compile_variables
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(quick_compile, "_backend_started", lambda: False)
    path = quick_compile._answers_file()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({" ".join(quick_compile.FLAGS): False}))

    def no_child(*args, **kwargs):
        raise AssertionError("asked a child process although the answer was recorded")
    monkeypatch.setattr(quick_compile.subprocess, "run", no_child)
    assert quick_compile.enable() == ()
    assert "XLA_FLAGS" not in os.environ


def test_opting_out_takes_out_only_the_flags_enable_added(no_quick_compile_variables):
    monkeypatch = no_quick_compile_variables
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x " + " ".join(quick_compile.FLAGS))
    monkeypatch.setenv(quick_compile.ADDED_VAR, " ".join(quick_compile.FLAGS))
    quick_compile.disable()
    assert os.environ["XLA_FLAGS"] == "--xla_dump_to=/tmp/x"
    assert os.environ[quick_compile.ENV_VAR] == "off"
    assert quick_compile.ADDED_VAR not in os.environ
    assert quick_compile.enable() == ()
