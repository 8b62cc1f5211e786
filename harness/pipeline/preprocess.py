"""Letterbox preprocessing, identical to Ultralytics' ``LetterBox(auto=False, center=True)``.

The same function feeds inference, INT8 calibration and anything else that builds
network input, so that a calibrated range and a scored image see the same pixels.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

PAD_VALUE = 114
PREPROCESS_VERSION = 1
"""Version of this module's preprocessing (letterbox geometry, pad value, BGR->RGB, /255, NCHW float32).

Bump it whenever the pixels fed to the network change: it is part of the INT8 calibration cache
key (:mod:`exporters.kinds.int8`), so every calibrated artifact is rebuilt with the new pixels."""


@dataclass(frozen=True)  # no slots=True: the device side runs on Python 3.8
class LetterboxInfo:
    """How an image was placed into the network input, to map boxes back.

    Attributes:
        scale: resize ratio applied to the original image.
        pad_left: pixels of padding on the left of the network input.
        pad_top: pixels of padding on the top of the network input.
        orig_height: height of the original image.
        orig_width: width of the original image.
    """

    scale: float
    pad_left: int
    pad_top: int
    orig_height: int
    orig_width: int


def letterbox(image: np.ndarray, size: int | tuple[int, int], *, scaleup: bool = True) -> tuple[np.ndarray, LetterboxInfo]:
    """Resize keeping the aspect ratio and pad to ``size`` with gray 114, as Ultralytics does.

    Args:
        image: HxWx3 uint8 BGR image (OpenCV order).
        size: network input side, or ``(height, width)``.
        scaleup: allow enlarging images smaller than the input.

    Returns:
        The padded BGR uint8 image and the :class:`LetterboxInfo` to undo it.

    Example:
        >>> img = np.zeros((240, 320, 3), np.uint8)
        >>> out, info = letterbox(img, 320)
        >>> out.shape, info.pad_top
        ((320, 320, 3), 40)
    """
    cv2 = _cv2()
    h, w = image.shape[:2]
    new_h, new_w = (size, size) if isinstance(size, int) else size
    r, (unpad_w, unpad_h), (top, bottom, left, right) = _geometry(h, w, new_h, new_w, scaleup)
    if (w, h) != (unpad_w, unpad_h):
        image = _resize(image, unpad_w, unpad_h)
    if (top or bottom or left or right) and cv2 is None:
        image = np.pad(image, ((top, bottom), (left, right)) + ((0, 0),) * (image.ndim - 2), constant_values=PAD_VALUE)
    elif top or bottom or left or right:
        image = cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)
    return image, LetterboxInfo(scale=r, pad_left=left, pad_top=top, orig_height=h, orig_width=w)


def _cv2():
    """OpenCV, or None on a light device without it (Python 3.8 fleet devices: see :func:`_resize_numpy`)."""
    try:
        import cv2
    except ImportError:
        return None
    return cv2


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    cv2 = _cv2()
    if cv2 is None:
        return _resize_numpy(image, width, height)
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def _resize_numpy(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Bilinear resize with OpenCV's INTER_LINEAR sampling grid, used ONLY where OpenCV is not installed
    (a fleet device's light worker; ``devices.agent`` records ``"preprocess": "numpy"``): pixels may
    differ from OpenCV's fixed-point result by a grey level."""
    h, w = image.shape[:2]
    ys = np.clip((np.arange(height) + 0.5) * (h / height) - 0.5, 0, h - 1)
    xs = np.clip((np.arange(width) + 0.5) * (w / width) - 0.5, 0, w - 1)
    y0, x0 = ys.astype(np.intp), xs.astype(np.intp)
    y1, x1 = np.minimum(y0 + 1, h - 1), np.minimum(x0 + 1, w - 1)
    per_pixel = (1,) * (image.ndim - 2)  # broadcast over the channels
    wy, wx = (ys - y0).reshape((-1, 1) + per_pixel), (xs - x0).reshape((-1,) + per_pixel)
    img = image.astype(np.float32)
    top = img[y0][:, x0] * (1 - wx) + img[y0][:, x1] * wx
    bottom = img[y1][:, x0] * (1 - wx) + img[y1][:, x1] * wx
    return np.clip(np.rint(top * (1 - wy) + bottom * wy), 0, 255).astype(image.dtype)


def _geometry(h: int, w: int, new_h: int, new_w: int, scaleup: bool = True):
    """Ultralytics' letterbox arithmetic: ``(ratio, (unpad_w, unpad_h), (top, bottom, left, right))``."""
    r = min(new_h / h, new_w / w)
    if not scaleup:
        r = min(r, 1.0)
    unpad_w, unpad_h = max(round(w * r), 1), max(round(h * r), 1)  # thin images keep >= 1 pixel, as Ultralytics
    dw, dh = (new_w - unpad_w) / 2, (new_h - unpad_h) / 2
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    return r, (unpad_w, unpad_h), (top, bottom, left, right)


def to_tensor(image: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """BGR HxWx3 uint8 -> RGB 1x3xHxW in [0, 1], contiguous.

    Args:
        image: the letterboxed BGR image.
        dtype: output dtype (``np.float16`` for models with FP16 inputs).

    Returns:
        The network input tensor.
    """
    chw = image[:, :, ::-1].transpose(2, 0, 1)
    return np.ascontiguousarray(chw[None], dtype=dtype) / dtype(255.0)


def preprocess(image: np.ndarray, size: int | tuple[int, int], dtype: type = np.float32) -> tuple[np.ndarray, LetterboxInfo]:
    """Letterbox and convert to the network input tensor in one call.

    The result is bit for bit ``to_tensor(letterbox(image, size)[0], dtype)`` (so, value for value, what
    Ultralytics' predictor feeds the model), computed with less memory traffic for 3-channel
    images and floating dtypes: the image is resized (if needed) but not padded, each colour plane
    is scaled straight into its place in the output (the channel flip and the HWC->CHW transpose
    happen on one-byte pixels; with OpenCV, by looking each pixel up in a 256-entry table of the
    same divisions), and only the padding strips are filled with ``114 / 255``. Other inputs take
    the two-step path.

    Args:
        image: HxWx3 uint8 BGR image (OpenCV order).
        size: network input side, or ``(height, width)``.
        dtype: output dtype (``np.float16`` for models with FP16 inputs).

    Returns:
        The ``1x3xHxW`` contiguous input tensor and the :class:`LetterboxInfo` to undo the letterbox.

    Example:
        >>> x, info = preprocess(np.zeros((240, 320, 3), np.uint8), 320)
        >>> x.shape, x.dtype, info.pad_top, bool(x[0, 0, 0, 0] == np.float32(114) / np.float32(255))
        ((1, 3, 320, 320), dtype('float32'), 40, True)
    """
    dt = np.dtype(dtype)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or dt.kind != "f":
        boxed, info = letterbox(image, size)
        return to_tensor(boxed, dtype), info
    cv2 = _cv2()
    h, w = image.shape[:2]
    new_h, new_w = (size, size) if isinstance(size, int) else size
    r, (unpad_w, unpad_h), (top, _, left, _) = _geometry(h, w, new_h, new_w)
    if (w, h) != (unpad_w, unpad_h):
        image = _resize(image, unpad_w, unpad_h)
    scale = dt.type(255.0)
    out = np.empty((1, 3, new_h, new_w), dt)
    chw = out[0]
    if (unpad_h, unpad_w) != (new_h, new_w):
        # the same division as the image pixels, so the padding is bit-identical to to_tensor's
        pad = np.divide(np.full(1, PAD_VALUE, np.uint8), scale, dtype=dt)[0]
        chw[:, :top] = pad
        chw[:, top + unpad_h :] = pad
        chw[:, top : top + unpad_h, :left] = pad
        chw[:, top : top + unpad_h, left + unpad_w :] = pad
    rows, cols = slice(top, top + unpad_h), slice(left, left + unpad_w)
    if cv2 is None or dt.itemsize > 8:  # no OpenCV, or a float wider than OpenCV's
        for c in range(3):  # B, G, R -> channels 2, 1, 0
            np.divide(image[:, :, c], scale, out=chw[2 - c, rows, cols], dtype=dt)
    else:
        # a 256-entry table of the same divisions: one lookup per pixel, bit for bit the same values
        table = _scaled_table(dt)
        for c, plane in enumerate(cv2.split(image)):  # B, G, R -> channels 2, 1, 0
            cv2.LUT(plane, table, dst=chw[2 - c, rows, cols])
    return out, LetterboxInfo(scale=r, pad_left=left, pad_top=top, orig_height=h, orig_width=w)


@functools.lru_cache(maxsize=4)
def _scaled_table(dt: np.dtype) -> np.ndarray:
    """``v / 255`` for every uint8 ``v``, divided in ``dt`` exactly as :func:`to_tensor` divides (read-only)."""
    table = np.divide(np.arange(256, dtype=np.uint8), dt.type(255.0), dtype=dt)
    table.setflags(write=False)
    return table
