"""VOC AP against a plain-loop reference, and the instance-level score on stated cases."""

from __future__ import annotations

import numpy as np
import pytest

from common.errors import InputError
from harness.metrics import CocoDetections, CocoGroundTruth, box_iou, evaluate_voc, instance_score, voc_ap
from tests.metrics.synth import random_coco


def test_voc_ap_stated_values():
    # a perfect detector
    assert voc_ap([0.5, 1.0], [1.0, 1.0]) == 1.0
    # hit, miss, hit on 2 objects: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    assert voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3]) == pytest.approx(0.5 + 0.5 * 2 / 3)
    assert voc_ap([0.5, 0.5, 1.0], [1.0, 0.5, 2 / 3], method="11_point") == pytest.approx((6 + 5 * 2 / 3) / 11)
    assert voc_ap([], []) == 0.0
    with pytest.raises(InputError, match="method 'all_points' or '11_point'"):
        voc_ap([1.0], [1.0], method="101")


def reference_voc(gt_boxes, gt_cls, dt_boxes, dt_scores, dt_cls, k, t):
    """Plain loops: all images' detections of class k by score, each takes the best free GT."""
    dets = [(-s, i, j) for i in range(len(dt_boxes)) for j, s in enumerate(dt_scores[i]) if dt_cls[i][j] == k]
    dets.sort()  # score descending; ties: image then input order (unique scores here anyway)
    taken = [np.zeros(len(g), bool) for g in gt_boxes]
    npos = sum(int((c == k).sum()) for c in gt_cls)
    tp, fp = [], []
    for _, i, j in dets:
        best, arg = t, -1
        for g in range(len(gt_boxes[i])):
            if gt_cls[i][g] != k or taken[i][g]:
                continue
            iou = box_iou(dt_boxes[i][j : j + 1], gt_boxes[i][g : g + 1])[0, 0]
            if iou >= best:
                best, arg = iou, g
        if arg >= 0:
            taken[i][arg] = True
        tp.append(arg >= 0)
        fp.append(arg < 0)
    ctp, cfp = np.cumsum(tp), np.cumsum(fp)
    rec, prec = ctp / npos, ctp / np.maximum(ctp + cfp, 1)
    mrec = [0.0, *rec, 1.0]
    mpre = [0.0, *prec, 0.0]
    for i in range(len(mpre) - 2, -1, -1):
        mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("t", [0.3, 0.5, 0.75])
def test_voc_matches_a_plain_reference(seed, t):
    rng = np.random.default_rng(seed)
    gb, gc, db, ds, dc = [], [], [], [], []
    for _ in range(6):
        n, m = rng.integers(0, 5), rng.integers(0, 8)
        xy = rng.uniform(0, 100, (n, 2))
        g = np.concatenate([xy, xy + rng.uniform(5, 40, (n, 2))], 1)
        src = g[rng.integers(0, max(n, 1), m)] if n else rng.uniform(0, 100, (m, 4))
        d = src + rng.normal(0, 4, (m, 4))
        d[:, 2:] = np.maximum(d[:, 2:], d[:, :2] + 1)
        gb.append(g)
        gc.append(rng.integers(0, 2, n))
        db.append(d)
        ds.append(rng.random(m))
        dc.append(rng.integers(0, 2, m))
    r = evaluate_voc(CocoGroundTruth.from_arrays(gb, gc, category_ids=[0, 1]), CocoDetections.from_arrays(db, ds, dc), iou_threshold=t)
    for k in (0, 1):
        if r.n_gt[k]:
            assert r.ap[k] == pytest.approx(reference_voc(gb, gc, db, ds, dc, k, t), abs=1e-12)
        else:
            assert np.isnan(r.ap[k])


def test_voc_ignores_crowd_like_difficult():
    gt = CocoGroundTruth.from_arrays([np.array([[0, 0, 10, 10], [50, 50, 90, 90.0]])], [np.array([0, 0])],
                                     iscrowd=[np.array([False, True])])
    dt = CocoDetections.from_arrays([np.array([[60, 60, 70, 70], [0, 0, 10, 10.0]])], [np.array([0.9, 0.5])], [np.array([0, 0])])
    r = evaluate_voc(gt, dt)
    assert r.n_gt.tolist() == [1] and r.ap[0] == 1.0  # the detection inside the crowd box is not a FP


def test_voc_close_to_coco_ap50_on_random_sets():
    gt, dt = random_coco(3, n_images=30, crowd_rate=0.0)
    from harness.metrics import evaluate_coco

    # same matching; COCO samples 101 recall points and caps 100 detections: close, not equal
    assert evaluate_voc(gt, dt).mean_ap == pytest.approx(evaluate_coco(gt, dt).stats[1], abs=0.02)


def test_instance_score_stated():
    # one image, 2 objects: an exact hit, a 0.5-IoU hit, and a false positive
    gt = CocoGroundTruth.from_arrays([np.array([[0, 0, 10, 10], [20, 0, 30, 10.0]])], [np.array([0, 0])])
    dt = CocoDetections.from_arrays([np.array([[0, 0, 10, 10], [20, 0, 30, 5], [50, 50, 60, 60.0]])],
                                    [np.array([0.9, 0.8, 0.3])], [np.array([0, 0, 0])])
    s = instance_score(gt, dt)
    # t = .50: TP 2, FP 1, FN 0 -> 2/3; t > .50: TP 1, FP 2, FN 1 -> 1/4
    assert s.tp.tolist() == [2] + [1] * 9 and s.fp.tolist() == [1] + [2] * 9 and s.fn.tolist() == [0] + [1] * 9
    assert s.score == pytest.approx((2 / 3 + 9 * 0.25) / 10)
    # dropping detections below 0.5 confidence removes the false positive
    s2 = instance_score(gt, dt, score_threshold=0.5)
    assert s2.per_threshold[0] == pytest.approx(1.0) and s2.fp.tolist() == [0] + [1] * 9


def test_instance_score_skips_images_with_nothing():
    gt = CocoGroundTruth.from_arrays([np.array([[0, 0, 10, 10.0]]), np.zeros((0, 4))], [np.array([0]), np.array([], int)])
    dt = CocoDetections.from_arrays([np.array([[0, 0, 10, 10.0]]), np.zeros((0, 4))], [np.array([0.9]), np.zeros(0)],
                                    [np.array([0]), np.array([], int)])
    s = instance_score(gt, dt)
    assert s.score == 1.0 and np.isnan(s.per_image[1]) and s.to_dict()["score"] == 1.0
