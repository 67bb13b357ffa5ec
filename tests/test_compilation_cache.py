"""The persistent compilation cache (spec_tests/compilation_cache.py) can make
a run faster, never change its verdict: a changed implementation misses the
cache, and an unreadable entry is compiled anew."""

import json
import os
import subprocess
import sys
from pathlib import Path

import jax
from jax import monitoring

from spec_tests import compilation_cache
from spec_tests.adapters import load_adapter
from spec_tests.rows import ALL_ROWS, row_fails
from spec_tests.tools.mutants import MUTANTS, planted

ROOT = Path(__file__).resolve().parents[1]

# One LIF model compiled and run; prints its spikes and how many programs it
# read from the persistent cache.
SCRIPT = """
import json
import jax, jax.numpy as jnp, equinox as eqx
from jax import monitoring
from spec_tests import compilation_cache
from snnax_ref import snn
hits = []
monitoring.register_event_listener(
    lambda event, **kw: hits.append(1) if event == "/jax/compilation_cache/cache_hits" else None)
print("cache", compilation_cache.enable())
key = jax.random.PRNGKey(0)
model = snn.Sequential(eqx.nn.Linear(4, 6, key=key), snn.LIF([0.9, 0.8]))
states = model.init_state((4,), key=key)
inputs = 3.0 * jax.random.normal(key, (20, 4))
spikes = eqx.filter_jit(model)(states, inputs, key)[1][0]
print(json.dumps({"spikes": jnp.asarray(spikes).tolist(), "hits": len(hits)}))
"""


def _run(cache_dir):
    env = dict(os.environ, **{compilation_cache.ENV_VAR: str(cache_dir)})
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1]), done.stderr


def test_an_unreadable_cache_entry_is_compiled_anew_with_the_same_result(tmp_path):
    """A warm cache is used; with every entry corrupted, the run warns, uses
    none of them and computes the same spikes (JAX never overwrites an entry:
    a corrupt one stays ignored until the directory is cleared)."""
    first, _ = _run(tmp_path)
    entries = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith(".")]
    assert entries, "the first run wrote no cache entry"
    warm, _ = _run(tmp_path)
    assert warm["hits"] > 0 and warm["spikes"] == first["spikes"]
    for entry in entries:                       # every entry corrupted in place
        entry.write_bytes(b"not an executable" * 8)
    corrupt, stderr = _run(tmp_path)
    assert corrupt["spikes"] == first["spikes"]
    assert corrupt["hits"] == 0, "a corrupt entry was used"
    assert "Error reading persistent compilation cache entry" in stderr   # JAX warns


def test_the_cache_is_off_when_opted_out(monkeypatch):
    for value in ("off", "0", "false", ""):
        monkeypatch.setenv(compilation_cache.ENV_VAR, value)
        assert compilation_cache.directory() is None
    monkeypatch.delenv(compilation_cache.ENV_VAR)
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere")
    assert compilation_cache.directory() == Path("/somewhere/snnax_ref/jax")


def test_a_planted_bug_is_caught_with_a_warm_cache():
    """The LIF row passes, its programs then come from the persistent cache
    (in-memory caches cleared), and with a bug planted in LIF's code the same
    networks fail: the cache key is the compiled program, so the
    implementation's code."""
    assert compilation_cache.enable() is not None, (
        "this test needs the cache on: SNNAX_REF_COMPILATION_CACHE is off")
    adapter = load_adapter("spec_tests.adapters.snnax_ref_adapter:adapter")
    row = ALL_ROWS["LIF"]
    assert row_fails(adapter, row) is None
    hits = []

    def count(event, **_):
        if event == "/jax/compilation_cache/cache_hits":
            hits.append(event)
    monitoring.register_event_listener(count)
    try:
        jax.clear_caches()
        assert row_fails(adapter, row) is None
        assert hits, "the second run read nothing from the persistent cache"
        mutant = next(m for m in MUTANTS if m.name == "lif-swapped-decays")
        with planted(mutant):
            assert row_fails(adapter, row) is not None
    finally:
        monitoring.unregister_event_listener(count)
