"""Validation of COCO ground truth and detections: one line naming the file and record."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from common.errors import InputError
from harness.metrics import CocoDetections, CocoGroundTruth, evaluate_coco, load_json

GT = {
    "images": [{"id": 1, "width": 64, "height": 48}, {"id": 2, "width": 64, "height": 48}],
    "categories": [{"id": 1, "name": "car"}, {"id": 3, "name": "person"}],
    "annotations": [
        {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 20], "area": 200, "iscrowd": 0},
        {"id": 2, "image_id": 2, "category_id": 3, "bbox": [5, 5, 4, 4], "area": 16, "iscrowd": 0},
    ],
}


def dets(**change):
    d = {"image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 20], "score": 0.9}
    d.update(change)
    return [{"image_id": 2, "category_id": 3, "bbox": [5, 5, 4, 4], "score": 0.8}, d]


def error_of(fn, *args, **kw) -> str:
    with pytest.raises(InputError) as info:
        fn(*args, **kw)
    message = str(info.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    "change, fragments",
    [
        ({"image_id": 99}, ["preds.json record 1", "image_id listed in the ground truth's images", "99"]),
        ({"category_id": 2}, ["preds.json record 1", "category_id", "2"]),
        ({"bbox": [1, 2, -3, 4]}, ["preds.json record 1", "non-negative width and height"]),
        ({"bbox": [1, 2, math.nan, 4]}, ["preds.json record 1", "finite"]),
        ({"bbox": [1, 2, 3]}, ["preds.json record 1", "[x, y, width, height]"]),
        ({"bbox": "1,2,3,4"}, ["preds.json record 1", "[x, y, width, height]"]),
        ({"score": "high"}, ["preds.json record 1", "'score' to be a finite number", "'high'"]),
        ({"score": math.inf}, ["preds.json record 1", "finite number"]),
        ({"image_id": [1]}, ["preds.json record 1", "integer or a string"]),
    ],
)
def test_bad_detection_record_is_named(change, fragments):
    try:  # the record is rejected either when read or when linked to the ground truth
        d = CocoDetections.from_coco(dets(**change), source="preds.json")
        message = error_of(evaluate_coco, GT, d)
    except InputError as exc:
        message = str(exc)
    for f in fragments:
        assert f in message, message


def test_missing_field_is_named():
    records = dets()
    del records[1]["score"]
    assert "preds.json record 1: expected a 'score' field" in error_of(CocoDetections.from_coco, records, source="preds.json")


def test_record_that_is_not_an_object():
    message = error_of(CocoDetections.from_coco, [dets()[0], 7], source="p.json")
    assert message.startswith("p.json record 1: expected a JSON object")


def test_detections_must_be_a_list():
    assert "expected a JSON list of detections, got dict" in error_of(CocoDetections.from_coco, {"a": 1}, source="p.json")


@pytest.mark.parametrize(
    "segm, fragment",
    [("abc", "got str 'abc'"), ({"counts": "x"}, "size"), ([[1, 2, 3]], "flat list of x, y pairs"), ([], "empty polygon")],
)
def test_segmentation_of_the_wrong_type(segm, fragment):
    records = [{"image_id": 1, "category_id": 1, "segmentation": segm, "score": 0.5}]
    message = error_of(CocoDetections.from_coco, records, iou_type="segm", source="s.json")
    assert message.startswith("s.json record 0: expected 'segmentation'") and fragment in message


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda g: g.pop("images"), "expected a 'images' list, got none"),
        (lambda g: g["annotations"][1].update(image_id=7), "gt.json annotations record 1: expected an image_id listed"),
        (lambda g: g["annotations"][0].update(category_id=9), "gt.json annotations record 0: expected a category_id"),
        (lambda g: g["annotations"][1].update(bbox=[0, 0, -1, 2]), "gt.json annotations record 1: expected a 'bbox' with non-negative"),
        (lambda g: g["annotations"][0].update(area=math.nan), "gt.json annotations record 0: expected 'area' to be a finite number"),
        (lambda g: g["images"].append({"id": 1}), "unique image ids"),
        (lambda g: g["categories"][0].pop("id"), "gt.json categories record 0: expected a 'id' field"),
    ],
)
def test_bad_ground_truth_is_named(mutate, fragment):
    g = json.loads(json.dumps(GT))
    mutate(g)
    assert fragment in error_of(CocoGroundTruth.from_coco, g, source="gt.json")


def test_load_json_problems(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[{"image_id": 1,\n "score": }]')
    assert error_of(load_json, bad).startswith(f"{bad} line 2 column 11: expected valid JSON")
    empty = tmp_path / "empty.json"
    empty.write_text("  \n")
    assert error_of(load_json, empty) == f"{empty}: expected JSON content, got an empty file"
    assert error_of(load_json, tmp_path) == f"{tmp_path}: expected a JSON file, got a folder"
    assert "nothing there" in error_of(load_json, tmp_path / "missing.json")


def test_defaults_follow_pycocotools():
    g = CocoGroundTruth.from_coco({"images": [{"id": 5}], "categories": [{"id": 2}],
                                   "annotations": [{"image_id": 5, "category_id": 2, "bbox": [0, 0, 3, 4]}]})
    assert g.areas.tolist() == [12.0] and g.iscrowd.tolist() == [False]
    d = CocoDetections.from_coco([{"image_id": 5, "category_id": 2, "bbox": [0, 0, 3, 4], "score": 1}])
    assert d.areas.tolist() == [12.0]


def test_containers_are_immutable():
    g = CocoGroundTruth.from_coco(GT)
    with pytest.raises(ValueError):
        g.boxes[0, 0] = 5.0
    with pytest.raises(AttributeError):
        g.source = "x"


def test_from_arrays_rejects_bad_rows():
    msg = error_of(CocoGroundTruth.from_arrays, [np.array([[0, 0, 5, 5], [3, 3, 1, 9]], float)], [np.array([0, 1])], source="frames")
    assert msg.startswith("frames image 0 box 1: expected finite boxes with non-negative width and height")
    msg = error_of(CocoDetections.from_arrays, [np.zeros((2, 4))], [np.array([0.5])], [np.array([0, 0])], source="pred")
    assert "pred scores" in msg and "one scores value per box (2)" in msg
