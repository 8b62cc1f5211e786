from pathlib import Path

import numpy as np
import pytest

from harness.data.yolo import load_yolo_dataset, read_data_yaml, read_label_file
from common.errors import InputError


def _write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


@pytest.mark.parametrize(
    "line, message",
    [
        ("0 0.5 0.5 0.2", "5 numbers"),
        ("x 0.5 0.5 0.2 0.2", "integer class"),
        ("7 0.5 0.5 0.2 0.2", "class index in 0..2"),
        ("-1 0.5 0.5 0.2 0.2", "class index"),
        ("0 0.5 0.5 0 0.2", "positive width and height"),
        ("0 0.95 0.5 0.2 0.2", "inside \\[0, 1\\]"),
        ("0 nan 0.5 0.2 0.2", "finite"),
    ],
)
def test_bad_label_lines_name_file_and_line(tmp_path, line, message):
    p = _write(tmp_path / "a.txt", "1 0.5 0.5 0.1 0.1\n" + line + "\n")
    with pytest.raises(InputError, match=message) as err:
        read_label_file(p, n_classes=3)
    assert f"{p} line 2" in str(err.value)


def test_prediction_file_confidence(tmp_path):
    p = _write(tmp_path / "p.txt", "1 0.5 0.5 0.1 0.1 0.75\n")
    lf = read_label_file(p, with_confidence=True)
    assert lf.confidence.tolist() == [0.75]
    with pytest.raises(InputError, match="confidence in \\[0, 1\\]"):
        read_label_file(_write(tmp_path / "q.txt", "1 0.5 0.5 0.1 0.1 1.5\n"), with_confidence=True)


def test_missing_label_file_is_empty_image(tmp_path):
    lf = read_label_file(tmp_path / "none.txt")
    assert len(lf) == 0 and lf.boxes.shape == (0, 4)


def test_xyxy_conversion(tmp_path):
    lf = read_label_file(_write(tmp_path / "a.txt", "0 0.5 0.25 0.5 0.5\n"))
    np.testing.assert_allclose(lf.xyxy(200, 100), [[50, 0, 150, 50]])


def test_data_yaml_errors(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_data_yaml(tmp_path / "missing.yaml")
    with pytest.raises(InputError, match="a folder"):
        read_data_yaml(tmp_path)
    bad = _write(tmp_path / "bad.yaml", "names: [a, b\nval: x\n")
    with pytest.raises(InputError, match="valid YAML"):
        read_data_yaml(bad)
    nonames = _write(tmp_path / "nonames.yaml", "val: images/val\n")
    with pytest.raises(InputError, match="'names'"):
        read_data_yaml(nonames)


def test_dict_names_and_relative_root(tmp_path):
    y = _write(tmp_path / "d" / "data.yaml", "names:\n  0: cat\n  1: dog\nval: images/val\n")
    info = read_data_yaml(y)
    assert info["names"] == ("cat", "dog")
    assert info["val"] == tmp_path / "d" / "images" / "val"


def test_unreadable_image_named(tmp_path):
    y = _write(tmp_path / "data.yaml", "names: [a]\nval: images/val\n")
    _write(tmp_path / "images" / "val" / "broken.jpg", "not an image")
    with pytest.raises(InputError, match="broken.jpg"):
        load_yolo_dataset(y)


def test_limit_is_recorded(tmp_path):
    from harness.data.synth import write_dataset

    write_dataset(tmp_path, n_train=0, n_val=5)
    ds = load_yolo_dataset(tmp_path / "data.yaml", limit=3)
    assert len(ds) == 3 and ds.dropped == 2 and "limit" in ds.dropped_reason
