"""Video input: the synthetic clip with ground truth, and the MOT-style CSV format, validated once.

Ground truth CSV (one row per object per frame; an optional header line)::

    frame,track_id,x,y,w,h,class
    1,3,12.5,40.0,22.0,18.5,2

``frame`` counts from 1 as in MOT; ``x, y`` is the top-left corner in pixels; ``class`` is the class
index into the model's names.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.atomic import write_json_atomic
from common.errors import InputError, expected

CSV_HEADER = ("frame", "track_id", "x", "y", "w", "h", "class")
VIDEO_FILES = ("synth.mp4", "synth.csv", "synth-video.json")
"""What :func:`write_synth_video` writes in its folder (anything else there is refused)."""
VIDEO_VERSION = 1


@dataclass(frozen=True, slots=True)
class FrameTruth:
    """Ground truth of one frame: xyxy pixel boxes, class ids and track ids."""

    boxes: np.ndarray
    classes: np.ndarray
    track_ids: np.ndarray


@dataclass(frozen=True, slots=True)
class VideoSource:
    """A validated video (and its ground truth, if any).

    Attributes:
        path: the video file.
        n_frames: frames actually decodable (counted by reading, not from the container header).
        width: frame width.
        height: frame height.
        fps: the container's frame rate.
        truth: per-frame ground truth indexed 0..n_frames-1, or None without a CSV.
        gt_path: the CSV it came from.
    """

    path: Path
    n_frames: int
    width: int
    height: int
    fps: float
    truth: tuple[FrameTruth, ...] | None
    gt_path: Path | None

    def frames(self, limit: int | None = None) -> Iterator[np.ndarray]:
        """Decode frames (BGR uint8) in order."""
        yield from iter_frames(self.path, limit=limit)


def _open(path: Path):
    import cv2

    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise InputError(expected("a video OpenCV can decode", "a file it cannot open", str(path)))
    return cap


def iter_frames(path: Path, *, limit: int | None = None) -> Iterator[np.ndarray]:
    """Decode the frames of a video file in order (BGR uint8)."""
    cap = _open(path)
    try:
        n = 0
        while limit is None or n < limit:
            ok, frame = cap.read()
            if not ok:
                break
            n += 1
            yield frame
    finally:
        cap.release()


def read_gt_csv(path: Path, *, n_frames: int | None = None, n_classes: int | None = None) -> tuple[FrameTruth, ...] | dict:
    """Read and validate a MOT-style ground-truth CSV.

    Args:
        path: the CSV file.
        n_frames: if given, frames must be in 1..n_frames and the result has one entry per frame.
        n_classes: if given, class indices must be in 0..n_classes-1.

    Returns:
        A tuple of :class:`FrameTruth`, index = frame - 1 (``n_frames`` given), else a dict frame -> rows.

    Raises:
        InputError: a row that is not 7 numbers, a non-positive box size, a frame or class out of
            range; the message names the file and line.
    """
    if not path.is_file():
        raise InputError(expected("a ground-truth CSV file", "a folder" if path.is_dir() else "no such file", str(path)))
    rows: dict[int, list] = {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(expected("a UTF-8 text CSV", f"undecodable bytes ({exc.reason})", str(path))) from None
    try:
        parsed = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InputError(expected("a CSV file", f"unreadable CSV ({exc})", str(path))) from None
    for lineno, row in enumerate(parsed, 1):
        if not row or all(not c.strip() for c in row):
            continue
        where = f"{path} line {lineno}"
        if lineno == 1 and tuple(c.strip().lower() for c in row) == CSV_HEADER:
            continue
        if len(row) != 7:
            raise InputError(expected("7 columns frame,track_id,x,y,w,h,class", f"{len(row)} columns {','.join(row)!r}", where))
        try:
            frame, track, cls = int(row[0]), int(row[1]), int(row[6])
            x, y, w, h = (float(v) for v in row[2:6])
        except ValueError:
            raise InputError(expected("integers frame,track_id,class and numbers x,y,w,h", repr(",".join(row)), where)) from None
        if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
            raise InputError(expected("a box with finite x,y and positive w,h", f"x={x:g} y={y:g} w={w:g} h={h:g}", where))
        if frame < 1 or (n_frames is not None and frame > n_frames):
            limit = f"1..{n_frames}" if n_frames is not None else ">= 1"
            raise InputError(expected(f"a frame number in {limit} (the video's frames)", frame, where))
        if cls < 0 or (n_classes is not None and cls >= n_classes):
            limit = f"0..{n_classes - 1}" if n_classes is not None else ">= 0"
            raise InputError(expected(f"a class index in {limit}", cls, where))
        rows.setdefault(frame, []).append((x, y, x + w, y + h, cls, track))
    if n_frames is None:
        return rows
    out = []
    for frame in range(1, n_frames + 1):
        r = np.array(rows.get(frame, []), dtype=np.float64).reshape(-1, 6)
        out.append(FrameTruth(boxes=r[:, :4].copy(), classes=r[:, 4].astype(np.int64), track_ids=r[:, 5].astype(np.int64)))
    return tuple(out)


def load_video(path: Path, gt: Path | None = None, *, n_classes: int | None = None) -> VideoSource:
    """Open and validate a video and, optionally, its ground-truth CSV.

    The frame count is established by decoding (container headers lie), so a CSV row for a frame
    the video does not have is an error, not a silent drop.

    Raises:
        InputError: unreadable video, empty video, or an invalid CSV.
    """
    import cv2

    if not path.is_file():
        raise InputError(expected("a video file", "a folder" if path.is_dir() else "no such file", str(path)))
    cap = _open(path)
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    n, width, height = 0, 0, 0
    try:
        while True:
            ok = cap.grab()
            if not ok:
                break
            if n == 0:
                ok, frame = cap.retrieve()
                if not ok:
                    break
                height, width = frame.shape[:2]
            n += 1
    finally:
        cap.release()
    if n == 0:
        raise InputError(expected("a video with at least one decodable frame", "none", str(path)))
    truth = read_gt_csv(gt, n_frames=n, n_classes=n_classes) if gt is not None else None
    return VideoSource(path=path, n_frames=n, width=width, height=height, fps=fps, truth=truth, gt_path=gt)


def write_synth_video(out_dir: Path, *, seed: int = 0, n_frames: int = 300, size: tuple[int, int] = (288, 384),
                      fps: float = 30.0, n_tracks: int = 7) -> tuple[Path, Path]:
    """Write the synthetic clip: shapes moving, scaling, entering and leaving; plus its GT CSV.

    Args:
        out_dir: folder for ``synth.mp4`` and ``synth.csv``.
        seed: the clip is a function of the seed.
        n_frames: number of frames.
        size: (height, width).
        fps: frame rate written in the container.
        n_tracks: number of objects over the clip.

    Returns:
        Paths of the video and the CSV. Both are read back and checked frame for frame.
    """
    import cv2

    from harness.data.synth import CLASS_NAMES, _background, draw_object

    h, w = size
    rng = np.random.default_rng([seed, 7])
    background = _background(h, w, rng)
    tracks = []
    for tid in range(1, n_tracks + 1):
        start = int(rng.integers(0, n_frames // 2))
        tracks.append({
            "id": tid, "cls": int(rng.integers(0, len(CLASS_NAMES))), "start": start,
            "end": int(min(n_frames, start + rng.integers(n_frames // 3, n_frames))),
            "x": float(rng.uniform(-20, w + 20)), "y": float(rng.uniform(0.1 * h, 0.9 * h)),
            "vx": float(rng.uniform(-2.5, 2.5)), "vy": float(rng.uniform(-1.2, 1.2)),
            "size": float(rng.uniform(20, 90)), "grow": float(rng.uniform(-0.004, 0.004)),
            "angle": float(rng.uniform(0, 2 * math.pi)), "spin": float(rng.uniform(-0.03, 0.03)),
            "aspect": float(rng.uniform(0.5, 1.0)), "color": tuple(int(v) for v in rng.integers(0, 256, 3)),
        })
    from harness.data.swap import staged_folder

    out_dir = Path(out_dir)
    video_path, csv_path = out_dir / "synth.mp4", out_dir / "synth.csv"
    # built beside out_dir and swapped in whole (the JSON marker written last), so an interrupted
    # regeneration leaves the old clip, CSV and marker together
    with staged_folder(out_dir, owned=VIDEO_FILES) as build:
        tmp_video, tmp_csv = build / "synth.mp4", build / "synth.csv"
        # a full disk makes OpenCV warn once per frame; the read-back below reports it in one line
        log_level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            writer = cv2.VideoWriter(str(tmp_video), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
            if not writer.isOpened():
                raise InputError(expected("an OpenCV build that writes mp4v", "VideoWriter failed to open", str(video_path)))
            rows = []
            noise_rng = np.random.default_rng([seed, 8])
            for f in range(n_frames):
                frame = background.copy()
                frame = np.clip(frame.astype(np.int16) + noise_rng.integers(-4, 5, frame.shape, dtype=np.int16), 0, 255).astype(np.uint8)
                for t in tracks:
                    if not t["start"] <= f < t["end"]:
                        continue
                    k = f - t["start"]
                    cx, cy = t["x"] + t["vx"] * k, t["y"] + t["vy"] * k
                    size = t["size"] * math.exp(t["grow"] * k)
                    angle = t["angle"] + t["spin"] * k
                    full = draw_object(frame, t["cls"], cx, cy, size, angle, t["aspect"], t["color"])
                    x0, y0, x1, y1 = max(0.0, full[0]), max(0.0, full[1]), min(float(w), full[2]), min(float(h), full[3])
                    area = (full[2] - full[0]) * (full[3] - full[1])
                    if x1 - x0 >= 6 and y1 - y0 >= 6 and (x1 - x0) * (y1 - y0) >= 0.3 * area:
                        rows.append((f + 1, t["id"], round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2), t["cls"]))
                writer.write(frame)
            writer.release()
        finally:
            cv2.utils.logging.setLogLevel(log_level)
        with open(tmp_csv, "w", newline="") as fh:
            wr = csv.writer(fh)
            wr.writerow(CSV_HEADER)
            wr.writerows(rows)
        # Read back: every frame decodes and the CSV validates against the real frame count.
        source = load_video(tmp_video, tmp_csv, n_classes=len(CLASS_NAMES))
        if source.n_frames != n_frames or (source.width, source.height) != (w, h):
            raise InputError(expected(f"{n_frames} frames of {w}x{h} read back", f"{source.n_frames} frames of {source.width}x{source.height}", str(video_path)))
        meta = {"video_version": VIDEO_VERSION, "seed": seed, "frames": n_frames, "width": w, "height": h, "fps": fps,
                "tracks": n_tracks, "gt_rows": len(rows), "classes": list(CLASS_NAMES)}
        write_json_atomic(build / "synth-video.json", meta)  # last: the mark of a complete clip
    return video_path, csv_path


def ensure_video(*, seed: int = 0, root: Path | None = None) -> tuple[Path, Path]:
    """The default synthetic clip and its CSV, generated on first use in the cache."""
    from common.paths import data_dir

    out = (root if root is not None else data_dir()) / f"synth-video-v{VIDEO_VERSION}-seed{seed}"
    if (out / "synth-video.json").is_file():
        return out / "synth.mp4", out / "synth.csv"
    return write_synth_video(out, seed=seed)
