"""Terminal rendering (rich) of ``bench history`` and ``bench compare``.

Functions build rich renderables; :mod:`results.cli` prints them.
"""

from __future__ import annotations

from collections.abc import Sequence

from results import format as fmt
from results.archive import RunRef
from results.compare import SPEED, Comparison, Mark

__all__ = ["comparison_table", "history_table", "rule_line", "variant_notes", "verdict_line"]

STYLES = {Mark.WORSE: "bold red", Mark.NEW_FAILURE: "bold red", Mark.BETTER: "green", Mark.FIXED: "green",
          Mark.UNSURE: "yellow", Mark.NOISY: "yellow", Mark.LOAD: "yellow", Mark.SMALL: "",
          Mark.NOT_COMPARABLE: "magenta", Mark.FAILED: "red", Mark.SKIPPED: "dim",
          Mark.REMOVED: "dim", Mark.ADDED: "cyan", Mark.SAME: ""}


def _table(title: str):
    from rich import box
    from rich.table import Table

    # min_width: a title longer than the columns widens the table rather than wrapping (a narrower
    # terminal still wraps it)
    return Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False,
                 collapse_padding=True, padding=(0, 1), min_width=len(title))


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


def comparison_table(c: Comparison):
    """Per-variant verdicts and metric changes of one comparison.

    Words only for what was judged (a change beyond the factor and significant, or a status
    change); every other change is a compact ``~`` with its ratio. A variant whose candidate row
    is marked by :func:`results.validity.verdict` carries the same marks as the run table.
    """
    from rich.text import Text

    title = (f"{c.base.model} on {c.base.device}: {c.base.release} ({c.base.run_id}) -> "
             f"{c.candidate.release} ({c.candidate.run_id})")
    if c.candidate.device != c.base.device or c.candidate.model != c.base.model:
        title += f" [{c.candidate.model} on {c.candidate.device}]"
    table = _table(title)
    table.add_column("", no_wrap=True)
    table.add_column("Variant", no_wrap=True)
    table.add_column("Verdict", no_wrap=True)
    # leave out metrics neither run measured for any variant (e.g. accuracy without ground truth)
    metrics = tuple(m for m in ("fps", "p50_ms", "p99_ms", "map50_95", "avg_iou", "batch_fps")
                    if any((x := v.metric(m)) and (x.base is not None or x.candidate is not None)
                           for v in c.variants)) or ("fps",)
    for metric in metrics:
        table.add_column(fmt.METRIC_LABELS[metric], justify="right")
    for v in c.variants:
        style = STYLES[v.mark] if v.mark.judged else ""
        cells = []
        for metric in metrics:
            m = v.metric(metric)
            if m is None or (m.base is None and m.candidate is None):
                cells.append(Text(fmt.DASH))
            elif m.mark.judged and m.mark is not Mark.NOT_COMPARABLE:
                # "base→candidate" over the change (and the block test's p), coloured by the verdict
                p = f" p={m.p_value:.2g}" if m.p_value is not None else ""
                cells.append(Text(f"{fmt.value(m.metric, m.base)}→{fmt.value(m.metric, m.candidate)}\n"
                                  f"{fmt.change(m)}{p}", style=STYLES[m.mark]))
            else:
                cells.append(Text(f"~ {fmt.change(m)}" if m.change is not None else fmt.DASH, style="dim"))
        marks = v.validity_candidate.marks if v.validity_candidate is not None else ""
        name = f"{v.name} [{marks}]" if marks else v.name
        verdict = v.mark.value if v.mark.judged else "~"
        table.add_row(Text(v.mark.symbol if v.mark.judged else "~", style=style), name, Text(verdict, style=style),
                      *cells)
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
