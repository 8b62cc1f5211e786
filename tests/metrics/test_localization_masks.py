"""Localization analysis and mask metrics: stated values, references, empty-mask rules."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats as sps

from common.errors import InputError
from harness.metrics import CocoDetections, CocoGroundTruth, evaluate_coco, localization_analysis, mask_metrics
from harness.metrics.localization import _ranks
from tests.metrics.synth import random_coco


def small_case():
    gt = CocoGroundTruth.from_arrays(
        [np.array([[0, 0, 10, 10], [20, 20, 30, 30.0]]), np.array([[0, 0, 40, 40.0]])],
        [np.array([0, 1]), np.array([0])], category_names=["car", "bus"],
    )
    dt = CocoDetections.from_arrays(
        [np.array([[0, 0, 10, 9.5], [20, 20, 30, 36], [0, 0, 5, 5], [60, 60, 70, 70.0]]), np.array([[0, 0, 40, 30.0]])],
        [np.array([0.9, 0.8, 0.7, 0.2]), np.array([0.6])],
        [np.array([0, 1, 0, 1]), np.array([0])],
    )
    return gt, dt


def test_stated_values():
    gt, dt = small_case()
    r = localization_analysis(gt, dt, alphas=())
    # TPs: IoU 0.95 (car, img 0), 0.625 (bus, img 0), 0.75 (car, img 1)
    assert r.n_tp == 3 and r.mean_tp_iou == pytest.approx((0.95 + 0.625 + 0.75) / 3)
    assert r.per_image_iou.tolist() == pytest.approx([(0.95 + 0.625) / 2, 0.75])
    assert r.per_class_iou == pytest.approx({"car": (0.95 + 0.75) / 2, "bus": 0.625})
    assert r.tight_90 == pytest.approx(1 / 3) and r.tight_95 == pytest.approx(1 / 3)
    assert r.histogram.sum() == 3 and r.bin_edges[0] == 0.5 and r.bin_edges[-1] == 1.0
    top = r.top_false_positives
    assert [(f.score, f.best_iou) for f in top] == [(0.7, 0.25), (0.2, 0.0)]
    # operating confidence 0.65: image 1's hit (0.6) and the 0.2 false positive drop out
    r2 = localization_analysis(gt, dt, conf=0.65, alphas=())
    assert r2.n_tp == 2 and [f.score for f in r2.top_false_positives] == [0.7]
    d = r.to_dict()
    json.dumps(d, allow_nan=False)
    assert d["tight_box_rate_90"] == pytest.approx(1 / 3) and d["per_image_mean_iou"]["n_images"] == 2


def test_correlations_match_numpy_and_scipy():
    gt, dt = random_coco(9, n_images=20, tie_levels=6)
    r = localization_analysis(gt, dt, alphas=())
    from harness.metrics.coco import CocoParams, match_coco

    _, _, m = match_coco(gt, dt, "bbox", CocoParams(iou_thresholds=(0.5,), max_dets=(10**9,), area_ranges=((0.0, float("inf")),), area_labels=("all",)))
    assert r.pearson == pytest.approx(np.corrcoef(m.score, m.best_iou)[0, 1], abs=1e-12)
    assert r.spearman == pytest.approx(sps.spearmanr(m.score, m.best_iou).statistic, abs=1e-12)
    np.testing.assert_array_equal(_ranks(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1.0, 3.5, 2.0])


def test_rescoring_alpha_one_is_the_detector_and_zero_ranks_by_truth():
    gt, dt = random_coco(10, n_images=25, crowd_rate=0.0)
    r = localization_analysis(gt, dt)
    by_alpha = {a: (m, m50) for a, m, m50 in r.rescoring}
    base = evaluate_coco(gt, dt).stats
    assert by_alpha[1.0] == (pytest.approx(base[0], abs=1e-12), pytest.approx(base[1], abs=1e-12))
    assert by_alpha[0.0][1] > by_alpha[1.0][1]  # ranking by true IoU puts every hit first


def test_mask_metrics_binary_stated():
    t = np.zeros((4, 4), bool)
    t[:2, :2] = True  # 4 pixels
    p = np.zeros((4, 4))
    p[:2, :3] = 0.9  # 6 pixels, 4 right
    p[3, 3] = 0.5  # exactly the threshold: foreground
    m = mask_metrics(p, t)
    tp, fp, fn, tn = 4, 3, 0, 9
    assert m.iou == pytest.approx(tp / (tp + fp + fn)) and m.dice == pytest.approx(2 * tp / (2 * tp + fp + fn))
    assert m.precision == pytest.approx(4 / 7) and m.recall == 1.0 and m.f1 == pytest.approx(m.dice)
    assert m.specificity == pytest.approx(tn / (tn + fp)) and m.accuracy == pytest.approx(13 / 16)
    assert m.confusion.tolist() == [[9, 3], [0, 4]]


def test_empty_mask_rules():
    empty = np.zeros((3, 3), bool)
    one = empty.copy()
    one[1, 1] = True
    both = mask_metrics(empty, empty)
    assert (both.iou, both.dice, both.precision, both.recall, both.f1, both.specificity) == (1.0,) * 6
    assert np.isnan(both.per_class_iou[1]) and both.mean_iou == 1.0  # absent class left out of the mean
    missed = mask_metrics(empty, one)
    assert (missed.iou, missed.dice, missed.precision, missed.recall, missed.f1) == (0.0,) * 5
    hallucinated = mask_metrics(one, empty)
    assert (hallucinated.precision, hallucinated.recall) == (0.0, 0.0)
    full = np.ones((2, 2), bool)
    assert mask_metrics(full, full).specificity == 1.0


def test_multiclass_against_loops():
    rng = np.random.default_rng(0)
    t = rng.integers(0, 4, (3, 20, 20))
    p = np.where(rng.random(t.shape) < 0.7, t, rng.integers(0, 4, t.shape))
    p[p == 3] = 2  # class 3 never predicted
    m = mask_metrics(p, t, num_classes=5)  # class 4 absent everywhere
    for c in range(4):
        inter = np.sum((p == c) & (t == c))
        union = np.sum((p == c) | (t == c))
        assert m.per_class_iou[c] == pytest.approx(inter / union)
        assert m.per_class_accuracy[c] == pytest.approx(inter / np.sum(t == c))
    assert np.isnan(m.per_class_iou[4]) and m.mean_iou == pytest.approx(np.mean(m.per_class_iou[:4]))
    assert m.pixel_accuracy == pytest.approx(np.mean(p == t))


def test_mask_input_errors():
    with pytest.raises(InputError, match="pred: expected a prediction of the target's shape"):
        mask_metrics(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(InputError, match="target: expected labels in 0..2"):
        mask_metrics(np.zeros((2, 2), int), np.full((2, 2), 3), num_classes=3)
    with pytest.raises(InputError, match="finite"):
        mask_metrics(np.full((2, 2), np.nan), np.zeros((2, 2), bool))
    with pytest.raises(InputError, match="binary mask of 0 and 1"):
        mask_metrics(np.full((2, 2), 2), np.zeros((2, 2), bool))
