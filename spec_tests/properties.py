"""The conformance property: an implementation's run equals the oracle's."""

from __future__ import annotations

from . import oracle
from .adapters import Adapter, execute, load_adapter
from .compare import TOLERANCES, Mismatch, assert_run_matches
from .diagnosis import explain, worth_diagnosing
from .description import RunSpec
from .report import divergence


def check_conforms(adapter: Adapter, run: RunSpec, dtype: str = "float64") -> None:
    """At every compared step, every final layer's output and every final state
    of `adapter`'s implementation equal the oracle's (see `compare`).

    A Mismatch's message ends with a diagnosis line (`diagnosis.explain`):
    the catalogued alternative semantics that reproduce the implementation.
    Its `divergence` attribute is the report's picture of the first
    difference (`report.Divergence`), or None."""
    tolerance = TOLERANCES[dtype]
    expected = oracle.run(run, margin=tolerance.margin)
    actual = execute(adapter, run, dtype)
    try:
        assert_run_matches(run, expected, actual, tolerance)
    except Mismatch as mismatch:
        mismatch.divergence = divergence(run, expected, actual, mismatch, tolerance)
        if worth_diagnosing():
            mismatch.args = (f"{mismatch}\n{explain(run, actual, tolerance, expected)}",)
        raise


def check_run(run: RunSpec, impl: str | None = None, dtype: str = "float64") -> None:
    """Replay one run (as printed by a failure report) against `impl`."""
    check_conforms(load_adapter(impl), run, dtype)
    print("conforms")
