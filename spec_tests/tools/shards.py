"""Seed slices and shards: the units of a conformance run, and which a shard runs.

A *unit* of work is a (row, slice) pair. With `--seeds M` each report row
has M slices, 0 .. M-1. Slice 0 is the run as it always was: the profile's
own seeding (`ci`: derandomized, so it repeats exactly; `thorough`: random).
Slice s >= 1 runs each Hypothesis test of the row with `hypothesis.seed(
slice_seed(row, s))`, so it draws other networks, the same ones on every
machine. The units are numbered in a fixed order: the rows in report order,
and per row its slices 0 .. M-1; unit i = row i // M, slice i % M.
`--shard K/N` keeps the units whose number is congruent to K - 1 modulo N.
(How they are run: spec_tests/conftest.py and cli.py; how a shard's
reports are combined: `report.combine_units`.)
"""

from __future__ import annotations

import hashlib


def slice_seed(row: str, slice_: int) -> int:
    """The Hypothesis seed of slice `slice_` >= 1 of `row`: the first 8 bytes
    of SHA-256 of `"<row>/<slice>"`, big-endian (stable across machines and
    Python runs, unlike `hash()`)."""
    digest = hashlib.sha256(f"{row}/{slice_}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def units(row_order, seeds: int) -> list[tuple[str, int]]:
    """Every (row, slice) unit, in unit order."""
    return [(row, s) for row in row_order for s in range(seeds)]


def shard_units(row_order, seeds: int, shard: tuple[int, int]) -> list[tuple[str, int]]:
    """The units of shard `(K, N)`: those numbered K - 1 modulo N."""
    k, n = shard
    return [unit for i, unit in enumerate(units(row_order, seeds)) if i % n == k - 1]


def parse_shard(text: str) -> tuple[int, int]:
    """`"K/N"` -> `(K, N)` with 1 <= K <= N."""
    try:
        k, n = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard must be K/N (e.g. 2/5), not {text!r}") from None
    if not 1 <= k <= n:
        raise ValueError(f"--shard K/N needs 1 <= K <= N, not {text!r}")
    return k, n
