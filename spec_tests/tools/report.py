"""Per-row bookkeeping of a conformance run and its reports: the console
table, JSON, Markdown, JUnit XML and a known-deviations file.

A *row* is one line of the report: one documented class, forward function,
dtype or gradient property (`spec_tests/rows.py`). Most rows are one
parametrised test (`test_class_conforms[LIF]`); several pinned tests may
share one row (`rows.UNPARAMETRISED_ROWS`). `RowRecorder`, a pytest plugin,
collects the rows from the test reports; a failed row also keeps the
`divergence.Divergence` of its minimal failing run.

JUnit XML here is one testcase per row (pytest's own `--junitxml` is one per
test, per session: a row gathers several tests, seed slices and shards).
"""

from __future__ import annotations

import json
import platform
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..failures.divergence import divergence_from, divergence_table, plain, write_pictures

PASSED, FAILED, KNOWN, SKIPPED, ERROR, NOT_RUN = (
    "passed", "failed", "known deviation", "skipped", "error", "not run")
# A test or row whose networks the adapter cannot build (`adapters.support`).
NOT_APPLICABLE = "not applicable"
# Outcomes of a row in which nothing was checked.
UNCHECKED = (SKIPPED, KNOWN, NOT_APPLICABLE, NOT_RUN)


@dataclass
class RowStats:
    row: str
    tried: int = 0                    # networks run, shrinking included
    failed: int = 0                   # of which the implementation got wrong
    outcome: str = NOT_RUN            # passed | failed | known deviation | not applicable
    #                                   | skipped | error
    message: str = ""                 # failure message, or the reason of a skip
    repro: str = ""                   # how to replay the (minimal) failure
    seconds: float = 0.0              # wall time of the row's tests, shrinking included
    shrink_cut_short: bool = False    # shrinking stopped at the shrink budget
    # Per test of the row (test id -> {"outcome", "message", "seconds"}).
    tests: dict = field(default_factory=dict)
    divergence: Any = None            # the minimal failing example's Divergence, if any
    # The other distinct failures Hypothesis found in the row, beside the one
    # above: each {"message", "repro", "divergence"} (the divergence plain).
    other_failures: list = field(default_factory=list)
    # Per unit (seed slice) this row's numbers came from, in unit order: each
    # the fields above plus "slice" and "seed" (see `combine_units`).
    slices: list = field(default_factory=list)

    @property
    def passed(self) -> int:
        return self.tried - self.failed


# -- collecting the rows of one pytest session -------------------------------------------

def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr or "")


# How Hypothesis introduces the failing example it reports (older, newer).
_EXAMPLE_HEADINGS = ("Falsifying example", "Falsifying explicit example",
                     "Failing test case", "Failing explicit example")


def _split_example(text: str) -> tuple[str, str]:
    lines = text.splitlines()
    for i, line in enumerate(lines):   # JAX's note on its filtered traceback
        if line.startswith("For simplicity, JAX has removed its internal frames"):
            start = i - 1 if i and set(lines[i - 1].strip()) == {"-"} else i
            del lines[start:i + 1]
            break
    start = next((i for i, line in enumerate(lines)
                  if line.strip().startswith(_EXAMPLE_HEADINGS)), None)
    if start is None:
        return text.strip(), ""
    return "\n".join(lines[:start]).strip(), "\n".join(lines[start:]).strip()


def _failure_text(report) -> tuple[str, str]:
    """`(message, failing example)` of a failed report: the crash message
    pytest shows, and the failing example Hypothesis noted on it, if any."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None and crash.message else (report.longreprtext or "")
    message, example = _split_example(text)
    if not example:  # the whole text, its "E   " prefixes and indentation removed
        whole = "\n".join(line[4:] if line[:4] in ("E   ", "    ") else line
                          for line in (report.longreprtext or "").splitlines())
        example = _split_example(whole)[1]
    return message, example


class RowRecorder:
    """A pytest plugin that collects `rows` (name -> RowStats) from the test
    reports: each test's outcome, message and wall time; the examples it
    tried and failed, and for the last failure of a row's check its message,
    replay script and divergence, from the user properties of its call
    report (`rows.Recorded`; a test without them counts one example)."""

    def __init__(self, impl: str, adapter, replay_options: str = ""):
        # conftest._load uses this instead of loading the adapter again.
        self.snnax_preloaded_adapter = (impl, adapter)
        self.impl = impl
        self.replay_options = replay_options     # e.g. the seed slice, for the replay line
        self.rows: dict[str, RowStats] = {}
        self.rows_of: dict[str, str] = {}
        self.falsifying: dict[str, str] = {}
        self.collection_errors: list[str] = []
        self.config = None

    def pytest_configure(self, config):
        self.config = config

    def pytest_collection_finish(self, session):
        from ..rows import row_name
        for item in session.items:       # after selection and deviation marking
            self.rows_of[item.nodeid] = row_name(item)

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append(f"{report.nodeid or 'collection'}: "
                                          f"{report.longreprtext.strip()}")

    def pytest_runtest_logreport(self, report):
        from ..adapters import deviation_id
        from ..rows import Recorded
        name = self.rows_of.get(report.nodeid)
        if name is None:
            return
        stats = self.rows.setdefault(name, RowStats(name))
        test = stats.tests.setdefault(deviation_id(report.nodeid),
                                      {"outcome": NOT_RUN, "message": "", "seconds": 0.0})
        test["seconds"] = round(test["seconds"] + report.duration, 3)
        stats.seconds = round(stats.seconds + report.duration, 3)
        if report.skipped:                     # nothing was checked after all
            reason = _skip_reason(report)
            test["outcome"] = (KNOWN if reason.startswith("known deviation") else
                               NOT_APPLICABLE if reason.startswith(NOT_APPLICABLE) else SKIPPED)
            test["message"] = reason
            return
        recorded = dict(report.user_properties)
        if report.when == "call":
            stats.tried += max(1, recorded.get(Recorded.TRIED, 0))
            stats.failed += max(int(report.failed), recorded.get(Recorded.FAILED, 0))
            test["outcome"] = PASSED
        if report.failed:
            message, falsifying = _failure_text(report)
            test["outcome"] = FAILED if report.when == "call" else ERROR
            test["message"] = message if report.when == "call" else (
                f"{report.when} error: {message}")
            if falsifying:
                self.falsifying[report.nodeid] = falsifying
            if recorded.get(Recorded.SHRINK_CUT_SHORT):
                stats.shrink_cut_short = True
            if Recorded.MESSAGE in recorded:
                stats.message, stats.repro = recorded[Recorded.MESSAGE], recorded[Recorded.REPRO]
                stats.divergence = divergence_from(recorded[Recorded.DIVERGENCE])
            reported = recorded.get(Recorded.REPORTED) or []
            if reported:   # Hypothesis' own report: the first failure, then the others
                first, *others = reported
                stats.message, stats.repro = first["message"], first["repro"]
                stats.divergence = divergence_from(first["divergence"])
                stats.other_failures = others

    def finish(self, rootdir: Path) -> list[RowStats]:
        """Each row's outcome, message and repro from its tests; the rows."""
        for stats in self.rows.values():
            stats.outcome = row_outcome(stats.tests)
            if stats.outcome in (FAILED, ERROR):
                broken = [(tid, t) for tid, t in stats.tests.items()
                          if t["outcome"] in (FAILED, ERROR)]
                reported = "\n\n".join(
                    (f"{tid}: " if len(stats.tests) > 1 else "") + t["message"]
                    for tid, t in broken)
                # The test's own record (the minimal example's error) unless
                # pytest reports something else (a Hypothesis error, say).
                own = stats.message.splitlines()[0].partition(": ")[2] if stats.message else ""
                if not stats.message or stats.outcome == ERROR:
                    stats.message = reported
                elif own and own not in reported:
                    stats.message += f"\n\npytest reported:\n{reported}"
                if not stats.repro:
                    stats.repro = "\n\n".join(self._rerun(rootdir, tid) for tid, _ in broken)
            elif stats.outcome in UNCHECKED:
                reasons = dict.fromkeys(t["message"] for t in stats.tests.values()
                                        if t["message"])
                stats.message = "; ".join(reasons)
        return list(self.rows.values())

    def _rerun(self, rootdir: Path, tid: str) -> str:
        nodeid = next((n for n in self.rows_of if n.endswith("::" + tid)), tid)
        lines = [self.falsifying[nodeid]] if nodeid in self.falsifying else []
        lines.append(f"# replay (from {rootdir}):\n"
                     f"#   pytest -p no:cacheprovider '{nodeid}' --impl {self.impl}"
                     + self.replay_options)
        return "\n".join(lines)


# -- rows: outcomes, the table and the report files -------------------------------------

def distinct_failures(stats: RowStats) -> list[tuple[str, dict]]:
    """`("<row>: distinct failure N of M", failure)` for each failure beside the
    row's first (`RowStats.other_failures`): one wording for every report."""
    count = 1 + len(stats.other_failures)
    return [(f"{stats.row}: distinct failure {number} of {count}", other)
            for number, other in enumerate(stats.other_failures, 2)]


def row_outcome(tests: dict) -> str:
    """A row's outcome from its tests' outcomes: an error or a failure wins,
    then a pass; a row none of whose tests ran is a known deviation (or not
    applicable) only if all of them are."""
    outcomes = [t["outcome"] for t in tests.values()]
    for outcome in (ERROR, FAILED, PASSED):
        if outcome in outcomes:
            return outcome
    for outcome in (KNOWN, NOT_APPLICABLE):
        if outcomes and all(o == outcome for o in outcomes):
            return outcome
    return SKIPPED if outcomes else NOT_RUN


def skip_reasons(r: RowStats) -> list[str]:
    """`test id: reason` of each skipped test of `r` (known deviations included)."""
    return [f"{tid}: {t['message']}" for tid, t in r.tests.items()
            if t["outcome"] in (SKIPPED, KNOWN, NOT_APPLICABLE)]


def summary(rows) -> dict:
    counts = {k: 0 for k in (PASSED, FAILED, KNOWN, NOT_APPLICABLE, SKIPPED, ERROR, NOT_RUN)}
    for r in rows:
        counts[r.outcome] = counts.get(r.outcome, 0) + 1
    return counts


def verdict(rows) -> str:
    """What was tested, in one line: "every row conforms (49 of 49 rows)", or
    "conforms on 2 of 49 rows (47 not applicable: SimpleLI, ...)" — never
    "every row conforms" when some row was not checked."""
    rows = list(rows)
    checked = [r for r in rows if r.outcome == PASSED]
    failed = [r for r in rows if r.outcome in (FAILED, ERROR)]
    head = (f"{len(failed)} of {len(rows)} rows deviate, {len(checked)} conform" if failed
            else f"every row conforms ({len(checked)} of {len(rows)} rows)"
            if len(checked) == len(rows) else f"conforms on {len(checked)} of {len(rows)} rows")
    parts = []
    for outcome in (KNOWN, NOT_APPLICABLE, SKIPPED, NOT_RUN):
        names = [r.row for r in rows if r.outcome == outcome]
        if names:
            shown = ", ".join(names[:5]) + (f", ... ({len(names) - 5} more)"
                                            if len(names) > 5 else "")
            parts.append(f"{len(names)} {outcome}: {shown}")
    return head + (f" ({'; '.join(parts)})" if parts else "")


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
        lines += ["", "not checked:"] + [f"  {name}: {reason}" for name, reason in skips]
    return "\n".join(lines)


def _payload(header: dict, rows) -> dict:
    return dict(header, python=platform.python_version(), summary=summary(rows),
                rows=[plain(r) for r in rows])



def unit_record(stats: RowStats, slice_: int, seed) -> dict:
    """What a report keeps of one unit (a row's run in one seed slice)."""
    record = {"slice": slice_, "seed": seed}
    record.update((k, v) for k, v in asdict(stats).items() if k != "slices")
    record["divergence"] = stats.divergence          # as is: JSON output makes it plain
    return record



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
            stats.divergence = divergence_from(first.get("divergence"))
            stats.other_failures = first.get("other_failures", [])
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
    md_path.write_text(markdown(header, rows, write_pictures(
        directory, [r for r in rows if r.outcome == FAILED])))
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
            for title, other in distinct_failures(r):
                lines += [f"### {title}", "", "```", other["message"], "```", ""]
                if other.get("divergence") is not None:
                    lines += ["```", divergence_table(divergence_from(other["divergence"])),
                              "```", ""]
                lines += ["```python", other["repro"], "```", ""]
    skipped = [r for r in rows if r.outcome in UNCHECKED]
    if skipped:
        lines += ["## Rows not checked", ""]
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
        "skipped": str(sum(counts[outcome] for outcome in UNCHECKED)),
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
            element.text = r.message + (f"\n\n{r.repro}" if r.repro else "") + "".join(
                f"\n\n{title}: {other['message']}\n\n{other['repro']}"
                for title, other in distinct_failures(r))
        elif r.outcome in UNCHECKED:
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
