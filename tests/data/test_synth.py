import hashlib
import json

import numpy as np
import pytest

from harness.data.synth import CLASS_NAMES, write_dataset
from harness.data.yolo import load_yolo_dataset


def _tree_digest(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    summary = write_dataset(out, seed=3, n_train=12, n_val=8)
    return out, summary


def test_reloads_with_exact_box_count(synth):
    out, summary = synth
    for split in ("train", "val"):
        ds = load_yolo_dataset(out / "data.yaml", split=split)
        assert len(ds) == summary["splits"][split]["images"]
        assert ds.n_boxes == summary["splits"][split]["boxes"]
        assert ds.names == CLASS_NAMES
        assert ds.dropped == 0


def test_summary_file_matches_return(synth):
    out, summary = synth
    assert json.loads((out / "synth.json").read_text()) == summary
    assert summary["synth_version"] == 1


def test_deterministic_per_seed(tmp_path, synth):
    out, _ = synth
    again = tmp_path / "again"
    write_dataset(again, seed=3, n_train=12, n_val=8)
    assert _tree_digest(again) == _tree_digest(out)
    other = tmp_path / "other"
    write_dataset(other, seed=4, n_train=12, n_val=8)
    assert _tree_digest(other) != _tree_digest(out)


def test_val_split_independent_of_train_size(tmp_path, synth):
    out, _ = synth
    bigger = tmp_path / "bigger"
    write_dataset(bigger, seed=3, n_train=20, n_val=8)
    a = sorted((out / "images" / "val").iterdir())
    b = sorted((bigger / "images" / "val").iterdir())
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_boxes_inside_images_and_cover_size_ranges(tmp_path):
    out = tmp_path / "d"
    write_dataset(out, seed=0, n_train=0, n_val=60)
    ds = load_yolo_dataset(out / "data.yaml")
    areas = []
    for it in ds.items:
        assert np.all(it.boxes[:, 0] >= 0) and np.all(it.boxes[:, 2] <= it.width + 1e-6)
        assert np.all(it.boxes[:, 1] >= 0) and np.all(it.boxes[:, 3] <= it.height + 1e-6)
        areas.extend(((it.boxes[:, 2] - it.boxes[:, 0]) * (it.boxes[:, 3] - it.boxes[:, 1])).tolist())
    areas = np.array(areas)
    # COCO size ranges: small < 32^2 <= medium < 96^2 <= large; all three must be present.
    assert (areas < 32**2).sum() > 0
    assert ((areas >= 32**2) & (areas < 96**2)).sum() > 0
    assert (areas >= 96**2).sum() > 0
    classes = np.concatenate([it.classes for it in ds.items])
    assert set(classes.tolist()) == set(range(len(CLASS_NAMES)))


def test_negative_count_is_input_error(tmp_path):
    from common.errors import InputError

    with pytest.raises(InputError, match="--n-val"):
        write_dataset(tmp_path, n_train=1, n_val=-1)
