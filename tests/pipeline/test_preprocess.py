"""Letterbox and tensor conversion are pixel-identical to what Ultralytics' predictor feeds the model."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from ultralytics.data.augment import LetterBox

from harness.pipeline.preprocess import PAD_VALUE, letterbox, preprocess, to_tensor


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 700),
    st.integers(1, 700),
    st.sampled_from([32, 160, 320, 640, (256, 320), (320, 192)]),
    st.integers(0, 2**32 - 1),
)
def test_letterbox_is_pixel_identical_to_ultralytics(h, w, size, seed):
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    ours, info = letterbox(img, size)
    ref = LetterBox(size, auto=False, stride=32)(image=img)
    np.testing.assert_array_equal(ours, ref)
    assert info.orig_height == h and info.orig_width == w
    # the padding is gray 114 and the image sits where the info says
    if info.pad_top:
        assert (ours[: info.pad_top] == PAD_VALUE).all()
    if info.pad_left:
        assert (ours[:, : info.pad_left] == PAD_VALUE).all()


def test_thin_image_keeps_one_pixel():
    img = np.full((1, 2000, 3), 7, np.uint8)
    out, info = letterbox(img, 160)
    assert out.shape == (160, 160, 3) and (out == 7).any()
    np.testing.assert_array_equal(out, LetterBox(160, auto=False)(image=img))


def test_tensor_is_identical_to_ultralytics_predictor_input():
    img = np.random.default_rng(0).integers(0, 256, (123, 321, 3), dtype=np.uint8)
    boxed, _ = letterbox(img, 160)
    ref = torch.from_numpy(boxed).unsqueeze(0).permute(0, 3, 1, 2).contiguous().flip(1).float().div_(255)
    x = to_tensor(boxed)
    assert x.shape == (1, 3, 160, 160) and x.dtype == np.float32 and x.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(x, ref.numpy())
    half = to_tensor(boxed, np.float16)
    np.testing.assert_array_equal(half, torch.from_numpy(boxed).permute(2, 0, 1).flip(0).half().div_(255)[None].numpy())
    y, _ = preprocess(img, 160)
    np.testing.assert_array_equal(x, y)
