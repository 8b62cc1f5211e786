from types import SimpleNamespace as NS

import numpy as np
import pytest

from harness.scorer import agreement, operating_point


def T(boxes, classes):
    return NS(boxes=np.asarray(boxes, float).reshape(-1, 4), classes=np.asarray(classes, int))


def D(boxes, scores, classes):
    return NS(boxes=np.asarray(boxes, float).reshape(-1, 4), scores=np.asarray(scores, float), classes=np.asarray(classes, int))


def test_hand_made_frames():
    truth = [
        T([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 1]),  # one found at IoU 0.8, one missed
        T([[0, 0, 10, 10]], [0]),  # found exactly, plus a false positive
        T([], []),  # no GT: left out of the per-frame average
    ]
    dets = [
        D([[0, 0, 10, 8], [20, 20, 30, 30]], [0.9, 0.1], [0, 1]),  # second is below the operating conf
        D([[0, 0, 10, 10], [50, 50, 60, 60]], [0.8, 0.7], [0, 0]),
        D([[1, 1, 5, 5]], [0.6], [1]),
    ]
    op = operating_point(truth, dets, conf=0.25)
    # frame 0: (0.8 + 0) / 2 = 0.4; frame 1: 1.0 -> mean 0.7
    assert op.avg_iou_per_frame == pytest.approx(0.7)
    assert op.mean_tp_iou == pytest.approx(0.9)
    assert op.frames_without_gt == 1
    # TP 2, FP 2 (frame 1 extra, frame 2), FN 1
    assert op.precision == pytest.approx(0.5)
    assert op.recall == pytest.approx(2 / 3)
    assert op.f1 == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    rows = [(r.frame_id, r.n_gt, r.n_pred, r.tp, r.fp, r.fn) for r in op.frames]
    assert rows == [(0, 2, 1, 1, 0, 1), (1, 1, 2, 1, 1, 0), (2, 0, 1, 0, 1, 0)]
    assert np.isnan(op.per_frame_iou()[2])


def test_class_must_match():
    op = operating_point([T([[0, 0, 10, 10]], [0])], [D([[0, 0, 10, 10]], [0.9], [1])])
    assert op.avg_iou_per_frame == 0.0 and op.precision == 0.0 and op.recall == 0.0 and op.f1 == 0.0
    assert op.mean_tp_iou is None


def test_no_detections_precision_undefined():
    op = operating_point([T([[0, 0, 10, 10]], [0])], [D([], [], [])])
    assert op.precision is None and op.recall == 0.0 and op.f1 is None


def test_agreement_identity_and_shift():
    ref = [D([[0, 0, 10, 10], [20, 20, 40, 40]], [0.9, 0.8], [0, 1])]
    same = agreement(ref, ref)
    assert same.mean_iou == 1.0 and same.recall == 1.0 and same.n_reference == 2
    moved = [D([[0, 0, 10, 8]], [0.9], [0])]
    a = agreement(ref, moved)
    assert a.mean_iou == pytest.approx(0.8) and a.recall == 0.5


def test_agreement_ignores_low_confidence():
    ref = [D([[0, 0, 10, 10]], [0.1], [0])]
    a = agreement(ref, ref, conf=0.25)
    assert a.mean_iou is None and a.recall is None and a.n_reference == 0
