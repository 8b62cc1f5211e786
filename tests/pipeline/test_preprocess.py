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


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 700),
    st.integers(1, 700),
    st.sampled_from([32, 160, 320, 640, (256, 320), (320, 192)]),
    st.sampled_from([np.float32, np.float16, np.float64]),
    st.sampled_from(["contiguous", "mirrored", "cropped"]),
    st.integers(0, 2**32 - 1),
)
def test_fused_preprocess_is_bit_identical_to_letterbox_then_to_tensor(h, w, size, dtype, layout, seed):
    img = np.random.default_rng(seed).integers(0, 256, (h + 1, w + 1, 3), dtype=np.uint8)
    img = {"contiguous": img[:h, :w].copy(), "mirrored": img[:h, ::-1][:, :w], "cropped": img[1:, 1:]}[layout]
    x, info = preprocess(img, size, dtype)
    boxed, ref_info = letterbox(img, size)
    ref = to_tensor(boxed, dtype)
    assert x.dtype == ref.dtype and x.shape == ref.shape and x.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(x, ref)
    assert info == ref_info


def test_other_inputs_take_the_two_step_path():
    rng = np.random.default_rng(3)
    four = rng.integers(0, 256, (50, 70, 4), dtype=np.uint8)  # 4 channels: all of them, reversed, as before
    x, _ = preprocess(four, 64)
    assert x.shape == (1, 4, 64, 64)
    np.testing.assert_array_equal(x, to_tensor(letterbox(four, 64)[0]))
    img = rng.integers(0, 256, (50, 70, 3), dtype=np.uint8)  # an integer input dtype keeps to_tensor's result
    x, _ = preprocess(img, 64, np.uint8)
    ref = to_tensor(letterbox(img, 64)[0], np.uint8)
    assert x.dtype == ref.dtype
    np.testing.assert_array_equal(x, ref)
