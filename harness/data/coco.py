"""COCO JSON + image folder as a scored dataset, validated once by the scoring core's COCO reader.

Category ids are mapped to class indices in ascending id order (the order Ultralytics uses when
it converts COCO), and the names must agree with the model's, index by index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.data.dataset import Dataset, ImageItem, image_size
from common.errors import InputError, expected


def load_coco_dataset(json_path: Path, images_dir: Path, *, limit: int | None = None) -> Dataset:
    """Load COCO ground truth and resolve every image's ``file_name`` under ``images_dir``.

    Args:
        json_path: the annotations JSON.
        images_dir: the folder ``file_name`` entries are relative to.
        limit: keep only the first ``limit`` images in id order (recorded in the Dataset).

    Raises:
        InputError: invalid JSON or COCO content (record named), a missing image file, or an image
            whose size disagrees with the JSON's width/height.
    """
    from harness.metrics.coco_io import CocoGroundTruth, load_json

    if not images_dir.is_dir():
        raise InputError(expected("the image folder of the COCO annotations", "no such folder", str(images_dir)))
    data = load_json(json_path)
    gt = CocoGroundTruth.from_coco(data, source=str(json_path))
    files = {}
    for i, img in enumerate(data["images"]):
        name = img.get("file_name")
        if not isinstance(name, str) or not name:
            raise InputError(expected("a 'file_name' string", repr(name), f"{json_path} images[{i}]"))
        files[img["id"]] = name
    n = gt.n_images if limit is None else min(limit, gt.n_images)
    order = np.argsort(gt.image_index, kind="stable")
    bounds = np.searchsorted(gt.image_index[order], np.arange(gt.n_images + 1))
    items = []
    for k in range(n):
        image_id = gt.image_ids[k]
        path = images_dir / files[image_id]
        if not path.is_file():
            raise InputError(expected("the image file named by the annotations", "no such file", str(path)))
        width, height = image_size(path)
        jw, jh = (int(v) for v in gt.image_sizes[k])
        if (jw and jw != width) or (jh and jh != height):
            raise InputError(expected(f"an image of {jw}x{jh} as the annotations say", f"{width}x{height}", str(path)))
        rows = order[bounds[k]:bounds[k + 1]]
        xywh = gt.boxes[rows]
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        items.append(ImageItem(path=path, width=width, height=height, boxes=boxes,
                               classes=gt.category_index[rows].astype(np.int64), iscrowd=gt.iscrowd[rows].copy(),
                               area=gt.areas[rows].copy(), image_id=int(image_id) if isinstance(image_id, (int, np.integer)) else None))
    return Dataset(names=tuple(gt.category_names), items=tuple(items), source=str(json_path), split=None,
                   with_ground_truth=True, dropped=gt.n_images - n,
                   dropped_reason=f"--limit {limit}" if gt.n_images > n else None)
