"""evaluate_coco against pycocotools and faster-coco-eval on random sets with the hard cases."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from harness.metrics import CocoDetections, CocoGroundTruth, evaluate_coco
from tests.metrics.synth import faster_coco_eval_stats, pycocotools_stats, random_coco, random_segm

TOL = 1e-9

# (name, keyword arguments of random_coco)
CONFIGS = {
    "plain": {},
    "ties": {"tie_levels": 4},
    "crowded": {"crowd_rate": 0.3, "gt_per_image": 8, "dt_per_image": 30},
    "over-max-dets": {"n_images": 5, "n_cats": 2, "gt_per_image": 10, "dt_per_image": 150},
    "string-ids": {"int_ids": False},
    "many-classes": {"n_cats": 12, "n_images": 20},
    "sparse": {"gt_per_image": 0.7, "dt_per_image": 1.5, "n_images": 30},
}


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("config", sorted(CONFIGS))
def test_stats_equal_pycocotools(config, seed):
    gt, dt = random_coco(100 * seed + len(config), **CONFIGS[config])
    ref = pycocotools_stats(gt, dt)
    got = evaluate_coco(gt, dt).stats
    assert np.abs(got - ref).max() <= TOL, (got, ref)


@pytest.mark.parametrize("seed", range(6))
def test_precision_recall_scores_arrays_equal_pycocotools(seed):
    gt, dt = random_coco(7000 + seed, tie_levels=3 if seed % 2 else None, crowd_rate=0.2, dt_per_image=25)
    ref, e = pycocotools_stats(gt, dt, evaluator=True)
    r = evaluate_coco(gt, dt)
    assert r.precision.shape == e.eval["precision"].shape
    np.testing.assert_allclose(r.precision, e.eval["precision"], atol=TOL, rtol=0)
    np.testing.assert_allclose(r.recall, e.eval["recall"], atol=TOL, rtol=0)
    np.testing.assert_allclose(r.scores, e.eval["scores"], atol=TOL, rtol=0)


@pytest.mark.parametrize("max_dets", [(1, 5, 20), (1, 10, 100), (2, 3, 4)])
def test_custom_max_dets_equal_pycocotools(max_dets):
    gt, dt = random_coco(31, n_images=8, n_cats=2, gt_per_image=6, dt_per_image=40)
    _, e = pycocotools_stats(gt, dt, max_dets=max_dets, evaluator=True)
    r = evaluate_coco(gt, dt, max_dets=max_dets)
    np.testing.assert_allclose(r.precision, e.eval["precision"], atol=TOL, rtol=0)
    np.testing.assert_allclose(r.stats[1:], e.stats[1:], atol=TOL, rtol=0)  # stats[0]: see the documented difference


@pytest.mark.parametrize("seed", range(5))
def test_stats_equal_faster_coco_eval(seed):
    gt, dt = random_coco(500 + seed, tie_levels=5 if seed % 2 else None, crowd_rate=0.15)
    ref = faster_coco_eval_stats(gt, dt)
    got = evaluate_coco(gt, dt).stats
    assert np.abs(got - ref).max() <= TOL, (got, ref)


@pytest.mark.parametrize("seed", range(5))
def test_segm_equal_pycocotools(seed):
    gt, dt = random_segm(seed)
    ref = pycocotools_stats(gt, dt, "segm")
    got = evaluate_coco(gt, dt, "segm").stats
    assert np.abs(got - ref).max() <= TOL, (got, ref)


def test_segm_with_bbox_in_results_uses_box_area_like_pycocotools():
    import pycocotools.mask as mask_util

    gt, dt = random_segm(11)
    for d in dt:
        d["bbox"] = mask_util.toBbox(d["segmentation"]).tolist()
    ref = pycocotools_stats(gt, dt, "segm")
    got = evaluate_coco(gt, dt, "segm").stats
    assert np.abs(got - ref).max() <= TOL


def test_empty_detections_give_zero_ap_and_ar():
    gt, _ = random_coco(3)
    r = evaluate_coco(gt, [])
    assert r.stats[0] == 0.0 and r.stats[8] == 0.0


def test_no_ground_truth_gives_minus_one():
    gt, dt = random_coco(4)
    gt = dict(gt, annotations=[])
    assert (evaluate_coco(gt, dt).stats == -1).all()


def test_from_arrays_equals_dict_path():
    gt, dt = random_coco(21, crowd_rate=0.2)
    ids = [im["id"] for im in gt["images"]]
    cats = [c["id"] for c in gt["categories"]]

    def per_image(records, key):
        return [[r for r in records if r["image_id"] == i] for i in ids]

    g_img, d_img = per_image(gt["annotations"], "bbox"), per_image(dt, "bbox")
    box = lambda rs: np.array([r["bbox"] for r in rs], float).reshape(-1, 4)
    g = CocoGroundTruth.from_arrays(
        [box(rs) for rs in g_img], [np.array([r["category_id"] for r in rs], int) for rs in g_img],
        image_ids=ids, category_ids=cats, box_format="xywh",
        iscrowd=[np.array([r["iscrowd"] for r in rs], bool) for rs in g_img],
        areas=[np.array([r["area"] for r in rs], float) for rs in g_img],
    )
    # detections in another order than the dict path sees them: only equal scores could tell
    d = CocoDetections.from_arrays(
        [box(rs) for rs in d_img], [np.array([r["score"] for r in rs]) for rs in d_img],
        [np.array([r["category_id"] for r in rs], int) for rs in d_img], image_ids=ids, box_format="xywh",
    )
    np.testing.assert_allclose(evaluate_coco(g, d).stats, evaluate_coco(gt, dt).stats, atol=TOL, rtol=0)


def test_input_is_not_modified():
    gt, dt = random_coco(8)
    before = copy.deepcopy((gt, dt))
    evaluate_coco(gt, dt)
    assert (gt, dt) == before
