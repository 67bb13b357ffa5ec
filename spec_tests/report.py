"""Per-row bookkeeping of a conformance run and its reports: the console
table, JSON, Markdown, JUnit XML and a known-deviations file.

A *row* is one line of the report: one documented class, forward function,
dtype or gradient property. Most rows are one parametrised test
(`test_class_conforms[LIF]`); the rows of pinned (unparametrised) tests are
named in `UNPARAMETRISED_ROWS`, several tests may share one row.

A failed conformance row also keeps a `Divergence`: where its minimal failing
run first left the oracle's, with the values around it. The Markdown report
shows it as a text table and, with matplotlib (the `plot` extra), as a
picture `divergence-<row>.png` beside it.
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
import re
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Row of each unparametrised test; a test missing here is its own row.
UNPARAMETRISED_ROWS = {
    "test_float32_conforms": "float32",
    "test_surrogate_derivative_matches_its_formula": "gradient: surrogates",
    "test_burnin_gives_zero_gradient_before_burnin": "gradient: burn-in",
    "test_stop_reset_grad_changes_only_the_reset_path": "gradient: pinned semantics",
    "test_adaptive_lif_spike_term_is_stop_gradiented": "gradient: pinned semantics",
    "test_srm_refractory_input_is_stop_gradiented": "gradient: pinned semantics",
    "test_frozen_parameters_get_exactly_zero_gradient": "gradient: pinned semantics",
}

PASSED, FAILED, KNOWN, SKIPPED, ERROR, NOT_RUN = (
    "passed", "failed", "known deviation", "skipped", "error", "not run")


def row_name(item) -> str:
    """The report row a collected pytest item belongs to."""
    callspec = getattr(item, "callspec", None)
    row = callspec.params.get("row") if callspec else None
    if row is not None and hasattr(row, "name"):
        return row.name
    name = getattr(item, "originalname", None) or item.name
    return UNPARAMETRISED_ROWS.get(name, name)


def deviation_id(nodeid: str) -> str:
    """What known-deviations files match against: the node id without its file."""
    return nodeid.split("::", 1)[-1]


@dataclass
class RowStats:
    row: str
    tried: int = 0                    # networks run, shrinking included
    failed: int = 0                   # of which the implementation got wrong
    outcome: str = NOT_RUN            # passed | failed | known deviation | skipped | error
    message: str = ""                 # failure message, or the reason of a skip
    repro: str = ""                   # how to replay the (minimal) failure
    seconds: float = 0.0              # wall time of the row's tests, shrinking included
    shrink_cut_short: bool = False    # shrinking stopped at the shrink budget
    # Per test of the row (test id -> {"outcome", "message", "seconds"}).
    tests: dict = field(default_factory=dict)
    divergence: Any = None            # the minimal failing example's Divergence, if any
    # Per unit (seed slice) this row's numbers came from, in unit order: each
    # the fields above plus "slice" and "seed" (see `combine_units`).
    slices: list = field(default_factory=list)

    @property
    def passed(self) -> int:
        return self.tried - self.failed


ROWS: dict[str, RowStats] = {}


def row(name: str) -> RowStats:
    return ROWS.setdefault(name, RowStats(name))


def reset() -> None:
    """Forget every row (one conformance run per process normally; tests run several)."""
    ROWS.clear()


def row_outcome(tests: dict) -> str:
    """A row's outcome from its tests' outcomes: an error or a failure wins,
    then a pass; a row none of whose tests ran is a known deviation only if
    all of them are."""
    outcomes = [t["outcome"] for t in tests.values()]
    for outcome in (ERROR, FAILED, PASSED):
        if outcome in outcomes:
            return outcome
    if outcomes and all(o == KNOWN for o in outcomes):
        return KNOWN
    return SKIPPED if outcomes else NOT_RUN


def skip_reasons(r: RowStats) -> list[str]:
    """`test id: reason` of each skipped test of `r` (known deviations included)."""
    return [f"{tid}: {t['message']}" for tid, t in r.tests.items()
            if t["outcome"] in (SKIPPED, KNOWN)]


def summary(rows) -> dict:
    counts = {k: 0 for k in (PASSED, FAILED, KNOWN, SKIPPED, ERROR, NOT_RUN)}
    for r in rows:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return counts


def _first_line(text: str, limit: int = 160) -> str:
    line = next((s.strip() for s in str(text).splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[:limit - 1] + "…"


def table(rows) -> str:
    """The console table, then one line per skipped test with its reason."""
    rows = list(rows)
    width = max([len(r.row) for r in rows] + [5])
    lines = [f"{'row':<{width}}  {'tried':>5}  {'passed':>6}  {'failed':>6}  "
             f"{'seconds':>7}  outcome",
             f"{'-' * width}  -----  ------  ------  -------  -------"]
    for r in rows:
        outcome = r.outcome + (" (shrinking cut short)" if r.shrink_cut_short else "")
        lines.append(f"{r.row:<{width}}  {r.tried:>5}  {r.passed:>6}  {r.failed:>6}  "
                     f"{r.seconds:>7.1f}  {outcome}")
    counts = summary(rows)
    lines.append(f"{len(rows)} row{'' if len(rows) == 1 else 's'}" + "".join(
        (": " if i == 0 else ", ") + f"{n} {k}"
        for i, (k, n) in enumerate((k, n) for k, n in counts.items() if n)))
    skips = [(r.row, reason) for r in rows for reason in skip_reasons(r)]
    if skips:
        lines += ["", "skipped:"] + [f"  {name}: {reason}" for name, reason in skips]
    return "\n".join(lines)


def _plain(value):
    """`value` as JSON can hold it: arrays as lists, non-finite floats as
    strings ("nan", "inf", "-inf")."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):           # NumPy arrays and scalars
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _payload(header: dict, rows) -> dict:
    return dict(header, python=platform.python_version(), summary=summary(rows),
                rows=[_plain(asdict(r)) for r in rows])


# -- seed slices and shards: units, and combining them ---------------------------------
# (How they are run: spec_tests/conftest.py and cli.py.)

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



def unit_record(stats: RowStats, slice_: int, seed) -> dict:
    """What a report keeps of one unit (a row's run in one seed slice)."""
    record = {"slice": slice_, "seed": seed}
    record.update((k, v) for k, v in asdict(stats).items() if k != "slices")
    record["divergence"] = stats.divergence          # as is: JSON output makes it plain
    return record


def _divergence_from(value):
    """A Divergence back from its JSON form (arrays as lists, "nan"/"inf" strings)."""
    if value is None or isinstance(value, Divergence):
        return value
    try:
        import numpy as np
        fields = dict(value)
        for key in ("expected", "actual", "final_expected", "final_actual"):
            if fields.get(key) is not None:
                fields[key] = np.asarray(fields[key], dtype=np.float64)
        for key in ("element", "steps", "final_first"):
            fields[key] = tuple(fields.get(key) or ())
        for key in ("neurons", "final_elements"):
            fields[key] = tuple(tuple(e) for e in fields.get(key) or ())
        return Divergence(**fields)
    except Exception:  # noqa: BLE001 - the message still tells it
        return None


def combine_units(records, row_order=None) -> list[RowStats]:
    """One RowStats per row from its units' records (`unit_record`s, or their
    JSON form, with a "row" key), taken in unit order (row order, then slice):
    counts and seconds summed; the outcome as `row_outcome` gives it over the
    units (an error or failure in any unit wins); a failed row's message,
    repro and divergence from its first failed unit, its message prefixed with
    that unit's slice when there are several; each test's outcome likewise
    and the union of the skipped tests' reasons; `slices` the records."""
    by_row: dict[str, list[dict]] = {}
    for record in records:
        by_row.setdefault(record["row"], []).append(record)
    order = list(row_order or ()) + [r for r in by_row if r not in (row_order or ())]
    rows = []
    for name in order:
        units = sorted(by_row.get(name, ()), key=lambda u: u["slice"])
        if not units:
            continue
        stats = RowStats(name, slices=units)
        stats.tried = sum(u["tried"] for u in units)
        stats.failed = sum(u["failed"] for u in units)
        stats.seconds = round(sum(u["seconds"] for u in units), 3)
        stats.outcome = row_outcome({i: u for i, u in enumerate(units)})
        for u in units:
            for tid, t in u.get("tests", {}).items():
                mine = stats.tests.setdefault(tid, {"outcome": NOT_RUN, "message": "",
                                                    "seconds": 0.0, "outcomes": []})
                mine["outcomes"].append(t["outcome"])
                mine["seconds"] = round(mine["seconds"] + t["seconds"], 3)
                if not mine["message"] or (t["outcome"] in (FAILED, ERROR)
                                           and mine["outcome"] not in (FAILED, ERROR)):
                    mine["message"] = t["message"]
                mine["outcome"] = row_outcome({i: {"outcome": o}
                                               for i, o in enumerate(mine["outcomes"])})
        for t in stats.tests.values():
            del t["outcomes"]
        broken = [u for u in units if u["outcome"] in (FAILED, ERROR)]
        if broken:
            first = broken[0]
            where = f"seed slice {first['slice']}: " if len(units) > 1 else ""
            stats.message = where + first["message"]
            stats.repro = first["repro"]
            stats.divergence = _divergence_from(first.get("divergence"))
            stats.shrink_cut_short = any(u.get("shrink_cut_short") for u in broken)
        else:
            stats.message = "; ".join(dict.fromkeys(u["message"] for u in units if u["message"]))
        rows.append(stats)
    return rows


def rows_from_payload(payload: dict) -> list[dict]:
    """The unit records of a JSON report (`write_reports`' payload)."""
    return [dict(unit, row=r["row"]) for r in payload.get("rows", ())
            for unit in r.get("slices", ())]


def write_reports(directory: Path, header: dict, rows) -> tuple[Path, Path]:
    """`conformance-report.json` and `conformance-report.md` in `directory`,
    and beside them a `divergence-<row>.png` per failed row with a divergence
    (when matplotlib is installed)."""
    rows = list(rows)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "conformance-report.json"
    json_path.write_text(json.dumps(_payload(header, rows), indent=2))
    md_path = directory / "conformance-report.md"
    md_path.write_text(markdown(header, rows, write_pictures(directory, rows)))
    return json_path, md_path


def _header_value(key, value):
    """Long header lists (the units a shard ran, the row order) as counts."""
    if key in ("units", "row_order") and isinstance(value, (list, tuple)):
        return f"{len(value)} ({', '.join(map(str, value[:3]))}{', …' if len(value) > 3 else ''})"
    return value


def markdown(header: dict, rows, pictures: dict | None = None) -> str:
    """`pictures`: per row, the Markdown that shows its divergence picture, or
    says why there is none (`write_pictures`)."""
    rows = list(rows)
    lines = [f"# Conformance report: {header['impl']}", ""]
    lines += [f"- {k}: {_header_value(k, v)}" for k, v in header.items() if k != "error"]
    if header.get("error"):
        lines += ["", "## Harness error", "", "```", header["error"], "```"]
    if rows or not header.get("error"):
        lines += ["", "```", table(rows), "```", ""]
    for r in rows:
        if r.outcome in (FAILED, ERROR):
            title = "minimal failing network" if r.outcome == FAILED else "error"
            cut = (" (shrinking stopped at the shrink budget: it may not be minimal)"
                   if r.shrink_cut_short else "")
            lines += [f"## {r.row}: {title}{cut}", "", f"time: {r.seconds:.1f} s", "",
                      "```", r.message, "```", ""]
            if r.outcome == FAILED and r.divergence is not None:
                lines += ["Where it diverges (expected: the oracle; actual: the implementation):",
                          "", "```", divergence_table(r.divergence), "```", ""]
                if (pictures or {}).get(r.row):
                    lines += [pictures[r.row], ""]
            if r.repro:
                lines += ["```python", r.repro, "```", ""]
    skipped = [r for r in rows if r.outcome in (SKIPPED, KNOWN, NOT_RUN)]
    if skipped:
        lines += ["## Skipped rows", ""]
        lines += [f"- {r.row} ({r.outcome}): {r.message or 'no reason given'}" for r in skipped]
        lines.append("")
    return "\n".join(lines)


def write_junit(path: Path, header: dict, rows) -> Path:
    """JUnit XML: one <testcase> per row; a failure's message and repro in
    <failure>, an error's in <error>, a skip's reason in <skipped>; `time`
    is the row's wall time. A harness error with no rows is one errored
    testcase named after it."""
    rows = list(rows)
    counts = summary(rows)
    suite = ET.Element("testsuite", {
        "name": "snnax-ref conform", "tests": str(len(rows)),
        "failures": str(counts[FAILED]),
        "errors": str(counts[ERROR] + (1 if header.get("error") and not rows else 0)),
        "skipped": str(counts[SKIPPED] + counts[KNOWN] + counts[NOT_RUN]),
        "time": f"{float(header.get('seconds', 0.0)):.3f}",
    })
    properties = ET.SubElement(suite, "properties")
    for key, value in header.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(map(str, value))
        ET.SubElement(properties, "property", {"name": str(key), "value": str(value)})
    classname = f"snnax_ref.conformance.{header.get('impl', 'impl')}"
    for r in rows:
        case = ET.SubElement(suite, "testcase", {"classname": classname, "name": r.row,
                                                 "time": f"{r.seconds:.3f}"})
        if r.outcome in (FAILED, ERROR):
            tag = "failure" if r.outcome == FAILED else "error"
            element = ET.SubElement(case, tag, {"message": _first_line(r.message) or r.outcome,
                                                "type": r.outcome})
            element.text = r.message + (f"\n\n{r.repro}" if r.repro else "")
        elif r.outcome in (SKIPPED, KNOWN, NOT_RUN):
            reason = r.message or r.outcome
            if r.outcome == KNOWN and not reason.startswith("known deviation"):
                reason = f"known deviation: {reason}"
            ET.SubElement(case, "skipped", {"message": _first_line(reason, 1000)}).text = reason
    if header.get("error") and not rows:
        case = ET.SubElement(suite, "testcase", {"classname": classname,
                                                 "name": "load adapter", "time": "0.000"})
        ET.SubElement(case, "error", {"message": _first_line(header["error"]),
                                      "type": "harness error"}).text = header["error"]
        suite.set("tests", "1")
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
    return path


def deviations_text(header: dict, rows) -> str:
    """A known-deviations file (see `adapters.read_deviations`) from a run:
    one line per failed test, `test id  # TODO: reason — first line of the
    failure`, and the known deviations the run skipped, with their reasons.
    Fill in the reasons before shipping it with an adapter."""
    lines = [f"# Known deviations of {header.get('impl')} from SPEC.md, written by "
             f"`snnax-ref conform --write-deviations` (profile {header.get('profile')}).",
             "# One test-id prefix per line, then '#' and the reason: replace each TODO.",
             ""]
    for r in rows:
        entries = []
        for tid, t in r.tests.items():
            if t["outcome"] in (FAILED, ERROR):
                # The row's own message (the minimal example's) when it has one test.
                first = _first_line((r.message if len(r.tests) == 1 else "") or t["message"])
                reason = "TODO: reason" + (f" — {first}" if first else "")
                entries.append(f"{tid}  # {reason}")
            elif t["outcome"] == KNOWN:
                reason = t["message"].removeprefix("known deviation:").strip()
                entries.append(f"{tid}  # {reason or 'TODO: reason'}")
        if entries:
            lines += [f"# row: {r.row}"] + entries
    return "\n".join(lines) + "\n"


def write_deviations(path: Path, header: dict, rows) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(deviations_text(header, list(rows)))
    return path


# -- the divergence of a failed row: a record, a text table, a picture -------------

TRACE_STEPS = 5       # steps kept on either side of the first diverging step
TRACE_NEURONS = 4     # neurons traced: the first differing one and up to 3 others
TABLE_STEPS = 3       # steps the text table shows on either side
FINAL_ELEMENTS = 16   # elements kept of a differing final state component
TABLE_ELEMENTS = 3    # elements the text table shows on either side


@dataclass
class Divergence:
    """Where an implementation's run first left the oracle's, with the
    values needed to show it (small and picklable: NumPy arrays, tuples).

    `source` is "output" (a final layer's output over the steps), "state" (a
    final state component) or "last output" (a layer's last output). The
    trace, when there is one, is the layer's output at `steps` (run steps,
    burn-in counted) for `neurons` (indices into one step's output, the first
    differing one first): `expected`/`actual` have shape
    `(len(steps), len(neurons))`. The final comparison, when there is one,
    is `final_what` at the elements `final_elements`, the first differing
    one being `final_first`.
    """

    layer: int                        # the RunSpec's layer index
    kind: str                         # its kind
    source: str                       # "output" | "state" | "last output"
    what: str                         # the comparison that failed, as in the message
    step: int                         # first diverging step; the last step for final values
    element: tuple                    # first differing element (of one step's output, or final)
    component: int | None = None      # the state component, for source "state"
    steps: tuple = ()
    neurons: tuple = ()
    expected: Any = None
    actual: Any = None
    final_what: str = ""
    final_step: int | None = None     # the step the final values are after (the last)
    final_first: tuple = ()
    final_elements: tuple = ()
    final_expected: Any = None
    final_actual: Any = None


def divergence(run, expected, actual, mismatch, tolerance=None) -> Divergence | None:
    """The `Divergence` of a `compare.Mismatch` raised comparing `actual` with
    `expected` (the oracle's) for `run`, or None when the mismatch has no
    location (a wrong number or shape of arrays). With `tolerance`, an output
    divergence also carries the first differing final state component of its
    layer, where final states are compared."""
    try:
        return _divergence(run, expected, actual, mismatch, tolerance)
    except Exception:  # noqa: BLE001 - a picture must never turn into a test error
        return None


def _divergence(run, expected, actual, mismatch, tolerance):
    import numpy as np

    from .compare import final_state_mismatch

    if mismatch.layer is None or mismatch.index is None:
        return None
    network = run.network
    layer = mismatch.layer
    record = Divergence(layer=layer, kind=network.layers[layer].kind, source=mismatch.source,
                        what=mismatch.what, step=int(mismatch.step),
                        element=tuple(mismatch.index), component=mismatch.component)
    if mismatch.source == "output":
        record.element = tuple(mismatch.index[1:])
        first_step, row = mismatch.first_step, mismatch.index[0]
        _trace(record, mismatch.expected, mismatch.actual, first_step, row, record.element)
        final = (final_state_mismatch(run, expected, actual, tolerance, layer)
                 if tolerance is not None else None)
    else:
        final = mismatch
        if layer in network.final_layer_ids:     # its outputs, up to the last step
            position = network.final_layer_ids.index(layer)
            want = np.asarray(expected.outputs[position], dtype=np.float64)
            got = np.asarray(actual.outputs[position], dtype=np.float64)
            if want.shape == got.shape and len(want):
                neuron = record.element if want.shape[1:] == mismatch.expected.shape else None
                _trace(record, want, got, run.burnin, len(want) - 1, neuron)
    if final is not None and final.index is not None:
        _final(record, final)
    return record


def _trace(record: Divergence, want, got, first_step: int, row: int, neuron) -> None:
    """Keep rows `row ± TRACE_STEPS` of the outputs `want`/`got` (row 0 is run
    step `first_step`) for `neuron` (None: the first) and up to
    `TRACE_NEURONS - 1` others: those that differ most, then its neighbours."""
    import numpy as np

    rows = np.arange(max(0, row - TRACE_STEPS), min(len(want), row + TRACE_STEPS + 1))
    shape = want.shape[1:]
    size = int(np.prod(shape, dtype=int))
    want = want[rows].reshape(len(rows), size)
    got = got[rows].reshape(len(rows), size)
    first = int(np.ravel_multi_index(neuron, shape)) if neuron is not None and shape else 0
    with np.errstate(invalid="ignore"):
        gap = np.where(np.isnan(want) & np.isnan(got), 0.0, np.abs(got - want))
    score = np.nan_to_num(gap, nan=np.inf).max(axis=0) if len(rows) else np.zeros(size)
    differing = [int(i) for i in np.argsort(-score, kind="stable") if score[i] > 0 and i != first]
    neighbours = [first + d * s for d in range(1, TRACE_NEURONS) for s in (1, -1)
                  if 0 <= first + d * s < size]
    chosen = [first]
    for i in differing + neighbours:
        if len(chosen) == min(TRACE_NEURONS, size):
            break
        if i not in chosen:
            chosen.append(i)
    record.steps = tuple(int(first_step + r) for r in rows)
    record.neurons = tuple(tuple(int(k) for k in np.unravel_index(i, shape)) for i in chosen)
    record.expected, record.actual = want[:, chosen], got[:, chosen]


def _final(record: Divergence, final) -> None:
    """Keep up to FINAL_ELEMENTS elements of the differing final array around its first
    difference."""
    import numpy as np

    want = np.asarray(final.expected, dtype=np.float64)
    got = np.asarray(final.actual, dtype=np.float64)
    first = int(np.ravel_multi_index(final.index, want.shape)) if want.shape else 0
    start = max(0, min(first - FINAL_ELEMENTS // 2, want.size - FINAL_ELEMENTS))
    flat = np.arange(start, min(want.size, start + FINAL_ELEMENTS))
    record.final_what = final.what or ""
    record.final_step = final.step
    record.final_first = tuple(final.index)
    record.final_elements = tuple(tuple(int(k) for k in np.unravel_index(i, want.shape))
                                  for i in flat)
    record.final_expected = want.reshape(-1)[flat]
    record.final_actual = got.reshape(-1)[flat]


def _number(value) -> str:
    return f"{float(value):.6g}"


def _index(element: tuple) -> str:
    return "(" + ", ".join(map(str, element)) + ("," if len(element) == 1 else "") + ")"


def divergence_table(d: Divergence) -> str:
    """Expected vs actual around the first difference, as text: the
    diverging neuron's output a few steps either side of the diverging step,
    and the first differing final values (`>` marks the first difference)."""
    def table(title, label, keys, want, got, marked):
        width = max([len(label)] + [len(k) for k in keys])
        lines = [title, f"  {label:>{width}}  {'expected':>12}  {'actual':>12}  {'diff':>12}"]
        for key, w, g in zip(keys, want, got):
            diff = _number(float(g) - float(w))     # Python floats: inf - inf is nan
            lines.append(f"{'>' if key == marked else ' '} {key:>{width}}  "
                         f"{_number(w):>12}  {_number(g):>12}  {diff:>12}")
        return lines

    lines = [f"first difference: {d.what}"]
    if d.steps:
        i = list(d.steps).index(d.step) if d.step in d.steps else len(d.steps) - 1
        keep = slice(max(0, i - TABLE_STEPS), i + TABLE_STEPS + 1)
        neuron = d.neurons[0]
        first = (f"first difference at step {d.step}" if d.source == "output"
                 else "outputs agree; the final values below differ")
        lines += [""] + table(f"output of neuron {_index(neuron)} by step ({first}):", "step",
                              [str(s) for s in d.steps[keep]], d.expected[keep, 0],
                              d.actual[keep, 0], str(d.step) if d.source == "output" else None)
    if d.final_elements:
        keys = [_index(e) for e in d.final_elements]
        i = keys.index(_index(d.final_first))
        keep = slice(max(0, i - TABLE_ELEMENTS), i + TABLE_ELEMENTS + 1)
        lines += [""] + table(f"{d.final_what} (after step {d.final_step}), by element:",
                              "element",
                              keys[keep], d.final_expected[keep], d.final_actual[keep], keys[i])
    return "\n".join(lines)


def picture_name(row: str) -> str:
    """`divergence-<row slug>.png`."""
    slug = re.sub(r"[^a-z0-9]+", "-", row.lower()).strip("-") or "row"
    return f"divergence-{slug}.png"


def write_pictures(directory: Path, rows) -> dict[str, str]:
    """Draw the divergence of each failed row into `directory`; per row, the
    Markdown that embeds the picture or says why there is none."""
    failed = [r for r in rows if r.outcome == FAILED and r.divergence is not None]
    if not failed:
        return {}
    try:
        from matplotlib.figure import Figure  # noqa: F401 - the `plot` extra
    except ImportError:
        note = ("(No picture: matplotlib is not installed; install the `plot` extra, "
                "`pip install 'snnax_ref[plot]'`, to get one.)")
        return {r.row: note for r in failed}
    embeds, used = {}, set()
    for r in failed:
        name = picture_name(r.row)
        stem, n = name.removesuffix(".png"), 2
        while name in used:
            name, n = f"{stem}-{n}.png", n + 1
        used.add(name)
        try:
            draw_divergence(r.divergence, Path(directory) / name, title=r.row)
        except Exception as error:  # noqa: BLE001 - the text table still tells it
            embeds[r.row] = f"(No picture: drawing it failed: {type(error).__name__}: {error})"
            continue
        embeds[r.row] = f"![{r.row}: implementation vs oracle around the divergence]({name})"
    return embeds


def draw_divergence(d: Divergence, path: Path, title: str = "") -> Path:
    """A PNG of `d`: per traced neuron, the layer's output over the steps
    around the divergence (oracle and implementation overlaid, a dotted line
    at the first diverging step); beside it, the differing final values per
    element. Needs matplotlib (imported here, not at module level)."""
    import textwrap

    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    def finite(a):
        a = np.asarray(a, dtype=np.float64)
        return np.where(np.isfinite(a), a, np.nan)

    traces = len(d.neurons) if d.steps else 0
    columns = (traces > 0) + bool(d.final_elements)
    figure = Figure(figsize=(6.5 * columns, 1.2 + 1.6 * max(traces, 2)), layout="constrained")
    grid = figure.add_gridspec(max(traces, 1), columns)
    oracle_style = dict(color="tab:blue", marker="o", linewidth=2.5, alpha=0.55,
                        label="oracle (expected)")
    impl_style = dict(color="tab:red", marker="x", linestyle="--", linewidth=1.2,
                      label="implementation (actual)")
    first_axis = None
    for k, neuron in enumerate(d.neurons if traces else ()):
        axis = figure.add_subplot(grid[k, 0], sharex=first_axis)
        first_axis = first_axis or axis
        want, got = d.expected[:, k], d.actual[:, k]
        axis.plot(d.steps, finite(want), drawstyle="steps-mid", **oracle_style)
        axis.plot(d.steps, finite(got), drawstyle="steps-mid", **impl_style)
        axis.axvline(d.step, color="black", linestyle=":",
                     label=(f"first difference, step {d.step}" if d.source == "output"
                            else f"final values compared after step {d.step}"))
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        values = np.concatenate([want, got])
        if np.all(np.isin(values[np.isfinite(values)], (0.0, 1.0))):
            axis.set_yticks([0, 1])             # spikes
            axis.set_ylim(-0.2, 1.2)
        axis.set_ylabel(f"neuron {_index(neuron)}" + (" *" if k == 0 else ""))
        if k == 0:
            axis.set_title(f"layer {d.layer} ({d.kind}) output; * first differing", fontsize=9)
            axis.legend(fontsize=7, loc="best")
        if k == traces - 1:
            axis.set_xlabel("step")
    if d.final_elements:
        axis = figure.add_subplot(grid[:, columns - 1])
        x = np.arange(len(d.final_elements))
        axis.plot(x, finite(d.final_expected), linestyle="none", markersize=8, **{
            k: v for k, v in oracle_style.items() if k != "linewidth"})
        axis.plot(x, finite(d.final_actual), linestyle="none", markersize=8, **{
            k: v for k, v in impl_style.items() if k not in ("linewidth", "linestyle")})
        first = [_index(e) for e in d.final_elements].index(_index(d.final_first))
        axis.axvspan(first - 0.4, first + 0.4, color="gold", alpha=0.3,
                     label=f"first difference {_index(d.final_first)}")
        axis.set_xticks(x, [_index(e) for e in d.final_elements], rotation=60, fontsize=7)
        axis.set_xlim(-0.6, len(x) - 0.4)
        axis.set_xlabel("element")
        axis.set_title("\n".join(textwrap.wrap(f"{d.final_what} (final)", 60)), fontsize=9)
        axis.legend(fontsize=7, loc="best")
    heading = f"{title}: " if title else ""
    figure.suptitle("\n".join(textwrap.wrap(f"{heading}{d.what}", 90)), fontsize=10)
    path = Path(path)
    figure.savefig(path, dpi=100)
    return path
