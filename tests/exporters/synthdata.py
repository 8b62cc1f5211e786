"""A tiny Ultralytics-layout dataset of rectangles and discs, generated with OpenCV for the exporter tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

NAMES = {0: "rect", 1: "disc"}


def make_dataset(root: Path, *, n_train: int = 12, n_val: int = 4, size: int = 96, seed: int = 0) -> Path:
    """Write ``root/{images,labels}/{train,val}`` and ``root/data.yaml``; return the YAML path."""
    import cv2
    import yaml

    rng = np.random.default_rng(seed)
    for split, count in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for index in range(count):
            image = np.full((size, size, 3), int(rng.integers(40, 90)), np.uint8)
            lines = []
            for _ in range(int(rng.integers(1, 4))):
                cls = int(rng.integers(0, 2))
                w, h = (int(v) for v in rng.integers(size // 6, size // 2, 2))
                x0, y0 = int(rng.integers(0, size - w)), int(rng.integers(0, size - h))
                color = tuple(int(c) for c in rng.integers(120, 255, 3))
                if cls == 0:
                    cv2.rectangle(image, (x0, y0), (x0 + w, y0 + h), color, -1)
                else:
                    cv2.ellipse(image, (x0 + w // 2, y0 + h // 2), (w // 2, h // 2), 0, 0, 360, color, -1)
                lines.append(f"{cls} {(x0 + w / 2) / size:.6f} {(y0 + h / 2) / size:.6f} {w / size:.6f} {h / size:.6f}")
            cv2.imwrite(str(root / "images" / split / f"{split}{index:03d}.jpg"), image)
            (root / "labels" / split / f"{split}{index:03d}.txt").write_text("\n".join(lines) + "\n")
    data_yaml = root / "data.yaml"
    data_yaml.write_text(
        yaml.safe_dump({"path": str(root), "train": "images/train", "val": "images/val", "names": NAMES})
    )
    return data_yaml
