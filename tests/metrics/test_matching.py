"""match_detections: stated cases, and agreement with the COCO engine's matching."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import InputError
from harness.metrics import CocoDetections, CocoGroundTruth, evaluate_coco, match_detections


def test_greedy_by_score_and_per_class():
    gt = [[0, 0, 10, 10], [20, 0, 30, 10]]
    dt = [[0, 0, 10, 10], [0, 0, 10, 9], [20, 0, 30, 10]]
    m = match_detections(gt, [0, 1], dt, [0.5, 0.9, 0.8], [0, 0, 0])
    # the 0.9 detection takes GT 0 (IoU 0.9); the exact copy (0.5) finds it taken;
    # the class-0 detection on GT 1 (class 1) never matches
    assert m.dt_index.tolist() == [1] and m.gt_index.tolist() == [0]
    assert m.iou.tolist() == pytest.approx([0.9])
    assert (m.tp, m.fp, m.fn) == (1, 2, 1)
    assert m.gt_iou().tolist() == pytest.approx([0.9, 0.0])


def test_threshold_is_inclusive_and_ties_go_to_the_later_ground_truth():
    gt = [[0, 0, 10, 10], [0, 0, 10, 10]]
    m = match_detections(gt, [3, 3], [[0, 0, 10, 5]], [1.0], [3], iou_threshold=0.5)
    assert m.gt_index.tolist() == [1] and m.iou.tolist() == [0.5]


def test_empty_inputs():
    m = match_detections(np.zeros((0, 4)), [], [[0, 0, 1, 1]], [0.3], [0])
    assert (m.n_gt, m.n_dt, m.tp, m.fp, m.fn) == (0, 1, 0, 1, 0)
    m = match_detections([[0, 0, 1, 1]], [0], [], [], [])
    assert m.fn == 1 and m.gt_iou().tolist() == [0.0]


def test_length_mismatch_is_bad_input():
    with pytest.raises(InputError, match="dt_scores: expected 2 values"):
        match_detections([[0, 0, 1, 1]], [0], [[0, 0, 1, 1], [0, 0, 2, 2]], [0.5], [0, 0])


box = st.tuples(st.integers(0, 60), st.integers(0, 60), st.integers(1, 40), st.integers(1, 40)).map(
    lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]]
)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.tuples(box, st.integers(0, 2)), max_size=8),
    st.lists(st.tuples(box, st.integers(0, 2), st.integers(0, 5)), max_size=12),
)
def test_same_pairs_as_the_coco_engine(gts, dts):
    gb = np.array([g[0] for g in gts], float).reshape(-1, 4)
    gc = np.array([g[1] for g in gts], int)
    db = np.array([d[0] for d in dts], float).reshape(-1, 4)
    dc = np.array([d[1] for d in dts], int)
    ds = np.array([d[2] / 5 for d in dts], float)  # coarse scores: many ties
    m = match_detections(gb, gc, db, ds, dc)
    r = evaluate_coco(
        CocoGroundTruth.from_arrays([gb], [gc], category_ids=[0, 1, 2]),
        CocoDetections.from_arrays([db], [ds], [dc]),
        iou_thresholds=(0.5,),
    )
    engine = {(int(d), int(g)) for d, g in zip(r.matching.dt_row, r.matching.match_gt[0]) if g >= 0}
    assert engine == set(zip(m.dt_index.tolist(), m.gt_index.tolist()))
