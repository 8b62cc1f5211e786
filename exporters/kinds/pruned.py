"""The ``pruned`` model kind: structured channel pruning of the source, then fine-tuning on the train split.

A shipped ``<source stem>-prunedNN.pt`` beside the source (or ``--pruned``) that records this
source's SHA-256 and the same ratio is used as it is, without minutes of fine-tuning.

Example:
    >>> PrunedOptions().finetune_epochs
    10
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError, expected
from exporters.kinds.base import Kind, option
from exporters.manifest import tool_versions
from exporters.source import SourceModel, inspect_source
from exporters.stage import Stage, common_fields

__all__ = ["KIND", "PrunedOptions"]


@dataclass(frozen=True)
class PrunedOptions:
    """Options of pruned variants."""

    pruned_source: Path | None = option(
        Path, None, "an already pruned + fine-tuned .pt for prunedNN variants (default: <model>-prunedNN.pt beside "
        "the model when it matches, else the model is pruned here)", flags=("--pruned",))
    finetune_epochs: int = option(int, 10, "fine-tuning epochs after pruning, 0 for none",
                                  flags=("--finetune-epochs", "--epochs"), check=lambda v: v >= 0,
                                  expect="an epoch count >= 0")
    finetune_batch: int = option(int, 16, "fine-tuning batch size", flags=("--finetune-batch",),
                                 check=lambda v: v >= 1, expect="a batch size >= 1")
    train_device: str = option(str, "cpu", "fine-tuning device (cpu, 0, ...)", flags=("--train-device",))


def _prepare(stage: Stage) -> None:
    opts: PrunedOptions = stage.options["pruned"]
    given = opts.pruned_source
    pruned_source = Path(given) if given is not None else _beside(stage.src, stage.spec)
    finetunes = pruned_source is None and opts.finetune_epochs > 0
    if finetunes:
        if stage.data_yaml is None:
            raise InputError(expected("a dataset YAML (--data) whose train images fine-tune the pruned model",
                                      "none", "--data"))
        from exporters.calibration import train_images

        train_images(Path(stage.data_yaml))
    stage.prepared["pruned"] = pruned_source


def _beside(src: SourceModel, spec) -> Path | None:
    """``<stem>-prunedNN.pt`` next to the source, if it was pruned from exactly this source by that ratio."""
    candidate = src.path.with_name(f"{src.path.stem}-pruned{spec.prune_percent}.pt")
    if src.kind != "pt" or not candidate.is_file():
        return None
    try:
        found = inspect_source(candidate)
    except InputError:
        return None
    info = found.pruning or {}
    if info.get("source_sha256") == src.sha256 and abs(info.get("ratio", -1) - spec.prune_ratio) < 1e-6:
        return candidate
    return None


def _checkpoint(stage: Stage) -> SourceModel:
    src, spec = stage.src, stage.spec
    opts: PrunedOptions = stage.options["pruned"]
    pruned_source = stage.prepared["pruned"]
    if pruned_source is not None:
        given = inspect_source(Path(pruned_source))
        where = str(pruned_source)
        if given.kind != "pt" or not given.pruning:
            raise InputError(expected("a pruned .pt made by bench (exporters.prune)", "an unpruned model", where))
        if abs(given.pruning.get("ratio", -1) - spec.prune_ratio) > 1e-6:
            raise InputError(expected(f"a checkpoint pruned by {spec.prune_ratio}", given.pruning.get("ratio"), where))
        if given.pruning.get("source_sha256") != src.sha256:
            raise InputError(expected(f"a checkpoint pruned from {src.path.name} (sha256 {src.sha256[:12]})",
                                      f"one pruned from sha256 {str(given.pruning.get('source_sha256'))[:12]}", where))
        return given
    if src.pruning:
        raise InputError(expected("an unpruned source to prune", "a checkpoint that is already pruned", str(src.path)))
    from exporters.finetune import prune_and_finetune

    data_yaml, epochs = stage.data_yaml, opts.finetune_epochs
    final = stage.dir / f"{spec.base_name}-{stage.imgsz}.pt"
    key = {
        "stage": "pruned-pt",
        "source_sha256": src.sha256,
        "ratio": spec.prune_ratio,
        "round_to": 8,
        "epochs": epochs,
        "batch": opts.finetune_batch,
        "imgsz": stage.imgsz,
        "data": _dataset_digest(data_yaml) if epochs > 0 else None,
        "tools": tool_versions(("ultralytics", "torch", "torch-pruning")),
    }

    def build(tmp: Path) -> dict:
        record = prune_and_finetune(src.path, spec.prune_ratio, out=tmp, data_yaml=data_yaml, epochs=epochs,
                                    imgsz=stage.imgsz, batch=opts.finetune_batch, device=opts.train_device,
                                    progress=stage.progress)
        return {**common_fields(stage, spec.with_(precision="fp32"), src, None), "pruning": record}

    stage.cached(final, key, build, "prune + fine-tune")
    return inspect_source(final)


def _dataset_digest(data_yaml: Path) -> str:
    """SHA-256 of the dataset YAML and every train image (names and contents)."""
    from exporters.calibration import files_digest, train_images

    root, images = train_images(Path(data_yaml))
    names = [str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in images]
    return hashlib.sha256(Path(data_yaml).read_bytes() + files_digest(names, images).encode()).hexdigest()


KIND = Kind("pruned", "model", "prunedNN: NN % of channels removed, then fine-tuned on the train split",
            options=PrunedOptions, prepare=_prepare, build=_checkpoint)
