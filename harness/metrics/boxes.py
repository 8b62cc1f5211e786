"""Box formats and conversions between them.

Four formats, all ``(N, 4)`` float64 arrays:

========== =============================================== ==========
name       columns                                          units
========== =============================================== ==========
``xyxy``   left, top, right, bottom                         pixels
``xywh``   left, top, width, height (COCO ``bbox``)         pixels
``cxcywh`` centre x, centre y, width, height                pixels
``yolo``   centre x, centre y, width, height                fraction of the image
========== =============================================== ==========

Only ``yolo`` needs the image size, given as ``image_size=(width, height)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from common.errors import InputError, expected

__all__ = ["BOX_FORMATS", "as_boxes", "box_area", "convert_boxes"]

BOX_FORMATS = ("xyxy", "xywh", "cxcywh", "yolo")


def as_boxes(boxes: object, *, name: str = "boxes") -> np.ndarray:
    """Return ``boxes`` as a float64 ``(N, 4)`` array, or raise :class:`InputError`.

    An empty sequence becomes a ``(0, 4)`` array. Values are not checked for
    sign or finiteness here; validators at the input edge do that.

    Args:
        boxes: anything ``numpy.asarray`` turns into an ``(N, 4)`` numeric array.
        name: how to call the argument in the error message.

    Returns:
        A float64 array of shape ``(N, 4)``.

    Example:
        >>> as_boxes([[0, 0, 2, 2]]).dtype
        dtype('float64')
    """
    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InputError(expected("an (N, 4) array of numbers", type(boxes).__name__, name)) from exc
    if arr.size == 0:
        return np.zeros((0, 4), np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(expected("an (N, 4) array of boxes", f"shape {arr.shape}", name))
    return arr


def box_area(boxes: np.ndarray, fmt: str = "xyxy") -> np.ndarray:
    """Area of each box (negative extents give a negative area; nothing is clipped).

    Args:
        boxes: ``(N, 4)`` boxes.
        fmt: ``"xyxy"``, ``"xywh"`` or ``"cxcywh"``.

    Returns:
        ``(N,)`` float64 areas.

    Example:
        >>> box_area(np.array([[0.0, 0.0, 4.0, 2.0]]))
        array([8.])
    """
    b = as_boxes(boxes)
    if fmt == "xyxy":
        return (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    if fmt in ("xywh", "cxcywh"):
        return b[:, 2] * b[:, 3]
    raise InputError(expected("box format 'xyxy', 'xywh' or 'cxcywh'", repr(fmt), "fmt"))


def _image_wh(image_size: Sequence[float] | None, fmt: str) -> tuple[float, float]:
    if image_size is None:
        raise InputError(expected("image_size=(width, height) for the 'yolo' format", None, "image_size"))
    try:
        w, h = (float(v) for v in image_size)
    except (TypeError, ValueError) as exc:
        raise InputError(expected("image_size=(width, height)", repr(image_size), "image_size")) from exc
    if not (w > 0 and h > 0 and np.isfinite(w) and np.isfinite(h)):
        raise InputError(expected("a positive (width, height)", repr(image_size), "image_size"))
    return w, h


def convert_boxes(
    boxes: object,
    src: str,
    dst: str,
    *,
    image_size: Sequence[float] | None = None,
) -> np.ndarray:
    """Convert boxes between ``xyxy``, ``xywh``, ``cxcywh`` and ``yolo``.

    Args:
        boxes: ``(N, 4)`` boxes in format ``src``.
        src: the format of ``boxes``.
        dst: the format wanted.
        image_size: ``(width, height)`` in pixels; required when either format is ``yolo``.

    Returns:
        A new float64 ``(N, 4)`` array in format ``dst``.

    Raises:
        InputError: an unknown format, a bad shape, or ``yolo`` without ``image_size``.

    Example:
        >>> convert_boxes([[10, 20, 30, 60]], "xyxy", "xywh")
        array([[10., 20., 20., 40.]])
        >>> convert_boxes([[0.5, 0.5, 0.5, 0.25]], "yolo", "xyxy", image_size=(640, 480))
        array([[160., 180., 480., 300.]])
    """
    for arg, fmt in (("src", src), ("dst", dst)):
        if fmt not in BOX_FORMATS:
            raise InputError(expected(f"one of {', '.join(BOX_FORMATS)}", repr(fmt), arg))
    b = as_boxes(boxes).copy()
    if src == dst:
        return b
    # to xyxy pixels
    if src == "yolo":
        w, h = _image_wh(image_size, src)
        b *= np.array([w, h, w, h])
        src = "cxcywh"
    if src == "xywh":
        b[:, 2:] += b[:, :2]
    elif src == "cxcywh":
        half = b[:, 2:] / 2.0
        b[:, 2:] = b[:, :2] + half
        b[:, :2] -= half
    # xyxy pixels to dst
    if dst == "xyxy":
        return b
    if dst == "xywh":
        b[:, 2:] -= b[:, :2]
        return b
    out = np.empty_like(b)
    out[:, :2] = (b[:, :2] + b[:, 2:]) / 2.0
    out[:, 2:] = b[:, 2:] - b[:, :2]
    if dst == "yolo":
        w, h = _image_wh(image_size, dst)
        out /= np.array([w, h, w, h])
    return out
