"""The shipped reference models: trained offline on the synthetic dataset by :mod:`harness.reference.train`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError, expected

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = "yolo11n"


@dataclass(frozen=True, slots=True)
class ReferenceModel:
    """A shipped checkpoint and what is known about it (from the JSON beside it)."""

    name: str
    weights: Path
    info: dict

    @property
    def imgsz(self) -> int:
        return int(self.info["imgsz"])


def available() -> list[str]:
    """Names of the reference models shipped in this build."""
    return sorted(p.stem for p in MODELS_DIR.glob("*.pt") if p.with_suffix(".json").exists())


def reference_model(name: str = DEFAULT_MODEL) -> ReferenceModel:
    """Look up a shipped reference model by name.

    Raises:
        InputError: no such model is shipped.
    """
    weights = MODELS_DIR / f"{name}.pt"
    meta = weights.with_suffix(".json")
    if not (weights.is_file() and meta.is_file()):
        raise InputError(expected(f"one of the shipped reference models {available()}", repr(name), "reference model"))
    return ReferenceModel(name=name, weights=weights, info=json.loads(meta.read_text()))
