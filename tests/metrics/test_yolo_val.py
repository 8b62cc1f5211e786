"""harness/metrics/yolo_val.py against Ultralytics' own functions (ConfusionMatrix, match_predictions,
ap_per_class) on the same random detections; the per-class mAP against pycocotools."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from harness.metrics.yolo_val import (confusion_matrix, correct_detections, matrix_from_cells, pr_curves,
                                      yolo_val_summary)


def random_set(seed: int, n_frames: int = 12, nc: int = 3):
    """Ground truth and detections near it (shifted, some wrong classes, some spurious), plus empty frames."""
    rng = np.random.default_rng(seed)
    truth, dets = [], []
    for f in range(n_frames):
        n = 0 if f % 5 == 4 else int(rng.integers(1, 6))
        xy = rng.uniform(0, 200, (n, 2))
        wh = rng.uniform(10, 60, (n, 2))
        gb = np.concatenate([xy, xy + wh], 1)
        gc = rng.integers(0, nc, n)
        keep = rng.random(n) < 0.8
        db = gb[keep] + rng.normal(0, 4, (keep.sum(), 4))
        dc = np.where(rng.random(keep.sum()) < 0.85, gc[keep], rng.integers(0, nc, keep.sum()))
        m = int(rng.integers(0, 4)) if f % 7 != 6 else 0
        sxy = rng.uniform(0, 200, (m, 2))
        db = np.concatenate([db, np.concatenate([sxy, sxy + rng.uniform(10, 50, (m, 2))], 1)])
        dc = np.concatenate([dc, rng.integers(0, nc, m)])
        ds = np.round(rng.uniform(0.01, 1.0, len(dc)), 2)  # ties on purpose
        truth.append(NS(boxes=gb, classes=gc))
        dets.append(NS(boxes=db, scores=ds, classes=dc))
    return truth, dets


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_confusion_matrix_is_ultralytics(seed):
    torch = pytest.importorskip("torch", reason="the reference implementation (Ultralytics) needs torch")
    metrics = pytest.importorskip("ultralytics.utils.metrics", reason="compared with Ultralytics' ConfusionMatrix")
    truth, dets = random_set(seed)
    ref = metrics.ConfusionMatrix(names={0: "a", 1: "b", 2: "c"})
    for t, d in zip(truth, dets):
        ref.process_batch({"bboxes": torch.tensor(d.boxes, dtype=torch.float32),
                           "conf": torch.tensor(d.scores, dtype=torch.float32),
                           "cls": torch.tensor(d.classes, dtype=torch.float32)},
                          {"bboxes": torch.tensor(t.boxes, dtype=torch.float32),
                           "cls": torch.tensor(t.classes, dtype=torch.float32)})
    ours = confusion_matrix(truth, dets, nc=3)
    assert ours.shape == (4, 4) and ours.sum() > 0
    np.testing.assert_array_equal(ours, ref.matrix.astype(np.int64))
    n_gt = sum(len(t.classes) for t in truth)
    assert ours[:, :3].sum() == n_gt  # every ground-truth box lands in exactly one column (background row: missed)


@pytest.mark.parametrize("seed", [0, 3])
def test_correct_detections_and_curves_are_ultralytics(seed):
    torch = pytest.importorskip("torch", reason="the reference implementation (Ultralytics) needs torch")
    metrics = pytest.importorskip("ultralytics.utils.metrics", reason="compared with Ultralytics' ap_per_class")
    from ultralytics.models.yolo.detect.val import DetectionValidator

    truth, dets = random_set(seed, n_frames=20)
    fake_self = NS(iouv=torch.linspace(0.5, 0.95, 10))
    tps, confs, pcls, tcls = [], [], [], []
    for t, d in zip(truth, dets):
        order = np.argsort(-d.scores, kind="stable")  # the validator's predictions come sorted (NMS order)
        iou = metrics.box_iou(torch.tensor(t.boxes), torch.tensor(d.boxes[order])) if len(t.classes) and len(order) \
            else torch.zeros((len(t.classes), len(order)))
        ref = DetectionValidator.match_predictions(fake_self, torch.tensor(d.classes[order]),
                                                   torch.tensor(t.classes), iou).numpy()
        ours = correct_detections(t.boxes, t.classes, d.boxes, d.scores, d.classes,
                                  thresholds=np.linspace(0.5, 0.95, 10))[order]
        np.testing.assert_array_equal(ours, ref)
        tps.append(ours)
        confs.append(d.scores)
        pcls.append(d.classes)
        tcls.append(t.classes)
    tp, conf, pc, tc = (np.concatenate(x) for x in (tps, confs, pcls, tcls))
    ref = metrics.ap_per_class(tp, conf, pc, tc)
    curves = pr_curves(tp[:, 0], conf, pc, tc)
    np.testing.assert_allclose(curves.precision, ref[7], atol=1e-12)
    np.testing.assert_allclose(curves.recall, ref[8], atol=1e-12)
    np.testing.assert_allclose(curves.f1, ref[9], atol=1e-12)
    best = curves.best_index()
    np.testing.assert_allclose(curves.precision[:, best], ref[2], atol=1e-12)  # P and R at the max-F1 confidence
    np.testing.assert_allclose(curves.recall[:, best], ref[3], atol=1e-12)
    assert 0.0 < curves.x[best] < 1.0


def test_summary_is_compact_and_consistent_with_coco():
    pytest.importorskip("pycocotools", reason="per-class mAP is checked against pycocotools")
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from harness.metrics import evaluate_coco
    from harness.scorer import coco_inputs

    names = ["a", "b", "c"]
    truth, dets = random_set(5, n_frames=15)
    gt, dt = coco_inputs(truth, dets, names)
    result = evaluate_coco(gt, dt)
    s = yolo_val_summary(truth, dets, names, coco=result)
    m = matrix_from_cells(s["confusion"]["cells"], 3)
    np.testing.assert_array_equal(m, confusion_matrix(truth, dets, 3))
    assert len(s["curves"]["f1"]) == 101 and s["curves"]["conf"] == [0.0, 1.0, 101]
    best = s["f1_optimal"]
    assert 0 < best["conf"] < 1 and best["f1"] == pytest.approx(max(s["curves"]["f1"]), abs=0.05)
    # per-class mAP50 and mAP50-95: pycocotools' COCOeval restricted to one category
    images = [{"id": i} for i in range(len(truth))]
    anns, dres = [], []
    for i, (t, d) in enumerate(zip(truth, dets)):
        for b, c in zip(t.boxes, t.classes):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(c), "bbox": [*b[:2], w, h],
                         "area": w * h, "iscrowd": 0})
        for b, sc, c in zip(d.boxes, d.scores, d.classes):
            dres.append({"image_id": i, "category_id": int(c), "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                         "score": float(sc)})
    coco = COCO()
    coco.dataset = {"images": images, "annotations": anns, "categories": [{"id": k} for k in range(3)]}
    coco.createIndex()
    import contextlib
    import io

    for k, name in enumerate(names):
        e = COCOeval(coco, coco.loadRes(dres), "bbox")
        e.params.catIds = [k]
        with contextlib.redirect_stdout(io.StringIO()):
            e.evaluate(), e.accumulate(), e.summarize()
        row = s["per_class"][name]
        assert row["map50_95"] == pytest.approx(e.stats[0], abs=1e-4)
        assert row["map50"] == pytest.approx(e.stats[1], abs=1e-4)
        assert row["n_gt"] == sum(int((t.classes == k).sum()) for t in truth)
