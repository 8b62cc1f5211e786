"""``bench report``: a Markdown file (for release notes) and a self-contained HTML page.

The report is built once as a list of blocks (headings, paragraphs, tables,
images) and rendered twice, so the Markdown and the HTML always say the same
thing. Plots are PNG files in ``<out>/plots/`` (the Markdown links them); the
HTML embeds the same PNGs as ``data:`` URIs, so ``report.html`` can be mailed or
attached to a CI run on its own. Every file is written atomically.

Example:
    >>> from results.archive import load_record                          # doctest: +SKIP
    >>> files = write_report([(load_record("run.json"), None)], Path("out"))  # doctest: +SKIP
    >>> files.html.name                                                   # doctest: +SKIP
    'report.html'
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from common.atomic import write_text_atomic
from results import format as fmt
from results import plots
from results.answer import DEFAULT_MAX_DROP, answer
from results.blocks import Bullets, Code, Heading, Image, Para, Table
from results.compare import Comparison, Mark
from results.render import run_table
from results.report_val import val_blocks
from results.schema import Record, Variant
from results.validity import batch_verdict, verdict

__all__ = ["ReportFiles", "render_html", "render_markdown", "run_blocks", "write_report"]


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report` wrote."""

    markdown: Path
    html: Path
    images: tuple[Path, ...]


def write_report(runs: Sequence[tuple[Record, Comparison | None]], out: Path, *,
                 title: str | None = None, max_drop: float = DEFAULT_MAX_DROP,
                 notes: Mapping[str, str] | None = None) -> ReportFiles:
    """Render plots, Markdown and HTML for one or more runs into ``out``.

    Args:
        runs: each run with its comparison against the previous release (or None).
        out: the output directory (created; ``report.md``, ``report.html``, ``plots/``).
        title: the page title; defaults to the release(s) reported.
        max_drop: the accuracy budget of the answer lines (mAP50-95 points, upper end of the CI).
        notes: per run id, why it has no baseline (e.g. no like-for-like run: :mod:`results.baseline`).

    Returns:
        The paths written.
    """
    out = Path(out)
    (out / "plots").mkdir(parents=True, exist_ok=True)
    releases = sorted({r.release for r, _ in runs})
    title = title or f"bench report — release {', '.join(releases)}"
    blocks: list = [Heading(1, title)]
    answers = [f"{r.model.name} on {r.device.profile}: {answer(r, max_drop=max_drop)}" for r, _ in runs]
    blocks.append(Bullets(tuple(answers)) if len(answers) > 1 else Para(answers[0]) if answers else Para("No runs."))
    images: list[Path] = []
    for record, comparison in runs:
        section, written = run_blocks(record, comparison, out=out, max_drop=max_drop,
                                      baseline_note=(notes or {}).get(record.run_id))
        blocks.extend(section)
        images.extend(written)
    md = write_text_atomic(out / "report.md", render_markdown(blocks))
    page = write_text_atomic(out / "report.html", render_html(blocks, out=out, title=title))
    return ReportFiles(md, page, tuple(images))


def run_blocks(record: Record, comparison: Comparison | None, *, out: Path,
               max_drop: float = DEFAULT_MAX_DROP, baseline_note: str | None = None) -> tuple[list, list[Path]]:
    """The blocks of one run's section, drawing its plots into ``out/plots``.

    The results table is the run table of :mod:`results.render` (the terminal's columns, every
    one of them, with the same definitions, footnotes and answer line)."""
    stem = f"{record.device.profile}-{record.model.name}"
    blocks: list = [Heading(2, f"{record.model.name} on {record.device.profile}")]
    commit = f", git {record.harness.git_commit[:10]}" if record.harness.git_commit else ""
    blocks.append(Para(f"Release {record.release}, run {record.run_id}, "
                       f"{record.created_utc.replace('T', ' ').rstrip('Z')} UTC, bench {record.harness.version}"
                       f"{commit}. Model {record.model.path} (SHA-256 {record.model.sha256[:12]}...). "
                       f"Data: {record.data.count} {record.data.kind if record.data.kind == 'images' else 'frames'}"
                       f" from {record.data.source}, "
                       f"{'with' if record.data.with_ground_truth else 'without'} ground truth."))
    table = run_table(record, max_drop=max_drop)
    blocks += [Heading(3, "Results"), Para(table.answer),
               Table(tuple(c.header for c in table.columns), tuple(table.cells(r) for r in table.rows),
                     tuple("bad" if not r.validity.ok else "" for r in table.rows))]
    if table.notes:
        blocks.append(Bullets(table.notes))
    blocks.append(Bullets(tuple(f"{c.header}: {c.definition}" for c in table.columns if c.definition)
                          + table.legend + (f"{fmt.DASH} means not measured.",)))
    blocks += _student_blocks(record)
    telemetry = _telemetry_table(record.variants)
    if telemetry is not None:
        blocks += [Heading(3, "Telemetry"), telemetry]
    problems = [v for v in record.variants if not v.ok]
    if problems:
        blocks += [Heading(3, "Skipped and failed"),
                   Bullets(tuple(f"{v.name}: {v.status} — {v.reason}" for v in problems))]
        for v in problems:
            if v.error_tail:
                blocks += [Para(f"{v.name} error (last lines):"), Code(v.error_tail)]
    drawn: list[tuple[Path, str]] = []
    plot_dir = out / "plots"
    for kind, draw, alt in (
            ("fps-vs-map", plots.fps_vs_map, "FPS vs mAP50-95 per variant, Pareto front marked"),
            ("latency", plots.latency_distributions, "inference latency distribution per variant"),
            ("iou-hist", plots.iou_histograms, "histogram of per-frame average IoU per variant"),
            ("iou-frames", plots.iou_per_frame, "average IoU per video frame per variant")):
        path = draw(record, plot_dir / f"{stem}-{kind}.png")
        if path is not None:
            drawn.append((path, alt))
    if drawn:
        blocks.append(Heading(3, "Plots"))
        blocks += [Image(p.relative_to(out).as_posix(), alt) for p, alt in drawn]
    images = [p for p, _ in drawn]
    section, written = val_blocks(record, out=out, stem=stem)
    blocks += section
    images += written
    blocks += [Heading(3, "Environment"), _environment_table(record)]
    if comparison is None and baseline_note:
        blocks += [Heading(3, "Baseline"), Para(baseline_note[0].upper() + baseline_note[1:] + ".")]
    if comparison is not None:
        blocks += _comparison_blocks(comparison)
        path = plots.comparison_bars(comparison, plot_dir / f"{stem}-vs-{comparison.base.release}.png")
        if path is not None:
            images.append(path)
            blocks.append(Image(path.relative_to(out).as_posix(),
                                f"FPS and mAP50-95 per variant, {comparison.base.release} vs "
                                f"{comparison.candidate.release}"))
    return blocks, images


def _drop_cell(r) -> str:
    return fmt.drop(r.map_drop_points, r.map_drop_ci95)


STUDENT_ROLES = (("plain", "the same-size plain model's FP32"), ("teacher", "the teacher's FP32"))


def _student_blocks(record: Record) -> list:
    """What distillation bought: each student row against the same-size plain model's and the teacher's FP32."""
    students = [v for v in record.variants if any(role in v.vs_models for role, _ in STUDENT_ROLES)]
    if not students:
        return []
    rows = []
    for v in students:
        for role, what in STUDENT_ROLES:
            vm = v.vs_models.get(role)
            if vm is None:
                continue
            model = (vm.model or {}).get("name") or (record.model.name if role == "plain" else fmt.DASH)
            measured = vm.reference is not None
            pct = vm.map_pct_of_reference
            rows.append((v.name, f"{vm.label} ({vm.reference} row)" if measured else vm.label, model,
                         _drop_cell(vm) if measured else fmt.DASH,
                         fmt.DASH if pct is None else f"{pct:.1f}",
                         fmt.DASH if vm.fps_ratio is None else f"{vm.fps_ratio:.2f}x",
                         vm.reason or vm.note or ""))
    teacher = next((v for v in record.variants if v.source_model and v.source_model.role == "teacher"), None)
    source = students[0].source_model
    intro = (f"The distilled student{f' {source.name}' if source else ''} against {STUDENT_ROLES[0][1]} (what "
             f"distillation itself bought; only when the run's model has the student's architecture) and against "
             f"{STUDENT_ROLES[1][1]}")
    intro += (f" ({teacher.source_model.name}, scored in this run as the '{teacher.name}' row with the same frames "
              "and settings)" if teacher else "")
    return [Heading(3, "Distilled student"),
            Para(intro + ". mAP drop in points (positive = the student is worse) with the 95% interval of a paired "
                 "bootstrap over images; % is the student's mAP50-95 as a share of the other model's; FPS ratio is "
                 f"the student's end-to-end FPS over the other model's. {fmt.DASH} means not measured, with the reason."),
            Table(("Variant", "Compared with", "Model", "mAP drop (pts, 95% CI)", "% of its mAP50-95", "FPS ratio",
                   "Note"), tuple(rows))]


TELEMETRY_ROWS: tuple[tuple[str, tuple[str, ...], float], ...] = (
    ("power, mean (W)", ("power", "mean_w"), 1.0),
    ("power, peak (W)", ("power", "peak_w"), 1.0),
    ("energy per frame (J)", ("energy_per_frame_j",), 1.0),
    ("FPS per watt", ("fps_per_watt",), 1.0),
    ("CPU use (% of one core)", ("process", "cpu_percent"), 1.0),
    ("CPU wait (% of ready time)", ("process", "cpu_wait_share"), 100.0),
    ("process memory, peak (MB)", ("process", "rss_mb_peak"), 1.0),
    ("system memory used, peak (MB)", ("system_memory", "used_mb_peak"), 1.0),
    ("GPU use, mean (%)", ("gpu", "gpu_util_pct_mean"), 1.0),
    ("GPU memory used, peak (MB)", ("gpu", "gpu_mem_used_mb_peak"), 1.0),
    ("GPU temperature, peak (°C)", ("gpu", "gpu_temp_c_peak"), 1.0),
)
"""What the report's telemetry table shows: (label with unit, path in ``telemetry``, scale)."""
CLOCK_NAMES = {"gpu_sm_mhz": "GPU SM clock", "gpu_mem_mhz": "GPU memory clock", "gpu_mhz": "GPU clock",
               "emc_mhz": "EMC (memory) clock", "cpu_max_mhz": "CPU clock, fastest core"}


def _at(tree, path: tuple[str, ...]):
    for key in path:
        if not hasattr(tree, "get"):
            return None
        tree = tree.get(key)
    return tree


def _telemetry_table(variants: Sequence[Variant]) -> Table | None:
    """What a user reads, with units: power, energy per frame, CPU use and wait, memory, clocks,
    temperatures, throttling and the row's validity; one column per variant that ran."""
    ran = [v for v in variants if v.ok and v.telemetry]
    if not ran:
        return None
    tel = [v.telemetry for v in ran]
    rows: list[tuple[str, ...]] = []
    for label, path, scale in TELEMETRY_ROWS:
        values = [_at(t, path) for t in tel]
        if any(_is_number(x) for x in values):
            rows.append((label, *_aligned([x * scale if _is_number(x) else None for x in values])))
    for key, name in CLOCK_NAMES.items():
        pairs = [(_at(t, ("clocks_before", key)), _at(t, ("clocks_after", key))) for t in tel]
        if any(_is_number(b) or _is_number(a) for b, a in pairs):
            rows.append((f"{name}, start -> end of window (MHz)",
                         *(f"{fmt.number(b, 4)} -> {fmt.number(a, 4)}" for b, a in pairs)))
    means = [[x for x in (_at(t, ("cpu_freq_mhz", "mean")) or ()) if _is_number(x)] for t in tel]
    if any(means):
        rows.append(("CPU clock, mean over cores and window (MHz)",
                     *(fmt.number(sum(m) / len(m), 4) if m else fmt.DASH for m in means)))
    sensors = list(dict.fromkeys(k for t in tel for k in (t.get("temperatures_c") or {})))
    for sensor in sensors:
        rows.append((f"temperature {sensor}, peak (°C)",
                     *(fmt.number(_at(t, ("temperatures_c", sensor)), 3) for t in tel)))
    if any(isinstance(t.get("throttled"), bool) for t in tel):
        rows.append(("throttled", *(fmt.number(t.get("throttled")) if isinstance(t.get("throttled"), bool)
                                    else fmt.DASH for t in tel)))
    rows.append(("speed figures", *(_verdict_words(verdict(v)) for v in ran)))
    if any(v.timing is not None and v.timing.batch is not None for v in ran):
        waits = [v.timing.batch.cpu_wait_share if v.timing and v.timing.batch else None for v in ran]
        if any(w is not None for w in waits):
            rows.append(("batch pass: CPU wait (% of ready time)",  # decimals as the batch-1 row's
                         *_aligned([100 * w if w is not None else None for w in waits])))
        rows.append(("batch pass figures", *(_verdict_words(batch_verdict(v)) for v in ran)))
    return Table(("Telemetry (timed window)", *(v.name for v in ran)), tuple(rows))


def _verdict_words(v) -> str:
    """A :class:`results.validity.Validity` in the telemetry table: its words, else whether it was checked."""
    return v.words or ("ok" if v.checked else "not checked")


def _aligned(values: Sequence[float | None], digits: int = 3) -> list[str]:
    """One row of a table across variants, every number with the same decimals: ``digits`` significant digits
    of the row's largest value (0.982, 0.857, 0.910; not 0.91 beside 0.982), a dash where absent.

        >>> _aligned([0.982, 0.91, None, 199.4])
        ['1', '1', '—', '199']
        >>> _aligned([0.982, 0.91, None])
        ['0.982', '0.910', '—']
    """
    finite = [abs(x) for x in values if x is not None and math.isfinite(x)]
    top = max(finite, default=0.0)
    decimals = max(0, digits - 1 - math.floor(math.log10(top))) if top > 0 else 0
    return [fmt.DASH if x is None else f"{x:.{decimals}f}" for x in values]


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _environment_table(record: Record) -> Table:
    rows = [(f"hardware {k}", _plain(x)) for k, x in record.device.hardware.items()]
    rows += [(f"runtime {k}", x) for k, x in record.runtime_versions.items() if x is not None]
    rows += [(f"setting {k}", _plain(x)) for k, x in record.settings.items()]
    rows.append(("command", " ".join(record.command)))
    return Table(("What", "Value"), tuple(rows))


def _plain(x) -> str:
    if x is None or isinstance(x, (bool, int, float)):
        return fmt.number(x)
    if isinstance(x, tuple):
        return ", ".join(_plain(i) for i in x)
    if hasattr(x, "items"):
        return ", ".join(f"{k}={_plain(v)}" for k, v in x.items())
    return str(x)


def _comparison_blocks(c: Comparison) -> list:
    from results.tables import verdict_line

    blocks: list = [Heading(3, f"Compared with {c.base.release} (run {c.base.run_id})")]
    if not c.comparable:
        blocks.append(Para(f"Not comparable: {c.reason}."))
    if not c.same_data:
        blocks.append(Para("Not like for like: the runs scored different data, so accuracy is not compared "
                           "(speed only)."))
    blocks.append(Para(f"Verdict: {verdict_line([c])}. A speed change counts when it is beyond "
                       f"{c.thresholds.factor}x and significant (Mann-Whitney U on {c.thresholds.blocks} "
                       f"time blocks per run, p < {c.thresholds.alpha}); accuracy when mAP50-95 moves more "
                       f"than {c.thresholds.map_threshold} points or average IoU more than "
                       f"{c.thresholds.iou_threshold}."))
    rows, classes = [], []
    for v in c.variants:
        classes.append("bad" if v.mark.is_regression else "good" if v.mark in (Mark.BETTER, Mark.FIXED) else "")
        cells = [fmt.metric_cell(v.metric(m)) for m in ("fps", "p50_ms", "p99_ms", "map50_95", "avg_iou")]
        cells.insert(2, fmt.p_value(v.metric("p50_ms")))
        if not v.metrics:
            cells = [v.note or fmt.DASH] + [""] * 5
        rows.append((v.mark.symbol.strip() or "", v.name, v.mark.value, *cells))
    blocks.append(Table(("", "Variant", "Verdict", fmt.METRIC_LABELS["fps"], fmt.METRIC_LABELS["p50_ms"],
                         "p (MWU, blocks)", fmt.METRIC_LABELS["p99_ms"], fmt.METRIC_LABELS["map50_95"],
                         fmt.METRIC_LABELS["avg_iou"]),
                        tuple(rows), tuple(classes)))
    if c.notes:
        blocks += [Para("Also changed:"), Bullets(c.notes)]
    return blocks


# ------------------------------------------------------------------ renderers

def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def render_markdown(blocks: Sequence) -> str:
    """Markdown (GitHub flavour) for the blocks."""
    out: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {item}" for item in b.items))
        elif isinstance(b, Code):
            fence = "````" if "```" in b.text else "```"
            out.append(f"{fence}\n{b.text.rstrip()}\n{fence}")
        elif isinstance(b, Image):
            out.append(f"![{b.alt}]({b.path})")
        elif isinstance(b, Table):
            lines = ["| " + " | ".join(_md_cell(h) or " " for h in b.headers) + " |",
                     "|" + "|".join("---" for _ in b.headers) + "|"]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in b.rows]
            out.append("\n".join(lines))
    return "\n\n".join(out) + "\n"


CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .5em}
th{background:#f3f3f3}td{text-align:right}td:first-child,td:nth-child(2){text-align:left}
img{max-width:100%;display:block;margin:.5em 0}pre{background:#f6f6f6;padding:.5em;overflow-x:auto}
figcaption{color:#555;font-size:.85em}tr.bad td{background:#fde0dd}tr.good td{background:#e5f5e0}
td.n{white-space:nowrap}td:not(.n){text-align:left}.wide{overflow-x:auto}"""
SHORT_CELL = 40  # characters: a cell up to this long (a number, an interval, a name) never wraps; a note does


def render_html(blocks: Sequence, *, out: Path, title: str) -> str:
    """A self-contained HTML page; images are read from ``out`` and embedded as PNG data URIs."""
    e = html.escape
    body: list[str] = []
    for b in blocks:
        if isinstance(b, Heading):
            body.append(f"<h{b.level}>{e(b.text)}</h{b.level}>")
        elif isinstance(b, Para):
            body.append(f"<p>{e(b.text)}</p>")
        elif isinstance(b, Bullets):
            body.append("<ul>" + "".join(f"<li>{e(i)}</li>" for i in b.items) + "</ul>")
        elif isinstance(b, Code):
            body.append(f"<pre>{e(b.text)}</pre>")
        elif isinstance(b, Image):
            data = base64.b64encode((out / b.path).read_bytes()).decode("ascii")
            body.append(f'<figure><img alt="{e(b.alt)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{e(b.alt)}</figcaption></figure>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{e(h)}</th>" for h in b.headers)
            classes = b.row_classes or ("",) * len(b.rows)
            rows = "".join((f'<tr class="{e(k)}">' if k else "<tr>")
                           + "".join(f'<td class="n">{e(c)}</td>' if len(c) <= SHORT_CELL else f"<td>{e(c)}</td>"
                                     for c in row)
                           + "</tr>" for row, k in zip(b.rows, classes))
            # a table wider than the page scrolls by itself; the page does not
            body.append(f'<div class="wide"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>')
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f"<style>{CSS}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


