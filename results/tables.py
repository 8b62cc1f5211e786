"""Terminal rendering (rich) of ``bench history`` and ``bench compare``.

Functions build rich renderables; :mod:`results.cli` prints them.
"""

from __future__ import annotations

from collections.abc import Sequence

from results import format as fmt
from results.archive import RunRef
from results.compare import Comparison, Mark

__all__ = ["comparison_table", "history_table", "verdict_line"]

STYLES = {Mark.WORSE: "bold red", Mark.NEW_FAILURE: "bold red", Mark.BETTER: "green", Mark.FIXED: "green",
          Mark.UNSURE: "yellow", Mark.NOT_COMPARABLE: "magenta", Mark.FAILED: "red", Mark.SKIPPED: "dim",
          Mark.REMOVED: "dim", Mark.ADDED: "cyan", Mark.SAME: ""}


def history_table(refs: Sequence[RunRef]):
    """One row per readable run, grouped by release in archive order."""
    from rich.table import Table

    table = Table(title="Archived runs", title_justify="left", show_lines=False)
    for name, justify in (("Release", "left"), ("Run", "left"), ("Created (UTC)", "left"), ("Device", "left"),
                          ("Model", "left"), ("Variants", "left"), ("Fastest", "right")):
        table.add_column(name, justify=justify, no_wrap=name in ("Run", "Created (UTC)"))
    previous = None
    for ref in refs:
        record = ref.record
        timed = [v for v in record.variants if v.ok and v.timing and v.timing.fps is not None]
        best = max(timed, key=lambda v: v.timing.fps, default=None)
        table.add_row(ref.release if ref.release != previous else "", ref.run_id,
                      record.created_utc.replace("T", " ").rstrip("Z"), ref.device, ref.model,
                      fmt.status_counts(record.variants),
                      f"{best.name} {fmt.fps(best.timing.fps)} FPS" if best else fmt.DASH)
        previous = ref.release
    return table


def comparison_table(c: Comparison):
    """Per-variant marks and metric changes of one comparison."""
    from rich.table import Table
    from rich.text import Text

    title = (f"{c.base.model} on {c.base.device}: {c.base.release} ({c.base.run_id}) -> "
             f"{c.candidate.release} ({c.candidate.run_id})")
    if c.candidate.device != c.base.device or c.candidate.model != c.base.model:
        title += f" [{c.candidate.model} on {c.candidate.device}]"
    table = Table(title=title, title_justify="left")
    table.add_column("", no_wrap=True)
    table.add_column("Variant", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    metrics = ("fps", "p50_ms", "p99_ms", "map50_95", "avg_iou")
    for metric in metrics:
        table.add_column(fmt.METRIC_LABELS[metric], justify="right")
        if metric == "p50_ms":
            table.add_column("p (MWU)", justify="right")
    for v in c.variants:
        style = STYLES[v.mark]
        cells = []
        for metric in metrics:
            m = v.metric(metric)
            cells.append(Text(fmt.metric_cell(m), style=STYLES[m.mark] if m else ""))
            if metric == "p50_ms":
                cells.append(Text(fmt.p_value(m)))
        if not v.metrics:
            cells = [Text(v.note or fmt.DASH, style="dim")] + [Text("")] * len(metrics)
        table.add_row(Text(v.mark.symbol, style=style), v.name, Text(v.mark.value, style=style), *cells)
    return table


def verdict_line(comparisons: Sequence[Comparison]) -> str:
    """One line summing up all comparisons (what CI logs show)."""
    regressed = [f"{v.name} ({c.base.device}/{c.base.model}: {_why(v)})"
                 for c in comparisons for v in c.regressions]
    if regressed:
        return "REGRESSION: " + "; ".join(regressed)
    if not any(c.comparable for c in comparisons):
        return "NOT COMPARABLE: " + "; ".join(c.reason for c in comparisons if c.reason)
    return "no regression"


def _why(v) -> str:
    if v.mark is Mark.NEW_FAILURE:
        return f"new failure: {v.note}"
    return ", ".join(f"{fmt.METRIC_LABELS[m.metric]} {fmt.change(m)}" for m in v.metrics if m.mark is Mark.WORSE)
