"""The run table's footnotes and legend: what each row's status refers to and what the columns mean.

The notes side of :mod:`results.render` (which re-exports :func:`unparsed_line` and
:data:`UNPARSED_SHOWN`): failed and skipped rows' reasons, the student, teacher and control notes,
the validity marks with their numbers, and the line naming telemetry values bench could not parse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from results import format as fmt
from results.render_cells import Column
from results.schema import Record, Variant
from results.stats import DEFAULT_FACTOR
from results.validity import CLOCK_FLOOR, CONTENDED_WAIT_SHARE, Validity

__all__ = ["UNPARSED_SHOWN", "unparsed_line"]


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


def _notes(record: Record) -> tuple[dict[str, list[int]], list[str], int | None]:
    """Footnotes in table order; ``({variant: [note numbers]}, lines, the student note's number)``. A row's
    speed marks are not footnotes: their figures are on one line of the legend (:func:`_marked`)."""
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
            of = [x.name for x in record.variants if (c := x.vs_models.get("control")) is not None
                  and c.reference == v.name] or ["the pruned rows"]
            marks[v.name].append(add(f"{v.name}: {Path(v.source_model.path or '').name or v.source_model.name}, the "
                                     f"like-for-like control of {', '.join(of)} (the run's model fine-tuned as long, "
                                     "unpruned, without a teacher), at FP32; its mAP drop, %FP32 and agree are against "
                                     "the fp32 row"))
        if v.source_model is not None and v.source_model.role == "teacher":
            s = v.source_model
            arch = f" ({s.arch})" if s.arch else ""
            file = Path(s.path or "").name or s.name
            marks[v.name].append(add(
                f"{v.name}: {file}{arch}, the distillation teacher, at FP32: a different model run on the same "
                "frames with the same settings; its mAP drop, %FP32 and agree are against the fp32 row (a "
                "negative drop is better)"))
    return marks, lines, student_note


def _status(v: Variant, validity: Validity, refs: Sequence[int], batch: Validity | None = None) -> str:
    """``ok CU (1,2)``; a batch pass judged on its own adds its marks after its batch (``ok @b8 C (1)``)."""
    word = {"ok": "ok", "skipped": "skip", "failed": "FAIL"}.get(v.status, v.status)
    marks = [validity.marks] if validity.marks else []
    if batch is not None and batch.marks:
        marks.append(f"@b{v.timing.batch.batch} {batch.marks}")
    parts = [word] + marks + ([f"({_refs(refs)})"] if refs else [])
    return " ".join(parts)  # several notes as one "(5,6)": the status cell stays on one line at 80 columns


def _refs(refs: Sequence[int]) -> str:
    """Note numbers for a status cell, three or more in a row as a range: ``5,6`` and ``7-9``, ``2,7-9``.

        >>> _refs([5, 6]), _refs([7, 8, 9]), _refs([2, 7, 8, 9, 12])
        ('5,6', '7-9', '2,7-9,12')
    """
    runs: list[list[int]] = []
    for n in refs:
        if runs and n == runs[-1][-1] + 1:
            runs[-1].append(n)
        else:
            runs.append([n])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) >= 3 else ",".join(map(str, r)) for r in runs)


def _marked(record: Record, verdicts: Mapping[str, Validity], batch_verdicts: Mapping[str, Validity]) -> str | None:
    """One line with each marked row's figures, after the marks' legend; None when no row is marked.

    A noisy host marks most rows: one note each repeated the same two sentences and pushed the status
    cells to two-digit note numbers that wrapped at 80 columns. The marks' definitions are said once
    (the ``marks:`` line); this line gives each row its numbers.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> from results.validity import Validity
        >>> rows = NS(variants=[NS(name="fp32", timing=None), NS(name="int8", timing=NS(batch=NS(batch=8)))])
        >>> _marked(rows, {"fp32": Validity(unstable=True, figures=("blocks 1.68x",)), "int8": Validity()},
        ...         {"int8": Validity(contended=True, figures=("wait 45%",))})
        "marked rows (their speed figures are not to be trusted): fp32 U (blocks 1.68x); int8's FPS@b8 C (wait 45%)"
    """
    parts = []
    for v in record.variants:
        if not (mine := verdicts.get(v.name, Validity())).ok:
            parts.append(f"{v.name} {mine.marks} ({', '.join(mine.figures)})")
        if not (batch := batch_verdicts.get(v.name, Validity())).ok:
            parts.append(f"{v.name}'s FPS@b{v.timing.batch.batch} {batch.marks} ({', '.join(batch.figures)})")
    return f"marked rows (their speed figures are not to be trusted): {'; '.join(parts)}" if parts else None


def _legend(record: Record, columns: Sequence[Column], marked: str | None = None) -> list[str]:
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
                 f"time; a wait share w alone stretches latency 1/(1-w)x), T throttled (a clock fell or sat under "
                 f"{CLOCK_FLOOR:.0%} of its maximum), U unstable "
                 f"(its time blocks spread beyond {DEFAULT_FACTOR:g}x: the 90th / 10th percentile of its block "
                 "medians).")
    if marked is not None:
        lines.append(marked)
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
