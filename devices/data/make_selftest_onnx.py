"""Write ``devices/data/selftest.onnx``: a tiny YOLO-shaped detector for ``python -m devices.agent --selftest``.

Input ``images`` ``[1, 3, 64, 64]`` float32 (RGB, 0..1); output ``[1, 4 + 2, 64]`` in Ultralytics' raw
layout (``cx, cy, w, h`` in input pixels, then 2 class scores), from one 8x8/stride-8 convolution with
fixed, seeded weights, a sigmoid and a per-channel scale. It detects nothing real: it exists so the
device side can be run end to end (runtime, timing, telemetry, decode, NMS) in a second, with a
few kilobytes shipped. Also writes ``selftest-profile.json``, the ``cpu`` profile as JSON, so a device
without PyYAML can run the selftest (a test checks it still equals ``cpu.yaml``). Run on the host
(needs the ``onnx`` and ``pyyaml`` packages)::

    python devices/data/make_selftest_onnx.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

IMGSZ = 64
NC = 2
STRIDE = 8
OUT = Path(__file__).with_name("selftest.onnx")
PROFILE_OUT = Path(__file__).with_name("selftest-profile.json")  # the cpu profile as JSON: read without PyYAML


def build():
    """The model proto (deterministic: same bytes every time)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    ch = 4 + NC
    weight = (rng.standard_normal((ch, 3, STRIDE, STRIDE)) * 0.05).astype(np.float32)
    bias = np.array([0.0, 0.0, -1.0, -1.0] + [-2.0] * NC, np.float32)
    scale = np.array([IMGSZ, IMGSZ, IMGSZ / 2, IMGSZ / 2] + [1.0] * NC, np.float32).reshape(1, ch, 1, 1)
    anchors = (IMGSZ // STRIDE) ** 2
    nodes = [
        helper.make_node("Conv", ["images", "w", "b"], ["conv"], kernel_shape=[STRIDE, STRIDE], strides=[STRIDE, STRIDE]),
        helper.make_node("Sigmoid", ["conv"], ["sig"]),
        helper.make_node("Mul", ["sig", "scale"], ["scaled"]),
        helper.make_node("Reshape", ["scaled", "shape"], ["output0"]),
    ]
    inits = [numpy_helper.from_array(weight, "w"), numpy_helper.from_array(bias, "b"),
             numpy_helper.from_array(scale, "scale"),
             numpy_helper.from_array(np.array([1, ch, anchors], np.int64), "shape")]
    graph = helper.make_graph(
        nodes, "bench-selftest",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, IMGSZ, IMGSZ])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, ch, anchors])], initializer=inits)
    # opset 13, IR 7: opened by every ONNX Runtime a Python 3.8 device can install (1.14 and later)
    model = helper.make_model(graph, producer_name="bench-selftest", opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 7
    model.metadata_props.add(key="names", value="{0: 'a', 1: 'b'}")
    return model


def cpu_profile() -> dict:
    """The bundled ``cpu`` profile's document (``devices/profiles/cpu.yaml``), for the JSON copy."""
    import yaml

    return yaml.safe_load((Path(__file__).parents[1] / "profiles" / "cpu.yaml").read_text(encoding="utf-8"))


def main() -> int:
    import onnx

    model = build()
    onnx.checker.check_model(model)
    OUT.write_bytes(model.SerializeToString())
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")
    PROFILE_OUT.write_text(json.dumps(cpu_profile(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {PROFILE_OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
