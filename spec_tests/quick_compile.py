"""XLA settings that compile the suite's small programs in about half the time.

A conformance run compiles some 400 small networks and runs each for
milliseconds, so XLA's compile time is most of it. Two of XLA's own options
make that compilation quicker (`FLAGS`):

- `--xla_cpu_use_fusion_emitters=false`: the CPU backend generates code
  with its elemental emitters instead of its newer MLIR fusion emitters;
- `--xla_backend_optimization_level=0`: LLVM does not optimise the
  generated machine code.

Together they halve a cold `snnax-ref conform` (measured: 86-91 s -> 47-49 s
on 2 cores, the same 444 networks and verdicts). Both are settings of the
compiler, not of the program: they change how fast the compiled code runs
and, at the level of rounding, results where XLA is free to choose (whether
`a * b + c` is contracted into one fused multiply-add; the polynomial behind
`tanh`), which the suite's tolerances and near-threshold margin (SPEC.md §8)
already allow between any implementation and the NumPy oracle.

`conform`, `mutate` and the test suite call `enable()` before their first
computation; XLA reads `$XLA_FLAGS` once, when JAX starts its backend, so
`enable()` adds the flags to the environment (children inherit them) and does
nothing once the backend has started. A flag already in `$XLA_FLAGS` is left
as the user set it. Opt out with `SNNAX_REF_QUICK_COMPILE=off` (or `0`,
`false`, `no`) or `snnax-ref conform --no-quick-compile`. The benchmarks
never call it: they time the code users get.

An XLA that does not know a flag aborts the process at start-up, so before
the first use with a jaxlib version `enable()` tries the flags in a child
process (about 2 s) and records the answer in
`$XDG_CACHE_HOME/snnax_ref/xla-flags-<jaxlib version>.json`; with flags
that version does not know, it adds none.
Pinned by `tests/test_quick_compile.py`.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

ENV_VAR = "SNNAX_REF_QUICK_COMPILE"
ADDED_VAR = "SNNAX_REF_QUICK_COMPILE_ADDED"      # the flags enable() put in $XLA_FLAGS
OFF = ("off", "0", "false", "no")
FLAGS = ("--xla_cpu_use_fusion_emitters=false", "--xla_backend_optimization_level=0")
PROBE = "import jax; jax.devices('cpu')"


def _name(flag: str) -> str:
    return flag.split("=", 1)[0]


def _backend_started() -> bool:
    if "jax" not in sys.modules:             # JAX not even imported: nothing started
        return False
    from jax._src import xla_bridge
    return xla_bridge.backends_are_initialized()


def _answers_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "snnax_ref" / f"xla-flags-{importlib.metadata.version('jaxlib')}.json"


def supported(flags: tuple[str, ...]) -> bool:
    """Whether this jaxlib's XLA starts with `flags` in `$XLA_FLAGS` (asked
    of a child process once per jaxlib version and set of flags)."""
    path, key = _answers_file(), " ".join(flags)
    try:
        answers = json.loads(path.read_text())
    except (OSError, ValueError):
        answers = {}
    if not isinstance(answers, dict) or not isinstance(answers.get(key), bool):
        environment = dict(os.environ, XLA_FLAGS=key, JAX_PLATFORMS="cpu")
        try:
            done = subprocess.run([sys.executable, "-c", PROBE], env=environment,
                                  capture_output=True, timeout=120)
            answers = dict(answers) if isinstance(answers, dict) else {}
            answers[key] = done.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False                     # unknown, and not recorded: ask next time
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(answers, indent=1))
        except OSError:
            pass                             # a read-only home: ask again next time
    return answers[key]


def enable() -> tuple[str, ...]:
    """Add the quick-compile `FLAGS` this process's `$XLA_FLAGS` lacks;
    returns the quick-compile flags in effect for this process: () when
    opted out, when JAX's backend had already started, or when this jaxlib
    does not know them."""
    if os.environ.get(ENV_VAR, "on").strip().lower() in OFF:
        return ()
    current = os.environ.get("XLA_FLAGS", "").split()
    present = {_name(flag) for flag in current}
    missing = tuple(flag for flag in FLAGS if _name(flag) not in present)
    in_effect = tuple(flag for flag in FLAGS if flag in current)
    if not missing:
        return in_effect
    if _backend_started() or not supported(missing):
        return in_effect
    os.environ["XLA_FLAGS"] = " ".join(current + list(missing))
    os.environ[ADDED_VAR] = " ".join(os.environ.get(ADDED_VAR, "").split() + list(missing))
    return in_effect + missing


def disable() -> None:
    """Opt this process (and the processes it starts) out, taking out of
    `$XLA_FLAGS` the flags an `enable()` (here or in a parent) added; a flag
    the user set stays."""
    os.environ[ENV_VAR] = "off"
    added = set(os.environ.pop(ADDED_VAR, "").split())
    kept = [flag for flag in os.environ.get("XLA_FLAGS", "").split() if flag not in added]
    if kept:
        os.environ["XLA_FLAGS"] = " ".join(kept)
    else:
        os.environ.pop("XLA_FLAGS", None)
