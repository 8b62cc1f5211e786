import json

import cv2
import numpy as np
import pytest

from harness.data.coco import load_coco_dataset
from common.errors import InputError


@pytest.fixture
def coco(tmp_path):
    (tmp_path / "img").mkdir()
    for name, (h, w) in {"a.jpg": (40, 60), "b.jpg": (30, 30)}.items():
        cv2.imwrite(str(tmp_path / "img" / name), np.zeros((h, w, 3), np.uint8))
    data = {
        "images": [{"id": 7, "file_name": "b.jpg", "width": 30, "height": 30},
                   {"id": 3, "file_name": "a.jpg", "width": 60, "height": 40}],
        "categories": [{"id": 5, "name": "dog"}, {"id": 2, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 3, "category_id": 5, "bbox": [1, 2, 10, 20], "area": 150, "iscrowd": 0},
            {"id": 2, "image_id": 3, "category_id": 2, "bbox": [5, 5, 5, 5], "area": 25, "iscrowd": 1},
            {"id": 3, "image_id": 7, "category_id": 2, "bbox": [0, 0, 30, 30], "area": 900, "iscrowd": 0},
        ],
    }
    path = tmp_path / "ann.json"
    path.write_text(json.dumps(data))
    return path, tmp_path / "img"


def test_loads_in_id_order_with_classes_by_category_id(coco):
    path, img = coco
    ds = load_coco_dataset(path, img)
    assert ds.names == ("cat", "dog")  # category ids 2, 5
    assert [it.image_id for it in ds.items] == [3, 7]
    first = ds.items[0]
    np.testing.assert_allclose(first.boxes, [[1, 2, 11, 22], [5, 5, 10, 10]])
    assert first.classes.tolist() == [1, 0]
    assert first.iscrowd.tolist() == [False, True]
    assert first.area.tolist() == [150, 25]
    assert ds.n_boxes == 3


def test_missing_image_and_size_mismatch(coco, tmp_path):
    path, img = coco
    (img / "b.jpg").unlink()
    with pytest.raises(InputError, match="b.jpg"):
        load_coco_dataset(path, img)
    cv2.imwrite(str(img / "b.jpg"), np.zeros((31, 30, 3), np.uint8))
    with pytest.raises(InputError, match="30x30"):
        load_coco_dataset(path, img)


def test_limit(coco):
    path, img = coco
    ds = load_coco_dataset(path, img, limit=1)
    assert len(ds) == 1 and ds.dropped == 1
