"""Resampled mAP equals physically repeating the images; bootstrap intervals behave."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from common.errors import InputError
from harness.metrics import evaluate_coco
from harness.metrics.bootstrap import bootstrap_map, bootstrap_map_drop
from tests.metrics.synth import random_coco


def repeat_images(gt: dict, dt: list, weights: np.ndarray, ids: tuple) -> tuple[dict, list]:
    """The resampled set built for real: image ``i`` copied ``weights[i]`` times, copies adjacent."""
    new_gt = {"images": [], "annotations": [], "categories": gt["categories"]}
    new_dt = []
    for i, img_id in enumerate(ids):
        for c in range(int(weights[i])):
            nid = 1000 * i + c  # keeps the copies of one image together, in image order
            new_gt["images"].append({"id": nid, "width": 640, "height": 640})
            for a in gt["annotations"]:
                if a["image_id"] == img_id:
                    new_gt["annotations"].append(dict(a, image_id=nid, id=len(new_gt["annotations"]) + 1))
            new_dt += [dict(d, image_id=nid) for d in dt if d["image_id"] == img_id]
    return new_gt, new_dt


@pytest.mark.parametrize("seed", range(4))
def test_resample_map_equals_repeating_images(seed):
    gt, dt = random_coco(40 + seed, n_images=10, crowd_rate=0.1)
    for i, d in enumerate(dt):  # distinct scores: with ties the copies of two equal-score
        d["score"] += i * 1e-9  # detections of one image are ordered differently (documented)
    r = evaluate_coco(gt, dt)
    assert r.resample_map(np.ones(len(r.image_ids), int)) == r.stats[0]
    w = np.random.default_rng(seed).multinomial(len(r.image_ids), np.full(len(r.image_ids), 1 / len(r.image_ids)))
    g2, d2 = repeat_images(gt, dt, w, r.image_ids)
    assert r.resample_map(w) == pytest.approx(evaluate_coco(g2, d2).stats[0], abs=1e-12)


def test_resample_weights_are_checked():
    gt, dt = random_coco(1)
    r = evaluate_coco(gt, dt)
    with pytest.raises(InputError, match="image_weights"):
        r.resample_map([1, 2])


def test_map_interval_contains_estimate_and_is_reproducible():
    gt, dt = random_coco(5, n_images=25)
    r = evaluate_coco(gt, dt)
    a = bootstrap_map(r, n_resamples=60, seed=3)
    b = bootstrap_map(r, n_resamples=60, seed=3)
    assert a == b
    assert a.low <= a.estimate <= a.high and a.low < a.high and a.n_resamples == 60


def test_drop_of_a_result_against_itself_is_exactly_zero():
    gt, dt = random_coco(6, n_images=15)
    r = evaluate_coco(gt, dt)
    ci = bootstrap_map_drop(r, r, n_resamples=40)
    assert (ci.estimate, ci.low, ci.high) == (0.0, 0.0, 0.0)


def test_drop_of_a_worse_candidate_is_positive():
    gt, dt = random_coco(7, n_images=30, dt_per_image=8)
    worse = copy.deepcopy(dt)
    rng = np.random.default_rng(0)
    for d in worse:  # shift every box by a third of its size: most matches fail
        d["bbox"][0] += d["bbox"][2] / 3 * rng.choice([-1, 1])
    ci = bootstrap_map_drop(evaluate_coco(gt, dt), evaluate_coco(gt, worse), n_resamples=80)
    assert ci.estimate > 0 and ci.low > 0 and ci.low <= ci.estimate <= ci.high


def test_drop_needs_the_same_images():
    a, da = random_coco(8)
    b, db = random_coco(9)
    with pytest.raises(InputError, match="same images"):
        bootstrap_map_drop(evaluate_coco(a, da), evaluate_coco(b, db), n_resamples=2)
