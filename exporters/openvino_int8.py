"""INT8 for OpenVINO: NNCF post-training quantization of the FP32 ONNX, saved as an OpenVINO IR.

Why a second INT8 (measured, issue 17): ONNX Runtime's CPU INT8 cannot fuse Conv+SiLU, so bench's
QDQ model (:mod:`exporters.int8`) is barely faster than FP32 on x86. OpenVINO runs an NNCF-quantized
graph with the SiLU fused into the 8-bit convolutions.

The recipe keeps bench's INT8 rules:

* the SAME calibration images as ONNX Runtime's INT8 (train split, evenly spaced, through the
  inference letterbox: :mod:`exporters.calibration`), ``subset_size`` = their count;
* the Detect head's decode (DFL, class Sigmoid, box arithmetic, output Concat) left float: its node
  names (:func:`exporters.onnx_export.head_decode`) are NNCF's ignored scope;
* the model is converted with ``openvino.convert_model`` (which fuses Sigmoid*x into Swish before
  NNCF places its quantizers: with ``Core.read_model`` the SiLUs stay split and only a few fuse);
* NNCF's full bias correction (``fast_bias_correction=False``): on the 80-epoch yolo11n it cut the
  drop from 0.75 [0.36, 1.19] to 0.64 [0.25, 1.14] at the same speed (1.91x OpenVINO FP32 at one
  thread, both), at the cost of a longer build;
* NNCF's performance preset (symmetric 8-bit activations, per-channel weights):
  the mixed preset (asymmetric activations, Ultralytics' choice) lost 0.1-0.2 points less but ran
  1.2-1.3x slower here;
* the stride-8 neck block (:func:`exporters.int8.p3_neck_block`) stays quantized for every family
  (:data:`FLOAT_P3_FAMILIES` is empty; ``float_p3=True`` still leaves it partly float). Measured with
  benchmarks/openvino_int8.py (docs/measurements-openvino.md): for the 40-epoch yolo11n the partly
  float block cut the drop from 0.60 to 0.37 points, for the 80-epoch yolo11n that replaced it it
  raised it from 0.75 to 0.81 (same speed), for yolo12n from 0.75 to 0.85: every difference is inside
  its interval, so the simpler recipe stays. "Partly": the block's ONNX node names match OpenVINO's
  SiLU (Swish), bias Add, Concat and Split, which NNCF then leaves unquantized; its convolutions
  (``.../Conv/WithoutBiases``) keep their 8-bit inputs and weights. Leaving the Detect head's last
  1x1 convolutions float too gave 0.72 [0.29, 1.17] (no gain); the whole Detect head float 0.59
  [0.18, 1.03] at 0.80x the speed (Ultralytics' choice).

The artifact is an IR: ``<variant>-openvino-<imgsz>.xml`` plus its weights ``.bin`` beside it. The
manifest (written last, the commit marker) records both files' SHA-256; a missing or changed ``.bin``
rebuilds the pair.

Example:
    >>> ir_weights(Path("int8-openvino-320.xml")).name
    'int8-openvino-320.bin'
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from common.errors import BenchError, InputError, expected, require

__all__ = ["FLOAT_P3_FAMILIES", "OPENVINO_TOOLS", "QuantizationFailed", "build_openvino_int8", "decode_nodes",
           "ignored_decode", "ir_weights", "keeps_p3_float", "quantize_openvino_int8"]

PIP = "pip install 'edge-bench[openvino]'"
# Families whose stride-8 neck block stays float under OpenVINO (measured; see the module docstring).
FLOAT_P3_FAMILIES: tuple[str, ...] = ()  # measured: it pays for no family under OpenVINO (module docstring)
OPENVINO_TOOLS = ("onnx", "openvino", "nncf")
PRESETS = ("performance", "mixed")


class QuantizationFailed(BenchError):
    """NNCF could not quantize the model (the row fails with this reason; the other rows run)."""


def ir_weights(xml: Path) -> Path:
    """The ``.bin`` weights file of an IR ``.xml``."""
    return Path(xml).with_suffix(".bin")


def keeps_p3_float(family: str | None, *, float_p3: bool | None = None) -> bool:
    """Whether the stride-8 neck block stays float (``float_p3`` overrides the family rule)."""
    return (family in FLOAT_P3_FAMILIES) if float_p3 is None else bool(float_p3)


def decode_nodes(onnx_model, *, float_p3: bool = False) -> tuple[set[str], dict | None]:
    """The ONNX nodes NNCF must leave float: the Detect head's decode (and the stride-8 neck block).

    Returns:
        ``(node names, float_block)``: the float block's record, or None.

    Raises:
        InputError: the graph has no recognizable Detect head decode.
    """
    from exporters.int8 import _name_nodes, p3_neck_block
    from exporters.onnx_export import head_decode

    _name_nodes(onnx_model)
    decode, head_convs = head_decode(onnx_model)
    if not head_convs or not any(n.op_type == "Sigmoid" for n in onnx_model.graph.node if n.name in decode):
        raise InputError(expected("a YOLO Detect head (convolutions followed by the box/class decode)", "no such head",
                                  "openvino int8"))
    keep = set(decode)
    float_block = None
    if float_p3:
        prefix, nodes = p3_neck_block(onnx_model)
        if prefix is not None:
            keep |= set(nodes)
            float_block = {"block": prefix, "nodes": len(nodes)}
    return keep, float_block


def ignored_decode(onnx_model, ov_model, keep: set[str]) -> list[str]:
    """Names of the OpenVINO operations that stand for the ONNX nodes ``keep`` (NNCF's ignored scope).

    ``openvino.convert_model`` keeps ONNX node names as friendly names; an operation also counts when
    one of its output tensors was produced by a kept node (fused or renamed operations).
    """
    producer = {out: node.name for node in onnx_model.graph.node for out in node.output}
    names = set()
    for op in ov_model.get_ops():
        name = op.get_friendly_name()
        tensors = [t for port in op.outputs() for t in port.get_names()]
        if name in keep or any(producer.get(t) in keep for t in tensors):
            names.add(name)
    return sorted(names)


@contextlib.contextmanager
def _quiet_nncf(nncf):
    """NNCF's INFO lines and progress bars off stdout (the worker's progress channel) while quantizing."""
    import logging
    import sys

    logger = logging.getLogger("nncf")
    level = logger.level
    nncf.set_log_level(logging.WARNING)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        nncf.set_log_level(level)


class _Tensors:
    """Re-iterable calibration tensors over an :class:`exporters.calibration.ImageCalibrationReader`."""

    def __init__(self, reader) -> None:
        self.reader = reader

    def __iter__(self) -> Iterator:
        self.reader.rewind()
        for item in iter(self.reader.get_next, None):
            yield next(iter(item.values()))

    def __len__(self) -> int:
        return len(self.reader)


def quantize_openvino_int8(fp32_onnx: Path, out_xml: Path, calibration: Iterable, *, family: str | None = None,
                           float_p3: bool | None = None, preset: str = "performance") -> dict:
    """Quantize an FP32 detection ONNX with NNCF and save the INT8 IR.

    Args:
        fp32_onnx: the FP32 export (static shapes).
        out_xml: where to write the IR (its ``.bin`` is written beside it).
        calibration: an :class:`~exporters.calibration.ImageCalibrationReader` (or anything with
            ``rewind``/``get_next``/``len``) over the calibration images.
        family: the source's family (``"yolo11"``, ``"yolo12"``...).
        float_p3: leave the stride-8 neck block float (None: :data:`FLOAT_P3_FAMILIES` decides).
        preset: NNCF's ``performance`` (symmetric activations, bench's choice) or ``mixed`` (asymmetric
            activations, Ultralytics' choice; measured slower here, see the module docstring).

    Returns:
        The manifest's ``quantization`` section.

    Raises:
        MissingDependency: openvino or nncf is not installed.
        InputError: no Detect head decode in the graph.
        QuantizationFailed: NNCF failed (its exception type and first line).
    """
    onnx = require("onnx", extra="export")
    if preset not in PRESETS:
        raise InputError(expected(f"an NNCF preset in {PRESETS}", repr(preset), "openvino int8 preset"))
    float_p3 = keeps_p3_float(family, float_p3=float_p3)
    onnx_model = onnx.load(str(fp32_onnx))
    keep, float_block = decode_nodes(onnx_model, float_p3=float_p3)  # a graph without a head fails before NNCF loads
    ov = require("openvino", pip=PIP)
    nncf = require("nncf", pip=PIP)
    model = ov.convert_model(str(fp32_onnx))
    names = ignored_decode(onnx_model, model, keep)
    if float_block is not None:
        prefix = float_block["block"]
        float_block["ops"] = sum(name.startswith(prefix) for name in names)
        float_block["convolutions"] = "8-bit (their OpenVINO names differ from the ONNX node names)"
    from exporters.calibration import batched_reader
    from exporters.onnx_export import input_batch

    data = _Tensors(batched_reader(calibration, input_batch(onnx_model)))  # a batch-N export: N images per item
    try:
        with _quiet_nncf(nncf):
            quantized = nncf.quantize(model, nncf.Dataset(data), subset_size=len(data),
                                      preset=getattr(nncf.QuantizationPreset, preset.upper()), fast_bias_correction=False,
                                      ignored_scope=nncf.IgnoredScope(names=names, validate=False))
    except Exception as exc:  # noqa: BLE001 -- NNCF raises many types; the row fails with this one line
        raise QuantizationFailed(f"{fp32_onnx}: NNCF quantization failed ({type(exc).__name__}: {_line(exc)})") from exc
    ov.save_model(quantized, str(out_xml), compress_to_fp16=False)
    fake_quantize = sum(op.get_type_name() == "FakeQuantize" for op in quantized.get_ops())
    if float_block is not None:
        float_block["why"] = f"{family}: the stride-8 neck block loses the most accuracy in INT8"
    return {
        "tool": "nncf.quantize (OpenVINO backend)",
        "preset": preset,
        "activations": f"8-bit {'symmetric' if preset == 'performance' else 'asymmetric'} (NNCF {preset} preset)",
        "weights": "8-bit symmetric, per-channel",
        "fast_bias_correction": False,
        "subset_size": len(data),
        "converted_with": "openvino.convert_model",
        "excluded": "Detect head decode (DFL, Sigmoid, box arithmetic, output Concat)",
        "ignored_scope": names,
        "float_block": float_block,
        "fake_quantize_ops": fake_quantize,
    }


def _line(exc: BaseException) -> str:
    """The informative line of an exception (OpenVINO's messages start with "Exception from <file>")."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if not line.startswith(("Exception from", "Check '"))]
    return (useful or lines or [""])[0]


def build_openvino_int8(stage, fp32, calib, *, float_p3: bool | None = None):
    """Build (or reuse) the OpenVINO INT8 IR of ``stage.spec``: one cached stage, like every artifact.

    Args:
        stage: the build's :class:`exporters.stage.Stage` (variant, cache folder, input size, progress).
        fp32: the FP32 ONNX :class:`~exporters.manifest.Artifact` it is quantized from.
        calib: the :class:`~exporters.calibration.CalibrationSet` (the same images as ONNX Runtime's INT8).
        float_p3: see :func:`quantize_openvino_int8`.

    Returns:
        The :class:`~exporters.manifest.Artifact` of the ``.xml`` (its manifest names the ``.bin``).
    """
    from exporters.calibration import ImageCalibrationReader
    from exporters.manifest import manifest_path, read_manifest, sha256_file, tool_versions
    from exporters.stage import common_fields
    from harness.pipeline.preprocess import PREPROCESS_VERSION

    spec, family = stage.spec, stage.src.family
    final = stage.dir / f"{spec.name}-openvino-{stage.size}.xml"
    weights = ir_weights(final)
    previous = read_manifest(final)
    if previous is not None and (not weights.is_file() or
                                 previous.get("weights", {}).get("sha256") != sha256_file(weights)):
        manifest_path(final).unlink(missing_ok=True)  # the .bin no longer matches: rebuild the pair
    key = {
        "stage": "openvino-int8",
        "bias_correction": "full",  # was NNCF's fast one until 2026-12-03: those IRs rebuild
        "parent_sha256": fp32.manifest["artifact"]["sha256"],
        "imgsz": stage.imgsz,
        "float_p3_block": keeps_p3_float(family, float_p3=float_p3),
        "calibration_images_sha256": calib.digest,
        "preprocess_version": PREPROCESS_VERSION,
        "tools": tool_versions(OPENVINO_TOOLS),
    }

    def build(tmp: Path) -> dict:
        reader = ImageCalibrationReader(calib.files, imgsz=stage.imgsz, progress=stage.progress)
        with tempfile.TemporaryDirectory(prefix=".ov-", dir=final.parent) as work:
            xml = Path(work) / final.name
            record = quantize_openvino_int8(fp32.path, xml, reader, family=family, float_p3=float_p3)
            os.replace(ir_weights(xml), weights)  # the .bin first; the stage renames the .xml into place
            os.replace(xml, tmp)
        record["calibration"] = {**calib.provenance(), "preprocess_version": PREPROCESS_VERSION}
        fields = common_fields(stage, spec, stage.src, fp32)
        fields["weights"] = {"file": weights.name, "sha256": sha256_file(weights), "size_bytes": weights.stat().st_size}
        for name in ("input", "output", "onnx"):
            if name in fp32.manifest:
                fields[name] = fp32.manifest[name]
        fields["quantization"] = record
        return fields

    return stage.cached(final, key, build, "quantize int8 (openvino, nncf)")
