"""Box conversions and the IoU family: stated values and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from common.errors import InputError
from harness.metrics import box_iou, convert_boxes

A = np.array([[0, 0, 10, 10], [5, 5, 15, 25], [0, 0, 1, 1]], float)
B = np.array([[5, 5, 15, 15], [20, 0, 30, 10], [0, 0, 10, 10], [2, 3, 4, 8]], float)
# computed with torchvision.ops (box_iou, generalized_box_iou, distance_box_iou, complete_box_iou)
EXPECTED = {
    "iou": [[0.14285714, 0.0, 1.0, 0.1], [0.5, 0.0, 0.09090909, 0.0], [0.0, 0.0, 0.01, 0.0]],
    "giou": [[-0.07936508, -0.33333333, 1.0, 0.1], [0.5, -0.52, -0.17575758, -0.26573427],
             [-0.55111111, -0.66333333, 0.01, -0.65625]],
    "diou": [[0.03174603, -0.4, 1.0, 0.07875], [0.45, -0.26, -0.05614973, -0.21324655],
             [-0.40111111, -0.6205, -0.1925, -0.390625]],
    "ciou": [[0.03174603, -0.4, 1.0, 0.07418227], [0.44675187, -0.26168946, -0.05800069, -0.21325438],
             [-0.40111111, -0.6205, -0.1925, -0.39476442]],
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_stated_values(kind):
    np.testing.assert_allclose(box_iou(A, B, kind), EXPECTED[kind], atol=5e-9)


def test_legacy_pixel_convention():
    # VOC devkit: [0, 0, 9, 9] covers 10x10 pixels; [5, 5, 14, 14] overlaps 5x5 of them
    assert box_iou([[0, 0, 9, 9]], [[5, 5, 14, 14]], legacy_pixel=True)[0, 0] == pytest.approx(25 / 175)
    assert box_iou([[0, 0, 9, 9]], [[5, 5, 14, 14]])[0, 0] == pytest.approx(16 / 146)


def test_degenerate_boxes_are_zero_not_nan():
    z = np.zeros((1, 4))
    for kind in ("iou", "giou", "diou", "ciou"):
        v = box_iou(z, z, kind)
        assert np.isfinite(v).all() and v[0, 0] == 0.0
    assert box_iou(np.zeros((0, 4)), B).shape == (0, 4)


def test_unknown_kind_and_bad_shape():
    with pytest.raises(InputError, match="kind: expected one of iou, giou, diou, ciou, got 'eiou'"):
        box_iou(A, B, "eiou")
    with pytest.raises(InputError, match=r"a: expected an \(N, 4\) array of boxes, got shape \(3,\)"):
        box_iou([1, 2, 3], B)


def xyxy_boxes(n_max=6):
    coords = st.floats(0, 1000, allow_nan=False, allow_infinity=False)
    sizes = st.floats(0.01, 500, allow_nan=False, allow_infinity=False)
    box = st.tuples(coords, coords, sizes, sizes).map(lambda t: [t[0], t[1], t[0] + t[2], t[1] + t[3]])
    return st.lists(box, min_size=1, max_size=n_max).map(lambda rows: np.array(rows, float))


@settings(max_examples=60, deadline=None)
@given(xyxy_boxes(), xyxy_boxes())
def test_iou_properties(a, b):
    iou = box_iou(a, b)
    assert iou.shape == (len(a), len(b))
    assert ((iou >= 0) & (iou <= 1 + 1e-12)).all()
    np.testing.assert_allclose(iou, box_iou(b, a).T, atol=1e-12)
    np.testing.assert_allclose(np.diag(box_iou(a, a)), 1.0, atol=1e-9)
    giou, diou, ciou = (box_iou(a, b, k) for k in ("giou", "diou", "ciou"))
    assert (giou <= iou + 1e-12).all() and (giou >= -1 - 1e-12).all()
    assert (diou <= iou + 1e-12).all() and (diou >= -1 - 1e-12).all()
    assert (ciou <= diou + 1e-12).all()


@settings(max_examples=60, deadline=None)
@given(xyxy_boxes(), st.sampled_from(["xywh", "cxcywh", "yolo"]), st.floats(1, 4000), st.floats(1, 4000))
def test_conversion_round_trip(boxes, fmt, w, h):
    there = convert_boxes(boxes, "xyxy", fmt, image_size=(w, h))
    back = convert_boxes(there, fmt, "xyxy", image_size=(w, h))
    np.testing.assert_allclose(back, boxes, rtol=1e-12, atol=1e-9)


def test_conversion_values():
    xyxy = np.array([[10.0, 20.0, 30.0, 60.0]])
    np.testing.assert_array_equal(convert_boxes(xyxy, "xyxy", "xywh"), [[10, 20, 20, 40]])
    np.testing.assert_array_equal(convert_boxes(xyxy, "xyxy", "cxcywh"), [[20, 40, 20, 40]])
    np.testing.assert_allclose(convert_boxes(xyxy, "xyxy", "yolo", image_size=(100, 200)), [[0.2, 0.2, 0.2, 0.2]])


def test_yolo_needs_image_size_and_formats_are_checked():
    with pytest.raises(InputError, match="image_size=\\(width, height\\)"):
        convert_boxes([[0.5, 0.5, 0.1, 0.1]], "yolo", "xyxy")
    with pytest.raises(InputError, match="src: expected one of xyxy, xywh, cxcywh, yolo, got 'xyxyn'"):
        convert_boxes([[0, 0, 1, 1]], "xyxyn", "xyxy")
    with pytest.raises(InputError, match="positive"):
        convert_boxes([[0.5, 0.5, 0.1, 0.1]], "yolo", "xyxy", image_size=(0, 10))


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, (5, 4), elements=st.floats(-100, 100, allow_nan=False)))
def test_convert_never_changes_the_input(boxes):
    before = boxes.copy()
    convert_boxes(boxes, "xywh", "cxcywh")
    np.testing.assert_array_equal(boxes, before)
