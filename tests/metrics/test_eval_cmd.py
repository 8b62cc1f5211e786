"""``bench eval`` end to end: numbers, JSON output, and one-line errors with exit status 2."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from harness.cli import main
from harness.metrics import CocoDetections, CocoGroundTruth, evaluate_coco, evaluate_voc
from tests.metrics.synth import random_coco


def run_cli(capsys, *argv):
    code = main(["eval", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def coco_files(tmp_path):
    gt, dt = random_coco(12, n_images=15)
    g, d = tmp_path / "gt.json", tmp_path / "preds.json"
    g.write_text(json.dumps(gt))
    d.write_text(json.dumps(dt))
    return g, d, gt, dt


def test_json_output_has_the_engine_numbers_at_full_precision(capsys, coco_files):
    g, d, gt, dt = coco_files
    code, out, err = run_cli(capsys, "--gt", g, "--pred", d, "--json", "--iou-threshold", "0.6")
    assert code == 0 and err == ""
    report = json.loads(out)
    stats = evaluate_coco(gt, dt).stats
    assert [report["coco"][k] for k in ("AP", "AP50", "AR100")] == [stats[0], stats[1], stats[8]]
    assert report["voc"]["map"] == evaluate_voc(gt, dt, iou_threshold=0.6).mean_ap
    assert report["schema"] == "bench.eval/1" and report["n_dt"] == len(dt)
    assert {row["name"] for row in report["per_class"]} == {c["name"] for c in gt["categories"]}
    assert 0.6 <= report["localization"]["mean_matched_iou"] <= 1.0


def test_table_output(capsys, coco_files):
    g, d, _, _ = coco_files
    code, out, _ = run_cli(capsys, "--gt", g, "--pred", d)
    assert code == 0
    for text in ("AP @[.50:.95] all", "VOC mAP @0.5", "mean matched IoU", "tight-box rate", "Per class"):
        assert text in out


def one_line_error(capsys, *argv) -> str:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize(
    "preds, fragment",
    [
        ('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},', "line 1 column"),
        ('[{"image_id": 999, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5}]', "record 0: expected an image_id listed"),
        ('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 1], "score": 0.5}]', "record 0: expected a 'bbox' with non-negative"),
        ('[{"image_id": 1, "category_id": 1, "bbox": [0, 0, NaN, 1], "score": 0.5}]', "record 0: expected finite 'bbox'"),
        ('[{"image_id": 1, "category_id": 77, "bbox": [0, 0, 1, 1], "score": 0.5}]', "record 0: expected a category_id listed"),
        ("", "expected JSON content, got an empty file"),
        ('{"annotations": []}', "expected a JSON list of detections, got dict"),
    ],
)
def test_bad_predictions_file(capsys, tmp_path, preds, fragment):
    gt = {"images": [{"id": 1, "width": 10, "height": 10}], "categories": [{"id": 1}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "area": 25, "iscrowd": 0}]}
    g, d = tmp_path / "gt.json", tmp_path / "preds.json"
    g.write_text(json.dumps(gt))
    d.write_text(preds)
    line = one_line_error(capsys, "--gt", g, "--pred", d)
    assert line.startswith(f"bench: error: {d}") and fragment in line


def test_segmentation_of_the_wrong_type(capsys, tmp_path):
    gt = {"images": [{"id": 1, "width": 10, "height": 10}], "categories": [{"id": 1}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 5, 0, 5, 5]], "area": 12.5, "iscrowd": 0}]}
    g, d = tmp_path / "gt.json", tmp_path / "preds.json"
    g.write_text(json.dumps(gt))
    d.write_text(json.dumps([{"image_id": 1, "category_id": 1, "segmentation": 5, "score": 0.5}]))
    line = one_line_error(capsys, "--gt", g, "--pred", d, "--iou-type", "segm")
    assert f"{d} record 0: expected 'segmentation'" in line and "got int 5" in line


def test_folder_where_a_file_was_expected_and_missing_file(capsys, tmp_path, coco_files):
    g, _, _, _ = coco_files
    assert one_line_error(capsys, "--gt", tmp_path, "--pred", g) == f"bench: error: {tmp_path}: expected a JSON file, got a folder"
    assert "nothing there" in one_line_error(capsys, "--gt", g, "--pred", tmp_path / "nope.json")


def test_bad_threshold(capsys, coco_files):
    g, d, _, _ = coco_files
    assert "--iou-threshold: expected an IoU threshold in (0, 1], got 1.5" in one_line_error(capsys, "--gt", g, "--pred", d, "--iou-threshold", "1.5")


def write_png(path, w, h):
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (w, h)).save(path)


@pytest.fixture
def yolo_tree(tmp_path):
    """images/val, labels/val and a predictions folder; returns (labels, preds, arrays for the engine)."""
    rng = np.random.default_rng(0)
    sizes = {"a": (64, 48), "b": (80, 80), "sub/c": (32, 96)}
    gt_arr, dt_arr = {}, {}
    for name, (w, h) in sizes.items():
        write_png(tmp_path / "images" / "val" / f"{name}.png", w, h)
        n = 3
        c = rng.uniform(0.3, 0.7, (n, 2))
        s = rng.uniform(0.1, 0.3, (n, 2))
        cls = rng.integers(0, 2, n)
        lab = tmp_path / "labels" / "val" / f"{name}.txt"
        lab.parent.mkdir(parents=True, exist_ok=True)
        lab.write_text("".join(f"{k} {x} {y} {bw} {bh}\n" for k, (x, y), (bw, bh) in zip(cls, c, s)))
        conf = rng.uniform(0.2, 1.0, n)
        shift = c + rng.normal(0, 0.02, c.shape)
        pred = tmp_path / "preds" / f"{name}.txt"
        pred.parent.mkdir(parents=True, exist_ok=True)
        pred.write_text("".join(f"{k} {x} {y} {bw} {bh} {p}\n" for k, (x, y), (bw, bh), p in zip(cls, shift, s, conf)))
        gt_arr[name] = (np.concatenate([c, s], 1), cls, (w, h))
        dt_arr[name] = (np.concatenate([shift, s], 1), cls, conf)
    write_png(tmp_path / "images" / "val" / "empty.png", 16, 16)  # background image: no label file
    return tmp_path / "labels" / "val", tmp_path / "preds", gt_arr, dt_arr


def test_yolo_folders_match_the_engine_on_the_same_boxes(capsys, yolo_tree):
    labels, preds, gt_arr, dt_arr = yolo_tree
    code, out, err = run_cli(capsys, "--format", "yolo", "--gt", labels, "--pred", preds, "--json")
    assert code == 0, err
    report = json.loads(out)
    ids = sorted(gt_arr)
    sizes = [gt_arr[k][2] for k in ids]
    gt = CocoGroundTruth.from_arrays([gt_arr[k][0] for k in ids], [gt_arr[k][1] for k in ids], image_ids=ids,
                                     image_sizes=sizes, box_format="yolo")
    dt = CocoDetections.from_arrays([dt_arr[k][0] for k in ids], [dt_arr[k][2] for k in ids], [dt_arr[k][1] for k in ids],
                                    image_ids=ids, image_sizes=sizes, box_format="yolo")
    assert report["n_images"] == 4  # the background image counts
    assert report["coco"]["AP"] == pytest.approx(evaluate_coco(gt, dt).stats[0], abs=1e-9)


def test_yolo_bad_line_names_file_and_line(capsys, yolo_tree):
    labels, preds, _, _ = yolo_tree
    (preds / "a.txt").write_text("0 0.5 0.5 0.1 0.1 0.9\n1 0.5 0.5 0.1\n")
    line = one_line_error(capsys, "--format", "yolo", "--gt", labels, "--pred", preds)
    assert f"{preds / 'a.txt'} line 2" in line


def test_yolo_prediction_for_an_unknown_image(capsys, yolo_tree):
    labels, preds, _, _ = yolo_tree
    (preds / "zzz.txt").write_text("0 0.5 0.5 0.1 0.1 0.9\n")
    assert "expected a prediction file named after an image" in one_line_error(capsys, "--format", "yolo", "--gt", labels, "--pred", preds)


def test_yolo_without_images_folder(capsys, tmp_path, yolo_tree):
    labels, preds, _, _ = yolo_tree
    lonely = tmp_path / "elsewhere"
    lonely.mkdir()
    (lonely / "a.txt").write_text("")
    assert "pass --images DIR or --data data.yaml" in one_line_error(capsys, "--format", "yolo", "--gt", lonely, "--pred", preds)


def test_voc_text_round_trip_and_errors(capsys, tmp_path):
    gt_dir, dt_dir = tmp_path / "gt", tmp_path / "dt"
    gt_dir.mkdir()
    dt_dir.mkdir()
    (gt_dir / "img1.txt").write_text("dog 10 10 50 40\ncat 100 100 20 20\n")
    (gt_dir / "img2.txt").write_text("dog 0 0 30 30\n")
    (dt_dir / "img1.txt").write_text("dog 0.9 11 10 50 40\ncat 0.4 300 300 20 20\n")
    (dt_dir / "img2.txt").write_text("dog 0.8 0 0 30 29\n")
    code, out, err = run_cli(capsys, "--format", "voc-text", "--gt", gt_dir, "--pred", dt_dir, "--json")
    assert code == 0, err
    report = json.loads(out)
    by_name = {r["name"]: r for r in report["per_class"]}
    assert by_name["dog"]["voc_ap"] == pytest.approx(1.0) and by_name["cat"]["voc_ap"] == 0.0
    assert report["voc"]["map"] == pytest.approx(0.5)
    (dt_dir / "img2.txt").write_text("bird 0.8 0 0 30 29\n")
    line = one_line_error(capsys, "--format", "voc-text", "--gt", gt_dir, "--pred", dt_dir)
    assert f"{dt_dir / 'img2.txt'} line 1: expected a class that occurs in the ground truth, got 'bird'" in line
    (dt_dir / "img2.txt").write_text("dog 0.8 0 0 -30 29\n")
    assert "non-negative width and height" in one_line_error(capsys, "--format", "voc-text", "--gt", gt_dir, "--pred", dt_dir)
    (dt_dir / "img3.txt").write_text("")
    (dt_dir / "img2.txt").write_text("")
    assert "expected a ground-truth file img3.txt" in one_line_error(capsys, "--format", "voc-text", "--gt", gt_dir, "--pred", dt_dir)


def test_nan_never_reaches_json(capsys, tmp_path):
    gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}],
          "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5], "area": 25}]}
    g, d = tmp_path / "gt.json", tmp_path / "p.json"
    g.write_text(json.dumps(gt))
    d.write_text("[]")
    code, out, _ = run_cli(capsys, "--gt", g, "--pred", d, "--json")
    report = json.loads(out)
    assert code == 0 and report["coco"]["APm"] is None and report["localization"]["mean_matched_iou"] is None
    assert not any(isinstance(v, float) and math.isnan(v) for v in report["coco"].values())


def test_yolo_with_data_yaml_names_and_images(capsys, yolo_tree, tmp_path):
    labels, preds, _, _ = yolo_tree
    data = tmp_path / "data.yaml"
    data.write_text(f"path: {tmp_path}\nval: images/val\nnames: ['car', 'bus']\n")
    code, out, err = run_cli(capsys, "--format", "yolo", "--gt", labels, "--pred", preds, "--data", data, "--json")
    assert code == 0, err
    assert [r["name"] for r in json.loads(out)["per_class"]] == ["car", "bus"]
    (preds / "a.txt").write_text("5 0.5 0.5 0.1 0.1 0.9\n")  # class 5 of 2
    line = one_line_error(capsys, "--format", "yolo", "--gt", labels, "--pred", preds, "--data", data)
    assert f"{preds / 'a.txt'} line 1: expected a class index in 0..1, got 5" in line


def test_segm_end_to_end(capsys, tmp_path):
    from tests.metrics.synth import pycocotools_stats, random_segm

    gt, dt = random_segm(2)
    g, d = tmp_path / "gt.json", tmp_path / "segm.json"
    g.write_text(json.dumps(gt))
    d.write_text(json.dumps(dt))
    code, out, err = run_cli(capsys, "--gt", g, "--pred", d, "--iou-type", "segm", "--json")
    assert code == 0, err
    assert json.loads(out)["coco"]["AP"] == pytest.approx(pycocotools_stats(gt, dt, "segm")[0], abs=1e-9)
    line = one_line_error(capsys, "--format", "voc-text", "--gt", tmp_path, "--pred", tmp_path, "--iou-type", "segm")
    assert "--iou-type bbox for text formats" in line
