"""Per-row bookkeeping of a conformance run and the JSON / Markdown reports."""

from __future__ import annotations

import json
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class RowStats:
    row: str
    tried: int = 0                    # networks run, shrinking included
    failed: int = 0                   # of which the implementation got wrong
    outcome: str = "not run"          # passed | failed | known deviation | skipped
    message: str = ""
    repro: str = ""
    kinds_seen: list = field(default_factory=list)


ROWS: dict[str, RowStats] = {}


def row(name: str) -> RowStats:
    return ROWS.setdefault(name, RowStats(name))


def table(rows) -> str:
    width = max([len(r.row) for r in rows] + [5])
    lines = [f"{'row':<{width}}  {'tried':>5}  {'passed':>6}  {'failed':>6}  outcome",
             f"{'-' * width}  -----  ------  ------  -------"]
    for r in rows:
        passed = r.tried - r.failed
        lines.append(f"{r.row:<{width}}  {r.tried:>5}  {passed:>6}  {r.failed:>6}  {r.outcome}")
    return "\n".join(lines)


def write_reports(directory: Path, header: dict, rows) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    payload = dict(header, python=platform.python_version(),
                   rows=[asdict(r) for r in rows])
    json_path = directory / "conformance-report.json"
    json_path.write_text(json.dumps(payload, indent=2))
    lines = [f"# Conformance report: {header['impl']}", ""]
    lines += [f"- {k}: {v}" for k, v in header.items()]
    lines += ["", "```", table(rows), "```", ""]
    for r in rows:
        if r.outcome == "failed":
            lines += [f"## {r.row}: minimal failing network", "", "```", r.message, "```", "",
                      "```python", r.repro, "```", ""]
    md_path = directory / "conformance-report.md"
    md_path.write_text("\n".join(lines))
    return json_path, md_path
