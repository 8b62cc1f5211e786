"""Class 3 (broken images) and class 8 (valid input refused): real files, the real loaders and CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from common.errors import InputError
from harness.data.dataset import load_image_folder
from harness.data.synth import write_dataset
from harness.data.yolo import load_yolo_dataset, read_label_file
from tests.reliability.conftest import bench, one_line_error


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ds") / "d"
    write_dataset(out, seed=0, n_train=1, n_val=6)
    return out


def copy_dataset(src: Path, dst: Path) -> Path:
    for p in src.rglob("*"):
        if p.is_file():
            (dst / p.relative_to(src)).parent.mkdir(parents=True, exist_ok=True)
            (dst / p.relative_to(src)).write_bytes(p.read_bytes())
    return dst


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_a_truncated_image_is_refused_by_name_before_anything_is_scored(dataset, tmp_path, kind):
    import cv2

    d = copy_dataset(dataset, tmp_path / "d")
    victim = d / "images" / "val" / "val_00003.jpg"
    if kind == "png":  # the same image as a PNG, then cut
        png = victim.with_suffix(".png")
        png.write_bytes(cv2.imencode(".png", cv2.imread(str(victim)))[1].tobytes())
        victim.unlink()
        victim = png
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) * 2 // 3])  # what an interrupted copy leaves
    if kind == "jpeg":  # what the worker's cv2.imread would do: decode it in part, without a word
        assert cv2.imread(str(victim), cv2.IMREAD_COLOR) is not None
    with pytest.raises(InputError, match=rf"{victim.name}: expected a complete {'JPEG' if kind == 'jpeg' else 'PNG'} file"):
        load_yolo_dataset(d / "data.yaml", split="val")
    with pytest.raises(InputError, match="truncated"):
        load_image_folder(d / "images" / "val")
    assert len(load_yolo_dataset(dataset / "data.yaml", split="val")) == 6  # the intact copy loads


def test_bench_eval_names_a_truncated_image(dataset, tmp_path):
    d = copy_dataset(dataset, tmp_path / "d")
    preds = tmp_path / "preds"
    preds.mkdir()
    (preds / "val_00000.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n")
    victim = d / "images" / "val" / "val_00001.jpg"
    victim.write_bytes(victim.read_bytes()[:-200])
    line = one_line_error(bench("eval", "--format", "yolo", "--gt", str(d / "labels" / "val"), "--pred", str(preds),
                                "--data", str(d / "data.yaml")))
    assert str(victim) in line and "truncated JPEG" in line


def test_relative_data_yaml_without_path_resolves_from_its_folder(dataset, tmp_path):
    copy_dataset(dataset, tmp_path / "d")
    assert "path:" not in (tmp_path / "d" / "data.yaml").read_text()  # as `bench data synth --out d` writes it
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        val = load_yolo_dataset(Path("d/data.yaml"), split="val")
        train = load_yolo_dataset(Path("d/data.yaml"), split="train")
    finally:
        os.chdir(cwd)
    assert len(val) == 6 and len(train) == 1
    assert all(it.path.is_file() for it in val.items)
    assert val.items[0].path == (tmp_path / "d" / "images" / "val" / "val_00000.jpg").resolve()


def test_bench_eval_yolo_with_a_relative_data_yaml(dataset, tmp_path):
    copy_dataset(dataset, tmp_path / "d")
    preds = tmp_path / "p"
    preds.mkdir()
    (preds / "val_00000.txt").write_text("0 0.5 0.5 0.2 0.2 0.9\n")
    done = bench("eval", "--format", "yolo", "--gt", "d/labels/val", "--pred", "p", "--data", "d/data.yaml", "--json",
                 cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "map50_95" in json.loads(done.stdout) or json.loads(done.stdout)


def test_a_zero_area_predicted_box_is_a_detection_that_matches_nothing(dataset, tmp_path):
    d = copy_dataset(dataset, tmp_path / "d")
    gt_line = (d / "labels" / "val" / "val_00000.txt").read_text().splitlines()[0]
    cls, cx, cy, w, h = gt_line.split()
    preds = tmp_path / "preds"
    preds.mkdir()
    # the ground-truth box itself, and one clipped at the right edge to zero width (conf 0.0012)
    (preds / "val_00000.txt").write_text(f"{cls} {cx} {cy} {w} {h} 0.9\n{cls} 1.0 0.5 0.0 0.1 0.0012\n")
    lab = read_label_file(preds / "val_00000.txt", n_classes=6, with_confidence=True)
    assert lab.boxes[1].tolist() == [1.0, 0.5, 0.0, 0.1]
    done = bench("eval", "--format", "yolo", "--gt", str(d / "labels" / "val"), "--pred", str(preds),
                 "--data", str(d / "data.yaml"), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    # degenerate ground truth is still refused
    (d / "labels" / "val" / "val_00001.txt").write_text("0 0.5 0.5 0.0 0.1\n")
    line = one_line_error(bench("eval", "--format", "yolo", "--gt", str(d / "labels" / "val"), "--pred", str(preds),
                                "--data", str(d / "data.yaml")))
    assert "val_00001.txt line 1: expected a box with positive width and height" in line
