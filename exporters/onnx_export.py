"""ONNX FP32 through Ultralytics' exporter, FP16 by graph conversion, and graph facts for manifests.

The FP32 export uses Ultralytics' own ``Exporter`` (static 1x3xSxS input, batch 1, no NMS,
onnxslim on, fixed opset :data:`OPSET`) so the graph is what Ultralytics users ship, plus one exact
rewrite (:func:`rewrite_dfl_softmax`, listed in the manifest's ``onnx.rewrites``) that changes no output
value and makes ONNX Runtime CPU 1.1-1.2x faster. FP16
converts that graph's weights and arithmetic to float16 but keeps float32 input/output.

``bench run --batch N`` exports the same graph with a static batch N (``Nx3xSxS``): YOLO's Detect head
bakes the batch into its Reshape ops, so a batch-1 graph cannot run N frames per call.

Example:
    >>> info = export_fp32(Path("yolo11n.pt"), Path("out/fp32.onnx"), imgsz=320)  # doctest: +SKIP
    >>> info["opset"]  # doctest: +SKIP
    17
"""

from __future__ import annotations

import copy
import shutil
import tempfile
from pathlib import Path

from common.errors import BenchError, require

__all__ = [
    "GRAPH_REWRITES",
    "OPSET",
    "OUTPUT_LAYOUT",
    "convert_fp16",
    "describe_io",
    "export_fp32",
    "graph_cost",
    "head_decode",
    "input_batch",
    "rewrite_dfl_softmax",
]

# Fixed so artifacts are reproducible; 17 is the newest opset TensorRT 8.6 (JetPack 5/6) parses fully.
OPSET = 17
OUTPUT_LAYOUT = (
    "(1, 4+nc, anchors): rows 0-3 box centre x, centre y, width, height in input pixels; "
    "rows 4.. class probabilities after sigmoid; no NMS applied"
)
# Exact graph rewrites applied after Ultralytics' export (part of the FP32 cache key).
GRAPH_REWRITES = ("dfl-softmax-last-axis",)
INPUT_LAYOUT = "NCHW float32 RGB in [0, 1], letterboxed (pad value 114) as harness.pipeline.preprocess"


def export_fp32(model_or_path, out: Path, *, imgsz: int, batch: int = 1) -> dict:
    """Export an Ultralytics detection model to a static FP32 ONNX file.

    Args:
        model_or_path: a validated ``.pt`` path or an already loaded ``DetectionModel`` (not modified).
        out: where to write the ``.onnx`` (written through a temporary directory, then moved).
        imgsz: the square input side (a multiple of the model stride, 32).
        batch: the static batch of the input (``batch x 3 x imgsz x imgsz``) and of the output.

    Returns:
        ``{"opset", "simplified"}`` for the manifest.

    Raises:
        BenchError: the exporter failed (the message names the cause).
    """
    require("onnx", extra="export")
    require("onnxslim", extra="export")
    from ultralytics.engine.exporter import Exporter

    from exporters.source import load_pytorch, quiet_ultralytics

    if isinstance(model_or_path, (str, Path)):
        model, _ = load_pytorch(Path(model_or_path))
    else:
        model = copy.deepcopy(model_or_path)
    model = model.float().cpu().eval()
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        model.pt_path = str(Path(tmp) / "model.pt")  # the exporter writes next to pt_path
        overrides = {
            "format": "onnx",
            "imgsz": imgsz,
            "opset": OPSET,
            "simplify": True,
            "dynamic": False,
            "batch": int(batch),
            "device": "cpu",
            "nms": False,
            "verbose": False,
            "mode": "export",
        }
        with quiet_ultralytics():
            try:
                produced = Exporter(overrides=overrides)(model=model)
            except (RuntimeError, ValueError, AssertionError, TypeError) as exc:
                raise BenchError(f"ONNX export failed: {type(exc).__name__}: {exc}") from exc
        if not produced or not Path(produced).is_file():
            raise BenchError(f"ONNX export failed: the exporter produced no file (got {produced!r})")
        import onnx

        graph = onnx.load(str(produced))
        rewrites = [GRAPH_REWRITES[0]] if rewrite_dfl_softmax(graph) else []
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        if rewrites:
            onnx.save(graph, str(out))
        else:
            shutil.move(str(produced), str(out))
    info = {"opset": OPSET, "simplified": True, "exporter": "ultralytics.engine.exporter.Exporter", "rewrites": rewrites}
    if batch != 1:
        info["batch"] = int(batch)
    return info


def rewrite_dfl_softmax(model) -> bool:
    """Run the DFL's softmax over the last axis instead of axis 1 (same numbers, less time).

    Ultralytics' DFL is ``Reshape(b, 4, 16, A) -> Transpose(0, 2, 1, 3) -> Softmax(axis=1) ->
    Conv(1x16x1x1, weights 0..15)``. ONNX Runtime's CPU Softmax over a non-last axis transposes the
    tensor internally, on one thread: 12-14% of a yolo11n frame at 320 px. This rewrites it to
    ``Transpose(0, 1, 3, 2) -> Softmax(axis=-1) -> MatMul(16x1, the same weights) -> Reshape(0, 1, 4, -1)``,
    which produces the Conv's output tensor (same name, same shape) with the same values. Measured on
    the shipped yolo11n and yolo12n (benchmarks/dfl_rewrite.py): outputs identical on a val image, FP32
    1.12-1.13x (1 thread) and 1.22x (2 threads) faster than Ultralytics' stock export.

    Args:
        model: an ``onnx.ModelProto`` of an FP32 Ultralytics detection export; changed in place.

    Returns:
        True if the DFL was found and rewritten, False if the graph has no such pattern (left unchanged).
    """
    import numpy as np
    from onnx import helper, numpy_helper

    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    initializers = {init.name: init for init in graph.initializer}
    rewritten = False
    for softmax in [n for n in graph.node if n.op_type == "Softmax"]:
        axis = next((a.i for a in softmax.attribute if a.name == "axis"), -1)
        transpose = producer.get(softmax.input[0])
        after = consumers.get(softmax.output[0], [])
        if axis != 1 or transpose is None or transpose.op_type != "Transpose" or len(after) != 1:
            continue
        perm = next((list(a.ints) for a in transpose.attribute if a.name == "perm"), None)
        conv = after[0]
        if (
            perm != [0, 2, 1, 3]
            or len(consumers.get(transpose.output[0], [])) != 1
            or conv.op_type != "Conv"
            or len(conv.input) != 2
            or not _is_dfl_conv(conv, initializers, producer)
        ):
            continue
        weight = numpy_helper.to_array(initializers[conv.input[1]]).reshape(-1, 1).astype(np.float32)
        base = conv.name or conv.output[0]
        weight_name, shape_name = f"{base}/dfl_weight_column", f"{base}/dfl_shape"
        graph.initializer.extend([
            numpy_helper.from_array(weight, weight_name),
            numpy_helper.from_array(np.array([0, 1, 4, -1], np.int64), shape_name),
        ])
        new_nodes = [
            helper.make_node("Transpose", [transpose.input[0]], [f"{base}/dfl_last"], perm=[0, 1, 3, 2],
                             name=f"{base}/dfl_transpose"),
            helper.make_node("Softmax", [f"{base}/dfl_last"], [f"{base}/dfl_softmax"], axis=-1,
                             name=f"{base}/dfl_softmax"),
            helper.make_node("MatMul", [f"{base}/dfl_softmax", weight_name], [f"{base}/dfl_expect"],
                             name=f"{base}/dfl_matmul"),
            helper.make_node("Reshape", [f"{base}/dfl_expect", shape_name], [conv.output[0]], name=f"{base}/dfl_reshape"),
        ]
        index = list(graph.node).index(transpose)
        for node in (transpose, softmax, conv):
            graph.node.remove(node)
        for offset, node in enumerate(new_nodes):
            graph.node.insert(index + offset, node)
        if not any(conv.input[1] in n.input for n in graph.node):
            graph.initializer.remove(initializers[conv.input[1]])
        rewritten = True
    return rewritten


def head_decode(model) -> tuple[set[str], set[str]]:
    """Find the Detect head's decode: every node between the last head convolutions and the output.

    Walks backward from the graph output and stops at convolutions, except the DFL convolution
    (a fixed ``1 x reg_max x 1 x 1`` kernel with weights ``0..reg_max-1``), which belongs to the decode
    (bench's own exports carry it as a MatMul, see :func:`rewrite_dfl_softmax`).
    Quantize/dequantize nodes are walked through, so this also works on a QDQ graph.

    Args:
        model: an ``onnx.ModelProto`` of an Ultralytics detection export.

    Returns:
        ``(decode, head_convs)``: names of the decode nodes and of the convolutions feeding them.

    Example:
        >>> decode, convs = head_decode(onnx.load("fp32.onnx"))  # doctest: +SKIP
        >>> len(convs)  # box and class branch of 3 levels  # doctest: +SKIP
        6
    """
    graph = model.graph
    producer = {out: node for node in graph.node for out in node.output}
    initializers = {init.name: init for init in graph.initializer}
    decode: set[str] = set()
    convs: set[str] = set()
    seen: set[int] = set()
    stack = [out.name for out in graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        if node.op_type == "Conv" and not _is_dfl_conv(node, initializers, producer):
            convs.add(node.name)
            continue
        decode.add(node.name)
        if node.op_type != "Shape":  # a Shape only reads dimensions; do not walk into the backbone
            stack.extend(node.input)
    return decode, convs


def _is_dfl_conv(node, initializers: dict, producer: dict) -> bool:
    import numpy as np
    from onnx import numpy_helper

    if len(node.input) < 2:
        return False
    name = node.input[1]
    if name not in initializers and name in producer and producer[name].op_type == "DequantizeLinear":
        return False  # a quantized weight is never the fixed DFL kernel
    init = initializers.get(name)
    if init is None:
        return False
    weight = numpy_helper.to_array(init)
    if weight.ndim != 4 or weight.shape[0] != 1 or weight.shape[2:] != (1, 1) or weight.shape[1] < 2:
        return False
    return bool(np.allclose(weight.reshape(-1), np.arange(weight.shape[1])))


def input_batch(model) -> int:
    """The static batch of an ``onnx.ModelProto``'s first input (1 when it is dynamic or unknown)."""
    dims = model.graph.input[0].type.tensor_type.shape.dim if model.graph.input else ()
    value = dims[0].dim_value if len(dims) else 0
    return int(value) if value and value > 0 else 1


def convert_fp16(fp32_path: Path, out: Path) -> dict:
    """Convert an FP32 detection ONNX to FP16 arithmetic with float32 input and output.

    The whole graph runs in float16, the box decode included (as TensorRT FP16 does): box
    coordinates near 640 px are then rounded to 0.5 px steps, far below what IoU matching sees.

    Args:
        fp32_path: the FP32 export.
        out: where to write the FP16 model.

    Returns:
        ``{"io": "float32", "converter": ...}`` for the manifest.
    """
    onnx = require("onnx", extra="export")
    from onnxruntime.transformers import float16

    model = onnx.load(str(fp32_path))
    converted = float16.convert_float_to_float16(model, keep_io_types=True)
    onnx.save(converted, str(out))
    return {"io": "float32", "compute": "float16", "converter": "onnxruntime.transformers.float16"}


def describe_io(model) -> dict:
    """Input and output names, shapes and dtypes of a static ONNX graph, for manifests."""
    from onnx import helper

    inits = {i.name for i in model.graph.initializer}

    def one(value, layout: str) -> dict:
        dims = [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value.type.tensor_type.shape.dim]
        dtype = helper.tensor_dtype_to_np_dtype(value.type.tensor_type.elem_type).name
        return {"name": value.name, "shape": dims, "dtype": dtype, "layout": layout}

    inputs = [one(v, INPUT_LAYOUT) for v in model.graph.input if v.name not in inits]
    outputs = [one(v, OUTPUT_LAYOUT) for v in model.graph.output]
    return {"input": inputs[0], "output": outputs[0]}


def graph_cost(model) -> dict:
    """Parameters and GFLOPs of an FP32 graph, counted from its Conv/Gemm/MatMul nodes.

    ``params`` counts the float weights and biases of Conv/Gemm/MatMul layers (after BatchNorm
    folding); ``gflops`` is 2 x multiply-accumulates of those layers at the graph's input size.

    Args:
        model: an FP32 ``onnx.ModelProto`` with static shapes.

    Returns:
        ``{"params": int, "gflops": float}``.
    """
    import math

    import onnx
    from onnx import numpy_helper

    inferred = onnx.shape_inference.infer_shapes(model)
    shapes: dict[str, list[int]] = {}
    for value in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[value.name] = [d.dim_value for d in dims]
    inits = {i.name: i for i in inferred.graph.initializer}
    for name, init in inits.items():
        shapes[name] = list(init.dims)
    params = 0
    counted: set[str] = set()
    macs = 0
    for node in inferred.graph.node:
        if node.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        for name in node.input[1:3]:
            init = inits.get(name)
            if init is not None and name not in counted and init.data_type == onnx.TensorProto.FLOAT:
                counted.add(name)
                params += int(numpy_helper.to_array(init).size)
        out = shapes.get(node.output[0])
        operand = shapes.get(node.input[1] if node.op_type == "Conv" else node.input[0])
        if out is None or operand is None:
            continue
        if node.op_type == "Conv":
            macs += math.prod(out) * math.prod(operand[1:])  # (Cin/groups) * kh * kw per output element
        else:
            macs += math.prod(out) * operand[-1]  # inner dimension K of A (M x K)
    return {"params": params, "gflops": round(2 * macs / 1e9, 4)}
