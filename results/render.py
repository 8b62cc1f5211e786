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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from results import format as fmt
from results.answer import DEFAULT_MAX_DROP, answer, drop_source, reference_name
from results.schema import Record, Variant, VsModel
from results.stats import DEFAULT_FACTOR
from results.validity import CLOCK_FLOOR, CONTENDED_WAIT_SHARE, Validity, verdict

__all__ = ["COLUMNS", "DEFAULT_MAX_DROP", "Column", "Row", "RunTable", "answer", "make_console", "print_run",
           "rich_table", "run_table", "unparsed_line"]

SUB_ROW = "  └ vs teacher"


@dataclass(frozen=True)
class Column:
    """One column of the run table.

    Attributes:
        key: the cell key.
        header: the header in Markdown / HTML (one line).
        terminal: the header on the terminal (may break over two lines to save width).
        definition: what the column means (printed under the table and in the report).
        right: right-justified.
        leave_out: on a narrow terminal, columns are left out in increasing order of this
            (None: always shown).
        needs: the kind of measurement the column shows (``"accuracy"``, ``"power"``); a column
            whose kind the run did not measure at all is not shown.
    """

    key: str
    header: str
    terminal: str
    definition: str
    right: bool = True
    leave_out: int | None = None
    needs: str | None = None


COLUMNS: tuple[Column, ...] = (
    Column("variant", "variant", "variant", "", right=False),
    Column("mb", "MB", "MB", "artifact size in MB", leave_out=1),
    Column("fps", "FPS", "FPS", "frames per second, one frame end to end in sequence (decode excluded)"),
    Column("fps_batch", "FPS@bN", "FPS\n@bN", "images per second at batch N (bench run --batch N): N frames per "
           "call on the artifact exported with a static batch N", needs="batch"),
    Column("e2e_p50", "e2e p50 ms", "e2e p50\nms", "one frame end to end (preprocess + inference + "
           "postprocess), median latency"),
    Column("e2e_p99", "e2e p99 ms", "e2e p99\nms", "the same, 99th percentile", leave_out=3),
    Column("inf_p50", "inf p50 ms", "inf p50\nms", "the inference call alone, median latency (what "
           "bench compare judges)", leave_out=2),
    Column("map", "mAP50-95", "mAP\n50-95", "COCO mAP50-95 against the ground truth", needs="accuracy"),
    Column("drop", "mAP drop [95% CI]", "mAP drop\n[95% CI]", "mAP50-95 points lost against FP32 "
           "(positive = worse) with its 95% paired-bootstrap interval", needs="accuracy"),
    Column("pct", "%FP32", "%FP32", "mAP50-95 as a share of FP32's", leave_out=4, needs="accuracy"),
    Column("iou", "avg IoU", "avg\nIoU", "average IoU per frame of the boxes matched to ground truth",
           leave_out=5, needs="accuracy"),
    Column("agree", "agree", "agree", "agreement with FP32's boxes: mean IoU of the matched boxes"),
    Column("w", "W", "W", "mean power over the timed window", leave_out=7, needs="power"),
    Column("jpf", "J/frame", "J/\nframe", "energy per frame over the timed window", leave_out=6, needs="power"),
    Column("status", "status", "status", "ok, skip or FAIL; C contended, T throttled, U unstable "
           "(see the notes)", right=False),
)


@dataclass(frozen=True)
class Row:
    """One line of the table: a variant, or a student's line against its teacher (``sub``)."""

    name: str
    cells: Mapping[str, str]
    status: str
    """``"ok"``, ``"skipped"``, ``"failed"`` or ``"sub"`` (the line under a student)."""
    validity: Validity = field(default_factory=Validity)
    notes: tuple[int, ...] = ()


@dataclass(frozen=True)
class RunTable:
    """Everything the run table shows, as text: the same for terminal, Markdown and HTML."""

    title: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...]
    """Numbered footnotes (``"(1) fp16: ..."``), referenced from the status column."""
    legend: tuple[str, ...]
    """What the columns and settings mean."""
    answer: str

    def cells(self, row: Row, columns: Sequence[Column] | None = None) -> tuple[str, ...]:
        """The row's cells for ``columns`` (default: all of this table's), status with its marks."""
        return tuple(row.cells.get(c.key, "") for c in (columns or self.columns))


# ------------------------------------------------------------------ cells

def _size(v: Variant) -> str:
    # exporters' manifests keep the file's size under "artifact" (older ones at the top)
    art = v.artifact or {}
    size = (art.get("artifact") or {}).get("size_bytes") or art.get("size_bytes")
    size = size + (art.get("weights") or {}).get("size_bytes", 0) if isinstance(size, int) else size  # IR: .xml + .bin
    return f"{size / 1e6:.1f}" if isinstance(size, (int, float)) and not isinstance(size, bool) else fmt.DASH


def _drop_cell(v: Variant, reference: str | None) -> str:
    if v.name == reference:
        return "reference"
    vs = drop_source(v)
    if isinstance(vs, VsModel) and vs.reference is None:  # a student whose plain comparison could not be made
        return fmt.NOT_COMPARABLE if fmt.not_comparable_detail(vs.reason) is not None else fmt.DASH
    return fmt.DASH if vs is None else fmt.drop(vs.map_drop_points, vs.map_drop_ci95)


def _cells(v: Variant, reference: str | None) -> dict[str, str]:
    t, a = v.timing, v.accuracy
    e2e = t.stage("end_to_end") if t else None
    inf = t.stage("inference") if t else None
    tel = v.telemetry or {}
    vs = drop_source(v)
    return {
        "variant": v.name, "mb": _size(v), "fps": fmt.fps(t.fps if t else None),
        "fps_batch": fmt.fps(t.batch.images_per_s if t and t.batch else None),
        "e2e_p50": fmt.ms(e2e.p50_ms if e2e else None), "e2e_p99": fmt.ms(e2e.p99_ms if e2e else None),
        "inf_p50": fmt.ms(inf.p50_ms if inf else None),
        "map": fmt.map_(a.map50_95 if a else None), "drop": _drop_cell(v, reference),
        "pct": fmt.pct(vs.map_pct_of_reference if vs is not None else None),
        "iou": fmt.map_(a.avg_iou_per_frame if a else None),
        "agree": fmt.map_(v.vs_reference.agreement_mean_iou if v.vs_reference else None),
        "w": fmt.fps(_num((tel.get("power") or {}).get("mean_w"))),
        "jpf": fmt.map_(_num(tel.get("energy_per_frame_j"))),
    }


def _num(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _sub_cells(vm: VsModel) -> dict[str, str]:
    return {"variant": SUB_ROW, "fps": fmt.ratio(vm.fps_ratio),
            "drop": fmt.drop(vm.map_drop_points, vm.map_drop_ci95), "pct": fmt.pct(vm.map_pct_of_reference)}


# ------------------------------------------------------------------ notes

def _student_note(v: Variant, record: Record) -> str:
    plain, teacher = v.vs_models.get("plain"), v.vs_models.get("teacher")
    who = v.source_model.name if v.source_model else "the student"
    if plain is not None and plain.reference:
        first = (f"student rows ({who}): mAP drop and %FP32 against the same-size plain model's FP32 (the "
                 f"{plain.reference} row, {record.model.name})")
        if plain.note:
            first += f" — {plain.note}"
    elif plain is not None and (detail := fmt.not_comparable_detail(plain.reason)) is not None:
        first = f"student rows ({who}): mAP drop not comparable with a same-size plain model's FP32 ({detail})"
    else:
        first = (f"student rows ({who}): no drop against the same-size plain FP32: "
                 f"{(plain.reason if plain else None) or 'not measured'}")
    if teacher is not None and teacher.reference:
        name = (teacher.model or {}).get("name", "?")
        second = (f"'└ vs teacher': against the teacher's FP32 (the {teacher.reference} row, {name}): mAP drop "
                  "[95% CI], % of the teacher's mAP50-95 in %FP32, and FPS as student / teacher")
        if teacher.note:
            second += f" — {teacher.note}"
    else:
        second = f"'└ vs teacher' is empty: {(teacher.reason if teacher else None) or 'not measured'}"
    return f"{first}; {second}."


def _notes(record: Record, verdicts: Mapping[str, Validity]) -> tuple[dict[str, list[int]], list[str], int | None]:
    """Footnotes in table order; ``({variant: [note numbers]}, lines, the student note's number)``."""
    marks: dict[str, list[int]] = {}
    lines: list[str] = []
    student_note = None
    control_notes: dict[str, int] = {}  # a pruned row's control note (harness.control), shared by its rows

    def add(text: str) -> int:
        lines.append(f"({len(lines) + 1}) {text}")
        return len(lines)

    for v in record.variants:
        marks[v.name] = []
        if not v.ok:
            marks[v.name].append(add(f"{v.name}: {v.reason or 'no reason recorded'}"))
        if "plain" in v.vs_models or "teacher" in v.vs_models:
            if student_note is None:
                student_note = add(_student_note(v, record))
            marks[v.name].append(student_note)
        if (control := v.vs_models.get("control")) is not None:
            text = (control.note if control.reference else control.reason) or f"{v.name}: {control.label}"
            marks[v.name].append(control_notes.get(text) or control_notes.setdefault(text, add(text)))
        if v.source_model is not None and v.source_model.role == "control":
            marks[v.name].append(add(f"{v.name}: {Path(v.source_model.path or '').name or v.source_model.name}, the "
                                     "like-for-like control of the pruned rows (the run's model fine-tuned as long, "
                                     "unpruned), at FP32; its mAP drop, %FP32 and agree are against the fp32 row"))
        if v.source_model is not None and v.source_model.role == "teacher":
            s = v.source_model
            arch = f" ({s.arch})" if s.arch else ""
            file = Path(s.path or "").name or s.name
            marks[v.name].append(add(
                f"{v.name}: {file}{arch}, the distillation teacher, at FP32: a different model run on the same "
                "frames with the same settings; its mAP drop, %FP32 and agree are against the fp32 row (a "
                "negative drop is better)"))
        validity = verdicts[v.name]
        if not validity.ok:
            marks[v.name].append(add(f"{v.name}: {validity.marks} {validity.words}: "
                                     f"{'; '.join(validity.reasons)}. Its speed figures are not to be trusted"))
    return marks, lines, student_note


def _status(v: Variant, validity: Validity, refs: Sequence[int]) -> str:
    word = {"ok": "ok", "skipped": "skip", "failed": "FAIL"}.get(v.status, v.status)
    parts = [word] + ([validity.marks] if validity.marks else []) + [f"({n})" for n in refs]
    return " ".join(parts)


def _legend(record: Record, columns: Sequence[Column]) -> list[str]:
    s = record.settings
    lines = []
    if s:
        threads = s.get("threads") or "the runtime's default"
        lines.append(f"mAP: conf>={s.get('conf')}, NMS IoU {s.get('iou')}, max {s.get('max_det')}/image. "
                     f"avg IoU and agree(ment with FP32 boxes): conf>={s.get('operating_conf')}, IoU>=0.5 "
                     f"matches. FPS and e2e: one frame end to end (decode excluded); inf: the inference call "
                     f"alone; {threads} inference threads.")
    batch = next((c.header[len("FPS@b"):] for c in columns if c.key == "fps_batch"), None)
    if batch is not None:
        lines.append(f"FPS@b{batch}: images per second at batch {batch} (one call: preprocess of {batch} frames, one "
                     f"inference, {batch} postprocesses), on the artifact exported with a static batch {batch}; "
                     f"mAP, drops and agree are scored by the batch-1 pass.")
    if not any(c.key == "w" for c in columns):
        lines.append("power and J/frame: not measured on this device (no power sensor was readable).")
    if (unparsed := unparsed_line(record)) is not None:
        lines.append(unparsed)
    lines.append(f"marks: C contended (threads waited for a CPU over {CONTENDED_WAIT_SHARE:.0%} of their ready "
                 f"time), T throttled (a clock fell or sat under {CLOCK_FLOOR:.0%} of its maximum), U unstable "
                 f"(its time blocks spread beyond {DEFAULT_FACTOR:g}x).")
    return lines


UNPARSED_SHOWN = 6
"""At most this many field names in the unparsed-telemetry line (the rest as ``+N more``)."""
_TEXT_SOURCES = ("tegrastats",)  # the sources that parse a tool's printed text: the ones that count what they could not


def _unparsed_of(tel: Mapping) -> dict[str, dict[str, int]]:
    """Source -> field -> count of one row's telemetry: per source where the record keeps it there, else the
    summary's merged ``unparsed_fields`` under the text source(s) the row sampled (``telemetry`` if none)."""
    sources = tel.get("sources") if isinstance(tel.get("sources"), Mapping) else {}
    out: dict[str, dict[str, int]] = {}
    for name, info in sources.items():
        if isinstance(info, Mapping) and isinstance(info.get("unparsed_fields"), Mapping):
            out[str(name)] = dict(info["unparsed_fields"])
    merged = tel.get("unparsed_fields")
    if not out and isinstance(merged, Mapping) and merged:
        out["/".join(n for n in _TEXT_SOURCES if n in sources) or "telemetry"] = dict(merged)
    return out


def unparsed_line(record: Record) -> str | None:
    """One line naming the telemetry values a source printed but bench could not parse, merged over the rows.

    None when no row has any. Such values are never shown as measurements; the line says they existed
    (a newer JetPack's tegrastats field, say), most frequent first, at most :data:`UNPARSED_SHOWN` names.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> tel = {"sources": {"tegrastats": {}}, "unparsed_fields": {"NEWENG": 3, "(line)": 1}}
        >>> unparsed_line(NS(variants=[NS(telemetry=tel), NS(telemetry=None)]))
        'telemetry: 4 values not understood (tegrastats: NEWENG x3, (line) x1) — not shown as measurements'
    """
    totals: dict[str, dict[str, int]] = {}
    for v in record.variants:
        for source, fields in _unparsed_of(v.telemetry or {}).items():
            into = totals.setdefault(source, {})
            for name, count in fields.items():
                if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                    into[str(name)] = into.get(str(name), 0) + count
    pairs = sorted(((-c, s, f) for s, fields in totals.items() for f, c in fields.items()))
    if not pairs:
        return None
    shown: dict[str, list[str]] = {}
    for neg, source, name in pairs[:UNPARSED_SHOWN]:
        shown.setdefault(source, []).append(f"{name} x{-neg}")
    listed = "; ".join(f"{source}: {', '.join(items)}" for source, items in shown.items())
    more = f", +{len(pairs) - UNPARSED_SHOWN} more" if len(pairs) > UNPARSED_SHOWN else ""
    total = -sum(neg for neg, _, _ in pairs)
    return (f"telemetry: {total} value{'s' if total != 1 else ''} not understood ({listed}{more}) — not shown as "
            "measurements")


# ------------------------------------------------------------------ the table

def _measured(record: Record, needs: str | None) -> bool:
    if needs == "accuracy":
        return any(v.accuracy is not None and v.accuracy.map50_95 is not None for v in record.variants)
    if needs == "power":
        return any(_num(((v.telemetry or {}).get("power") or {}).get("mean_w")) is not None for v in record.variants)
    if needs == "batch":
        return _batch_of(record) is not None
    return True


def _batch_of(record: Record) -> int | None:
    """The run's throughput batch N (> 1) when any row measured it, else None."""
    sizes = [v.timing.batch.batch for v in record.variants if v.timing is not None and v.timing.batch is not None]
    return max(sizes) if sizes else None


def _with_batch(columns: Sequence[Column], batch: int | None) -> tuple[Column, ...]:
    """The FPS@bN column named for the run's N."""
    if batch is None:
        return tuple(columns)
    return tuple(replace(c, header=f"FPS@b{batch}", terminal=f"FPS\n@b{batch}",
                         definition=c.definition.replace("batch N", f"batch {batch}").replace(" N ", f" {batch} "))
                 if c.key == "fps_batch" else c for c in columns)


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
    marks, notes, student_note = _notes(record, verdicts)
    rows = []
    for v in record.variants:
        cells = _cells(v, reference)
        cells["status"] = _status(v, verdicts[v.name], marks[v.name])
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
    return RunTable(title, columns, tuple(rows), tuple(notes), tuple(_legend(record, columns)),
                    answer(record, max_drop=max_drop, factor=factor))


def rich_table(table: RunTable, columns: Sequence[Column] | None = None):
    """The rich Table of ``table`` with ``columns`` (default: all)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    columns = tuple(columns or table.columns)
    out = Table(title=table.title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                collapse_padding=True, padding=(0, 1))
    body = [table.cells(row, columns) for row in table.rows]
    for i, c in enumerate(columns):
        # numbers are never cut: a right-aligned column keeps its widest cell; when the table still does not
        # fit, the text columns (variant, status) wrap instead
        widest = max((len(cells[i]) for cells in body), default=0)
        if c.right:
            out.add_column(c.terminal, justify="right", no_wrap=True, min_width=widest)
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


def _width(renderable) -> int:
    from rich.console import Console

    console = Console(width=1000, record=True, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return max((len(line.rstrip()) for line in console.export_text().splitlines()), default=0)


def fit(table: RunTable, width: int) -> tuple[tuple[Column, ...], tuple[Column, ...]]:
    """The columns that fit ``width`` characters, and those left out (in the order they go)."""
    kept = list(table.columns)
    dropped: list[Column] = []
    order = sorted((c for c in kept if c.leave_out is not None), key=lambda c: c.leave_out)
    while _width(rich_table(table, kept)) > width and order:
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
