"""One model's per-frame path: image -> input tensor -> raw output -> detections.

:class:`Pipeline` holds the three stages a frame goes through (preprocess, inference,
postprocess) for one session; :mod:`harness.pipeline.runner` times it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from common.errors import InputError, expected
from harness.pipeline.postprocess import MAX_NMS, Detections, check_settings, postprocess
from harness.pipeline.preprocess import LetterboxInfo, preprocess

__all__ = ["Pipeline"]


class Pipeline:
    """One model's per-frame path: image -> input tensor -> raw output -> :class:`Detections`.

    The session is duck-typed: ``.run(x) -> list[np.ndarray]`` (the first output is the detection
    head) and ``.input_dtype``; ``.input_shape`` (``[1, 3, H, W]``) supplies the input size when
    ``imgsz`` is not given.

    Args:
        session: the runtime session.
        imgsz: network input side or ``(height, width)``; default: from ``session.input_shape``.
        nc: the model's class count, when known (fixes the output layout, checks it).
        conf: confidence threshold (strictly greater is kept).
        iou: NMS IoU threshold.
        max_det: at most this many detections per frame.
        agnostic: class-agnostic NMS.

    Raises:
        InputError: a setting is out of range or the input size is unknown.

    Example:
        >>> class Echo:  # a stand-in session: one box of class 1 at the input's centre
        ...     input_dtype = np.float32
        ...     def run(self, x):
        ...         out = np.zeros((1, 6, 100), np.float32); out[0, :, 0] = [32, 32, 16, 8, 0.1, 0.9]
        ...         return [out]
        >>> pipe = Pipeline(Echo(), imgsz=64, nc=2)
        >>> det = pipe(np.zeros((32, 64, 3), np.uint8))
        >>> det.boxes.tolist(), det.classes.tolist()
        ([[24.0, 12.0, 40.0, 20.0]], [1])
    """

    def __init__(
        self,
        session,
        *,
        imgsz: int | tuple[int, int] | None = None,
        nc: int | None = None,
        conf: float = 0.25,
        iou: float = 0.7,
        max_det: int = 300,
        agnostic: bool = False,
    ) -> None:
        check_settings(conf, iou, max_det, MAX_NMS)
        if imgsz is None:
            shape = getattr(session, "input_shape", None)
            if not shape or len(shape) != 4 or not all(isinstance(v, (int, np.integer)) and v > 0 for v in shape[2:]):
                raise InputError(expected("a fixed input shape [1, 3, H, W] or an explicit imgsz", shape, "model input"))
            imgsz = (int(shape[2]), int(shape[3]))
        elif isinstance(imgsz, (int, np.integer)):
            imgsz = (int(imgsz), int(imgsz))
        if len(imgsz) != 2 or not all(isinstance(v, (int, np.integer)) and v >= 32 for v in imgsz):
            raise InputError(expected("an input size of at least 32 pixels", imgsz, "imgsz"))
        if nc is not None and (not isinstance(nc, (int, np.integer)) or nc < 1):
            raise InputError(expected("a positive class count", nc, "nc"))
        self.session = session
        self.imgsz = (int(imgsz[0]), int(imgsz[1]))
        self.nc = nc
        self.conf, self.iou, self.max_det, self.agnostic = float(conf), float(iou), int(max_det), bool(agnostic)
        self.input_dtype = np.dtype(getattr(session, "input_dtype", np.float32)).type

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, LetterboxInfo]:
        """BGR HxWx3 uint8 image -> network input tensor and its letterbox info."""
        return preprocess(image, self.imgsz, self.input_dtype)

    def infer(self, x: np.ndarray) -> np.ndarray:
        """Network input -> raw detection output (the session's first output)."""
        return self.session.run(x)[0]

    def postprocess(self, output: np.ndarray, info: LetterboxInfo) -> Detections:
        """Raw output -> detections in original-image pixels."""
        return postprocess(
            output, info, conf=self.conf, iou=self.iou, max_det=self.max_det, agnostic=self.agnostic, nc=self.nc
        )

    def __call__(self, image: np.ndarray) -> Detections:
        """One frame end to end."""
        x, info = self.preprocess(image)
        return self.postprocess(self.infer(x), info)

    def run_batch(self, images: Sequence[np.ndarray]) -> list[Detections]:
        """``len(images)`` frames in one inference call (a model exported with that static batch).

        Each frame is letterboxed on its own, the tensors are stacked into ``N x 3 x H x W``, and
        output ``i`` is postprocessed with frame ``i``'s letterbox.

        Raises:
            InputError: no images, or an output whose batch is not ``len(images)``.
        """
        if len(images) == 0:
            raise InputError(expected("at least one frame", "0 frames", "batch"))
        prepared = [self.preprocess(image) for image in images]
        x = prepared[0][0] if len(prepared) == 1 else np.concatenate([p[0] for p in prepared], axis=0)
        out = self.infer(x)
        if not isinstance(out, np.ndarray) or out.ndim != 3 or out.shape[0] != len(images):
            got = f"shape {getattr(out, 'shape', None)}"
            raise InputError(expected(f"a raw output of batch {len(images)}", got, "model output"))
        return [self.postprocess(out[i : i + 1], info) for i, (_, info) in enumerate(prepared)]
