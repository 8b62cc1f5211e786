"""On-device smoke check for the runtimes and telemetry: run it on the Jetson or GPU machine.

Run::

    python -m devices.smoke                          # detect, resolve --device auto, tiny model on every runtime
    python -m devices.smoke --device jetson --engine yolo11n-fp16.engine --onnx yolo11n.onnx --iters 300
    python -m devices.smoke --json                   # the same, as one JSON document

What it does: detects the hardware, resolves the device, builds a tiny ONNX model (onnx package;
skipped when absent) and, where TensorRT is importable, a TensorRT engine from it; runs each
artifact through :func:`devices.runtimes.open_runtime` with telemetry sampling around the timed
loop; checks TensorRT's outputs against ONNX Runtime's on the tiny model. Where OpenVINO is
installed it runs the same tiny ONNX in OpenVINO at f32 (``tiny.onnx@openvino``, on the CPU) and
checks its outputs against ONNX Runtime's too; where it is not, one line says so. It prints only
what it measured: a runtime that did not run is listed with the reason, never with a number.

Exit status: 0 all checks ran and passed, 1 a check failed, 2 bad input (bench's convention).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from common.errors import BenchError

TINY_SHAPE = (1, 3, 64, 64)
OPENVINO_LABEL = "tiny.onnx@openvino"
MATCH_TOLERANCE = 1e-3
"""Largest absolute difference from ONNX Runtime's outputs on the tiny model for a runtime to match (FP32 both)."""


def build_tiny_onnx(path: Path) -> Path:
    """A Conv -> Sigmoid -> Conv model with fixed weights (needs the ``onnx`` package)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array((rng.standard_normal((16, 3, 3, 3)) * 0.2).astype(np.float32), "w1")
    w2 = numpy_helper.from_array((rng.standard_normal((8, 16, 3, 3)) * 0.2).astype(np.float32), "w2")
    graph = helper.make_graph(
        [helper.make_node("Conv", ["images", "w1"], ["a"], pads=[1, 1, 1, 1]),
         helper.make_node("Sigmoid", ["a"], ["b"]),
         helper.make_node("Conv", ["b", "w2"], ["out"], pads=[1, 1, 1, 1])],
        "smoke", [helper.make_tensor_value_info("images", TensorProto.FLOAT, list(TINY_SHAPE))],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 8, 64, 64])], initializer=[w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def build_tiny_engine(onnx_path: Path, engine_path: Path) -> Path:
    """Build an FP32 TensorRT engine from ``onnx_path`` (TensorRT 8.6 and 10.x builder API)."""
    import tensorrt as trt

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    major = int(trt.__version__.split(".")[0])
    flags = 0 if major >= 10 else 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(onnx_path.read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise BenchError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, 1 << 28)
    blob = builder.build_serialized_network(network, config)
    if blob is None:
        raise BenchError("TensorRT could not build the smoke engine")
    engine_path.write_bytes(bytes(blob))
    return engine_path


def time_session(session: Any, x: np.ndarray, *, iters: int, warmup: int, profile: Any) -> dict[str, Any]:
    """Warm up, then time ``iters`` runs with telemetry sampled over exactly the timed window."""
    from devices.telemetry import start_sampling

    for _ in range(warmup):
        session.run(x)
    sampler = start_sampling(profile, interval_s=0.05)
    lat, splits = [], []
    t0 = sampler.mark()
    for _ in range(iters):
        a = time.perf_counter()
        session.run(x)
        lat.append((time.perf_counter() - a) * 1e3)
        if session.last_split_ms is not None:
            splits.append(session.last_split_ms)
    t1 = sampler.mark()
    telemetry = sampler.stop(window=(t0, t1))
    q = np.percentile(lat, [50, 99])
    out: dict[str, Any] = {
        "runtime": session.describe(),
        "iters": iters,
        "latency_ms": {"p50": float(q[0]), "p99": float(q[1]), "mean": statistics.fmean(lat)},
        "fps": iters / (t1 - t0),
        "telemetry": telemetry.to_dict(),
    }
    if splits:
        out["split_ms_mean"] = {k: statistics.fmean(s[k] for s in splits) for k in splits[0]}
    if telemetry.energy_j is not None:
        out["energy_j_per_inference"] = telemetry.per_frame(iters)
    return out


def smoke(args: argparse.Namespace) -> dict[str, Any]:
    """Run the checks; returns the report (only measured values and reasons)."""
    from devices.profiles import list_profiles, load_profile
    from devices.resolve import resolve_device, usability

    device = resolve_device(args.device)
    report: dict[str, Any] = {"device": device.to_dict(), "usability": {}, "runs": {}, "not_run": {}, "checks": {}}
    for name in list_profiles():
        ok, why = usability(load_profile(name), device.hardware)
        report["usability"][name] = {"usable": ok, "reason": why}
    with tempfile.TemporaryDirectory(prefix="bench-smoke-") as tmp:
        _run_artifacts(args, device, report, Path(tmp))
    return report


def _openvino_profile(device: Any) -> Any:
    """The profile OpenVINO runs under here: the device's when it lists openvino, else the cpu profile (OpenVINO
    runs on the CPU whatever the device's accelerator)."""
    from devices.profiles import load_profile

    return device.profile if "openvino" in {e.runtime for e in device.profile.runtimes} else load_profile("cpu")


def _match(report: dict[str, Any], outputs: dict[str, list], label: str, name: str) -> None:
    """Record how far ``label``'s outputs are from ONNX Runtime's on the tiny model (``<name>_vs_onnxruntime_*``)."""
    if "tiny.onnx" in outputs and label in outputs:
        diff = max(float(np.max(np.abs(a - b))) for a, b in zip(outputs["tiny.onnx"], outputs[label]))
        report["checks"][f"{name}_vs_onnxruntime_max_abs_diff"] = diff
        report["checks"][f"{name}_matches_onnxruntime"] = diff < MATCH_TOLERANCE


def _run_artifacts(args: argparse.Namespace, device: Any, report: dict[str, Any], work: Path) -> None:
    from devices.runtimes import open_runtime

    trt_ok = device.hardware.runtimes["tensorrt"].available
    openvino = device.hardware.runtimes.get("openvino")
    artifacts: dict[str, Path] = {}
    if args.onnx:
        artifacts["onnx"] = Path(args.onnx)
    if args.engine:
        artifacts["engine"] = Path(args.engine)
    if not args.onnx and not args.engine:
        try:
            artifacts["tiny.onnx"] = build_tiny_onnx(work / "tiny.onnx")
        except ImportError as exc:
            report["not_run"]["tiny.onnx"] = f"onnx package not importable ({exc})"
        if "tiny.onnx" in artifacts:
            if trt_ok:
                try:
                    artifacts["tiny.engine"] = build_tiny_engine(artifacts["tiny.onnx"], work / "tiny.engine")
                except BenchError as exc:
                    report["not_run"]["tiny.engine"] = str(exc)
            else:
                report["not_run"]["tiny.engine"] = device.hardware.runtimes["tensorrt"].reason
            if openvino is not None and openvino.available:
                artifacts[OPENVINO_LABEL] = artifacts["tiny.onnx"]
            else:
                report["not_run"][OPENVINO_LABEL] = (openvino.reason if openvino is not None
                                                     else "openvino is not a runtime this bench probes")
    outputs = {}
    for label, path in artifacts.items():
        runtime = "tensorrt" if label.endswith("engine") else "openvino" if label == OPENVINO_LABEL else "onnxruntime"
        try:
            if runtime == "openvino":  # FP32 at f32: OpenVINO's default on a BF16 CPU would be bf16
                session = open_runtime(path, runtime=runtime, profile=_openvino_profile(device), threads=args.threads,
                                       precision="fp32")
            else:
                session = open_runtime(path, runtime=runtime, profile=device.profile, threads=args.threads)
        except BenchError as exc:
            report["not_run"][label] = str(exc)
            continue
        shape = tuple(d if d is not None else 1 for d in session.input_shape)
        x = np.random.default_rng(1).random(shape).astype(session.input_dtype)
        outputs[label] = [o.astype(np.float64) for o in session.run(x)]
        report["runs"][label] = time_session(session, x, iters=args.iters, warmup=args.warmup, profile=device.profile)
        session.close()
    _match(report, outputs, "tiny.engine", "tensorrt")
    _match(report, outputs, OPENVINO_LABEL, "openvino")


def _print(report: dict[str, Any]) -> None:
    d = report["device"]
    print(f"device: {d['profile']} via {d['runtime']['runtime']}"
          + (f" [{', '.join(d['runtime'].get('providers', []))}]" if d["runtime"].get("providers") else ""))
    for note in d.get("notes", []):
        print(f"  note: {note}")
    for name, u in report["usability"].items():
        print(f"  {name:18} {'usable' if u['usable'] else 'no':7} {u['reason']}")
    for label, r in report["runs"].items():
        lat = r["latency_ms"]
        rt = r["runtime"]
        how = rt.get("providers") or (f"inference precision {rt['inference_precision']}"
                                      if "inference_precision" in rt else None)
        print(f"{label}: {rt['runtime']} {rt['version']} {how}: p50 {lat['p50']:.3f} ms, "
              f"p99 {lat['p99']:.3f} ms, {r['fps']:.1f} FPS over {r['iters']} runs")
        if "split_ms_mean" in r:
            s = r["split_ms_mean"]
            print(f"  H2D {s['h2d_ms']:.3f} ms, compute {s['compute_ms']:.3f} ms, D2H {s['d2h_ms']:.3f} ms (CUDA events, mean)")
        p = r["telemetry"].get("power")
        if p and "mean_w" in p:
            print(f"  power {p['mean_w']:.2f} W mean, {p.get('peak_w', float('nan')):.2f} W peak ({p['source']}: {p['total']}), "
                  f"{r['energy_j_per_inference'] * 1e3:.2f} mJ/inference")
        if "throttled" in r["telemetry"]:
            why = "; ".join(r["telemetry"].get("throttle_reasons", [])) or "no"
            print(f"  throttled: {why}")
        for note in r["telemetry"].get("notes", []):
            print(f"  telemetry note: {note}")
    for label, why in report["not_run"].items():
        print(f"{label}: not run: {why}")
    for name, value in report["checks"].items():
        print(f"check {name}: {value}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m devices.smoke``."""
    parser = argparse.ArgumentParser(prog="python -m devices.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="auto", help="auto, jetson or a profile name (default auto)")
    parser.add_argument("--onnx", help="an ONNX model to run instead of the tiny one")
    parser.add_argument("--engine", help="a TensorRT engine to run instead of the tiny one")
    parser.add_argument("--iters", type=int, default=200, help="timed runs per artifact (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first (default 20)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    try:
        report = smoke(args)
    except BenchError as exc:
        print(f"smoke: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report, indent=2, default=str))
    else:
        _print(report)
    failed = any(v is False for v in report["checks"].values())
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
