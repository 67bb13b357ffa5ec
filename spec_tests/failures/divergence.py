"""The divergence of a failed row: where its minimal failing run first left
the oracle's, with the values around it, as a small picklable record
(`Divergence`), a text table and, with matplotlib (the `plot` extra), a
picture `divergence-<row>.png` beside the Markdown report.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

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
    final state component: its index `component` and SPEC name
    `component_name`, both in `what` as `component 0 (V)`) or "last output"
    (a layer's last output). The trace, when there is one, is the layer's
    output at `steps` (run steps, burn-in counted) for `neurons` (indices
    into one step's output, the first differing one first):
    `expected`/`actual` have shape `(len(steps), len(neurons))`. The final
    comparison, when there is one, is `final_what` at the elements
    `final_elements`, the first differing one being `final_first`.
    """

    layer: int                        # the RunSpec's layer index
    kind: str                         # its kind
    source: str                       # "output" | "state" | "last output"
    what: str                         # the comparison that failed, as in the message
    step: int                         # first diverging step; the last step for final values
    element: tuple                    # first differing element (of one step's output, or final)
    component: int | None = None      # the state component, for source "state"
    component_name: str | None = None  # its SPEC name ("V", "layers[1].I"), if it has one
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


def plain(value):
    """`value` as JSON can hold it: dataclasses as dicts, arrays as lists,
    non-finite floats as strings ("nan", "inf", "-inf")."""
    if is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):           # NumPy arrays and scalars
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def divergence_from(value):
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

    from ..compare import final_state_mismatch

    if mismatch.layer is None or mismatch.index is None:
        return None
    network = run.network
    layer = mismatch.layer
    record = Divergence(layer=layer, kind=network.layers[layer].kind, source=mismatch.source,
                        what=mismatch.what, step=int(mismatch.step),
                        element=tuple(mismatch.index), component=mismatch.component,
                        component_name=mismatch.component_name)
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
    """Draw the divergence of each of `rows` (the failed ones) that has one
    into `directory`; per row, the Markdown that embeds the picture or says
    why there is none."""
    failed = [r for r in rows if r.divergence is not None]
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
