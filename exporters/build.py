"""Build one variant of a source model, reusing cached artifacts: the one entry point the harness calls.

Every stage writes one artifact with a manifest beside it and is cached on its own, so
``pruned30-int8`` reuses the ``pruned30`` checkpoint and its FP32 ONNX::

    source.pt --(prune + fine-tune)--> pruned30-320.pt --(export)--> pruned30-320.onnx --> pruned30-int8-320.onnx
       \\--(export)--> fp32-320.onnx --(convert)--> fp16-320.onnx
                                     --(quantize, cpu)--> int8-320.onnx
                                     --(quantize, trt)--> int8-qdq-trt-320.onnx --(TensorRT)--> int8-320-<gpu>-trt<ver>.engine

Layout: ``<cache>/<source stem>-<sha256[:12]>/<variant>-<imgsz>[...]<suffix>``. The cache key of
each stage hashes its parent's SHA-256, the variant, the tool versions, the input size and (INT8)
the calibration settings and images; an unchanged key reuses the file, anything else rebuilds it.

Example:
    >>> from exporters.spec import parse_variant
    >>> art = build_variant(Path("yolo11n.pt"), parse_variant("int8"), imgsz=320,
    ...                     data_yaml=Path("data.yaml"))  # doctest: +SKIP
    >>> art.manifest["quantization"]["calibration"]["split"]  # doctest: +SKIP
    'train'
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from common.errors import InputError, expected

from exporters.manifest import (
    MANIFEST_VERSION,
    Artifact,
    atomic_path,
    cache_key,
    default_cache_dir,
    manifest_path,
    reusable,
    sha256_file,
    tool_versions,
    write_json_atomic,
)
from exporters.source import SourceModel, inspect_source
from exporters.spec import VariantSpec, parse_variant

__all__ = ["IMGSZ_MAX", "IMGSZ_MIN", "build_variant"]

Progress = Callable[[str, int, "int | None"], None]
IMGSZ_MIN, IMGSZ_MAX = 32, 2048
PREPROCESSING = "harness.pipeline.preprocess: letterbox to SxS (pad 114, centred), BGR->RGB, /255, NCHW float32"
_EXPORT_TOOLS = ("ultralytics", "torch", "onnx", "onnxslim")
_ORT_TOOLS = ("onnx", "onnxruntime")
_NO_STUDENT = (
    "the student variant needs a distilled student checkpoint: pass student_source / --student "
    "(a .pt trained by distillation from this model)"
)


class _Stage:
    """Shared state of one build: the validated source, the cache directory, options and progress."""

    def __init__(self, src: SourceModel, root: Path, imgsz: int, progress: Progress | None):
        self.src = src
        self.dir = root / f"{src.path.stem}-{src.sha256[:12]}"
        self.imgsz = imgsz
        self._progress = progress

    def progress(self, stage: str, done: int, total: int | None) -> None:
        if self._progress is not None:
            self._progress(stage, done, total)

    def cached(self, final: Path, key_inputs: dict, build: Callable[[Path], dict], stage: str) -> Artifact:
        """Reuse ``final`` if its manifest matches ``key_inputs``, else build it atomically and write the manifest."""
        key = cache_key(key_inputs)
        manifest = reusable(final, key)
        if manifest is not None:
            self.progress(f"{stage} (cached)", 1, 1)
            return Artifact(final, manifest, reused=True)
        self.progress(stage, 0, 1)
        start = time.monotonic()
        with atomic_path(final) as tmp:
            fields = build(tmp)
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "cache_key": key,
            "artifact": {
                "file": final.name,
                "format": final.suffix.lstrip("."),
                "sha256": sha256_file(final),
                "size_bytes": final.stat().st_size,
            },
            "imgsz": self.imgsz,
            "tools": tool_versions(),
            **fields,
            "key_inputs": key_inputs,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "build_seconds": round(time.monotonic() - start, 2),
        }
        write_json_atomic(manifest_path(final), manifest)
        self.progress(stage, 1, 1)
        return Artifact(final, manifest)


def _check_imgsz(imgsz) -> int:
    if not isinstance(imgsz, int) or isinstance(imgsz, bool) or not IMGSZ_MIN <= imgsz <= IMGSZ_MAX or imgsz % 32:
        raise InputError(expected(f"an input size that is a multiple of 32 in {IMGSZ_MIN}..{IMGSZ_MAX}", imgsz, "--imgsz"))
    return imgsz


def build_variant(
    source: Path,
    spec: VariantSpec | str,
    *,
    cache_dir: Path | None = None,
    imgsz: int,
    data_yaml: Path | None = None,
    calib_images: int = 200,
    calib_method: str = "percentile",
    progress: Progress | None = None,
    student_source: Path | None = None,
    pruned_source: Path | None = None,
    finetune_epochs: int = 10,
    finetune_batch: int = 16,
    train_device: str = "cpu",
    trt_int8_mode: str = "qdq",
    trt_workspace_mib: int = 1024,
    dla_core: int | None = None,
    sparse_weights: bool = False,
) -> Artifact:
    """Build (or reuse) the artifact of one variant.

    Args:
        source: the Ultralytics ``.pt`` (any variant) or an FP32 ``.onnx`` (fp32/fp16/int8 only).
        spec: a parsed :class:`VariantSpec` (or its name, parsed with format onnx).
        cache_dir: cache root; default ``$BENCH_CACHE`` or ``~/.cache/edge-bench``.
        imgsz: square input side, a multiple of 32.
        data_yaml: dataset YAML; its TRAIN split calibrates INT8 and fine-tunes pruned models.
        calib_images: INT8 calibration image count (fewer if the train split is smaller).
        calib_method: ``percentile`` (default), ``entropy`` or ``minmax``.
        progress: optional ``callable(stage, done, total)``; bench prints nothing itself.
        student_source: the distilled student ``.pt`` for ``student*`` variants.
        pruned_source: an already pruned + fine-tuned ``.pt`` for ``pruned*`` variants; it must record
            the same ratio and this source's SHA-256. Default: ``<source stem>-prunedNN.pt`` beside the
            source when it matches (the shipped ``yolo11n-pruned30.pt``), else the source is pruned here.
        finetune_epochs: epochs of fine-tuning after pruning (0 = none).
        finetune_batch: fine-tuning batch size.
        train_device: device for fine-tuning (``cpu``, ``0``...).
        trt_int8_mode: ``qdq`` (explicit, default) or ``calibrator`` for TensorRT INT8.
        trt_workspace_mib: TensorRT workspace limit.
        dla_core: TensorRT DLA core (Jetson), or ``None``.
        sparse_weights: TensorRT 2:4 sparsity flag.

    Returns:
        The :class:`Artifact` (``reused`` tells whether it came from the cache).

    Raises:
        InputError: bad source, size, dataset or option (one line).
        MissingDependency: a needed package is not installed (the message says what to install).
        BenchError: a tool failed while building.
    """
    if not isinstance(spec, VariantSpec):
        spec = parse_variant(spec)
    imgsz = _check_imgsz(imgsz)
    src = inspect_source(Path(source))
    if src.kind == "onnx":
        if spec.needs_pytorch:
            raise InputError(expected(f"a PyTorch .pt source for the {spec.name} variant (it needs the .pt)",
                                      "an .onnx file", str(source)))
        if src.imgsz != imgsz:
            raise InputError(expected(f"--imgsz {src.imgsz} (the ONNX input is fixed)", imgsz, "--imgsz"))
    if spec.kind == "student" and student_source is None:
        raise InputError(_NO_STUDENT)
    stage = _Stage(src, Path(cache_dir) if cache_dir else default_cache_dir(), imgsz, progress)
    trt_settings = trt_mod = device = None
    if spec.fmt == "trt":  # fail on a missing TensorRT or GPU before minutes of other work
        from exporters.tensorrt_build import device_tag, import_tensorrt, trt_settings as make_settings

        trt_settings = make_settings(spec, int8_mode=trt_int8_mode, workspace_mib=trt_workspace_mib,
                                     dla_core=dla_core, sparse_weights=sparse_weights)
        trt_mod = import_tensorrt()
        device = device_tag()
    if spec.kind == "pruned" and pruned_source is None:
        pruned_source = _beside(src, spec)
    needs_data = spec.precision == "int8" or (spec.kind == "pruned" and pruned_source is None and finetune_epochs > 0)
    if needs_data and data_yaml is None:
        why = "calibrate INT8" if spec.precision == "int8" else "fine-tune the pruned model"
        raise InputError(expected(f"a dataset YAML (--data) whose train images {why}", "none", "--data"))

    # validate every input before minutes of work: dataset, calibration images, INT8 options
    calib = quant = None
    if spec.precision == "int8" or (spec.fmt == "trt" and trt_settings.int8_mode == "calibrator"):
        from exporters.calibration import select_calibration_images
        from exporters.int8 import int8_settings

        quant = int8_settings(method=calib_method, profile="cpu" if spec.fmt == "onnx" else "trt",
                              calib_images=calib_images)
        calib = select_calibration_images(Path(data_yaml), count=calib_images)
    if needs_data and calib is None:
        from exporters.calibration import train_images

        train_images(Path(data_yaml))

    base = src
    if spec.kind == "pruned":
        base = _pruned_checkpoint(stage, spec, pruned_source, data_yaml, finetune_epochs, finetune_batch, train_device)
    elif spec.kind == "student":
        base = _student_checkpoint(src, spec, student_source)
    fp32 = _fp32_onnx(stage, spec, base)
    if spec.fmt == "onnx":
        if spec.precision == "fp32":
            return fp32
        if spec.precision == "fp16":
            return _fp16_onnx(stage, spec, fp32)
        return _int8_onnx(stage, spec, fp32, quant, calib)
    onnx_in = fp32
    if spec.precision == "int8" and trt_settings.int8_mode == "qdq":
        onnx_in = _int8_onnx(stage, spec, fp32, quant, calib)
    return _engine(stage, spec, onnx_in, trt_settings, trt_mod, device, calib)


def _common(stage: _Stage, spec: VariantSpec, base: SourceModel, parent: Artifact | None) -> dict:
    fields = {
        "variant": spec.to_dict(),
        "source": stage.src.to_dict(),
        "names": {str(i): n for i, n in enumerate(base.names)},
    }
    if base is not stage.src:
        fields["model"] = base.to_dict()
    if parent is not None:
        fields["parent"] = {"file": parent.path.name, "sha256": parent.manifest["artifact"]["sha256"]}
        for key in ("params", "gflops", "pruning"):
            if key in parent.manifest:
                fields[key] = parent.manifest[key]
    return fields


def _beside(src: SourceModel, spec: VariantSpec) -> Path | None:
    """``<stem>-prunedNN.pt`` next to the source, if it was pruned from exactly this source by that ratio.

    This is how the shipped ``yolo11n-pruned30.pt`` is picked up for ``pruned30`` without minutes of
    fine-tuning; anything that does not match is ignored (the variant is then pruned here).
    """
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


def _pruned_checkpoint(stage, spec, pruned_source, data_yaml, epochs, batch, device) -> SourceModel:
    src = stage.src
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

    final = stage.dir / f"{spec.base_name}-{stage.imgsz}.pt"
    key = {
        "stage": "pruned-pt",
        "source_sha256": src.sha256,
        "ratio": spec.prune_ratio,
        "round_to": 8,
        "epochs": epochs,
        "batch": batch,
        "imgsz": stage.imgsz,
        "data": _dataset_digest(data_yaml) if epochs > 0 else None,
        "tools": tool_versions(("ultralytics", "torch", "torch-pruning")),
    }

    def build(tmp: Path) -> dict:
        record = prune_and_finetune(src.path, spec.prune_ratio, out=tmp, data_yaml=data_yaml, epochs=epochs,
                                    imgsz=stage.imgsz, batch=batch, device=device, progress=stage.progress)
        return {**_common(stage, spec.with_(precision="fp32"), src, None), "pruning": record}

    stage.cached(final, key, build, "prune + fine-tune")
    return inspect_source(final)


def _student_checkpoint(src: SourceModel, spec: VariantSpec, student_source: Path | None) -> SourceModel:
    if student_source is None:
        raise InputError(_NO_STUDENT)
    student = inspect_source(Path(student_source))
    if student.kind != "pt":
        raise InputError(expected("a student .pt checkpoint", Path(student_source).suffix, str(student_source)))
    if student.names != src.names:
        raise InputError(expected(f"a student with the same {src.nc} classes as the source model",
                                  f"{student.nc} classes {list(student.names)[:5]}", str(student_source)))
    return student


def _dataset_digest(data_yaml: Path) -> str:
    """SHA-256 of the dataset YAML and every train image (names and contents)."""
    from exporters.calibration import files_digest, train_images

    root, images = train_images(Path(data_yaml))
    names = [str(p.relative_to(root)) if p.is_relative_to(root) else str(p) for p in images]
    return hashlib.sha256(Path(data_yaml).read_bytes() + files_digest(names, images).encode()).hexdigest()


def _fp32_onnx(stage: _Stage, spec: VariantSpec, base: SourceModel) -> Artifact:
    import onnx

    from exporters.onnx_export import describe_io, export_fp32, graph_cost

    final = stage.dir / f"{spec.base_name}-{stage.imgsz}.onnx"
    key = {"stage": "onnx-fp32", "model_sha256": base.sha256, "imgsz": stage.imgsz, "kind": base.kind}
    if base.kind == "pt":
        from exporters.onnx_export import GRAPH_REWRITES, OPSET

        key.update(opset=OPSET, rewrites=list(GRAPH_REWRITES), tools=tool_versions(_EXPORT_TOOLS))

    def build(tmp: Path) -> dict:
        if base.kind == "pt":
            onnx_info = export_fp32(base.path, tmp, imgsz=stage.imgsz)
        else:
            shutil.copyfile(base.path, tmp)
            onnx_info = {"exporter": "supplied by the user (copied)"}
        model = onnx.load(str(tmp))
        onnx_info["opset"] = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        fields = _common(stage, spec.with_(precision="fp32", fmt="onnx"), base, None)
        fields.update(describe_io(model))
        fields.update(graph_cost(model))
        fields["onnx"] = onnx_info
        if base.pruning:
            fields["pruning"] = base.pruning
        return fields

    return stage.cached(final, key, build, "export onnx")


def _fp16_onnx(stage: _Stage, spec: VariantSpec, fp32: Artifact) -> Artifact:
    import onnx

    from exporters.onnx_export import convert_fp16, describe_io

    final = stage.dir / f"{spec.name}-{stage.imgsz}.onnx"
    key = {"stage": "onnx-fp16", "parent_sha256": fp32.manifest["artifact"]["sha256"], "imgsz": stage.imgsz,
           "tools": tool_versions(_ORT_TOOLS)}

    def build(tmp: Path) -> dict:
        info = convert_fp16(fp32.path, tmp)
        fields = _common(stage, spec.with_(fmt="onnx"), stage.src, fp32)
        fields.update(describe_io(onnx.load(str(tmp))))
        fields["onnx"] = {**fp32.manifest.get("onnx", {}), "fp16": info}
        return fields

    return stage.cached(final, key, build, "convert fp16")


def _int8_onnx(stage, spec, fp32: Artifact, settings, calib) -> Artifact:
    import onnx

    from exporters.calibration import ImageCalibrationReader
    from exporters.int8 import keeps_p3_float, quantize_int8
    from exporters.onnx_export import describe_io

    profile = settings.profile
    suffix = "" if profile == "cpu" else "-qdq-trt"
    final = stage.dir / f"{spec.with_(fmt='onnx').name}{suffix}-{stage.imgsz}.onnx"
    key = {
        "stage": f"onnx-int8-{profile}",
        "parent_sha256": fp32.manifest["artifact"]["sha256"],
        "imgsz": stage.imgsz,
        "settings": settings.to_dict(),
        "float_p3_block": keeps_p3_float(settings, stage.src.family),
        "calibration_images_sha256": calib.digest,
        "preprocessing": PREPROCESSING,
        "tools": tool_versions(_ORT_TOOLS),
    }

    def build(tmp: Path) -> dict:
        reader = ImageCalibrationReader(calib.files, imgsz=stage.imgsz, progress=stage.progress)
        record = quantize_int8(fp32.path, tmp, reader, settings=settings, family=stage.src.family)
        record["calibration"] = {**calib.provenance(), "method": record["method_used"], "preprocessing": PREPROCESSING}
        fields = _common(stage, spec.with_(fmt="onnx"), stage.src, fp32)
        fields.update(describe_io(onnx.load(str(tmp))))
        fields["onnx"] = fp32.manifest.get("onnx", {})
        fields["quantization"] = record
        return fields

    return stage.cached(final, key, build, f"quantize int8 ({profile})")


def _engine(stage, spec, onnx_in: Artifact, settings, trt, device, calib) -> Artifact:
    from exporters.tensorrt_build import build_engine, make_calibrator

    tag, capability = device
    version = str(trt.__version__)
    final = stage.dir / f"{spec.name}-{stage.imgsz}-{tag}-trt{version}{settings.tag}.engine"
    key = {
        "stage": "tensorrt-engine",
        "parent_sha256": onnx_in.manifest["artifact"]["sha256"],
        "imgsz": stage.imgsz,
        "settings": settings.to_dict(),
        "device": tag,
        "tensorrt": version,
    }
    if settings.int8_mode != "calibrator":
        calib = None
    else:
        key["calibration_images_sha256"] = calib.digest
    timing = stage.dir.parent / "tensorrt" / f"timing-{tag}-trt{version}.cache"
    timing.parent.mkdir(parents=True, exist_ok=True)

    def build(tmp: Path) -> dict:
        calibrator = None
        if calib is not None:
            from exporters.calibration import ImageCalibrationReader

            reader = ImageCalibrationReader(calib.files, imgsz=stage.imgsz, progress=stage.progress)
            cache_file = stage.dir / f"{spec.name}-{stage.imgsz}-{tag}-trt{version}-{calib.digest[:12]}.calib"
            calibrator = make_calibrator(trt, reader, cache_file=cache_file)
        section = build_engine(onnx_in.path, tmp, settings, timing_cache=timing, calibrator=calibrator,
                               compute_capability=capability, trt=trt)
        section["device"] = tag
        if calib is not None:
            section["calibration"] = {**calib.provenance(), "method": "TensorRT entropy calibrator 2",
                                      "preprocessing": PREPROCESSING}
        fields = _common(stage, spec, stage.src, onnx_in)
        fields["input"] = next((t for t in section["io"] if t["mode"] == "input"), None)
        fields["output"] = next((t for t in section["io"] if t["mode"] == "output"), None)
        fields["tensorrt"] = section
        if "quantization" in onnx_in.manifest:
            fields["quantization"] = onnx_in.manifest["quantization"]
        return fields

    return stage.cached(final, key, build, "build tensorrt engine")
