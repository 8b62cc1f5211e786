"""Ground truth and predictions stored one text file per image: YOLO labels and VOC-style text.

Both readers validate every line once (bad input raises one :class:`InputError` naming the
file and line) and return the same frozen containers as COCO JSON, so every format is
scored by the same engine.

* **YOLO**: ``class cx cy w h`` normalized to the image (ground truth) and
  ``class cx cy w h conf`` (predictions), files named like the images. Image sizes come
  from the image headers; the images folder is ``--images``, else the ``val`` split of
  ``--data data.yaml``, else the labels folder with its last ``labels`` component replaced
  by ``images`` (Ultralytics' layout). Images without a label file have no objects.
* **voc-text**: ``class left top width height`` (ground truth) and
  ``class confidence left top width height`` (predictions), absolute pixels, one file per
  image named the same in both folders; ``class`` is a name without spaces.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from common.errors import InputError, expected
from harness.metrics.coco_io import CocoDetections, CocoGroundTruth

__all__ = ["read_voc_text_folders", "read_yolo_folders"]


def _folder(path: Path, what: str) -> Path:
    if not path.exists():
        raise InputError(expected(f"a folder of {what}", "nothing there", str(path)))
    if not path.is_dir():
        raise InputError(expected(f"a folder of {what}", "a file", str(path)))
    return path


def _txt_files(folder: Path) -> dict:
    return {p.relative_to(folder).with_suffix("").as_posix(): p for p in sorted(folder.rglob("*.txt")) if p.is_file()}


def _images_folder(gt_dir: Path, images: Path | None, data_yaml: Path | None) -> tuple[Path, tuple]:
    from harness.data.yolo import read_data_yaml

    names: tuple = ()
    if data_yaml is not None:
        info = read_data_yaml(Path(data_yaml))
        names = info["names"]
        if images is None:
            images = info.get("val")
    if images is None:
        parts = list(gt_dir.resolve().parts)
        if "labels" in parts:
            i = len(parts) - 1 - parts[::-1].index("labels")
            parts[i] = "images"
            images = Path(*parts)
    if images is None or not Path(images).is_dir():
        raise InputError(expected("the images folder (for image sizes): pass --images DIR or --data data.yaml",
                                  "no such folder" if images is not None else "none found next to the labels", str(images or gt_dir)))
    return Path(images), names


def read_yolo_folders(
    gt_dir: Path,
    pred_dir: Path,
    *,
    images: Path | None = None,
    data_yaml: Path | None = None,
) -> tuple[CocoGroundTruth, CocoDetections]:
    """Read YOLO label and prediction folders into validated containers.

    Args:
        gt_dir: folder of ground-truth ``.txt`` label files.
        pred_dir: folder of prediction ``.txt`` files (with the confidence column).
        images: folder of the images (for their sizes).
        data_yaml: an Ultralytics ``data.yaml`` (class names; its ``val`` images folder).

    Returns:
        ``(ground truth, detections)``; image ids are the files' relative paths without suffix.

    Raises:
        InputError: a missing folder, a malformed line (file and line named), a prediction
            file with no image of that name, or no prediction files at all.
    """
    from harness.data.dataset import image_size, list_images
    from harness.data.yolo import read_label_file

    gt_dir, pred_dir = _folder(Path(gt_dir), "YOLO label files"), _folder(Path(pred_dir), "YOLO prediction files")
    images_dir, names = _images_folder(gt_dir, images, data_yaml)
    image_files = {p.relative_to(images_dir).with_suffix("").as_posix(): p for p in list_images(images_dir)}
    if not image_files:
        raise InputError(expected("image files", "none", str(images_dir)))
    labels = _txt_files(gt_dir)
    for key, path in labels.items():
        if key not in image_files:
            raise InputError(expected(f"an image named like this label file in {images_dir}", "none", str(path)))
    preds = _txt_files(pred_dir)
    if not preds:
        raise InputError(expected("prediction .txt files", "none", str(pred_dir)))
    for key, path in preds.items():
        if key not in image_files:
            raise InputError(expected(f"a prediction file named after an image in {images_dir}", "no such image", str(path)))
    n_classes = len(names) or None
    ids = sorted(image_files)
    sizes, g_boxes, g_cls, d_boxes, d_cls, d_scores = [], [], [], [], [], []
    for key in ids:
        w, h = image_size(image_files[key])
        sizes.append((w, h))
        lab = read_label_file(gt_dir / f"{key}.txt", n_classes=n_classes)
        g_boxes.append(lab.xyxy(w, h))
        g_cls.append(lab.classes)
        pred = read_label_file(preds[key], n_classes=n_classes, with_confidence=True) if key in preds else None
        d_boxes.append(pred.xyxy(w, h) if pred is not None else np.zeros((0, 4)))
        d_cls.append(pred.classes if pred is not None else np.zeros(0, np.int64))
        d_scores.append(pred.confidence if pred is not None else np.zeros(0))
    if names:
        cat_ids, cat_names = list(range(len(names))), list(names)
    else:
        cat_ids = sorted(set(np.concatenate(g_cls + [np.zeros(0, np.int64)]).tolist()))
        cat_names = [str(c) for c in cat_ids]
        _check_known(d_cls, cat_ids, ids, preds)
    gt = CocoGroundTruth.from_arrays(g_boxes, g_cls, image_ids=ids, image_sizes=sizes, category_ids=cat_ids,
                                     category_names=cat_names, source=str(gt_dir))
    dt = CocoDetections.from_arrays(d_boxes, d_scores, d_cls, image_ids=ids, source=str(pred_dir))
    return gt, dt


def _check_known(d_cls: list, cat_ids: list, ids: list, preds: dict) -> None:
    known = set(cat_ids)
    for key, cls in zip(ids, d_cls):
        bad = [c for c in cls.tolist() if c not in known]
        if bad:
            raise InputError(expected("a class that occurs in the ground truth (or pass --data with the class names)",
                                      bad[0], str(preds[key])))


def _parse(path: Path, n_numbers: int, form: str) -> tuple[list, np.ndarray, list]:
    try:
        text = path.read_text()
    except UnicodeDecodeError as exc:
        raise InputError(expected("a text file", f"undecodable bytes ({exc.reason})", str(path))) from None
    names, rows, linenos = [], [], []
    for lineno, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path} line {lineno}"
        if len(fields) != n_numbers + 1:
            raise InputError(expected(f"{n_numbers + 1} fields '{form}'", f"{len(fields)} fields {line.strip()!r}", where))
        try:
            values = [float(v) for v in fields[1:]]
        except ValueError:
            raise InputError(expected(f"numbers after the class: '{form}'", repr(line.strip()), where)) from None
        if not all(math.isfinite(v) for v in values):
            raise InputError(expected("finite numbers", repr(line.strip()), where))
        if values[-2] < 0 or values[-1] < 0:
            raise InputError(expected("a non-negative width and height", f"{values[-2]:g} x {values[-1]:g}", where))
        names.append(fields[0])
        rows.append(values)
        linenos.append(lineno)
    return names, np.asarray(rows, np.float64).reshape(-1, n_numbers), linenos


def read_voc_text_folders(gt_dir: Path, pred_dir: Path) -> tuple[CocoGroundTruth, CocoDetections]:
    """Read VOC-style text folders (``class left top width height`` / ``class conf left top width height``).

    Args:
        gt_dir: one ground-truth file per image.
        pred_dir: one detection file per image, named like the ground-truth file.

    Returns:
        ``(ground truth, detections)``; image ids are the files' relative paths without suffix,
        categories the class names found in the ground truth (sorted; numerically if all are integers).

    Raises:
        InputError: a missing folder, a malformed line, a detection file without a
            ground-truth file, a detection class absent from the ground truth, or no files.
    """
    gt_dir, pred_dir = _folder(Path(gt_dir), "ground-truth text files"), _folder(Path(pred_dir), "detection text files")
    gt_files, pred_files = _txt_files(gt_dir), _txt_files(pred_dir)
    if not gt_files:
        raise InputError(expected("ground-truth .txt files", "none", str(gt_dir)))
    if not pred_files:
        raise InputError(expected("detection .txt files", "none", str(pred_dir)))
    for key, path in pred_files.items():
        if key not in gt_files:
            raise InputError(expected(f"a ground-truth file {key}.txt in {gt_dir}", "none", str(path)))
    ids = sorted(gt_files)
    gts = {k: _parse(gt_files[k], 4, "class left top width height") for k in ids}
    dts = {k: _parse(p, 5, "class confidence left top width height") for k, p in pred_files.items()}
    names = sorted({n for ns, _, _ in gts.values() for n in ns})
    if names and all(n.lstrip("-").isdigit() for n in names):
        names.sort(key=int)
    index = {n: i for i, n in enumerate(names)}
    for k, (ns, _, lines) in dts.items():
        for n, lineno in zip(ns, lines):
            if n not in index:
                raise InputError(expected("a class that occurs in the ground truth", repr(n), f"{pred_files[k]} line {lineno}"))
    empty = ([], np.zeros((0, 5)), [])
    g_boxes = [gts[k][1] for k in ids]
    g_cls = [np.asarray([index[n] for n in gts[k][0]], np.int64) for k in ids]
    d_rows = [dts.get(k, empty) for k in ids]
    dt = CocoDetections.from_arrays([r[1][:, 1:] for r in d_rows], [r[1][:, 0] for r in d_rows],
                                    [np.asarray([index[n] for n in r[0]], np.int64) for r in d_rows],
                                    image_ids=ids, box_format="xywh", source=str(pred_dir))
    gt = CocoGroundTruth.from_arrays(g_boxes, g_cls, image_ids=ids, category_ids=list(range(len(names))),
                                     category_names=names, box_format="xywh", source=str(gt_dir))
    return gt, dt
