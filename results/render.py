"""The run table: the one renderer of a run :class:`~results.schema.Record`.

``bench run`` prints it on the terminal (:func:`print_run`), ``bench report`` writes the same
columns with the same definitions into Markdown and HTML (:func:`run_table` gives the cells,
the footnotes, the column definitions and the answer line), and ``bench history`` / ``bench
compare`` share its number formats (:mod:`results.format`). One format per value: the mAP drop
is ``+0.43 [-0.10, +0.90]`` everywhere, an absent value is one dash, and every latency column
says what it timed: ``e2e`` (one frame end to end) or ``inf`` (the inference call alone).

The terminal table fits the console: at 80 columns it leaves out, in this order, MB, inf p50,
e2e p99, %FP32, avg IoU, J/frame and W (and says so under the table); a wider terminal shows
them all.

Each row carries its validity verdict (:func:`results.validity.verdict`): ``C`` contended,
``T`` throttled, ``U`` unstable, in the status column with a footnote giving the numbers.

Under the table, the answer (:func:`results.answer.answer`): the fastest variant whose mAP50-95 drop is within
the budget (``--max-drop``, 1.0 point by default) at the *upper* end of its 95% CI, with its
speed-up over FP32 and its validity marks, or "no variant within budget". Telemetry values a source
printed but bench could not parse (:func:`unparsed_line`) get one line among the notes, never a cell.

Example:
    >>> from results.archive import load_record                     # doctest: +SKIP
    >>> print_run(load_record("run.json"))                          # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence

from results.answer import DEFAULT_MAX_DROP, answer, reference_name
from results.render_cells import (COLUMNS, SUB_ROW, Column, Row, RunTable, _batch_of, _cells, _measured, _sub_cells,
                                  _with_batch)
from results.render_notes import UNPARSED_SHOWN, _legend, _marked, _notes, _status, unparsed_line
from results.schema import Record
from results.stats import DEFAULT_FACTOR
from results.validity import batch_verdict, verdict

__all__ = ["COLUMNS", "DEFAULT_MAX_DROP", "SUB_ROW", "UNPARSED_SHOWN", "Column", "Row", "RunTable", "answer",
           "make_console", "measured_width", "print_run", "rich_table", "run_table", "unparsed_line"]

__test__ = {"unparsed_line": unparsed_line}  # its example moved with it to results/render_notes.py: still run here

# ------------------------------------------------------------------ the table


def _size_note(record: Record) -> str:
    """``", 416 px"`` in the title when the run's input size is not the model's own."""
    size = (record.settings or {}).get("imgsz")
    if isinstance(size, int) and not isinstance(size, bool) and size != record.model.imgsz:
        return f", {size} px"
    return ""


def run_table(record: Record, *, max_drop: float = DEFAULT_MAX_DROP, factor: float = DEFAULT_FACTOR) -> RunTable:
    """The run table of a record: one row per variant (failed and skipped included).

    Columns a run did not measure at all (power without a power sensor, accuracy without ground
    truth) are left out rather than filled with dashes.

    Example:
        >>> import json, pathlib
        >>> from results.schema import validate_record
        >>> path = pathlib.Path(__file__).parents[1] / "tests/results/data/record_v2.json"
        >>> t = run_table(validate_record(json.loads(path.read_text()), "v2"))
        >>> [r.name for r in t.rows][:3], t.rows[1].cells["drop"]
        (['fp32', 'int8', 'pruned50'], '+1.50 [+1.10, +1.90]')
    """
    reference = reference_name(record)
    batch = _batch_of(record)
    columns = _with_batch([c for c in COLUMNS if _measured(record, c.needs)], batch)
    verdicts = {v.name: verdict(v, factor=factor) for v in record.variants}
    batch_verdicts = {v.name: batch_verdict(v, factor=factor) for v in record.variants}
    marks, notes, student_note = _notes(record)
    rows = []
    for v in record.variants:
        cells = _cells(v, reference)
        cells["status"] = _status(v, verdicts[v.name], marks[v.name], batch_verdicts[v.name])
        rows.append(Row(v.name, cells, v.status, verdicts[v.name], tuple(marks[v.name])))
        teacher = v.vs_models.get("teacher")
        if teacher is not None:  # the student against its teacher's FP32, on a line of its own
            rows.append(Row(v.name, {**_sub_cells(teacher), "status": f"({student_note})"}, "sub"))
        control = v.vs_models.get("control")
        if control is not None and control.reference is not None:  # a pruned row against its control
            text = control.note or f"{v.name}: {control.label}"
            n = next((f"({i + 1})" for i, line in enumerate(notes) if line.endswith(f") {text}")), "")
            rows.append(Row(v.name, {**_sub_cells(control), "variant": f"  └ {control.label}", "status": n}, "sub"))
    formats = "/".join(sorted({v.format for v in record.variants}))
    d = record.data
    title = (f"{record.model.name} on {record.device.profile} ({formats}) — {d.count} "
             f"{'frames' if d.kind == 'video' else 'images'}{_size_note(record)}"
             f"{'' if d.with_ground_truth else ', no ground truth: agreement with FP32 only'}")
    legend = _legend(record, columns, _marked(record, verdicts, batch_verdicts))
    return RunTable(title, columns, tuple(rows), tuple(notes), tuple(legend),
                    answer(record, max_drop=max_drop, factor=factor))


def rich_table(table: RunTable, columns: Sequence[Column] | None = None):
    """The rich Table of ``table`` with ``columns`` (default: all)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    columns = tuple(columns or table.columns)
    out = Table(title=table.title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                show_edge=False, collapse_padding=True, padding=(0, 1))
    body = [table.cells(row, columns) for row in table.rows]
    for i, c in enumerate(columns):
        # numbers and names are never cut: a right-aligned column and the variant column keep their widest
        # cell; when the table still does not fit, the status column wraps instead
        widest = max((len(cells[i]) for cells in body), default=0)
        if c.right or c.key == "variant":  # a variant's name (and '└ vs control') is never folded either
            out.add_column(c.terminal, justify="right" if c.right else "left", no_wrap=True, min_width=widest)
        else:
            out.add_column(c.terminal, justify="left", overflow="fold")
    styles = {"ok": "green", "skipped": "yellow", "failed": "red"}
    for row in table.rows:
        cells = [Text(x) for x in table.cells(row, columns)]
        if row.status != "sub":
            status = cells[-1]
            status.stylize(styles.get(row.status, ""), 0, len(status.plain.split(" ")[0]))
            if not row.validity.ok:
                status.stylize("bold yellow", len(status.plain.split(" ")[0]) + 1,
                               len(status.plain.split(" ")[0]) + 1 + len(row.validity.marks))
        out.add_row(*cells, style="dim" if row.status == "sub" else None)
    return out


def measured_width(renderable) -> int:
    """The width ``renderable`` needs to print unwrapped (rich's own measure: trailing padding counts too)."""
    from rich.console import Console
    from rich.measure import Measurement

    console = Console(width=1000, file=io.StringIO(), color_system=None)
    return Measurement.get(console, console.options, renderable).maximum


def fit(table: RunTable, width: int) -> tuple[tuple[Column, ...], tuple[Column, ...]]:
    """The columns that fit ``width`` characters, and those left out (in the order they go)."""
    kept = list(table.columns)
    dropped: list[Column] = []
    order = sorted((c for c in kept if c.leave_out is not None), key=lambda c: c.leave_out)
    while measured_width(rich_table(table, kept)) > width and order:
        c = order.pop(0)
        kept.remove(c)
        dropped.append(c)
    return tuple(kept), tuple(dropped)


def make_console():
    """A rich console: the terminal's width; logs and pipes get 80 columns unless COLUMNS says otherwise."""
    from rich.console import Console

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=80)
    return console


def print_run(record: Record, *, console=None, archived_at: str | None = None,
              max_drop: float = DEFAULT_MAX_DROP) -> None:
    """Print the run table, the answer line, the notes and where the record went."""
    console = console or make_console()
    table = run_table(record, max_drop=max_drop)
    kept, dropped = fit(table, console.width)
    console.print(rich_table(table, kept))
    console.print()  # the table has no bottom edge: a blank line before the answer
    console.print(table.answer, style="bold", highlight=False)
    lines = list(table.notes)
    if dropped:
        lines.append(f"left out to fit {console.width} columns: {', '.join(c.header for c in dropped)} "
                     "(a wider terminal or bench report shows them)")
    lines += table.legend
    if archived_at:
        lines.append(f"record: {archived_at}")
    for line in lines:
        console.print(line, style="dim", highlight=False, markup=False)
