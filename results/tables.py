"""Terminal rendering (rich) of ``bench history`` and ``bench compare``.

Functions build rich renderables; :mod:`results.cli` prints them.
"""

from __future__ import annotations

from collections.abc import Sequence

from results import format as fmt
from results.archive import RunRef
from results.compare import SPEED, Comparison, Mark

__all__ = ["comparison_fit", "comparison_table", "history_table", "rule_line", "variant_notes", "verdict_line"]

STYLES = {Mark.WORSE: "bold red", Mark.NEW_FAILURE: "bold red", Mark.BETTER: "green", Mark.FIXED: "green",
          Mark.UNSURE: "yellow", Mark.NOISY: "yellow", Mark.LOAD: "yellow", Mark.SMALL: "",
          Mark.NOT_COMPARABLE: "magenta", Mark.FAILED: "red", Mark.SKIPPED: "dim",
          Mark.REMOVED: "dim", Mark.ADDED: "cyan", Mark.SAME: ""}


LEAVE_OUT = ("avg_iou", "p99_ms", "batch_fps", "p50_ms", "map50_95")
"""The compare table's metric columns in the order they are left out when the terminal is too narrow
(FPS always stays); a column with a judged change goes only after every unjudged one."""


def _table(title: str, *, widen: bool = True):
    from rich import box
    from rich.table import Table

    # min_width: a title longer than the columns widens the table rather than wrapping (a narrower
    # terminal still wraps it); widen=False measures the columns alone
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                 collapse_padding=True, padding=(0, 1), min_width=len(title) if widen else None)


def history_table(refs: Sequence[RunRef]):
    """One row per readable run, grouped by release in archive order (the run id is the UTC start time)."""
    table = _table("Archived runs")
    for name, justify in (("Release", "left"), ("Run (UTC time-id)", "left"), ("Device", "left"),
                          ("Model", "left"), ("Variants", "left"), ("Fastest (FPS)", "right")):
        table.add_column(name, justify=justify, no_wrap=name.startswith("Run"), overflow="fold")
    previous = None
    for ref in refs:
        record = ref.record
        timed = [v for v in record.variants if v.ok and v.timing and v.timing.fps is not None]
        best = max(timed, key=lambda v: v.timing.fps, default=None)
        table.add_row(ref.release if ref.release != previous else "", ref.run_id, ref.device, ref.model,
                      fmt.status_counts(record.variants),
                      f"{best.name} {fmt.fps(best.timing.fps)}" if best else fmt.DASH)
        previous = ref.release
    return table


def comparison_table(c: Comparison, width: int | None = None):
    """Per-variant verdicts and metric changes of one comparison (the rich Table of :func:`comparison_fit`)."""
    return comparison_fit(c, width)[0]


def comparison_fit(c: Comparison, width: int | None = None) -> tuple[object, tuple[str, ...]]:
    """The comparison's rich Table fitted to ``width`` columns, and the labels of the metric columns left out.

    Words only for what was judged (a change beyond the factor and significant, or a status
    change); every other change is a compact ``~`` with its ratio. A variant whose candidate row
    is marked by :func:`results.validity.verdict` carries the same marks as the run table. No number
    is ever cut: a judged cell prints ``base→candidate``, the change and its p on lines of their own, each
    column as wide as its widest line; when that does not fit ``width``, whole metric columns are left
    out (:data:`LEAVE_OUT`) and named by the caller.
    """
    metrics = [m for m in ("fps", "p50_ms", "p99_ms", "map50_95", "avg_iou", "batch_fps")
               if any((x := v.metric(m)) and (x.base is not None or x.candidate is not None)
                      for v in c.variants)] or ["fps"]  # metrics neither run measured (accuracy without GT) go
    cells = {m: [_cell(v.metric(m)) for v in c.variants] for m in metrics}
    judged = {m for m in metrics if any((x := v.metric(m)) and x.mark.judged and x.mark is not Mark.NOT_COMPARABLE
                                        for v in c.variants)}
    order = [m for m in LEAVE_OUT if m in metrics and m not in judged] + [m for m in LEAVE_OUT if m in judged]
    dropped: list[str] = []
    if width is not None:
        from results.render import measured_width

        while measured_width(_build(c, metrics, cells, widen=False)) > width and order:
            m = order.pop(0)
            metrics.remove(m)
            dropped.append(fmt.METRIC_LABELS[m])
    return _build(c, metrics, cells), tuple(dropped)


def _cell(m) -> tuple[str, str]:
    """``(text, style)`` of one metric cell; a judged one on up to three lines (values, change, p)."""
    if m is None or (m.base is None and m.candidate is None):
        return fmt.DASH, ""
    if m.mark.judged and m.mark is not Mark.NOT_COMPARABLE:
        p = f"\np={m.p_value:.2g}" if m.p_value is not None else ""
        return f"{fmt.value(m.metric, m.base)}→{fmt.value(m.metric, m.candidate)}\n{fmt.change(m)}{p}", STYLES[m.mark]
    return (f"~ {fmt.change(m)}" if m.change is not None else fmt.DASH), "dim"


def _build(c: Comparison, metrics: Sequence[str], cells: dict, *, widen: bool = True):
    from rich.text import Text

    title = (f"{c.base.model} on {c.base.device}: {c.base.release} ({c.base.run_id}) -> "
             f"{c.candidate.release} ({c.candidate.run_id})")
    if c.candidate.device != c.base.device or c.candidate.model != c.base.model:
        title += f" [{c.candidate.model} on {c.candidate.device}]"
    table = _table(title, widen=widen)
    table.add_column("", no_wrap=True)
    table.add_column("Variant", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    for metric in metrics:
        widest = max((len(line) for text, _ in cells[metric] for line in text.splitlines()), default=0)
        table.add_column(fmt.METRIC_LABELS[metric], justify="right", no_wrap=True, min_width=widest)
    for i, v in enumerate(c.variants):
        style = STYLES[v.mark] if v.mark.judged else ""
        marks = v.validity_candidate.marks if v.validity_candidate is not None else ""
        name = f"{v.name} [{marks}]" if marks else v.name
        verdict = v.mark.value if v.mark.judged else "~"
        table.add_row(Text(v.mark.symbol if v.mark.judged else "~", style=style), name, Text(verdict, style=style),
                      *(Text(cells[m][i][0], style=cells[m][i][1]) for m in metrics))
    return table


def rule_line(c: Comparison) -> str:
    """The speed rule this comparison applied, with its numbers (printed under the table)."""
    t = c.thresholds
    return (f"speed: worse/better only when beyond the factor {t.factor:g} and significant (p: Mann-Whitney U "
            f"on {t.blocks} time blocks per run, < {t.alpha:g}); ~ = anything else (within the factor, not "
            "significant, too noisy, or explained by load or throttling; --json gives each verdict); "
            f"accuracy: mAP50-95 beyond {t.map_threshold:g} points, avg IoU beyond {t.iou_threshold:g}")


def variant_notes(c: Comparison) -> list[str]:
    """Why variants without metrics are listed (skipped, failed, added, removed), why a speed change
    was judged on weaker evidence than usual, and, after a ``~``, why a change beyond the factor was
    not judged; a candidate row marked invalid (C, T, U) says why."""
    notes = [f"{v.name} {v.mark.value}: {v.note}" for v in c.variants if not v.metrics and v.note]
    for v in c.variants:
        for m in v.metrics:
            if m.note and m.metric in SPEED and m.mark not in (Mark.NOT_COMPARABLE, Mark.SMALL, Mark.SAME):
                lead = "" if m.mark.judged else "~ "
                notes.append(f"{lead}{v.name} {fmt.METRIC_LABELS[m.metric]} {fmt.change(m)}: {m.note}")
        if v.validity_candidate is not None and not v.validity_candidate.ok:
            x = v.validity_candidate
            notes.append(f"{v.name} [{x.marks}] {x.words} in the candidate run: {'; '.join(x.reasons)}")
    return notes


def verdict_line(comparisons: Sequence[Comparison]) -> str:
    """One line summing up all comparisons (what CI logs show)."""
    regressed = [f"{v.name} ({c.base.device}/{c.base.model}: {_why(v)})"
                 for c in comparisons for v in c.regressions]
    if regressed:
        return "REGRESSION: " + "; ".join(regressed)
    if not any(c.comparable for c in comparisons):
        return "NOT COMPARABLE: " + "; ".join(c.reason for c in comparisons if c.reason)
    unresolved = [f"{v.name} {fmt.METRIC_LABELS[m.metric]} {fmt.change(m)}"
                  for c in comparisons for v in c.variants for m in v.metrics if m.mark.unresolved]
    if unresolved:
        return "no regression; ~ beyond the factor but not judged: " + ", ".join(unresolved)
    return "no regression"


def _why(v) -> str:
    if v.mark is Mark.NEW_FAILURE:
        return f"new failure: {v.note}"
    return ", ".join(f"{fmt.METRIC_LABELS[m.metric]} {fmt.change(m)}" for m in v.metrics if m.mark is Mark.WORSE)
