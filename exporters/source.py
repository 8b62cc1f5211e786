"""Validate the source model once, at the edge: an Ultralytics ``.pt`` checkpoint or an FP32 ``.onnx``.

Everything after :func:`inspect_source` trusts the returned :class:`SourceModel`. Supported:
YOLOv8/YOLO11/YOLO12 *detection* models with the standard ``Detect`` head (output ``(1, 4 + nc, anchors)``,
no built-in NMS). Anything else -- a corrupt file, a segmentation/pose/classification model, an
end-to-end (NMS-free) head, RT-DETR -- is refused with one :class:`InputError` line.

Example:
    >>> src = inspect_source(Path("yolo11n.pt"))  # doctest: +SKIP
    >>> src.kind, src.family, src.task  # doctest: +SKIP
    ('pt', 'yolo11', 'detect')
"""

from __future__ import annotations

import ast
import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from common.errors import InputError, expected, require

from exporters.manifest import sha256_file


@contextlib.contextmanager
def quiet_ultralytics(level: int = logging.WARNING) -> Iterator[None]:
    """Raise the Ultralytics logger level for the duration of a block (bench prints its own progress)."""
    logger = logging.getLogger("ultralytics")
    old = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(old)


__all__ = [
    "SUPPORTED_FAMILIES", "SourceModel", "inspect_source", "load_pytorch", "model_arch", "model_family",
    "quiet_ultralytics",
]

SUPPORTED_FAMILIES = ("yolov8", "yolo11", "yolo12")


@dataclass(frozen=True)
class SourceModel:
    """A validated source model.

    Attributes:
        path: the file.
        kind: ``"pt"`` or ``"onnx"``.
        sha256: SHA-256 of the file.
        task: always ``"detect"`` (anything else is refused).
        family: ``"yolov8"``, ``"yolo11"``, ``"yolo12"`` (``"unknown"`` for an ONNX without metadata).
        names: class names in index order.
        imgsz: the fixed input side of an ONNX source, or the training size recorded in a ``.pt``.
        pruning: for a checkpoint made by :mod:`exporters.prune`, how it was pruned, else ``None``.
        arch: the architecture config a ``.pt`` was built from (``"yolo11n"``), ``None`` when unknown
            (ONNX, or a pruned model, whose layers no longer match any config).
        params: parameter count of a ``.pt`` model (``None`` for ONNX).
    """

    path: Path
    kind: str
    sha256: str
    task: str
    family: str
    names: tuple[str, ...]
    imgsz: int | None = None
    pruning: dict | None = None
    arch: str | None = None
    params: int | None = None

    @property
    def nc(self) -> int:
        """Number of classes."""
        return len(self.names)

    def to_dict(self) -> dict:
        """JSON-ready description for manifests."""
        return {
            "file": self.path.name,
            "sha256": self.sha256,
            "kind": self.kind,
            "family": self.family,
            "task": self.task,
            "pruning": self.pruning,
        }


def inspect_source(path: Path) -> SourceModel:
    """Validate a source model and describe it.

    Args:
        path: an Ultralytics ``.pt`` checkpoint or an FP32 ``.onnx`` exported from one.

    Returns:
        The :class:`SourceModel`.

    Raises:
        InputError: missing/corrupt file, wrong suffix, non-detection task or unsupported architecture.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(expected("an existing .pt or .onnx model file", "no such file", str(path)))
    suffix = path.suffix.lower()
    if suffix == ".pt":
        model, ckpt = load_pytorch(path)
        return _describe_pytorch(path, model, ckpt)
    if suffix == ".onnx":
        return _inspect_onnx(path)
    raise InputError(expected("a model file ending in .pt or .onnx", path.suffix or "no suffix", str(path)))


def load_pytorch(path: Path):
    """Load an Ultralytics checkpoint as an FP32 module in eval mode, refusing unsupported models.

    Args:
        path: the ``.pt`` file (must exist locally; nothing is downloaded).

    Returns:
        ``(model, ckpt)``: the ``DetectionModel`` and the checkpoint dict.

    Raises:
        InputError: the file is not a loadable Ultralytics checkpoint, or not a supported detection model.
    """
    path = Path(path)
    if not path.is_file():  # checked here too: ultralytics would try to download a missing name
        raise InputError(expected("an existing .pt checkpoint", "no such file", str(path)))
    require("torch", extra="export")
    require("ultralytics", extra="export")
    from ultralytics.nn.tasks import load_checkpoint


    try:
        with quiet_ultralytics(logging.ERROR):
            model, ckpt = load_checkpoint(str(path))
    except ModuleNotFoundError as exc:
        raise InputError(
            expected("an Ultralytics .pt checkpoint", f"a file needing missing module {exc.name!r}", str(path))
        ) from None
    except RuntimeError as exc:
        # torch raises RuntimeError for damaged zip archives that ultralytics does not classify
        raise InputError(expected("an Ultralytics .pt checkpoint", f"a damaged file ({_first_line(exc)})", str(path))) from None
    except (KeyboardInterrupt, SystemExit, OSError):
        raise  # not a property of the file's content (OSError: the cli names the file)
    except Exception as exc:  # noqa: BLE001 - the unpickler fails on damaged bytes with any type
        # (UnpicklingError, UnicodeDecodeError, ValueError, OverflowError, a MemoryError for a size
        # read from garbage, ...); the type and first line are in the message, so nothing is hidden
        cause = exc.__cause__ or exc  # ultralytics wraps the loader's error in a TypeError
        raise InputError(
            expected("an Ultralytics .pt checkpoint",
                     f"an unreadable file ({type(cause).__name__}: {_first_line(cause)})", str(path))
        ) from None
    if not isinstance(ckpt, dict) or model is None or not hasattr(model, "modules"):
        raise InputError(expected("an Ultralytics .pt checkpoint", f"a pickle of {type(ckpt).__name__}", str(path)))
    _check_pytorch_architecture(path, model)
    return model, ckpt


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = next((t for t in text if t.strip()), type(exc).__name__)
    for noise in ("ERROR ❌️ ", "ERROR ❌ "):
        line = line.replace(noise, "")
    return line


def model_family(model) -> str:
    """``"yolo12"``, ``"yolo11"``, ``"yolov8"`` or ``"unknown"``, from the blocks a model contains."""
    from ultralytics.nn.modules.block import A2C2f, C2PSA, C2f, C3k2

    from exporters.splitfree import C2fSplitFree

    layers = list(model.modules())
    if any(isinstance(m, A2C2f) for m in layers):
        return "yolo12"
    if any(isinstance(m, (C3k2, C2PSA)) for m in layers):
        return "yolo11"
    if any(isinstance(m, (C2f, C2fSplitFree)) for m in layers):
        return "yolov8"
    return "unknown"


def model_arch(model) -> str | None:
    """The architecture config an Ultralytics model was built from, e.g. ``"yolo11n"``; ``None`` if unknown.

    Read from the config Ultralytics keeps on the model (``yaml_file`` and ``scale``); a pruned model
    (``bench_pruning``) no longer has the layers of any config, so its architecture is ``None``.
    """
    import re

    if getattr(model, "bench_pruning", None):
        return None
    cfg = getattr(model, "yaml", None)
    if not isinstance(cfg, dict):
        return None
    match = re.fullmatch(r"(yolov?\d+)([nslmx])?", Path(str(cfg.get("yaml_file", ""))).stem.lower())
    if match is None:
        return None
    scale = match.group(2) or (cfg.get("scale") if cfg.get("scale") in tuple("nslmx") else None)
    return match.group(1) + scale if scale else None


def _check_pytorch_architecture(path: Path, model) -> None:
    from ultralytics.nn.modules.head import Detect

    task = getattr(model, "task", None)
    if task != "detect":
        raise InputError(expected("a detection model (task 'detect')", f"task {task!r}", str(path)))
    layers = getattr(model, "model", None)
    head = layers[-1] if layers is not None and len(layers) else None
    if type(head) is not Detect:
        raise InputError(
            expected("a YOLO model with the standard Detect head", f"head {type(head).__name__}", str(path))
        )
    if getattr(head, "end2end", False) or getattr(head, "one2one_cv2", None) is not None:
        raise InputError(
            expected("a Detect head with (1, 4+nc, anchors) output",
                     "an end-to-end (NMS-free, YOLOv10/YOLO26-style) head", str(path))
        )
    family = model_family(model)
    if family not in SUPPORTED_FAMILIES:
        raise InputError(expected(f"a {'/'.join(SUPPORTED_FAMILIES)} detection model", "another architecture", str(path)))


def _names_list(names) -> tuple[str, ...]:
    if isinstance(names, dict):
        return tuple(str(names[k]) for k in sorted(names))
    return tuple(str(n) for n in names or ())


def _describe_pytorch(path: Path, model, ckpt: dict) -> SourceModel:
    train_args = ckpt.get("train_args") or {}
    imgsz = train_args.get("imgsz")
    return SourceModel(
        path=path,
        kind="pt",
        sha256=sha256_file(path),
        task="detect",
        family=model_family(model),
        names=_names_list(getattr(model, "names", None)),
        imgsz=int(imgsz) if isinstance(imgsz, int) else None,
        pruning=getattr(model, "bench_pruning", None),
        arch=model_arch(model),
        params=sum(p.numel() for p in model.parameters()),
    )


def _inspect_onnx(path: Path) -> SourceModel:
    onnx = require("onnx", extra="export")
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(model)
    except (DecodeError, onnx.checker.ValidationError, OSError) as exc:
        raise InputError(expected("a valid ONNX model", f"an unreadable file ({_first_line(exc)})", str(path))) from None
    except (KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:  # noqa: BLE001 - damaged protobuf bytes fail in the decoder/checker with other types
        raise InputError(expected("a valid ONNX model",
                                  f"an unreadable file ({type(exc).__name__}: {_first_line(exc)})", str(path))) from None
    meta = {p.key: p.value for p in model.metadata_props}
    task = meta.get("task", "detect")
    if task != "detect":
        raise InputError(expected("a detection model (task 'detect')", f"task {task!r}", str(path)))
    if meta.get("end2end", "False") == "True":
        raise InputError(expected("a Detect head with (1, 4+nc, anchors) output", "an end-to-end head", str(path)))
    if any(n.op_type in ("QuantizeLinear", "DequantizeLinear", "QLinearConv") for n in model.graph.node):
        raise InputError(expected("an FP32 ONNX model", "an already quantized graph", str(path)))
    inits = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1 or len(model.graph.output) != 1:
        raise InputError(
            expected("one input and one output (an Ultralytics detection export)",
                     f"{len(inputs)} inputs, {len(model.graph.output)} outputs", str(path))
        )
    in_shape = _static_shape(inputs[0])
    out_shape = _static_shape(model.graph.output[0])
    if in_shape is None or len(in_shape) != 4 or in_shape[:2] != [1, 3] or in_shape[2] != in_shape[3]:
        raise InputError(expected("a static square input 1x3xSxS", _shape_text(inputs[0]), f"{path} input"))
    if inputs[0].type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise InputError(expected("a float32 input", "another element type", f"{path} input"))
    try:
        names = _names_list(ast.literal_eval(meta["names"])) if "names" in meta else ()
    except (ValueError, SyntaxError):
        names = ()
    if out_shape is None or len(out_shape) != 3 or out_shape[1] <= 4 or out_shape[2] <= out_shape[1]:
        raise InputError(expected("a detection output (1, 4+nc, anchors)", _shape_text(model.graph.output[0]), f"{path} output"))
    if names and len(names) + 4 != out_shape[1]:
        raise InputError(expected(f"{len(names) + 4} output channels (4 box + {len(names)} classes)", out_shape[1], str(path)))
    if not names:
        names = tuple(str(i) for i in range(out_shape[1] - 4))
    description = meta.get("description", "").lower()
    family = next((f for f in SUPPORTED_FAMILIES if f in description.replace("yolov11", "yolo11")), "unknown")
    return SourceModel(
        path=path, kind="onnx", sha256=sha256_file(path), task="detect", family=family, names=names, imgsz=in_shape[2]
    )


def _static_shape(value_info) -> list[int] | None:
    dims = value_info.type.tensor_type.shape.dim
    if not dims or any(not d.HasField("dim_value") for d in dims):
        return None
    return [d.dim_value for d in dims]


def _shape_text(value_info) -> str:
    dims = value_info.type.tensor_type.shape.dim
    return "x".join(str(d.dim_value) if d.HasField("dim_value") else (d.dim_param or "?") for d in dims) or "no shape"
