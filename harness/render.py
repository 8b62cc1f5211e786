"""Terminal rendering of a run record: the one table a user reads after ``bench run``.

Only this module (and the CLI) prints. A value that was not measured is shown as ``—``, never 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from results.format import NOT_COMPARABLE, not_comparable_detail

DASH = "—"


def _num(value, fmt: str) -> str:
    return DASH if value is None else format(value, fmt)


def _get(d: Mapping | None, *keys):
    for k in keys:
        if not isinstance(d, Mapping):
            return None
        d = d.get(k)
    return d


def _size_mb(variant: Mapping) -> str:
    size = _get(variant, "artifact", "artifact", "size_bytes")
    return DASH if size is None else f"{size / 1e6:.1f}"


def _drop(variant: Mapping) -> str:
    vs = variant.get("vs_reference") or {}
    if vs.get("reference") == variant.get("name"):
        return "reference"
    plain = _get(variant, "vs_models", "plain")
    if plain is not None:  # a student: its drop column is against the same-size plain model's FP32
        if plain.get("reference") is None:
            return NOT_COMPARABLE if not_comparable_detail(plain.get("reason")) is not None else DASH
        vs = plain
    return _drop_text(vs)


def _drop_text(vs: Mapping) -> str:
    drop = vs.get("map_drop_points")
    if drop is None:
        return DASH
    ci = vs.get("map_drop_ci95")
    text = f"{drop:+.2f}"
    if ci and None not in ci:
        text += f" [{ci[0]:+.1f},{ci[1]:+.1f}]"
    return text


def _pct(variant: Mapping) -> str:
    plain = _get(variant, "vs_models", "plain")
    vs = plain if plain is not None else (variant.get("vs_reference") or {})
    return _num(vs.get("map_pct_of_reference"), ".1f")


def _ratio(value) -> str:
    return DASH if value is None else f"{value:.2f}x"


def _notes(record: Mapping) -> tuple[dict[str, list[int]], list[str]]:
    """Footnotes in table order: why a row was skipped or failed, what a student's and the teacher's rows
    are measured against. Returns ``({variant name: [note numbers]}, lines)``."""
    marks: dict[str, list[int]] = {}
    lines: list[str] = []
    student_note = None
    for v in record.get("variants", []):
        name = v.get("name", "?")
        marks[name] = []
        if v.get("status") != "ok":
            lines.append(f"({len(lines) + 1}) {name}: {v.get('reason') or 'no reason recorded'}")
            marks[name].append(len(lines))
        if v.get("vs_models"):
            if student_note is None:
                lines.append(f"({len(lines) + 1}) {_student_note(v, record)}")
                student_note = len(lines)
            marks[name].append(student_note)
        source = v.get("source_model") or {}
        if source.get("role") == "teacher":
            arch = f" ({source['arch']})" if source.get("arch") else ""
            file = Path(source.get("path") or "").name or source.get("name")
            lines.append(f"({len(lines) + 1}) {name}: {file}{arch}, the "
                         "distillation teacher, at FP32: a different model run on the same frames with the same "
                         "settings; its mAP drop, %FP32 and agree are against the fp32 row (a negative drop is better)")
            marks[name].append(len(lines))
    return marks, lines


def _student_note(v: Mapping, record: Mapping) -> str:
    plain, teacher = _get(v, "vs_models", "plain") or {}, _get(v, "vs_models", "teacher") or {}
    source = v.get("source_model") or {}
    who = source.get("name") or "the student"
    model = record.get("model") or {}
    if plain.get("reference"):
        first = (f"student rows ({who}): mAP drop and %FP32 against the same-size plain model's FP32 (the fp32 row, "
                 f"{model.get('name', '?')})")
        if plain.get("note"):
            first += f" — {plain['note']}"
    elif (detail := not_comparable_detail(plain.get("reason"))) is not None:
        first = f"student rows ({who}): mAP drop not comparable with a same-size plain model's FP32 ({detail})"
    else:
        first = f"student rows ({who}): no drop against the same-size plain FP32: {plain.get('reason') or 'not measured'}"
    teacher_model = teacher.get("model") or {}
    if teacher.get("reference"):
        second = (f"'└ vs teacher': against the teacher's FP32 (the {teacher['reference']} row, "
                  f"{teacher_model.get('name', '?')}): mAP drop [95% CI], % of the teacher's mAP50-95 in %FP32, "
                  "and FPS as student / teacher")
        if teacher.get("note"):
            second += f" — {teacher['note']}"
    else:
        second = f"'└ vs teacher' is empty: {teacher.get('reason') or 'not measured'}"
    return f"{first}; {second}."


def _measured(record: Mapping, *path) -> bool:
    return any(_get(v, *path) is not None for v in record.get("variants", []))


def run_table(record: Mapping):
    """Build the rich Table of one run record (one row per variant, failed and skipped included).

    Columns a run did not measure at all (power on a machine without a power sensor, accuracy
    without ground truth) are left out rather than filled with dashes; skip and failure reasons
    are footnotes (see :func:`footnotes`).

    Example:
        >>> t = run_table({"variants": [], "model": {"name": "m"}, "device": {"profile": "cpu"},
        ...                "data": {"kind": "images", "count": 0}})
        >>> t.row_count
        0
    """
    from rich.table import Table

    model = record.get("model") or {}
    data = record.get("data") or {}
    formats = sorted({v.get("format", "?") for v in record.get("variants", [])})
    title = (f"{model.get('name', '?')} on {_get(record, 'device', 'profile') or '?'} ({'/'.join(formats)}) — "
             f"{data.get('count', '?')} {'frames' if data.get('kind') == 'video' else 'images'}"
             f"{'' if data.get('with_ground_truth', True) else ', no ground truth: agreement with FP32 only'}")
    from rich import box

    table = Table(title=title, title_justify="left", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True,
                  padding=(0, 1))
    with_acc = _measured(record, "accuracy", "map50_95")
    with_power = _measured(record, "telemetry", "power", "mean_w")
    columns = [("variant", "left"), ("MB", "right"), ("FPS", "right"), ("p50 ms", "right"), ("p99 ms", "right")]
    if with_acc:
        columns += [("mAP50-95", "right"), ("mAP drop [95% CI]", "right"), ("%FP32", "right"), ("avg IoU", "right")]
    columns += [("agree", "right")]
    if with_power:
        columns += [("W", "right"), ("J/frame", "right")]
    columns += [("status", "left")]
    for name, justify in columns:
        table.add_column(name, justify=justify, no_wrap=True)
    marks, _ = _notes(record)
    for v in record.get("variants", []):
        timing = v.get("timing") or {}
        acc = v.get("accuracy") or {}
        vs = v.get("vs_reference") or {}
        tel = v.get("telemetry") or {}
        status = v.get("status", "?")
        refs = "".join(f" ({n})" for n in marks.get(v.get("name", "?"), []))
        if status == "ok":
            status_text = f"[green]ok[/]{refs}"
        else:
            status_text = f"[{'yellow' if status == 'skipped' else 'red'}]{'skip' if status == 'skipped' else 'FAIL'}{refs}[/]"
        row = [v.get("name", "?"), _size_mb(v), _num(timing.get("fps"), ".1f"),
               _num(_get(timing, "end_to_end", "p50_ms"), ".2f"), _num(_get(timing, "end_to_end", "p99_ms"), ".2f")]
        if with_acc:
            row += [_num(acc.get("map50_95"), ".3f"), _drop(v), _pct(v), _num(acc.get("avg_iou_per_frame"), ".3f")]
        row += [_num(vs.get("agreement_mean_iou"), ".3f")]
        if with_power:
            row += [_num(_get(tel, "power", "mean_w"), ".1f"), _num(tel.get("energy_per_frame_j"), ".3f")]
        row += [status_text]
        table.add_row(*row)
        teacher = _get(v, "vs_models", "teacher")
        if teacher is not None:  # the student against its teacher's FP32, on a line of its own
            sub = ["  └ vs teacher", "", _ratio(teacher.get("fps_ratio")), "", ""]
            if with_acc:
                sub += ["", _drop_text(teacher), _num(teacher.get("map_pct_of_reference"), ".1f"), ""]
            sub += [""]
            if with_power:
                sub += ["", ""]
            sub += [f"[dim]{refs.strip()}[/]"]
            table.add_row(*sub, style="dim" if teacher.get("reference") is None else None)
    return table


def footnotes(record: Mapping) -> list[str]:
    """Numbered lines under the table: why a variant was skipped or failed, and what a distilled student's
    rows (and the teacher's row) are measured against (numbered as in the status column)."""
    return _notes(record)[1]


def make_console():
    """A rich console; logs and pipes (CI) get 140 columns unless COLUMNS says otherwise."""
    import os

    from rich.console import Console

    console = Console()
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console = Console(width=140)
    return console


def print_run(record: Mapping, *, console=None, archived_at: str | None = None) -> None:
    """Print the run table and where the record went."""
    console = console or make_console()
    console.print(run_table(record))
    notes = footnotes(record)
    settings = record.get("settings") or {}
    if settings:
        threads = settings.get("threads") or "the runtime's default"
        notes.append(f"mAP: conf>={settings.get('conf')}, NMS IoU {settings.get('iou')}, max {settings.get('max_det')}/image. "
                     f"avg IoU and agree(ment with FP32 boxes): conf>={settings.get('operating_conf')}, IoU>=0.5 matches. "
                     f"FPS, p50, p99: one frame end to end (decode excluded), {threads} inference threads.")
        if not _measured(record, "telemetry", "power", "mean_w"):
            notes.append("power and J/frame: not measured on this device (no power sensor was readable).")
    if archived_at:
        notes.append(f"record: {archived_at}")
    for n in notes:
        console.print(f"[dim]{n}[/]")


class _RunProgress:
    """Progress bars for a run: one task per variant stage (export, calibration, warm-up, timing, scoring)."""

    def __init__(self, progress):
        self._progress = progress
        self._tasks: dict[tuple[str, str], int] = {}

    def callback(self, variant: str):
        def update(event: dict) -> None:
            if self._progress is None:
                return
            stage = str(event.get("stage", "?"))
            key = (variant, stage)
            total, done = event.get("total"), event.get("done", 0)
            if key not in self._tasks:
                self._tasks[key] = self._progress.add_task(f"{variant}: {stage}", total=total)
            self._progress.update(self._tasks[key], completed=done, total=total)

        return update

    def __enter__(self):
        if self._progress is not None:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False


def progress(*, quiet: bool = False) -> _RunProgress:
    """A context manager with progress bars on stderr (none when ``quiet``, e.g. with ``--json``)."""
    if quiet:
        return _RunProgress(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return _RunProgress(Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True))
