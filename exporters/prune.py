"""Structured channel pruning of YOLO detection models with Torch-Pruning.

Real structured pruning: whole channels are removed, so the exported graph has smaller convolutions
and runs faster on dense runtimes (masks would not). What works, measured with torch-pruning 1.6.1:

* convert C2f/C3k2 blocks to the split-free form first (:mod:`exporters.splitfree`); stock blocks
  make Torch-Pruning fail (IndexError) or hang;
* leave the Detect head, YOLO11's ``Attention`` (inside C2PSA) and YOLO12's ``AAttn`` (inside
  A2C2f) unpruned -- their channel counts are tied to head counts and the DFL/class layout;
* round kept channel counts to multiples of 8 (``round_to=8``) so the runtimes' kernels stay efficient.

yolo11n at 320 px went from 0.82 to 0.49 GMACs at 30 %. Pruning alone costs accuracy; fine-tune
afterwards (:mod:`exporters.finetune`).

Command line (the shipped pruned reference is made this way)::

    python -m exporters.prune --model yolo11n.pt --ratio 0.30 --data data.yaml --epochs 30 --out yolo11n-pruned30.pt

``--distill`` also distills from the unpruned model during fine-tuning (Ultralytics' ``distill_model``);
it is off by default because each epoch took ~4x longer on CPU.

Example:
    >>> from ultralytics.nn.tasks import DetectionModel  # doctest: +SKIP
    >>> pruned = prune_model(DetectionModel("yolo11n.yaml", verbose=False), 0.3, example_imgsz=160)  # doctest: +SKIP
    >>> pruned.bench_pruning["gmacs_after"] < pruned.bench_pruning["gmacs_before"]  # doctest: +SKIP
    True
"""

from __future__ import annotations

import copy

from common.errors import BenchError, InputError, expected, require

__all__ = ["IGNORED_MODULES", "check_ratio", "prune_model"]

IGNORED_MODULES = ("Detect", "Attention", "AAttn")


def _ignored_layers(model) -> list:
    from ultralytics.nn.modules.block import AAttn, Attention
    from ultralytics.nn.modules.head import Detect

    return [m for m in model.modules() if isinstance(m, (Detect, Attention, AAttn))]


def _count(model, example):
    import torch_pruning as tp

    was_training = model.training
    model.eval()
    macs, params = tp.utils.count_ops_and_params(model, example)
    model.train(was_training)
    return int(macs), int(params)


def check_ratio(ratio) -> float:
    """Validate a pruning ratio (fraction of channels removed, 0.05..0.9)."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0.05 <= ratio <= 0.9:
        raise InputError(expected("a pruning ratio between 0.05 and 0.9", ratio, "ratio"))
    return float(ratio)


def prune_model(model, ratio: float, *, round_to: int = 8, example_imgsz: int = 320):
    """Remove ``ratio`` of the channels of every prunable layer group (L2-magnitude importance).

    The input model is not modified; a pruned copy is returned, in eval mode, with a
    ``bench_pruning`` attribute recording what was done (it travels into checkpoints).

    Args:
        model: an Ultralytics ``DetectionModel`` (YOLOv8/YOLO11/YOLO12).
        ratio: fraction of channels to remove, ``0.05 <= ratio <= 0.9``.
        round_to: kept channel counts are multiples of this.
        example_imgsz: input side used to trace the graph and count MACs (a multiple of 32).

    Returns:
        The pruned model.

    Raises:
        InputError: a ratio outside 0.05..0.9, or one that removes nothing at this ``round_to``.
        BenchError: Torch-Pruning failed on this architecture.
    """
    check_ratio(ratio)
    if example_imgsz % 32:
        raise InputError(expected("an input size that is a multiple of 32", example_imgsz, "imgsz"))
    torch = require("torch", extra="export")
    tp = require("torch_pruning", extra="export")
    from exporters.source import model_family
    from exporters.splitfree import convert_split_blocks

    family = model_family(model)
    pruned = copy.deepcopy(model).float().cpu()
    converted = convert_split_blocks(pruned)
    for param in pruned.parameters():
        param.requires_grad_(True)
    example = torch.zeros(1, 3, example_imgsz, example_imgsz)
    macs_before, params_before = _count(pruned, example)
    pruned.eval()
    try:
        pruner = tp.pruner.MetaPruner(
            pruned,
            example,
            importance=tp.importance.GroupMagnitudeImportance(p=2),
            pruning_ratio=float(ratio),
            ignored_layers=_ignored_layers(pruned),
            round_to=round_to,
        )
        pruner.step()
    except (IndexError, RuntimeError, ValueError, KeyError) as exc:
        raise BenchError(f"structured pruning failed on this model: {type(exc).__name__}: {exc}") from exc
    macs_after, params_after = _count(pruned, example)
    if macs_after >= macs_before:
        raise InputError(
            expected(f"a ratio that removes channels when counts are rounded to multiples of {round_to}",
                     f"{ratio} (nothing removed)", "ratio")
        )
    with torch.no_grad():
        out = pruned(example)
    out = out[0] if isinstance(out, (tuple, list)) else out
    if not torch.isfinite(out).all():
        raise BenchError("the pruned model produces non-finite outputs")
    pruned.bench_pruning = {
        "ratio": float(ratio),
        "round_to": round_to,
        "importance": "group L2 magnitude (torch_pruning.importance.GroupMagnitudeImportance)",
        "ignored": list(IGNORED_MODULES),
        "split_free_blocks": converted,
        "family": family,
        "example_imgsz": example_imgsz,
        "params_before": params_before,
        "params_after": params_after,
        "gmacs_before": round(macs_before / 1e9, 4),
        "gmacs_after": round(macs_after / 1e9, 4),
        "finetune": None,
    }
    return pruned.eval()
