"""Files a run leaves for spot checks (``bench run --out DIR``): per-frame CSVs, the per-frame IoU plot,
a gallery of the worst frames, and (``--annotate``, video) annotated videos.

Colors: ground truth blue, predictions green, the frame's IoU written in the corner.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from common.atomic import atomic_path, write_bytes_atomic
from common.errors import InputError, expected

GT_COLOR = (255, 0, 0)  # BGR blue
PRED_COLOR = (0, 200, 0)  # BGR green
FP_COLOR = (0, 0, 255)  # BGR red: the false positive a gallery image is about
GALLERY_SIZE = 6


def _atomic_csv(path: Path, header: tuple, rows) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def write_frame_csv(path: Path, op) -> None:
    """frame_id, iou, n_gt, n_pred, tp, fp, fn (iou empty for frames without ground truth)."""
    _atomic_csv(path, ("frame_id", "iou", "n_gt", "n_pred", "tp", "fp", "fn"),
                ((r.frame_id, "" if r.iou is None else f"{r.iou:.6f}", r.n_gt, r.n_pred, r.tp, r.fp, r.fn)
                 for r in op.frames))


def plot_frame_iou(path: Path, per_variant: dict[str, np.ndarray], *, title: str) -> None:
    """IoU per frame, one line per variant, its average as a dashed line of the same color."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    for i, (name, ious) in enumerate(per_variant.items()):
        color = f"C{i}"
        x = np.arange(len(ious))
        ax.plot(x, ious, color=color, lw=1, label=name)
        if np.isfinite(ious).any():
            ax.axhline(float(np.nanmean(ious)), color=color, ls="--", lw=1)
    ax.set_xlabel("frame")
    ax.set_ylabel("average IoU (0 = missed)")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.legend(loc="lower left", ncol=max(1, len(per_variant)))
    fig.tight_layout()
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)


def _write_png(path: Path, img: np.ndarray) -> bool:
    """Encode ``img`` as PNG and write it atomically; False if OpenCV could not encode it."""
    import cv2

    ok, png = cv2.imencode(".png", img)
    if ok:
        write_bytes_atomic(path, png.tobytes())
    return bool(ok)


def _draw(frame: np.ndarray, truth, dets, conf: float, label: str) -> np.ndarray:
    import cv2

    img = frame.copy()
    if truth is not None:
        for b in np.asarray(truth.boxes):
            cv2.rectangle(img, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), GT_COLOR, 1)
    keep = np.asarray(dets.scores) >= conf
    for b, s, c in zip(np.asarray(dets.boxes)[keep], np.asarray(dets.scores)[keep], np.asarray(dets.classes)[keep]):
        cv2.rectangle(img, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), PRED_COLOR, 1)
        cv2.putText(img, f"{int(c)}:{s:.2f}", (int(b[0]), max(8, int(b[1]) - 2)), cv2.FONT_HERSHEY_SIMPLEX, 0.3,
                    PRED_COLOR, 1, cv2.LINE_AA)
    cv2.putText(img, label, (4, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def _frame_reader(data):
    """frame index -> decoded BGR frame, for a few chosen frames."""
    import cv2

    if data.kind == "images":
        return lambda i: cv2.imread(data.image_paths[i], cv2.IMREAD_COLOR)

    def read(i: int):
        cap = cv2.VideoCapture(data.video_path)
        try:
            cap.set(cv2.CAP_PROP_POS_FRAMES, i)
            ok, frame = cap.read()
            return frame if ok else None
        finally:
            cap.release()

    return read


def write_gallery(folder: Path, data, name: str, op, dets, conf: float) -> list[Path]:
    """The worst frames by IoU, as annotated PNGs."""
    folder.mkdir(parents=True, exist_ok=True)
    read = _frame_reader(data)
    rows = [r for r in op.frames if r.iou is not None]
    rows.sort(key=lambda r: (r.iou, -r.fp))
    written = []
    for r in rows[:GALLERY_SIZE]:
        frame = read(r.frame_id)
        if frame is None:
            continue
        img = _draw(frame, data.truth[r.frame_id], dets[r.frame_id], conf,
                    f"{name} frame {r.frame_id} IoU {r.iou:.2f} fp {r.fp} fn {r.fn}")
        path = folder / f"{name}-worst-{r.frame_id:05d}.png"
        if _write_png(path, img):
            written.append(path)
    return written


def write_fp_gallery(folder: Path, data, name: str, localization: dict | None, dets, conf: float) -> list[Path]:
    """The highest-confidence false positives (from the localization analysis), each drawn in red."""
    import cv2

    if not localization:
        return []
    folder.mkdir(parents=True, exist_ok=True)
    read = _frame_reader(data)
    written = []
    for k, fp in enumerate(localization.get("top_false_positives", [])[:GALLERY_SIZE]):
        i = int(fp["image_id"])
        d = dets[i]
        hit = np.flatnonzero((np.asarray(d.classes) == int(fp["category_id"])) & np.isclose(d.scores, fp["score"], rtol=0, atol=1e-9))
        frame = read(i)
        if frame is None or hit.size == 0:
            continue
        img = _draw(frame, data.truth[i], d, conf, f"{name} frame {i}: false positive class {fp['category_id']} "
                                                    f"score {fp['score']:.2f}, best IoU {fp['best_iou']:.2f}")
        b = np.asarray(d.boxes)[hit[0]]
        cv2.rectangle(img, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), FP_COLOR, 2)
        path = folder / f"{name}-fp{k + 1}-{i:05d}.png"
        if _write_png(path, img):
            written.append(path)
    return written


def write_annotated_video(path: Path, data, name: str, op, dets, conf: float) -> None:
    """The whole clip with ground truth (blue), predictions (green) and the frame's IoU."""
    import cv2

    from harness.data.video import iter_frames

    with atomic_path(path, keep_suffix=True) as tmp:  # OpenCV picks the container from the extension
        writer = None
        try:
            for i, frame in enumerate(iter_frames(Path(data.video_path), limit=data.count)):
                if writer is None:
                    h, w = frame.shape[:2]
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (w, h))
                row = op.frames[i] if op is not None else None
                label = f"{name} frame {i}" + ("" if row is None or row.iou is None else f" IoU {row.iou:.2f}")
                writer.write(_draw(frame, None if data.truth is None else data.truth[i], dets[i], conf, label))
        finally:
            if writer is not None:
                writer.release()
        if writer is None:
            raise InputError(expected("at least one decodable frame", "none", str(data.video_path)))


def write_outputs(out: Path, data, scored: dict, outcomes: dict, *, annotate: bool = False, conf: float = 0.25) -> list[str]:
    """Write every spot-check file for the variants that were scored; returns lines naming them."""
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    curves = {}
    for name, s in scored.items():
        if s.op is None:
            continue
        csv_path = out / f"{name}-frames.csv"
        write_frame_csv(csv_path, s.op)
        curves[name] = s.per_frame_iou
        gallery = write_gallery(out / "gallery", data, name, s.op, outcomes[name].detections, conf)
        fps = write_fp_gallery(out / "gallery", data, name, s.localization, outcomes[name].detections, conf)
        lines.append(f"{name}: {csv_path} ({len(s.op.frames)} frames), gallery: {len(gallery)} worst frames, "
                     f"{len(fps)} top false positives")
        if annotate and data.kind == "video":
            video = out / f"{name}-annotated.mp4"
            write_annotated_video(video, data, name, s.op, outcomes[name].detections, conf)
            lines.append(f"{name}: {video}")
    if curves:
        plot = out / "frame-iou.png"
        plot_frame_iou(plot, curves, title=f"per-frame IoU — {Path(data.source).name}")
        lines.append(f"plot: {plot}")
    return lines
