"""Property tests of every reader that takes a user's file: any input gives a result or one
InputError (one line, exit 2), never another exception.

Inputs are both mutations of a valid file (a value swapped for a random JSON value, a line cut,
bytes flipped) and raw random text/bytes. Example counts stay modest: the suite runs on 2 cores.
"""

from __future__ import annotations

import copy
import json
import os
import random
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from common.errors import InputError

DATA = Path(__file__).parents[1] / "results" / "data"
PROFILES = Path(__file__).parents[2] / "devices" / "profiles"
FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
_TMP = Path(tempfile.mkdtemp(prefix="bench-fuzz-"))

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


def _write(name: str, content: bytes | str) -> Path:
    path = _TMP / name
    path.write_bytes(content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content)
    return path


def _paths(obj, prefix=()):
    """Every (path, value) inside a JSON document."""
    yield prefix, obj
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def _mutate(doc, seed: int, value):
    """``doc`` with one value (chosen by ``seed``) replaced by ``value`` (or deleted when value is ...)."""
    doc = copy.deepcopy(doc)
    paths = [p for p, _ in _paths(doc) if p]
    path = random.Random(seed).choice(paths)
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return doc


def _text_damage(text: str, seed: int) -> str:
    rng = random.Random(seed)
    i, j = sorted(rng.randrange(len(text) + 1) for _ in range(2))
    return rng.choice([text[:i], text[:i] + text[j:], text[:i] + "\x00\xff" + text[i:], text[:i] + "9" * 5000 + text[j:]])


def _only_input_errors(fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except InputError as exc:
        assert "\n" not in str(exc).strip(), str(exc)


# -- run records ---------------------------------------------------------------------------------

RECORD = json.loads((DATA / "record_v2.json").read_text())


@FUZZ
@given(seed=st.integers(0, 10**6), value=json_values)
def test_record_with_one_value_replaced(seed, value):
    from results.archive import load_record

    path = _write("rec.json", json.dumps(_mutate(RECORD, seed, value)))
    _only_input_errors(load_record, path)


@FUZZ
@given(seed=st.integers(0, 10**6), raw=st.binary(max_size=200))
def test_record_damaged_or_random_bytes(seed, raw):
    from results.archive import load_record

    _only_input_errors(load_record, _write("rec1.json", _text_damage(json.dumps(RECORD), seed)))
    _only_input_errors(load_record, _write("rec2.json", raw))


# -- COCO ground truth and detections ------------------------------------------------------------

COCO_GT = {"images": [{"id": 1, "width": 64, "height": 48, "file_name": "a.jpg"}, {"id": 2, "width": 64, "height": 48}],
           "categories": [{"id": 1, "name": "box"}, {"id": 3, "name": "ring"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 12], "area": 120, "iscrowd": 0},
                           {"id": 2, "image_id": 2, "category_id": 3, "bbox": [5, 5, 20, 10]}]}
COCO_DT = [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 10, 11], "score": 0.9},
           {"image_id": 2, "category_id": 3, "bbox": [4, 5, 0, 10], "score": 0.3}]


def _coco_roundtrip(gt_path: Path, dt_path: Path) -> None:
    from harness.metrics.coco_io import CocoDetections, CocoGroundTruth, load_json

    CocoGroundTruth.from_coco(load_json(gt_path), source=str(gt_path))
    CocoDetections.from_coco(load_json(dt_path), source=str(dt_path))


@FUZZ
@given(seed=st.integers(0, 10**6), value=json_values, which=st.booleans())
@example(seed=62723, value="", which=True)  # found by fuzzing: image ids "" and 2 (numpy made both strings)
def test_coco_with_one_value_replaced(seed, value, which):
    gt = _mutate(COCO_GT, seed, value) if which else COCO_GT
    dt = COCO_DT if which else _mutate(COCO_DT, seed, value)
    _only_input_errors(_coco_roundtrip, _write("gt.json", json.dumps(gt)), _write("dt.json", json.dumps(dt)))


@FUZZ
@given(seed=st.integers(0, 10**6), raw=st.binary(max_size=200))
def test_coco_damaged_or_random_bytes(seed, raw):
    _only_input_errors(_coco_roundtrip, _write("gt1.json", _text_damage(json.dumps(COCO_GT), seed)), _write("dt1.json", raw))


# -- YOLO labels and data.yaml -------------------------------------------------------------------

label_text = st.text(alphabet="0123456789.-+eE naif\t\n,", max_size=120)


@FUZZ
@given(text=label_text, raw=st.binary(max_size=60), conf=st.booleans())
def test_yolo_label_files(text, raw, conf):
    from harness.data.yolo import read_label_file

    for content in (text, raw, "0 0.5 0.5 0.2 0.1 0.9\n" + text):
        _only_input_errors(read_label_file, _write("l.txt", content), n_classes=3, with_confidence=conf)


yaml_text = st.text(alphabet="abcnmepthrvl:-[]{}'\"0123456789 ./\n\t#&*!|>", max_size=120)


@FUZZ
@given(text=yaml_text, raw=st.binary(max_size=60), value=json_values, seed=st.integers(0, 10**6))
@example(text='path: "\\ud800"\nnames: [a]', raw=b"\x80", value="\x00", seed=31)  # found: a lone surrogate, NUL
def test_data_yaml(text, raw, value, seed):
    from harness.data.yolo import read_data_yaml

    valid = {"path": ".", "train": "images/train", "val": "images/val", "names": {0: "a", 1: "b"}}
    for content in (text, raw, json.dumps(_mutate({**valid, "names": ["a", "b"]}, seed, value))):
        _only_input_errors(read_data_yaml, _write("data.yaml", content))


# -- video ground-truth CSV ----------------------------------------------------------------------

csv_text = st.text(alphabet="0123456789.-+e,\"\n\r\t framecls", max_size=160)


@FUZZ
@given(text=csv_text, raw=st.binary(max_size=80))
def test_video_csv(text, raw):
    from harness.data.video import read_gt_csv

    for content in (text, raw, "frame,track_id,x,y,w,h,class\n1,1,2,3,4,5,0\n" + text):
        _only_input_errors(read_gt_csv, _write("gt.csv", content), n_frames=5, n_classes=3)
        _only_input_errors(read_gt_csv, _write("gt.csv", content))


# -- device profiles -----------------------------------------------------------------------------

PROFILE_TEXT = (PROFILES / "jetson-orin-nano.yaml").read_text()


@FUZZ
@given(seed=st.integers(0, 10**6), raw=st.binary(max_size=80), value=json_values)
def test_device_profile_files(seed, raw, value):
    import yaml

    from devices.profiles import load_profile

    doc = yaml.safe_load(PROFILE_TEXT)
    for content in (_text_damage(PROFILE_TEXT, seed), raw, json.dumps(_mutate(doc, seed, value))):
        _only_input_errors(load_profile, str(_write("profile.yaml", content)))


# -- model files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".pt", ".onnx"])
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.binary(min_size=0, max_size=4096) | st.builds(os.urandom, st.just(4096)))
def test_model_files_of_random_bytes(suffix, raw):
    pytest.importorskip("torch", reason="the .pt loader needs the export extra (torch)")
    pytest.importorskip("onnx", reason="the .onnx loader needs the export extra (onnx)")
    from exporters.source import inspect_source

    _only_input_errors(inspect_source, _write("model" + suffix, raw))
