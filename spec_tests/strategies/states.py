"""Strategies for the state rows: runs from a given state, runs in two calls.

Whole random networks and single layers of every class (as in the class
rows), for T often one whose checkpointed scan (SPEC.md §4.6: chunks of
round(sqrt(T)) steps, runs of fewer than 4 steps scanned plainly) ends in a
partial chunk.
"""

from __future__ import annotations

from hypothesis import strategies as st

from .isolated import ISOLATED_KINDS, isolated_runs
from .networks import runs

UNEVEN_CHUNK_STEPS = (5, 7, 10, 11, 50)


def uneven_chunk_steps(min_steps: int = 1, max_steps: int = 50):
    """T in [min_steps, max_steps], half the time one of UNEVEN_CHUNK_STEPS
    (5 = 2+2+1, 7 = 3+3+1, 10 = 3+3+3+1, 11 = 3+3+3+2, 50 = 7*7+1)."""
    uneven = [t for t in UNEVEN_CHUNK_STEPS if min_steps <= t <= max_steps]
    return st.one_of(st.sampled_from(uneven), st.integers(min_steps, max_steps))


@st.composite
def runs_of_any_network(draw, min_steps: int = 1):
    """A whole random network (straight-through or delayed, maybe a burn-in),
    or one layer of a documented class or equinox ingredient alone."""
    steps = uneven_chunk_steps(min_steps)
    if draw(st.booleans(), label="whole random network?"):
        return draw(runs(steps=steps), label="run")
    kind = draw(st.sampled_from(ISOLATED_KINDS), label="isolated kind")
    return draw(isolated_runs(kind, steps=steps), label="run")


@st.composite
def runs_from_states(draw):
    """`(run, seed)`: a run and the seed of its random valid initial state
    (`oracle.random_valid_state`)."""
    return draw(runs_of_any_network()), draw(st.integers(0, 2**32 - 1), label="state seed")


@st.composite
def chunked_runs(draw):
    """`(run, split)`: a run of T >= 2 steps and where to cut it, `1 <= split < T`."""
    run = draw(runs_of_any_network(min_steps=2))
    return run, draw(st.integers(1, run.num_steps - 1), label="split")
