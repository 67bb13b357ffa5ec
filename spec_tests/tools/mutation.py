"""The mutation check: every planted bug must make some conformance row fail."""

from __future__ import annotations

import time

from ..adapters import load_adapter
from .mutants import MUTANTS, planted
from ..rows import ALL_ROWS, row_fails


def run_mutation_check(profile: str = "ci", only=None, echo=print):
    """Run each mutant against its rows; print and return `(killed, total)`."""
    adapters = {"default": load_adapter("spec_tests.adapters.snnax_ref_adapter:adapter"),
                "step": load_adapter("spec_tests.adapters.snnax_ref_adapter:step_adapter")}
    chosen = [m for m in MUTANTS if not only or m.name in only]
    killed = 0
    for mutant in chosen:
        started = time.perf_counter()
        verdict = None
        with planted(mutant):
            for row_name in mutant.rows:
                message = row_fails(adapters[mutant.adapter], ALL_ROWS[row_name], profile)
                if message:
                    verdict = f"killed by row {row_name!r}: {message}"
                    break
        killed += verdict is not None
        echo(f"{'KILLED ' if verdict else 'SURVIVED'} {mutant.name:<32} "
             f"({time.perf_counter() - started:5.1f} s) {mutant.bug}"
             + (f"\n         {verdict}" if verdict else ""), flush=True)
    echo(f"mutation score: {killed}/{len(chosen)} mutants killed")
    return killed, len(chosen)
