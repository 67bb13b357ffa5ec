"""Per-row bookkeeping of a conformance run and its reports: the console
table, JSON, Markdown, JUnit XML and a known-deviations file.

A *row* is one line of the report: one documented class, forward function,
dtype or gradient property. Most rows are one parametrised test
(`test_class_conforms[LIF]`); the rows of pinned (unparametrised) tests are
named in `UNPARAMETRISED_ROWS`, several tests may share one row.
"""

from __future__ import annotations

import json
import platform
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path

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
    kinds_seen: list = field(default_factory=list)
    seconds: float = 0.0              # wall time of the row's tests, shrinking included
    shrink_cut_short: bool = False    # shrinking stopped at the shrink budget
    # Per test of the row (test id -> {"outcome", "message", "seconds"}).
    tests: dict = field(default_factory=dict)

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


def _payload(header: dict, rows) -> dict:
    return dict(header, python=platform.python_version(), summary=summary(rows),
                rows=[asdict(r) for r in rows])


def write_reports(directory: Path, header: dict, rows) -> tuple[Path, Path]:
    """`conformance-report.json` and `conformance-report.md` in `directory`."""
    rows = list(rows)
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    json_path = directory / "conformance-report.json"
    json_path.write_text(json.dumps(_payload(header, rows), indent=2))
    md_path = directory / "conformance-report.md"
    md_path.write_text(markdown(header, rows))
    return json_path, md_path


def markdown(header: dict, rows) -> str:
    rows = list(rows)
    lines = [f"# Conformance report: {header['impl']}", ""]
    lines += [f"- {k}: {v}" for k, v in header.items() if k != "error"]
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
