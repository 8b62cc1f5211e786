"""Postprocess (decode, NMS, unletterbox) against Ultralytics' own implementation."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st
from ultralytics.utils import nms as ul_nms
from ultralytics.utils import ops as ul_ops

from common.errors import InputError
from harness.pipeline import postprocess as postprocess_module
from harness.pipeline.postprocess import MAX_WH, Detections, decode, nms, postprocess, unletterbox
from harness.pipeline.preprocess import LetterboxInfo, letterbox

from .conftest import smooth_images


def _boxes(draw, n: int, *, span: float = 200.0) -> np.ndarray:
    """n xyxy float32 boxes, some degenerate (zero width/height), some duplicated."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    xy = rng.uniform(0, span, (n, 2))
    wh = rng.uniform(0, span / 3, (n, 2))
    wh[rng.random(n) < 0.05] = 0.0
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    dup = rng.random(n) < 0.1
    if n > 1:
        boxes[dup] = boxes[0]
    return boxes


@st.composite
def nms_case(draw):
    n = draw(st.integers(0, 120))
    boxes = _boxes(draw, n)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # coarse scores produce ties; ties must be broken the way torchvision does (input order)
    levels = draw(st.sampled_from([5, 50, 10**6]))
    scores = (rng.integers(0, levels, n) / levels).astype(np.float32)
    iou = draw(st.sampled_from([0.0, 0.3, 0.45, 0.5, 0.7, 0.95, 1.0]))
    return boxes, scores, iou


@settings(max_examples=150, deadline=None)
@given(nms_case(), st.sampled_from([1, 7, 32, 256]))
def test_nms_matches_torchvision(case, block):
    boxes, scores, iou = case
    ours = nms(boxes, scores, iou, block=block)
    ref = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou).numpy()
    assert ours.tolist() == ref.tolist()


@settings(max_examples=80, deadline=None)
@given(nms_case(), st.sampled_from([1, 7, 32, 256]))
def test_nms_by_blocks_matches_torchvision(case, block):
    # the path dense scenes take (more overlapping pairs than the sweep may hold), forced here
    boxes, scores, iou = case
    with mock.patch.object(postprocess_module, "_overlapping_pairs", lambda *args: None):
        ours = nms(boxes, scores, iou, block=block)
    ref = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou).numpy()
    assert ours.tolist() == ref.tolist()


def test_nms_long_suppression_chains_fall_back_to_a_scan():
    # boxes sliding by a few pixels: each overlaps the next above the threshold, so greedy keeps
    # every other one, and the fixed-point iteration needs one round per link of the chain
    x = np.arange(60, dtype=np.float32) * 3
    boxes = np.stack([x, np.zeros_like(x), x + 10, np.full_like(x, 10)], 1)
    scores = np.linspace(1, 0.1, 60, dtype=np.float32)
    ref = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.5).numpy()
    assert nms(boxes, scores, 0.5).tolist() == ref.tolist() == list(range(0, 60, 2))


def test_nms_many_boxes_in_many_blocks():
    rng = np.random.default_rng(7)
    xy = rng.uniform(0, 400, (3000, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(5, 60, (3000, 2)).astype(np.float32)], 1)
    scores = rng.random(3000).astype(np.float32)
    ref = torchvision.ops.nms(torch.from_numpy(boxes), torch.from_numpy(scores), 0.45).numpy()
    assert nms(boxes, scores, 0.45).tolist() == ref.tolist()
    assert nms(boxes, scores, 0.45, max_keep=100).tolist() == ref[:100].tolist()


@settings(max_examples=60, deadline=None)
@given(nms_case(), st.integers(1, 20), st.sampled_from([3, 256]))
def test_nms_max_keep_is_a_prefix(case, max_keep, block):
    boxes, scores, iou = case
    full = nms(boxes, scores, iou)
    assert nms(boxes, scores, iou, max_keep=max_keep, block=block).tolist() == full[:max_keep].tolist()


@st.composite
def raw_case(draw):
    """A raw [1, 4+nc, anchors] output (sigmoided scores) and the letterbox of a random image."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    nc = draw(st.sampled_from([1, 3, 80]))
    # 6 anchors is excluded: Ultralytics reads any [..., 6] output as an end-to-end model
    anchors = draw(st.integers(0, 400).filter(lambda a: a != 6))
    imgsz = draw(st.sampled_from([64, 160, 320]))
    h, w = draw(st.integers(5, 700)), draw(st.integers(5, 700))
    cxcy = rng.uniform(-10, imgsz + 10, (2, anchors))
    wh = rng.uniform(0, imgsz / 2, (2, anchors))
    # a handful of clusters so that NMS has work to do
    if anchors:
        centers = rng.uniform(0, imgsz, (2, 6))
        pick = rng.integers(0, 6, anchors)
        near = rng.random(anchors) < 0.6
        cxcy[:, near] = centers[:, pick[near]] + rng.normal(0, 3, (2, int(near.sum())))
    logits = rng.normal(-3, 2, (nc, anchors))
    scores = 1 / (1 + np.exp(-logits))
    raw = np.concatenate([cxcy, wh, scores]).astype(np.float32)[None]
    scale = min(imgsz / h, imgsz / w)
    nw, nh = max(round(w * scale), 1), max(round(h * scale), 1)
    info = LetterboxInfo(
        scale=scale,
        pad_left=round((imgsz - nw) / 2 - 0.1),
        pad_top=round((imgsz - nh) / 2 - 0.1),
        orig_height=h,
        orig_width=w,
    )
    conf = draw(st.sampled_from([0.0, 0.001, 0.25, 0.5]))
    iou = draw(st.sampled_from([0.45, 0.7]))
    max_det = draw(st.sampled_from([5, 300]))
    agnostic = draw(st.booleans())
    return raw, info, imgsz, conf, iou, max_det, agnostic, nc


def _ultralytics(raw, info, imgsz, *, conf, iou, max_det, agnostic, max_nms=30000):
    """What DetectionPredictor.postprocess does for one image."""
    pred = ul_nms.non_max_suppression(
        torch.from_numpy(raw), conf, iou, None, agnostic, max_det=max_det, max_nms=max_nms
    )[0]
    pred[:, :4] = ul_ops.scale_boxes((imgsz, imgsz), pred[:, :4], (info.orig_height, info.orig_width))
    return pred.numpy()


@settings(max_examples=80, deadline=None)
@given(raw_case())
def test_postprocess_matches_ultralytics(case):
    raw, info, imgsz, conf, iou, max_det, agnostic, nc = case
    ours = postprocess(raw, info, conf=conf, iou=iou, max_det=max_det, agnostic=agnostic, nc=nc)
    ref = _ultralytics(raw, info, imgsz, conf=conf, iou=iou, max_det=max_det, agnostic=agnostic)
    assert len(ours) == ref.shape[0]
    np.testing.assert_allclose(ours.boxes, ref[:, :4], atol=1e-3, rtol=1e-5)
    np.testing.assert_array_equal(ours.scores.astype(np.float32), ref[:, 4])
    np.testing.assert_array_equal(ours.classes, ref[:, 5].astype(np.int64))
    # the transposed layout gives the same answer; without nc the longer axis is taken as anchors
    # (a square output, anchors == 4 + nc, is read as channels-first: it cannot be told apart)
    if raw.shape[1] != raw.shape[2]:
        hint = nc if raw.shape[2] < raw.shape[1] else None
        flipped = raw.transpose(0, 2, 1).copy()
        again = postprocess(flipped, info, conf=conf, iou=iou, max_det=max_det, agnostic=agnostic, nc=hint)
        np.testing.assert_array_equal(again.boxes, ours.boxes)


def test_max_nms_keeps_highest_scores():
    rng = np.random.default_rng(3)
    raw = np.concatenate([rng.uniform(0, 320, (2, 500)), rng.uniform(1, 30, (2, 500)), rng.random((2, 500))]).astype(np.float32)[None]
    info = LetterboxInfo(scale=1.0, pad_left=0, pad_top=0, orig_height=320, orig_width=320)
    ours = postprocess(raw, info, conf=0.1, iou=0.5, max_nms=50)
    ref = _ultralytics(raw, info, 320, conf=0.1, iou=0.5, max_det=300, agnostic=False, max_nms=50)
    np.testing.assert_allclose(ours.boxes, ref[:, :4], atol=1e-3)
    assert ours.scores.min() >= np.sort(raw[0, 4:].max(0))[-50]


def test_class_aware_keeps_overlapping_boxes_of_other_classes():
    raw = np.zeros((1, 6, 70), np.float32)
    raw[0, :4, :2] = [[50, 50], [50, 50], [20, 20], [20, 20]]  # two identical boxes
    raw[0, 4, 0], raw[0, 5, 1] = 0.9, 0.8  # ... of different classes
    info = LetterboxInfo(scale=1.0, pad_left=0, pad_top=0, orig_height=100, orig_width=100)
    assert postprocess(raw, info).classes.tolist() == [0, 1]
    assert postprocess(raw, info, agnostic=True).classes.tolist() == [0]
    assert MAX_WH == 7680


def test_conf_is_strict_and_empty_output_is_empty():
    raw = np.zeros((1, 6, 70), np.float32)
    raw[0, :4, 0] = [50, 50, 20, 20]
    raw[0, 4, 0] = 0.25
    info = LetterboxInfo(scale=1.0, pad_left=0, pad_top=0, orig_height=100, orig_width=100)
    det = postprocess(raw, info, conf=0.25)
    assert len(det) == 0 and det.boxes.shape == (0, 4) and det.classes.dtype == np.int64
    assert len(postprocess(raw, info, conf=0.2499)) == 1
    assert len(postprocess(np.zeros((1, 6, 0), np.float32), info, nc=2)) == 0


def test_float16_output_is_decoded_like_float32():
    rng = np.random.default_rng(5)
    raw = np.concatenate([rng.uniform(0, 160, (2, 300)), rng.uniform(1, 40, (2, 300)), rng.random((3, 300))]).astype(np.float16)[None]
    info = LetterboxInfo(scale=0.5, pad_left=0, pad_top=20, orig_height=240, orig_width=320)
    a = postprocess(raw, info, conf=0.3)
    b = postprocess(raw.astype(np.float32), info, conf=0.3)
    np.testing.assert_array_equal(a.boxes, b.boxes)


@pytest.mark.parametrize(
    ("raw", "kwargs", "fragment"),
    [
        (np.zeros((6, 70), np.float32), {}, "model output: expected a raw detection output"),
        (np.zeros((2, 6, 70), np.float32), {}, "got shape (2, 6, 70)"),
        ([[1.0]], {}, "got list"),
        (np.zeros((1, 4, 70), np.float32), {}, "at least 5 channels"),
        (np.zeros((1, 6, 70), np.float32), {"nc": 3}, "expected a raw output with 4 + 3 channels"),
        (np.zeros((1, 6, 70), np.float32), {"conf": 1.5}, "conf: expected a confidence threshold in [0, 1], got 1.5"),
        (np.zeros((1, 6, 70), np.float32), {"iou": -0.1}, "iou: expected"),
        (np.zeros((1, 6, 70), np.float32), {"max_det": 0}, "max_det: expected a positive integer, got 0"),
    ],
)
def test_bad_input_is_one_clear_line(raw, kwargs, fragment):
    info = LetterboxInfo(scale=1.0, pad_left=0, pad_top=0, orig_height=10, orig_width=10)
    with pytest.raises(InputError) as err:
        postprocess(raw, info, **kwargs)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_decode_returns_xyxy_in_input_pixels():
    raw = np.zeros((1, 7, 70), np.float32)
    raw[0, :, 3] = [100, 60, 40, 20, 0.1, 0.2, 0.7]
    boxes, scores, classes = decode(raw, conf=0.5)
    assert boxes.tolist() == [[80.0, 50.0, 120.0, 70.0]] and classes.tolist() == [2]
    assert scores.dtype == np.float32 and abs(float(scores[0]) - 0.7) < 1e-7


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 900), st.integers(1, 900), st.sampled_from([64, 160, 320, 640, (320, 640)]), st.integers(0, 2**32 - 1))
def test_letterbox_round_trip_maps_boxes_back(h, w, size, seed):
    """A box drawn on the original image, moved into the letterboxed input the way the resize and
    the padding move pixels, comes back to where it was."""
    img = np.zeros((h, w, 3), np.uint8)
    boxed, info = letterbox(img, size)
    rng = np.random.default_rng(seed)
    xy = rng.uniform(0, [w, h], (8, 2))
    orig = np.concatenate([xy, xy + rng.uniform(0, [w, h], (8, 2))], 1).clip(0, [w, h, w, h])
    gx = max(round(w * info.scale), 1) / w
    gy = max(round(h * info.scale), 1) / h
    inside = orig * [gx, gy, gx, gy] + [info.pad_left, info.pad_top, info.pad_left, info.pad_top]
    # the forward map lands inside the non-padded area of the input
    ih, iw = boxed.shape[:2]
    assert (inside[:, [0, 2]] <= iw + 1e-9).all() and (inside[:, [1, 3]] <= ih + 1e-9).all()
    np.testing.assert_allclose(unletterbox(inside, info), orig, rtol=0, atol=1e-9)


def test_unletterbox_clips_to_the_image():
    info = LetterboxInfo(scale=0.5, pad_left=0, pad_top=40, orig_height=480, orig_width=640)
    out = unletterbox(np.array([[-5.0, 0.0, 400.0, 400.0]]), info)
    assert out.tolist() == [[0.0, 0.0, 640.0, 480.0]]


def test_detections_empty():
    d = Detections.empty()
    assert (d.boxes.dtype, d.scores.dtype, d.classes.dtype) == (np.float64, np.float64, np.int64)


def _predict_both(onnx_path, images, imgsz, conf, iou):
    import onnxruntime as ort
    from ultralytics import YOLO

    from harness.pipeline.preprocess import preprocess

    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    yolo = YOLO(str(onnx_path), task="detect")
    pairs = []
    for img in images:
        x, info = preprocess(img, imgsz)
        ours = postprocess(sess.run(None, {name: x})[0], info, conf=conf, iou=iou)
        ref = yolo.predict(img, imgsz=imgsz, conf=conf, iou=iou, verbose=False)[0].boxes
        pairs.append((ours, ref.xyxy.numpy(), ref.cls.numpy().astype(np.int64), ref.conf.numpy()))
    return pairs


def _assert_same_detections(pairs):
    total = 0
    for ours, boxes, classes, scores in pairs:
        assert len(ours) == len(boxes)
        total += len(ours)
        if not len(ours):
            continue
        np.testing.assert_array_equal(ours.classes, classes)
        np.testing.assert_allclose(ours.scores, scores, rtol=1e-6)
        iou = np.diag(torchvision.ops.box_iou(torch.from_numpy(ours.boxes), torch.from_numpy(boxes.astype(np.float64))).numpy())
        # a zero-area box (clipped to the image edge; the 80-epoch reference makes some at conf 0.001) has no IoU
        # (0/0): it must then be the same box, coordinate by coordinate
        degenerate = np.isnan(iou)
        assert (iou[~degenerate] >= 1 - 1e-3).all(), iou[~degenerate].min()
        np.testing.assert_allclose(ours.boxes[degenerate], boxes[degenerate].astype(np.float64), rtol=0, atol=1e-2)
    return total


@pytest.mark.slow
@pytest.mark.parametrize("conf", [0.25, 0.001])
def test_same_detections_as_ultralytics_predict_random_weights(random_onnx, conf):
    pairs = _predict_both(random_onnx, smooth_images(11, 6), 160, conf, 0.7)
    assert _assert_same_detections(pairs) > 50  # the comparison is not vacuous


@pytest.mark.slow
@pytest.mark.parametrize("conf", [0.25, 0.001])
def test_same_detections_as_ultralytics_predict_trained_reference(trained_onnx, conf):
    import onnx

    from harness.data.synth import synth_image

    imgsz = onnx.load(str(trained_onnx)).graph.input[0].type.tensor_type.shape.dim[2].dim_value
    rng = np.random.default_rng(12)
    frames = [synth_image(rng)[0] for _ in range(6)] + smooth_images(12, 2)
    pairs = _predict_both(trained_onnx, frames, imgsz, conf, 0.7)
    assert _assert_same_detections(pairs) > 6  # the trained model finds the drawn shapes
