"""Hand-made COCO cases whose numbers are worked out by hand (and checked against pycocotools)."""

from __future__ import annotations

import numpy as np
import pytest

from harness.metrics import STAT_NAMES, evaluate_coco
from tests.metrics.synth import pycocotools_stats

# precision in pycocotools is tp / (tp + fp + eps): "1" is 1 / (1 + 2.2e-16)
APPROX = dict(abs=1e-12)


def gt_set(anns, n_images=1, cats=(1,)):
    images = [{"id": i + 1, "width": 640, "height": 480} for i in range(n_images)]
    full = [dict({"id": k + 1, "iscrowd": 0}, **a) for k, a in enumerate(anns)]
    for a in full:
        a.setdefault("area", a["bbox"][2] * a["bbox"][3])
    return {"images": images, "annotations": full, "categories": [{"id": c, "name": f"c{c}"} for c in cats]}


def det(image_id, bbox, score, cat=1):
    return {"image_id": image_id, "category_id": cat, "bbox": bbox, "score": score}


def stats_by_name(gt, dt):
    s = evaluate_coco(gt, dt).stats
    np.testing.assert_allclose(s, pycocotools_stats(gt, dt), atol=1e-12, rtol=0)
    return dict(zip(STAT_NAMES, s))


def test_false_positive_ranked_first_halves_the_precision():
    # one small GT; the higher-scored detection misses, the lower one is exact:
    # tp = [0, 1], fp = [1, 1] -> precision envelope 0.5 at every recall point
    gt = gt_set([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10]}])
    s = stats_by_name(gt, [det(1, [50, 50, 10, 10], 0.9), det(1, [0, 0, 10, 10], 0.8)])
    assert s["AP"] == pytest.approx(0.5, **APPROX)
    assert s["AP50"] == pytest.approx(0.5, **APPROX) and s["APs"] == pytest.approx(0.5, **APPROX)
    assert s["APm"] == -1 and s["APl"] == -1  # no medium or large ground truth
    assert s["AR1"] == 0.0  # the single detection allowed is the miss
    assert s["AR10"] == 1.0 and s["AR100"] == 1.0


def test_crowd_region_absorbs_detections_instead_of_counting_them_false():
    anns = [
        {"image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 100], "iscrowd": 1},
        {"image_id": 1, "category_id": 1, "bbox": [200, 200, 40, 40]},
    ]
    dets = [det(1, [10, 10, 20, 20], 0.9), det(1, [12, 12, 20, 20], 0.85), det(1, [200, 200, 40, 40], 0.8)]
    # both detections inside the crowd box have crowd-IoU = 1 and are ignored: AP = 1
    assert stats_by_name(gt_set(anns), dets)["AP"] == pytest.approx(1.0, **APPROX)
    # without the crowd flag the big box is a ground truth that is never found (recall stops
    # at 1/2) and the two detections are false positives ranked first (precision 1/3):
    # 51 of 101 recall points at 1/3
    anns[0]["iscrowd"] = 0
    assert stats_by_name(gt_set(anns), dets)["AP50"] == pytest.approx(51 / 101 / 3, **APPROX)


@pytest.mark.parametrize("tp_image, expected", [(2, 0.5 * 51 / 101), (1, 51 / 101)])
def test_equal_scores_keep_image_order(tp_image, expected):
    # two images, one GT each; an exact hit and a miss with the SAME score.
    # Sorted stably, the image with the lower id comes first: miss first -> precision 0.5
    # up to recall 0.5 (51 of 101 recall points); hit first -> precision 1 up to recall 0.5.
    gt = gt_set([{"image_id": i, "category_id": 1, "bbox": [100, 100, 50, 50]} for i in (1, 2)], n_images=2)
    miss_image = 3 - tp_image
    dets = [det(miss_image, [400, 300, 50, 50], 0.5), det(tp_image, [100, 100, 50, 50], 0.5)]
    assert stats_by_name(gt, dets)["AP50"] == pytest.approx(expected, **APPROX)


def test_greedy_gives_the_ground_truth_to_the_higher_score():
    gt = gt_set([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 100, 100]}])
    # IoU 0.9 with score 0.6, IoU 1.0 with score 0.5: the 0.9 one takes it, the exact one is a FP
    dets = [det(1, [0, 0, 100, 90], 0.6), det(1, [0, 0, 100, 100], 0.5)]
    r = evaluate_coco(gt, dets)
    assert r.stats[1] == pytest.approx(1.0, **APPROX)  # AP50: TP first
    # at IoU 0.95 the first misses and the second matches: tp=[0,1], fp=[1,1] -> 0.5
    assert r.precision[-1, :, 0, 0, -1] == pytest.approx(np.full(101, 0.5), **APPROX)


def test_area_field_not_box_decides_the_range():
    # a 10x10 box whose area field says 2000 (medium): it counts as medium, not small
    gt = gt_set([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 10, 10], "area": 2000.0}])
    s = stats_by_name(gt, [det(1, [0, 0, 10, 10], 0.9)])
    assert s["APs"] == -1 and s["APm"] == pytest.approx(1.0, **APPROX) and s["APl"] == -1


def test_wrong_class_is_a_false_positive_and_empty_class_is_left_out():
    gt = gt_set([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50]}], cats=(1, 2))
    r = evaluate_coco(gt, [det(1, [0, 0, 50, 50], 0.9, cat=2)])
    assert r.stats[0] == 0.0  # class 1 never detected; class 2 has no ground truth (-1, left out of the mean)
    rows = {c.category_id: c for c in r.per_class()}
    assert rows[1].ap == 0.0 and np.isnan(rows[2].ap) and rows[2].n_dt == 1 and rows[1].n_gt == 1


def test_annotation_id_zero_matches_normally():
    # pycocotools stores matches as annotation ids and tests for 0, so it would count this
    # exact hit as a false positive (AP 0). We treat id 0 like any other id (documented).
    gt = gt_set([{"image_id": 1, "category_id": 1, "bbox": [0, 0, 50, 50]}])
    gt["annotations"][0]["id"] = 0
    assert evaluate_coco(gt, [det(1, [0, 0, 50, 50], 0.9)]).stats[0] == pytest.approx(1.0, **APPROX)
    assert pycocotools_stats(gt, [det(1, [0, 0, 50, 50], 0.9)])[0] == 0.0


def test_max_dets_is_per_image_and_class():
    # 3 GTs of one class; 12 exact detections would be fine, but only the top 10 count for AR10
    anns = [{"image_id": 1, "category_id": 1, "bbox": [100 * k, 0, 50, 50]} for k in range(3)]
    dets = [det(1, [500, 300, 10, 10], 0.99 - 0.01 * k) for k in range(9)]  # 9 misses first
    dets += [det(1, [100 * k, 0, 50, 50], 0.5 - 0.01 * k) for k in range(3)]
    s = stats_by_name(gt_set(anns), dets)
    assert s["AR10"] == pytest.approx(1 / 3) and s["AR100"] == pytest.approx(1.0)
