"""Shared fixtures: tiny random-weight YOLO11n/YOLO12n checkpoints, a tiny dataset, one FP32 export."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.exporters.synthdata import NAMES, make_dataset

IMGSZ = 64


def save_random_model(cfg: str, path: Path, *, seed: int = 0) -> Path:
    """Build ``cfg`` offline with random weights and the dataset's classes; save it as a bench checkpoint."""
    import torch
    from ultralytics.nn.tasks import DetectionModel

    from exporters.finetune import save_checkpoint

    torch.manual_seed(seed)
    model = DetectionModel(cfg, nc=len(NAMES), verbose=False)
    model.names = dict(NAMES)
    model.task = "detect"
    # give BatchNorm non-trivial statistics so conversions and exports are tested on varied activations
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
    save_checkpoint(model.eval(), path, train_args={"imgsz": IMGSZ})
    return path


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def yolo11_pt(models_dir) -> Path:
    return save_random_model("yolo11n.yaml", models_dir / "yolo11n-random.pt")


@pytest.fixture(scope="session")
def yolo12_pt(models_dir) -> Path:
    return save_random_model("yolo12n.yaml", models_dir / "yolo12n-random.pt")


@pytest.fixture(scope="session")
def data_yaml(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("data"), n_train=10, n_val=4, size=IMGSZ)


@pytest.fixture(scope="session")
def session_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="session")
def fp32_artifact(yolo11_pt, session_cache):
    from exporters.build import build_variant
    from exporters.spec import parse_variant

    return build_variant(yolo11_pt, parse_variant("fp32"), cache_dir=session_cache, imgsz=IMGSZ)


@pytest.fixture(scope="session")
def int8_artifact(yolo11_pt, session_cache, data_yaml):
    from exporters.build import build_variant
    from exporters.spec import parse_variant

    return build_variant(yolo11_pt, parse_variant("int8"), cache_dir=session_cache, imgsz=IMGSZ,
                         data_yaml=data_yaml, calib_images=6)


@pytest.fixture(scope="session")
def pruned_pt(yolo11_pt, data_yaml, models_dir) -> Path:
    """yolo11n-random pruned by 30 % and fine-tuned for one epoch (distilling from itself) on the tiny dataset."""
    from exporters.finetune import prune_and_finetune

    out = models_dir / "yolo11n-random-pruned30.pt"
    prune_and_finetune(yolo11_pt, 0.3, out=out, data_yaml=data_yaml, epochs=1, imgsz=IMGSZ, batch=4, distill=True)
    return out
