"""Shared fixtures for the pipeline tests: a small exported ONNX model with non-empty detections."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

def _export(model, out_dir: Path, imgsz: int) -> Path:
    path = model.export(format="onnx", imgsz=imgsz, simplify=True, dynamic=False, verbose=False)
    dst = out_dir / Path(path).name
    Path(path).replace(dst)
    return dst


@pytest.fixture(scope="session")
def random_onnx(tmp_path_factory) -> Path:
    """``yolo11n.yaml`` (random weights) exported at 160 px, with class biases raised so that a
    few hundred anchors score above 0.25 with spread-out scores and classes."""
    import torch
    from ultralytics import YOLO

    torch.manual_seed(0)
    model = YOLO("yolo11n.yaml")
    head = model.model.model[-1]
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for conv in head.one2many["cls_head"]:
            conv[-1].bias.copy_(torch.randn(conv[-1].bias.shape, generator=gen) * 1.5 - 2.0)
    out_dir = tmp_path_factory.mktemp("onnx_random")
    cwd = Path.cwd()
    os.chdir(out_dir)  # YOLO("*.yaml").export writes next to the working directory
    try:
        return _export(model, out_dir, 160)
    finally:
        os.chdir(cwd)


@pytest.fixture(scope="session")
def trained_onnx(tmp_path_factory) -> Path:
    """The shipped reference model exported to ONNX at its training size, when it is shipped."""
    import shutil

    from ultralytics import YOLO

    from common.errors import InputError
    from harness.reference import reference_model

    try:
        ref = reference_model()
    except InputError as exc:
        pytest.skip(f"reference model not trained yet: {exc}")
    out_dir = tmp_path_factory.mktemp("onnx_trained")
    pt = out_dir / ref.weights.name
    shutil.copy(ref.weights, pt)  # export writes beside the .pt: keep the checkout clean
    return Path(YOLO(str(pt)).export(format="onnx", imgsz=ref.imgsz, simplify=True, dynamic=False, verbose=False))


def smooth_images(seed: int, count: int) -> list[np.ndarray]:
    """BGR images of assorted sizes with structure (blurred noise plus rectangles)."""
    import cv2

    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        h, w = (int(v) for v in rng.integers(48, 360, 2))
        img = cv2.GaussianBlur(rng.integers(0, 256, (h, w, 3), dtype=np.uint8), (0, 0), 2)
        for _ in range(3):
            x1, y1 = int(rng.integers(0, w - 8)), int(rng.integers(0, h - 8))
            x2, y2 = x1 + int(rng.integers(8, w // 2 + 9)), y1 + int(rng.integers(8, h // 2 + 9))
            cv2.rectangle(img, (x1, y1), (x2, y2), tuple(int(c) for c in rng.integers(0, 256, 3)), -1)
        images.append(img)
    return images
