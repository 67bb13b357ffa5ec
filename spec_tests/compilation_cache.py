"""JAX's persistent compilation cache, on by default for the suite's runs.

Almost all of a conformance run is XLA compiling the networks Hypothesis
draws, and the ci profile draws the same networks every run: with the
compiled programs kept on disk, a second run compiles (almost) nothing.
`snnax-ref conform`, `snnax-ref mutate` and the test suite (the conftests of
tests/, spec_tests/ and meta_tests/) call `enable()` before their first
compilation. The benchmarks do not: they track compile seconds, which a
cache hit would turn into a disk read.

Where: `$SNNAX_REF_COMPILATION_CACHE` if it names a directory, else
`$XDG_CACHE_HOME/snnax_ref/jax` (`~/.cache/snnax_ref/jax`). Opt out with
`SNNAX_REF_COMPILATION_CACHE=off` (or `0`, `false`, `no`, empty) or
`snnax-ref conform --no-compilation-cache`. The directory is bounded at
`MAX_BYTES` (least recently used entries go first).

Why a cache cannot change a verdict: JAX keys each entry by a hash of the
compiled program itself (its HLO, so the implementation's code as traced),
the compile options, the backend and the jax/jaxlib versions; a changed
implementation is a different program and misses. An entry that cannot be
read (truncated, corrupt) is reported as a warning and compiled anew
(`jax_raise_persistent_cache_errors` stays False); JAX never overwrites an
entry, so delete the directory to get rid of such warnings.
Pinned by `tests/test_compilation_cache.py`.
"""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "SNNAX_REF_COMPILATION_CACHE"
OFF = ("off", "0", "false", "no", "")
MAX_BYTES = 2 * 1024**3


def directory() -> Path | None:
    """The cache directory this process would use; None when opted out."""
    value = os.environ.get(ENV_VAR)
    if value is not None:
        return None if value.strip().lower() in OFF else Path(value).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "snnax_ref" / "jax"


def enable() -> Path | None:
    """Point JAX's persistent compilation cache at `directory()` and cache
    every program, however small or quick to compile; returns the directory,
    or None when opted out (JAX's own settings are then left alone)."""
    path = directory()
    if path is None:
        return None
    import jax

    path.mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", str(path))
    # JAX's defaults skip programs compiled in under a second: nearly all of
    # the suite's are, and together they are most of its time.
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", -1)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
    return path


def disable() -> None:
    """Opt this process (and the processes it starts) out."""
    os.environ[ENV_VAR] = "off"
