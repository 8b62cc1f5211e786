"""The yolo-val metrics end to end: scored by harness.evaluation, stored in the record (optional
accuracy.yolo_val, validated), rendered in the report (table, per-class tables, curves, confusion
matrices) and decoded by a real headless Chromium where one exists."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from harness.evaluation import score_variants
from harness.metrics.yolo_val import confusion_matrix, matrix_from_cells
from harness.worker import FrameDets
from results.record import new_record, variant_entry
from results.report import write_report
from results.schema import validate_record

NAMES = ("car", "bus", "bike")


def _frames(seed: int = 0, n: int = 24):
    rng = np.random.default_rng(seed)
    truth, good, worse = [], [], []
    for _ in range(n):
        k = int(rng.integers(1, 4))
        xy = rng.uniform(0, 300, (k, 2))
        boxes = np.concatenate([xy, xy + rng.uniform(20, 80, (k, 2))], 1)
        classes = rng.integers(0, 3, k)
        truth.append(NS(boxes=boxes, classes=classes, iscrowd=np.zeros(k, bool), area=None))
        good.append(FrameDets(boxes + rng.normal(0, 2, boxes.shape), rng.uniform(0.3, 1.0, k), classes))
        wrong = np.where(rng.random(k) < 0.3, (classes + 1) % 3, classes)
        worse.append(FrameDets(boxes + rng.normal(0, 6, boxes.shape), rng.uniform(0.05, 0.9, k), wrong))
    return truth, good, worse


def _record(tmp_path):
    truth, good, worse = _frames()
    data = NS(truth=tuple(truth), names=NAMES)
    ok = lambda d: NS(status="ok", detections=tuple(d))  # noqa: E731
    scored = score_variants(data, {"fp32": ok(good), "int8": ok(worse)}, bootstrap=0)
    entries = [variant_entry(name=n, format="onnx", precision=n, accuracy=scored[n].accuracy,
                             vs_reference=scored[n].vs_reference, timing={"fps": 10.0}) for n in ("fp32", "int8")]
    raw = new_record(release="v1", command=["bench", "run"], device="cpu", hardware={}, runtime_versions={},
                     model={"path": "m.pt", "sha256": "ab" * 32, "name": "m", "family": "yolo11", "imgsz": 320,
                            "classes": list(NAMES)},
                     data={"kind": "images", "source": "synthetic", "count": len(truth), "with_ground_truth": True},
                     variants=entries, settings={})
    raw = raw.to_dict() if hasattr(raw, "to_dict") else raw
    return validate_record(raw, "record"), truth, worse


def test_the_record_carries_what_yolo_val_shows(tmp_path):
    record, truth, worse = _record(tmp_path)
    y = record.variant("int8").accuracy.yolo_val
    m = matrix_from_cells(y["confusion"]["cells"], 3)
    np.testing.assert_array_equal(m, confusion_matrix(truth, worse, 3))
    assert m[:3, :3].sum() - np.trace(m[:3, :3]) > 0  # the wrong-class boxes are off the diagonal
    assert set(y["per_class"]) <= set(NAMES) and all(r["n_gt"] > 0 for r in y["per_class"].values())
    per_class_ap = record.variant("int8").accuracy.per_class_ap
    for name, row in y["per_class"].items():
        assert row["map50_95"] == pytest.approx(per_class_ap[name], abs=1e-4)
    best = y["f1_optimal"]
    assert 0 <= best["conf"] < 1 and 0 < best["f1"] <= 1
    assert record.variant("fp32").accuracy.yolo_val["f1_optimal"]["f1"] > best["f1"]


def test_report_has_the_section_and_its_plots_decode(tmp_path):
    record, _, _ = _record(tmp_path)
    files = write_report([(record, None)], tmp_path / "out")
    md = files.markdown.read_text()
    assert "### Detection metrics as yolo val shows them" in md
    assert "#### fp32: per class" in md and "#### int8: per class" in md
    assert "| variant | F1-optimal conf | P | R | F1 | right class | wrong class | missed | spurious |" in md
    names = sorted(p.name for p in (tmp_path / "out" / "plots").iterdir())
    assert {"cpu-m-pr-f1.png", "cpu-m-confusion-fp32.png", "cpu-m-confusion-int8.png"} <= set(names)
    from .test_report_browser import PROBE, _chromium, _open

    browser = _chromium()
    if browser is None:
        pytest.skip("no Chromium here to decode the plots (install Debian's 'chromium' package)")
    html = files.html.read_text()
    page = tmp_path / "probed.html"
    page.write_text(html.replace("<head>", "<head>" + PROBE, 1))
    seen, _ = _open(page, tmp_path / "profile", browser)
    assert len(seen["images"]) == html.count("<img ") == len(files.images)
    assert all(i["complete"] and i["width"] > 0 for i in seen["images"]) and seen["errors"] == []
