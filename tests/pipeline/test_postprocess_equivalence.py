"""postprocess() returns exactly what it returned before the sweep-based NMS (commit 850b01c).

The raw outputs are built here from a counter-based generator (no random-number stream whose
algorithm could change between NumPy versions): clusters of jittered boxes around objects, so that
NMS has overlaps, chains and ties to resolve, plus low-score background anchors that pass
``conf=0.001`` as in ``bench run``'s timed loop. The expected detections are frozen digests (and the
first detection, readable) of the previous implementation's output on the same inputs.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from harness.pipeline import postprocess as post
from harness.pipeline.preprocess import LetterboxInfo

INFO = LetterboxInfo(scale=320 / 384, pad_left=0, pad_top=40, orig_height=288, orig_width=384)


def uniform(seed: int, n: int) -> np.ndarray:
    """``n`` floats in [0, 1) from splitmix64 over a counter: the same on every platform and NumPy."""
    z = np.arange(n, dtype=np.uint64) + np.uint64(seed * 0x9E3779B97F4A7C15 % 2**64)  # arrays wrap silently
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(31)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(29)
    return (z >> np.uint64(11)).astype(np.float64) / float(2**53)


def raw_output(seed: int, *, anchors: int, nc: int, objects: int, jitter: float = 0.15, levels: int = 0) -> np.ndarray:
    """A ``[1, 4 + nc, anchors]`` float32 output: anchors spread over ``objects`` objects and a background."""
    u = iter(uniform(seed, anchors * (nc + 16)).reshape(nc + 16, anchors))  # rows of fresh numbers
    obj = np.arange(anchors) % (objects + 1)  # group `objects` is the background
    centre = np.stack([next(u)[:objects] * 300 + 10, next(u)[:objects] * 300 + 10], 1)
    size = np.stack([next(u)[:objects] * 80 + 4, next(u)[:objects] * 80 + 4], 1)
    cls = (next(u)[:objects] * nc).astype(np.int64)
    out = np.zeros((4 + nc, anchors), np.float64)
    fg = obj < objects
    o = obj[fg]
    for k in range(2):
        out[k, fg] = centre[o, k] + (next(u)[fg] - 0.5) * 2 * jitter * size[o, k]
        out[2 + k, fg] = size[o, k] * (1 + (next(u)[fg] - 0.5) * 2 * jitter)
        out[k, ~fg] = next(u)[~fg] * 320
        out[2 + k, ~fg] = next(u)[~fg] * 60 + 1
    scores = np.empty((nc, anchors))
    for c in range(nc):
        scores[c] = next(u) * 0.02  # background level: passes conf 0.001, not 0.25
    scores[cls[o], np.flatnonzero(fg)] = 0.05 + 0.95 * next(u)[fg]
    if levels:
        scores = np.round(scores * levels) / levels  # coarse scores: ties, broken by anchor order
    out[4:] = scores
    return out[None].astype(np.float32)


CASES = {
    # name: (raw_output kwargs, postprocess kwargs)
    "timed-loop-conf0.001": (dict(seed=1, anchors=2100, nc=6, objects=12), dict(conf=0.001, nc=6)),
    "operating-conf0.25": (dict(seed=2, anchors=2100, nc=6, objects=12), dict(conf=0.25, nc=6)),
    "80-classes-ties-max100": (dict(seed=3, anchors=1200, nc=80, objects=30, levels=50),
                               dict(conf=0.001, nc=80, max_det=100)),
    "agnostic-iou0.45": (dict(seed=4, anchors=500, nc=6, objects=20, jitter=0.3), dict(conf=0.05, iou=0.45, agnostic=True)),
    "dense-one-object": (dict(seed=5, anchors=3000, nc=1, objects=1, jitter=0.05), dict(conf=0.001, nc=1)),
}

# Frozen from the implementation at commit 850b01c: (count, sha256 of boxes <f8 + scores <f8 + classes <i8,
# first box, first score, first class).
EXPECTED = {
    '80-classes-ties-max100': (100, '4fc1e5326683e8f0fdf2066ccf5376371ff3e353643c634c0e6adb9d55056f9a', ([215.69371948242187, 260.07593994140626, 270.8004455566406, 288.0], 1.0, 39)),
    'agnostic-iou0.45': (79, '76a49eec4f3f81a641cdba0373ad166ac13062ba7b35cf0151410e5e4ca7ccd1', ([19.101985931396484, 34.11053466796875, 63.53299255371093, 90.60463256835938], 0.9954115152359009, 5)),
    'dense-one-object': (300, '22999a85c0ac6c77357d7edba1550ac52a27aa671580f1f8561c6950c1b9a902', ([158.90227661132812, 151.44627685546874, 171.73991088867186, 237.1821533203125], 0.9989733695983887, 0)),
    'operating-conf0.25': (92, '10e2887a80b96e1d6c7c70e210c068705574abe3fdd62ccb983a3d948f493692', ([287.63673706054686, 0.0, 331.201025390625, 79.76642761230468], 0.9997144341468811, 3)),
    'timed-loop-conf0.001': (257, 'be3d262313b342c7da2866d5cc15719ad4261deba00dc2120bfe143281f79f89', ([197.30535278320312, 112.28153686523437, 264.40233764648434, 133.69400024414062], 0.9996243715286255, 5)),
}


def digest(det: post.Detections) -> tuple:
    h = hashlib.sha256()
    for arr, dt in ((det.boxes, "<f8"), (det.scores, "<f8"), (det.classes, "<i8")):
        h.update(np.ascontiguousarray(arr, dt).tobytes())
    first = (det.boxes[0].tolist(), float(det.scores[0]), int(det.classes[0])) if len(det) else None
    return len(det), h.hexdigest(), first


@pytest.mark.parametrize("name", sorted(CASES))
def test_detections_are_unchanged(name):
    gen, kwargs = CASES[name]
    det = post.postprocess(raw_output(**gen), INFO, **kwargs)
    assert det.boxes.dtype == np.float64 and det.scores.dtype == np.float64 and det.classes.dtype == np.int64
    assert digest(det) == EXPECTED[name]


def test_the_dense_case_takes_the_block_path_and_the_others_the_sweep():
    # which path decides is an implementation detail, but each must be covered by a frozen case
    for name, (gen, kwargs) in CASES.items():
        boxes, scores, classes = post.decode(raw_output(**gen), conf=kwargs["conf"], nc=kwargs.get("nc"))
        shifted = boxes if kwargs.get("agnostic") else boxes + (classes.astype(np.float32) * np.float32(post.MAX_WH))[:, None]
        cap = max(1024, min(post.NMS_BLOCK * len(scores), post._MAX_PAIRS))  # as nms() bounds it
        pairs = post._overlapping_pairs(shifted[:, 0].copy(), shifted[:, 2].copy(), cap)
        assert (pairs is None) == (name == "dense-one-object"), name


def test_generator_is_deterministic_and_uniform():
    a, b = uniform(7, 10000), uniform(7, 10000)
    assert np.array_equal(a, b) and not np.array_equal(a, uniform(8, 10000))
    assert 0.0 <= a.min() and a.max() < 1.0 and abs(a.mean() - 0.5) < 0.02
