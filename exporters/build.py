"""Build one variant of a source model, reusing cached artifacts: the one entry point the harness calls.

Every stage writes one artifact with a manifest beside it and is cached on its own, so
``pruned30-int8`` reuses the ``pruned30`` checkpoint and its FP32 ONNX::

    source.pt --(prune + fine-tune)--> pruned30-320.pt --(export)--> pruned30-320.onnx --> pruned30-int8-320.onnx
       \\--(export)--> fp32-320.onnx --(convert)--> fp16-320.onnx
                                     --(quantize, cpu)--> int8-320.onnx
                                     --(quantize, trt)--> int8-qdq-trt-320.onnx --(TensorRT)--> int8-320-<gpu>-trt<ver>.engine

The stages are the variant's kinds (:mod:`exporters.kinds`: model, precision, format); this module
runs them in order and owns the one stage every variant shares, the FP32 ONNX export.

Layout: ``<cache>/<source stem>-<sha256[:12]>/<variant>-<imgsz>[...]<suffix>``. The cache key of
each stage hashes its parent's SHA-256, the variant, the tool versions, the input size and (INT8)
the calibration settings, images and preprocessing version; an unchanged key reuses the file,
anything else rebuilds it.

Example:
    >>> from exporters.spec import parse_variant
    >>> art = build_variant(Path("yolo11n.pt"), parse_variant("pruned30-int8"), imgsz=320,
    ...                     data_yaml=Path("data.yaml"), options={"finetune_epochs": 5})  # doctest: +SKIP
    >>> art.manifest["quantization"]["calibration"]["split"]  # doctest: +SKIP
    'train'
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from common.errors import InputError, expected
from exporters.kinds import check_option_names, kinds_of, options_from
from exporters.manifest import Artifact, default_cache_dir, tool_versions
from exporters.source import SourceModel, inspect_source
from exporters.spec import VariantSpec, parse_variant
from exporters.stage import Progress, Stage, common_fields

__all__ = ["BATCH_MAX", "IMGSZ_MAX", "IMGSZ_MIN", "build_variant"]

IMGSZ_MIN, IMGSZ_MAX = 32, 2048
BATCH_MAX = 256
_EXPORT_TOOLS = ("ultralytics", "torch", "onnx", "onnxslim")
_PREPARE_ORDER = ("model", "format", "precision")  # cheap input checks first, then a missing TensorRT, then data


def _check_imgsz(imgsz) -> int:
    if not isinstance(imgsz, int) or isinstance(imgsz, bool) or not IMGSZ_MIN <= imgsz <= IMGSZ_MAX or imgsz % 32:
        raise InputError(expected(f"an input size that is a multiple of 32 in {IMGSZ_MIN}..{IMGSZ_MAX}", imgsz, "--imgsz"))
    return imgsz


def _option_values(options: Any) -> Mapping[str, Any]:
    """One mapping from a mapping, one kind's options dataclass, or several of them."""
    if options is None:
        return {}
    if isinstance(options, Mapping):
        check_option_names(options)
        return options
    items = [options] if dataclasses.is_dataclass(options) else list(options) if isinstance(options, Iterable) else None
    if items is None or not all(dataclasses.is_dataclass(o) and not isinstance(o, type) for o in items):
        raise InputError(expected("variant options: a mapping or kind options dataclasses", type(options).__name__, "options"))
    return {f.name: getattr(o, f.name) for o in items for f in dataclasses.fields(o)}


def build_variant(
    source: Path,
    spec: VariantSpec | str,
    *,
    imgsz: int,
    cache_dir: Path | None = None,
    data_yaml: Path | None = None,
    calib_images: int = 200,
    progress: Progress | None = None,
    options: Any = None,
    batch: int = 1,
    int8_profile: str | None = None,
) -> Artifact:
    """Build (or reuse) the artifact of one variant.

    Args:
        source: the Ultralytics ``.pt`` (any variant) or an FP32 ``.onnx`` (fp32/fp16/int8 only).
        spec: a parsed :class:`VariantSpec` (or its name, parsed with format onnx).
        imgsz: square input side, a multiple of 32.
        cache_dir: cache root; default :func:`common.paths.artifacts_dir` (shared with ``bench run``).
        data_yaml: dataset YAML; its TRAIN split calibrates INT8 and fine-tunes pruned models.
        calib_images: INT8 calibration image count (fewer if the train split is smaller).
        progress: optional ``callable(stage, done, total)``; bench prints nothing itself.
        batch: the exported graph's static batch (1..256): N > 1 builds the artifacts of ``bench run --batch N``'s
            throughput pass, keyed apart (``fp32-320-b8.onnx``); the checkpoint stage is shared.
        options: the kinds' options: one mapping ``{option name: value}`` (e.g. from
            :func:`exporters.kinds.options_mapping`; options of kinds this variant does not use are
            ignored, unknown names refused), or kind options dataclasses (``PrunedOptions(...)``).
        int8_profile: quantize INT8 with this format kind's profile instead (``"trt"``: the QDQ ONNX a
            TensorRT engine is built from, which a fleet host ships: :func:`exporters.tensorrt_build.engine_source`).

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
    if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= BATCH_MAX:
        raise InputError(expected(f"a batch in 1..{BATCH_MAX}", batch, "--batch"))
    values = _option_values(options)
    kinds = kinds_of(spec)
    if int8_profile is not None:
        kinds = {**kinds, "format": dataclasses.replace(kinds["format"], int8_profile=int8_profile)}
    opts = {k.name: options_from(values, k.name) for k in kinds.values()}
    src = inspect_source(Path(source))
    if src.kind == "onnx":
        if spec.needs_pytorch:
            raise InputError(expected(f"a PyTorch .pt source for the {spec.name} variant (it needs the .pt)",
                                      "an .onnx file", str(source)))
        if src.imgsz != imgsz:
            raise InputError(expected(f"--imgsz {src.imgsz} (the ONNX input is fixed)", imgsz, "--imgsz"))
        if batch != 1:
            raise InputError(expected("a PyTorch .pt source for --batch above 1 (an ONNX's batch is fixed)", batch,
                                      "--batch"))
    root = Path(cache_dir) if cache_dir else default_cache_dir()
    stage = Stage(src=src, spec=spec, dir=root / f"{src.path.stem}-{src.sha256[:12]}", imgsz=imgsz,
                  data_yaml=None if data_yaml is None else Path(data_yaml), calib_images=calib_images,
                  options=opts, kinds=kinds, progress_fn=progress, batch=batch)
    # validate every input before minutes of work: TensorRT, dataset, calibration images, options
    for role in _PREPARE_ORDER:
        if kinds[role].prepare is not None:
            kinds[role].prepare(stage)
    base = kinds["model"].build(stage)
    fp32 = _fp32_onnx(stage, base)
    return kinds["format"].build(stage, fp32)


def _fp32_onnx(stage: Stage, base: SourceModel) -> Artifact:
    """The FP32 ONNX of the base checkpoint (or the user's FP32 ONNX, copied), cached."""
    import onnx

    from exporters.onnx_export import describe_io, export_fp32, graph_cost

    spec = stage.spec
    final = stage.dir / f"{spec.base_name}-{stage.size}.onnx"
    key = {"stage": "onnx-fp32", "model_sha256": base.sha256, "imgsz": stage.imgsz, "kind": base.kind}
    if stage.batch != 1:
        key["batch"] = stage.batch
    if base.kind == "pt":
        from exporters.onnx_export import GRAPH_REWRITES, OPSET

        key.update(opset=OPSET, rewrites=list(GRAPH_REWRITES), tools=tool_versions(_EXPORT_TOOLS))

    def build(tmp: Path) -> dict:
        if base.kind == "pt":
            onnx_info = export_fp32(base.path, tmp, imgsz=stage.imgsz, **({"batch": stage.batch} if stage.batch != 1 else {}))
        else:
            shutil.copyfile(base.path, tmp)
            onnx_info = {"exporter": "supplied by the user (copied)"}
        model = onnx.load(str(tmp))
        onnx_info["opset"] = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
        fields = common_fields(stage, spec.with_(precision="fp32", fmt="onnx"), base, None)
        fields.update(describe_io(model))
        fields.update(graph_cost(model))
        fields["onnx"] = onnx_info
        if base.pruning:
            fields["pruning"] = base.pruning
        return fields

    return stage.cached(final, key, build, "export onnx")
