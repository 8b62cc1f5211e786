"""``bench export``: build one variant artifact (cached), optionally copy it to a directory.

Examples::

    bench export --model yolo11n.pt --variant fp32 --imgsz 320
    bench export --model yolo11n.pt --variant int8 --data data.yaml --calib-images 200
    bench export --model yolo11n.pt --variant pruned30 --data data.yaml --epochs 30 --out dist/
    bench export --model yolo11n.pt --variant pruned30-int8 --pruned yolo11n-pruned30.pt --data data.yaml
    bench export --model yolo11n.pt --variant int8 --format trt --data data.yaml   # on the Jetson / GPU

Without ``--format`` it builds what a default ``bench run`` on this machine loads (:func:`default_format`):
the format of the runtime the default device profile picks here (on an x86-64 CPU with OpenVINO
installed, ``openvino``: its INT8 is the NNCF IR, not ONNX Runtime's QDQ ONNX), so the run reuses it.

Prints the artifact path and one summary line on stdout (the format, and why when it was not asked
for), progress on stderr.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import Any

from exporters.kinds import add_arguments as add_kind_arguments, kinds_of_role

__all__ = ["add_arguments", "default_format", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``bench export``."""
    parser.add_argument("--model", required=True, type=Path, help="source Ultralytics .pt, or an FP32 .onnx")
    parser.add_argument("--variant", required=True,
                        help="fp32, fp16, int8, bf16, prunedNN[-fp16|-int8|-bf16], student[-fp16|-int8|-bf16] "
                             "(NN = %% channels removed; bf16: OpenVINO only)")
    formats = tuple(k.name for k in kinds_of_role("format"))
    parser.add_argument("--format", default=None, type=str.lower, choices=formats,
                        help="; ".join(f"{k.name}: {k.help}" for k in kinds_of_role("format"))
                        + " (default: what a default bench run here loads, e.g. openvino on an x86-64 CPU with OpenVINO)")
    parser.add_argument("--imgsz", type=int, default=None,
                        help="input size (default: the ONNX input, or the .pt training size, else 640)")
    parser.add_argument("--batch", type=int, default=1, help="static batch of the exported graph, 1..256 (default 1; "
                                                             "bench run --batch N's artifact: fp32-320-b8.onnx)")
    parser.add_argument("--data", type=Path, default=None, help="dataset YAML: train images calibrate INT8 / fine-tune pruned")
    parser.add_argument("--out", type=Path, default=None, help="also copy the artifact and its manifest into this directory")
    parser.add_argument("--cache", type=Path, default=None,
                        help="artifact cache root (default <$BENCH_CACHE or ~/.cache/edge-bench>/artifacts, shared with bench run)")
    parser.add_argument("--calib-images", type=int, default=200, help="INT8 calibration images from the train split (default 200)")
    add_kind_arguments(parser)


class _StderrProgress:
    """Prints one line per stage start and a final count for counted stages."""

    def __init__(self, stream=None):
        self._stream = stream
        self.current = None

    @property
    def stream(self):
        return self._stream or sys.stderr

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        if stage != self.current:
            self.current = stage
            print(f"bench export: {stage} ...", file=self.stream, flush=True)
        if total and total > 1 and done == total:
            print(f"bench export: {stage} {done}/{total}", file=self.stream, flush=True)


def default_format(variant: str, *, device: Any = None) -> tuple[str, str]:
    """The format ``bench export`` builds without ``--format``, and why: what a default ``bench run`` here loads.

    That is the build format of the runtime the default device (``--device auto``) picks on this
    machine. Where that format does not build the variant's precision (``fp16`` on OpenVINO, whose
    run skips it), ``onnx`` or else the one format that does (``bf16``: ``openvino``); where no device
    profile is usable here, ``onnx``.

    Args:
        variant: the variant name (``int8``, ``pruned30-bf16``...).
        device: the resolved device (tests pass one); default :func:`devices.resolve.resolve_device` ``("auto")``.

    Returns:
        ``(format, reason)``, e.g. ``("openvino", "bench run's default runtime here: openvino")``.

    Example:
        >>> from types import SimpleNamespace
        >>> default_format("int8", device=SimpleNamespace(runtime=SimpleNamespace(runtime="openvino")))
        ('openvino', "bench run's default runtime here: openvino")
        >>> default_format("fp16", device=SimpleNamespace(runtime=SimpleNamespace(runtime="openvino")))
        ('onnx', "openvino builds no fp16 (bench run's default runtime here: openvino)")
    """
    from common.errors import InputError
    from devices.runtimes import runtime_info
    from exporters.kinds import buildable
    from exporters.spec import parse_variant

    precision = parse_variant(variant).precision
    if device is None:
        from devices.resolve import resolve_device

        try:
            device = resolve_device("auto")
        except InputError as exc:  # no usable profile here: ONNX, as before this default existed
            return "onnx", f"no device profile is usable here ({str(exc).split(': ', 1)[-1]})"
    runtime = device.runtime.runtime
    fmt = runtime_info(runtime).build_format
    why = f"bench run's default runtime here: {runtime}"
    if buildable(precision, fmt):
        return fmt, why
    others = [k.name for k in kinds_of_role("format") if buildable(precision, k.name)]
    return ("onnx" if "onnx" in others else others[0]), f"{fmt} builds no {precision} ({why})"


def _default_imgsz(model: Path) -> int:
    from exporters.source import inspect_source

    return inspect_source(model).imgsz or 640


def run(args: argparse.Namespace) -> int:
    """Build the variant; print its path and a summary line."""
    from exporters.build import build_variant
    from exporters.kinds import options_mapping
    from exporters.manifest import atomic_path, manifest_path
    from exporters.spec import parse_variant

    fmt, why = (args.format, "") if args.format else default_format(args.variant)
    spec = parse_variant(args.variant, fmt=fmt)
    imgsz = args.imgsz if args.imgsz is not None else _default_imgsz(args.model)
    artifact = build_variant(
        args.model, spec, cache_dir=args.cache, imgsz=imgsz, data_yaml=args.data,
        calib_images=args.calib_images, progress=_StderrProgress(), options=options_mapping(args), batch=args.batch,
    )
    path = artifact.path
    if args.out is not None:
        target = Path(args.out) / f"{args.model.stem}-{path.name}"
        with atomic_path(target) as tmp:
            shutil.copyfile(path, tmp)
        with atomic_path(manifest_path(target)) as tmp:
            shutil.copyfile(manifest_path(path), tmp)
        path = target
    m = artifact.manifest
    size_mb = m["artifact"]["size_bytes"] / 1e6
    print(path)
    print(
        f"{spec.name} ({spec.fmt}{'; ' + why if why else ''}) {imgsz}px: {m.get('params', 0):,} params, "
        f"{m.get('gflops', 0)} GFLOPs, "
        f"{size_mb:.1f} MB{' (cached)' if artifact.reused else ''}"
    )
    return 0
