"""The embedded default dataset: deterministic synthetic images and video with ground truth.

Nothing can be downloaded where bench runs, and a benchmark of a model with random weights measures
nothing, so bench carries its own small, real task: six kinds of flat shapes (the classes) drawn with
anti-aliased edges on textured backgrounds, in all three COCO size ranges, overlapping and partly
occluding one another and partly leaving the frame. Localization is not trivial (thin shapes, rotated
polygons, low-contrast colors), so the effects of INT8 and pruning on box quality show.

Everything is a pure function of the seed: the same seed gives the same files, byte for byte, with
the same OpenCV build. The layout is Ultralytics' (``images/{train,val}``, ``labels/{train,val}``,
``data.yaml`` with ``names``), so the same folder trains a model and feeds ``bench run``.

Format versions of ``synth.json`` (written beside ``data.yaml``):
    1: generator version, seed, image counts and box counts per split.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from common.atomic import write_bytes_atomic
from common.errors import InputError, expected

GENERATOR_VERSION = 1
CLASS_NAMES = ("circle", "rectangle", "triangle", "star", "ring", "cross")
IMAGE_SHAPES = ((320, 320), (288, 384), (384, 288))  # (height, width)
IMAGE_SHAPE_P = (0.6, 0.2, 0.2)


@dataclass(frozen=True, slots=True)
class SynthObject:
    """One drawn object: class index, tight box (xyxy, pixels, clipped to the image)."""

    cls: int
    box: tuple[float, float, float, float]


def _polygon(cls: int, cx: float, cy: float, size: float, angle: float, aspect: float) -> np.ndarray | None:
    """Vertices of a polygonal shape centred at (cx, cy); None for round shapes."""
    if cls == 1:  # rectangle
        w, h = size, size * aspect
        pts = np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) / 2
    elif cls == 2:  # triangle: gaps between vertex angles keep it far from degenerate
        a = np.array([0.0, 1.4 + 1.2 * aspect, 2.8 + 2.4 * (1 - aspect) * 0.5 + 0.6])
        pts = np.stack([np.cos(a), np.sin(a)], 1) * size / 2
    elif cls == 3:  # five-point star
        k = np.arange(10)
        r = np.where(k % 2 == 0, 1.0, 0.45) * size / 2
        a = k * math.pi / 5
        pts = np.stack([r * np.cos(a), r * np.sin(a)], 1)
    elif cls == 5:  # cross (plus sign)
        t = 0.18
        pts = np.array([[-t, -0.5], [t, -0.5], [t, -t], [0.5, -t], [0.5, t], [t, t], [t, 0.5], [-t, 0.5],
                        [-t, t], [-0.5, t], [-0.5, -t], [-t, -t]]) * size
    else:
        return None
    c, s = math.cos(angle), math.sin(angle)
    rot = np.array([[c, -s], [s, c]])
    return pts @ rot.T + np.array([cx, cy])


def _background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A textured background: low-frequency color field, stripes or grid, noise and clutter lines."""
    import cv2

    small = rng.uniform(0, 255, size=(int(rng.integers(2, 6)), int(rng.integers(2, 6)), 3)).astype(np.float32)
    img = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    kind = rng.integers(0, 3)
    if kind == 1:  # stripes
        period = rng.uniform(6, 30)
        angle = rng.uniform(0, math.pi)
        yy, xx = np.mgrid[0:h, 0:w]
        wave = np.sin((xx * math.cos(angle) + yy * math.sin(angle)) * 2 * math.pi / period)
        img += (wave[..., None] * rng.uniform(10, 40)).astype(np.float32)
    elif kind == 2:  # blotches
        blot = rng.normal(0, 1, size=(h // 8 + 1, w // 8 + 1, 3)).astype(np.float32)
        img += cv2.resize(blot, (w, h), interpolation=cv2.INTER_LINEAR) * rng.uniform(10, 35)
    img += rng.normal(0, rng.uniform(2, 12), size=img.shape).astype(np.float32)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(0, 6))):  # clutter that is not an object
        p1 = tuple(int(v) for v in rng.integers(0, [w, h]))
        p2 = tuple(int(v) for v in rng.integers(0, [w, h]))
        color = tuple(int(v) for v in rng.integers(0, 256, 3))
        cv2.line(img, p1, p2, color, int(rng.integers(1, 3)), cv2.LINE_AA)
    return img


def _color(bg_mean: np.ndarray, rng: np.random.Generator) -> tuple[int, int, int]:
    """A fill color with some contrast against the local background mean (sometimes low)."""
    for _ in range(20):
        c = rng.integers(0, 256, 3)
        if np.abs(c.astype(float) - bg_mean).sum() > rng.uniform(60, 160):
            return tuple(int(v) for v in c)
    return tuple(int(v) for v in 255 - bg_mean.astype(int))


def _box_iou_one(a: tuple, b: np.ndarray) -> np.ndarray:
    ix = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    iy = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    return ix * iy


def draw_object(img: np.ndarray | None, cls: int, cx: float, cy: float, size: float, angle: float, aspect: float,
                color: tuple[int, int, int] = (0, 0, 0)) -> tuple[float, float, float, float]:
    """Draw one object (unless ``img`` is None) and return its unclipped tight box (xyxy, pixels)."""
    import cv2

    shift = 4  # sub-pixel precision for OpenCV drawing
    f = 1 << shift
    if cls in (0, 4):  # circle / ring (ellipse with small aspect change)
        ax, ay = size / 2, size / 2 * (0.85 + 0.3 * (aspect - 0.5))
        thickness = -1 if cls == 0 else max(2, int(size * 0.12))
        if img is not None:
            cv2.ellipse(img, (int(round(cx * f)), int(round(cy * f))), (int(round(ax * f)), int(round(ay * f))),
                        0, 0, 360, color, thickness, cv2.LINE_AA, shift)
        half_t = 0 if thickness < 0 else thickness / 2
        return (cx - ax - half_t, cy - ay - half_t, cx + ax + half_t, cy + ay + half_t)
    pts = _polygon(cls, cx, cy, size, angle, aspect)
    if img is not None:
        cv2.fillPoly(img, [np.round(pts * f).astype(np.int32)], color, cv2.LINE_AA, shift)
    x0, y0 = pts.min(0)
    x1, y1 = pts.max(0)
    return (float(x0), float(y0), float(x1), float(y1))


def synth_image(rng: np.random.Generator) -> tuple[np.ndarray, list[SynthObject]]:
    """One synthetic image (BGR uint8) and its objects."""
    h, w = IMAGE_SHAPES[int(rng.choice(len(IMAGE_SHAPES), p=IMAGE_SHAPE_P))]
    img = _background(h, w, rng)
    objects: list[SynthObject] = []
    placed = np.zeros((0, 4))
    n = int(rng.integers(2, 9))
    for _ in range(n * 4):  # rejection sampling, bounded
        if len(objects) == n:
            break
        cls = int(rng.integers(0, len(CLASS_NAMES)))
        size = float(math.exp(rng.uniform(math.log(12), math.log(150))))
        cx, cy = rng.uniform(-0.1 * size, w + 0.1 * size), rng.uniform(-0.1 * size, h + 0.1 * size)
        angle, aspect = float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0.4, 1.0))
        full = draw_object(None, cls, cx, cy, size, angle, aspect)
        clipped = (max(0.0, full[0]), max(0.0, full[1]), min(float(w), full[2]), min(float(h), full[3]))
        full_area = (full[2] - full[0]) * (full[3] - full[1])
        vis_w, vis_h = clipped[2] - clipped[0], clipped[3] - clipped[1]
        if vis_w < 6 or vis_h < 6 or vis_w * vis_h < 0.6 * full_area:
            continue
        # Occlusion is limited: the new object may cover at most 35% of any earlier one, and may not
        # be mostly covered itself (it is drawn on top, so that cannot happen).
        if len(placed):
            inter = _box_iou_one(clipped, placed)
            areas = (placed[:, 2] - placed[:, 0]) * (placed[:, 3] - placed[:, 1])
            if np.any(inter > 0.35 * areas) or np.any(inter > 0.5 * vis_w * vis_h):
                continue
        x0, y0, x1, y1 = (int(max(0, math.floor(v))) for v in clipped)
        bg_mean = img[y0:max(y0 + 1, int(clipped[3])), x0:max(x0 + 1, int(clipped[2]))].reshape(-1, 3).mean(0)
        color = _color(bg_mean, rng)
        draw_object(img, cls, cx, cy, size, angle, aspect, color)
        objects.append(SynthObject(cls, clipped))
        placed = np.vstack([placed, clipped])
    return img, objects


SYNTH_FILES = ("images", "labels", "data.yaml", "synth.json")
"""What :func:`write_dataset` writes at the top of its folder (anything else there is refused)."""


def write_dataset(out: Path, *, seed: int = 0, n_train: int = 800, n_val: int = 200, jpeg_quality: int = 92,
                  progress=None) -> dict:
    """Generate the synthetic detection dataset in the Ultralytics layout.

    The dataset is built in a hidden folder beside ``out`` and swapped in whole when complete
    (``synth.json``, the completion marker, written last; see :mod:`harness.data.swap`): an
    interrupted or failed regeneration leaves the old dataset as it was, and a smaller one leaves
    no stale images behind.

    Args:
        out: output folder (created; an existing bench dataset there is replaced as a whole).
        seed: the whole dataset is a function of this seed.
        n_train: images in the train split (calibration and training read it).
        n_val: images in the val split (what benchmarks score on).
        jpeg_quality: JPEG quality of the written images.
        progress: optional callable(stage, done, total).

    Returns:
        The ``synth.json`` summary (also written to ``out/synth.json``).

    Raises:
        InputError: a count is negative, ``out`` is a file or holds other files, or the disk is
            full or not writable (the old dataset is then untouched).

    Example:
        >>> import tempfile
        >>> summary = write_dataset(Path(tempfile.mkdtemp()), n_train=2, n_val=1)
        >>> summary["splits"]["val"]["images"]
        1
    """
    import cv2

    from harness.data.swap import staged_folder

    for name, value in (("--n-train", n_train), ("--n-val", n_val)):
        if value < 0:
            raise InputError(expected("a count >= 0", value, name))
    out = Path(out)
    with staged_folder(out, owned=SYNTH_FILES) as build:
        splits = {}
        # Each split has its own stream, so growing the train split never changes the val split.
        for split, count, stream in (("train", n_train, 1), ("val", n_val, 2)):
            img_dir, lbl_dir = build / "images" / split, build / "labels" / split
            img_dir.mkdir(parents=True, exist_ok=True)
            lbl_dir.mkdir(parents=True, exist_ok=True)
            rng = np.random.default_rng([seed, stream])
            n_boxes = 0
            for i in range(count):
                img, objects = synth_image(rng)
                h, w = img.shape[:2]
                ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
                if not ok:
                    raise InputError(expected("an encodable image", "cv2.imencode failure", str(out / "images" / split)))
                stem = f"{split}_{i:05d}"
                (img_dir / f"{stem}.jpg").write_bytes(buf.tobytes())
                lines = []
                for o in objects:
                    x0, y0, x1, y1 = o.box
                    lines.append(f"{o.cls} {(x0 + x1) / 2 / w:.6f} {(y0 + y1) / 2 / h:.6f} {(x1 - x0) / w:.6f} {(y1 - y0) / h:.6f}")
                (lbl_dir / f"{stem}.txt").write_bytes(("\n".join(lines) + "\n" if lines else "").encode())
                n_boxes += len(objects)
                if progress is not None:
                    progress(f"synth {split}", i + 1, count)
            splits[split] = {"images": count, "boxes": n_boxes}
        names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASS_NAMES))
        (build / "data.yaml").write_bytes(f"# bench synthetic dataset, generator v{GENERATOR_VERSION}, seed {seed}\n"
                                          f"train: images/train\nval: images/val\nnames:\n{names}\n".encode())
        summary = {"synth_version": 1, "generator_version": GENERATOR_VERSION, "seed": seed,
                   "classes": list(CLASS_NAMES), "splits": splits, "jpeg_quality": jpeg_quality}
        write_bytes_atomic(build / "synth.json", (json.dumps(summary, indent=2) + "\n").encode())  # last
    return summary


def ensure_dataset(*, seed: int = 0, n_train: int = 800, n_val: int = 200, root: Path | None = None, progress=None) -> Path:
    """Return the folder of the default synthetic dataset, generating it on first use.

    The folder name carries every parameter, and ``synth.json`` is written last, so an interrupted
    generation is redone rather than used.

    Returns:
        The dataset folder (holding ``data.yaml``).
    """
    from common.paths import data_dir

    base = root if root is not None else data_dir()
    out = base / f"synth-v{GENERATOR_VERSION}-seed{seed}-{n_train}-{n_val}"
    marker = out / "synth.json"
    if marker.is_file():
        return out
    write_dataset(out, seed=seed, n_train=n_train, n_val=n_val, progress=progress)
    return out
