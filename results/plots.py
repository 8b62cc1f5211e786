"""PNG plots for ``bench report`` (matplotlib, Agg canvas, imported lazily).

Each function draws one figure from a validated record, writes it atomically to
``path`` and returns the path, or returns None when the record holds nothing to
plot (e.g. no raw samples, no per-frame IoU): a missing measurement is never
drawn as zeros. No pyplot: figures are built on an Agg canvas directly, so no
GUI backend or global state is touched.

Example:
    >>> from results.archive import load_record                        # doctest: +SKIP
    >>> fps_vs_map(load_record("run.json"), Path("out/fps_vs_map.png"))  # doctest: +SKIP
    PosixPath('out/fps_vs_map.png')
"""

from __future__ import annotations

import inspect
from pathlib import Path

from common.atomic import atomic_path
from common.errors import require
from results.compare import Comparison
from results.schema import Record
from results.stats import pareto_front

__all__ = ["comparison_bars", "confusion_matrix", "fps_vs_map", "iou_histograms", "iou_per_frame", "latency_distributions",
           "pr_f1_curves"]

DPI = 100
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
          "#bcbd22", "#17becf")


def _figure(width: float, height: float):
    require("matplotlib", pip="pip install matplotlib")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return path


def _title(record: Record) -> str:
    return f"{record.model.name} on {record.device.profile} — {record.release}"


def fps_vs_map(record: Record, path: Path) -> Path | None:
    """FPS against mAP50-95, one point per variant, the Pareto front joined and ringed."""
    points, names = [], []
    for v in record.variants:
        if v.ok and v.timing and v.timing.fps is not None and v.accuracy and v.accuracy.map50_95 is not None:
            points.append((v.accuracy.map50_95, v.timing.fps))
            names.append(v.name)
    if not points:
        return None
    front = pareto_front(points)
    fig = _figure(6.4, 4.2)
    ax = fig.add_subplot()
    for i, ((x, y), name) in enumerate(zip(points, names)):
        ax.scatter([x], [y], s=46, color=COLORS[i % len(COLORS)], zorder=3)
        ax.annotate(name, (x, y), textcoords="offset points", xytext=(6, 5), fontsize=9)
    fx = [points[i][0] for i in front]
    fy = [points[i][1] for i in front]
    ax.plot(fx, fy, "--", color="#444444", linewidth=1, zorder=2, label="Pareto front")
    ax.scatter(fx, fy, s=150, facecolors="none", edgecolors="#444444", linewidths=1.2, zorder=4)
    ax.set_xlabel("mAP50-95")
    ax.set_ylabel("FPS (end-to-end)")
    ax.set_title(f"Speed vs accuracy — {_title(record)}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    xs = [p[0] for p in points]
    pad = max(0.01, (max(xs) - min(xs)) * 0.15)
    ax.set_xlim(min(xs) - pad, max(xs) + pad)
    ax.set_ylim(0, max(p[1] for p in points) * 1.15)
    return _save(fig, path)


def latency_distributions(record: Record, path: Path) -> Path | None:
    """Box plot of the raw inference latencies per variant (whiskers at p1 and p99)."""
    rows = [(v.name, v.timing.inference_samples_ms) for v in record.variants
            if v.ok and v.timing and v.timing.inference_samples_ms]
    if not rows:
        return None
    fig = _figure(6.4, 1.2 + 0.55 * len(rows))
    ax = fig.add_subplot()
    # matplotlib 3.10 renamed vert=False to orientation="horizontal"
    horizontal = ({"orientation": "horizontal"} if "orientation" in inspect.signature(ax.boxplot).parameters
                  else {"vert": False})
    ax.boxplot([list(s) for _, s in rows], whis=(1, 99), showfliers=False,
               medianprops={"color": "#d62728"}, **horizontal)
    ax.set_yticks(range(1, len(rows) + 1), [n for n, _ in rows])
    for i, (_, samples) in enumerate(rows, start=1):
        ordered = sorted(samples)
        p99 = ordered[min(len(ordered) - 1, int(0.99 * (len(ordered) - 1) + 0.5))]
        ax.annotate(f"n={len(samples)}", (p99, i), textcoords="offset points", xytext=(6, -3), fontsize=8)
    ax.set_xlabel("inference latency (ms); box p25-p75, line p50, whiskers p1-p99")
    ax.set_title(f"Latency — {_title(record)}", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    ax.set_xlim(left=0)
    return _save(fig, path)


def iou_histograms(record: Record, path: Path) -> Path | None:
    """Histogram of the per-frame average IoU per variant."""
    rows = [(v.name, [x for x in v.per_frame_iou if x is not None]) for v in record.variants
            if v.ok and v.per_frame_iou]
    rows = [(name, ious) for name, ious in rows if ious]  # frames without ground truth have no IoU
    if not rows:
        return None
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot()
    bins = [i / 40 for i in range(41)]
    for i, (name, ious) in enumerate(rows):
        mean = sum(ious) / len(ious)
        ax.hist(ious, bins=bins, histtype="step", linewidth=1.5, color=COLORS[i % len(COLORS)],
                label=f"{name} (mean {mean:.3f}, {len(ious)} frames)")
    ax.set_xlabel("average IoU per frame")
    ax.set_ylabel("frames")
    ax.set_xlim(0, 1)
    ax.set_title(f"Box quality — {_title(record)}", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def iou_per_frame(record: Record, path: Path) -> Path | None:
    """Per-frame average IoU along a video, one line per variant (video runs only)."""
    if record.data.kind != "video":
        return None
    rows = [(v.name, v.per_frame_iou) for v in record.variants
            if v.ok and v.per_frame_iou and any(x is not None for x in v.per_frame_iou)]
    if not rows:
        return None
    fig = _figure(8.0, 3.6)
    ax = fig.add_subplot()
    for i, (name, ious) in enumerate(rows):  # frames without ground truth are gaps in the line
        ax.plot(range(len(ious)), [float("nan") if x is None else x for x in ious], linewidth=1,
                color=COLORS[i % len(COLORS)], label=name)
    ax.set_xlabel("frame")
    ax.set_ylabel("average IoU")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"IoU per frame — {_title(record)} ({record.data.source})", fontsize=10)
    ax.legend(loc="lower left", fontsize=8, ncol=min(4, len(rows)))
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def comparison_bars(comparison: Comparison, path: Path) -> Path | None:
    """FPS and mAP50-95 per variant, base release next to candidate release."""
    rows = []
    for v in comparison.variants:
        fps, mp = v.metric("fps"), v.metric("map50_95")
        if fps is not None and (fps.base is not None or fps.candidate is not None):
            rows.append((v.name, fps, mp))
    if not rows:
        return None
    fig = _figure(7.2, 3.8)
    axes = fig.subplots(1, 2)
    x = list(range(len(rows)))
    width = 0.38
    labels = (comparison.base.release, comparison.candidate.release)
    for ax, pick, label in ((axes[0], 1, "FPS"), (axes[1], 2, "mAP50-95")):
        if pick == 2 and not comparison.same_data:  # never mAP bars side by side across different data
            ax.text(0.5, 0.5, "not compared:\nthe runs scored\ndifferent data", ha="center", va="center",
                    transform=ax.transAxes, fontsize=9, color="#777777")
            ax.set_xticks([])
            ax.set_title(label, fontsize=10)
            continue
        base = [r[pick].base if r[pick] is not None and r[pick].base is not None else 0 for r in rows]
        cand = [r[pick].candidate if r[pick] is not None and r[pick].candidate is not None else 0 for r in rows]
        ax.bar([i - width / 2 for i in x], base, width, label=labels[0], color="#9ecae1")
        ax.bar([i + width / 2 for i in x], cand, width, label=labels[1], color="#3182bd")
        for i, r in enumerate(rows):  # say "not measured" instead of drawing a zero-height bar as data
            m = r[pick]
            if m is None or m.base is None or m.candidate is None:
                ax.annotate("n/m", (i, 0), ha="center", va="bottom", fontsize=7, color="#777777")
        ax.set_xticks(x, [r[0] for r in rows], rotation=30, ha="right", fontsize=8)
        ax.set_title(label, fontsize=10)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{comparison.base.model} on {comparison.base.device}: "
                 f"{labels[0]} vs {labels[1]}", fontsize=10)
    return _save(fig, path)


def _yolo_val(v):
    return v.accuracy.yolo_val if v.ok and v.accuracy is not None and v.accuracy.yolo_val is not None else None


def pr_f1_curves(record: Record, path: Path) -> Path | None:
    """Precision, recall and F1 against confidence (class means), one line per variant, the F1 optimum dotted."""
    rows = [(v.name, _yolo_val(v)) for v in record.variants]
    rows = [(n, y) for n, y in rows if y is not None and y.get("curves", {}).get("f1") is not None]
    if not rows:
        return None
    fig = _figure(9.6, 3.4)
    axes = fig.subplots(1, 3)
    for i, (name, y) in enumerate(rows):
        lo, hi, n = y["curves"]["conf"]
        x = [lo + (hi - lo) * k / (n - 1) for k in range(int(n))]
        color = COLORS[i % len(COLORS)]
        for ax, key in zip(axes, ("precision", "recall", "f1")):
            ax.plot(x, list(y["curves"][key]), color=color, linewidth=1.3, label=name)
        best = y.get("f1_optimal")
        if best is not None:
            axes[2].axvline(best["conf"], color=color, linestyle=":", linewidth=1)
    for ax, label in zip(axes, ("Precision", "Recall", "F1")):
        ax.set_xlabel("confidence")
        ax.set_title(label, fontsize=10)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.grid(True, alpha=0.3)
    axes[2].legend(fontsize=7, loc="lower center")
    fig.suptitle(f"P, R, F1 vs confidence (class means, IoU 0.5; dotted: F1 optimum) — {_title(record)}", fontsize=10)
    return _save(fig, path)


def confusion_matrix(record: Record, variant: str, path: Path) -> Path | None:
    """The variant's detection confusion matrix, each column normalised to its true class (background last)."""
    v = record.variant(variant)
    y = _yolo_val(v) if v is not None else None
    names = list(record.model.classes or ())
    if y is None or not names or "confusion" not in y:
        return None
    import numpy as np

    nc = len(names)
    m = np.zeros((nc + 1, nc + 1))
    for p, t, n in y["confusion"]["cells"]:
        m[p, t] = n
    shown = [k for k in range(nc) if m[:, k].sum() or m[k, :].sum()] + [nc]  # classes that occur, and background
    m = m[np.ix_(shown, shown)]
    labels = [names[k] if k < nc else "background" for k in shown]
    cols = m.sum(0, keepdims=True)
    share = np.divide(m, cols, out=np.zeros_like(m), where=cols > 0)
    side = min(2.2 + 0.42 * len(shown), 14.0)
    fig = _figure(side + 1.2, side)
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    if len(shown) <= 20:
        for i in range(len(shown)):
            for j in range(len(shown)):
                if m[i, j]:
                    ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize=7,
                            color="white" if share[i, j] > 0.6 else "#222222")
    ticks = list(range(len(shown)))
    ax.set_xticks(ticks, labels, rotation=90, fontsize=7)
    ax.set_yticks(ticks, labels, fontsize=7)
    ax.set_xlabel("true")
    ax.set_ylabel("predicted")
    fig.colorbar(image, ax=ax, shrink=0.8, label="share of the true class")
    c = y["confusion"]
    ax.set_title(f"{variant}: confusion matrix (conf > {c['conf']:g}, IoU > {c['iou']:g})", fontsize=10)
    return _save(fig, path)
