"""``bench smoke``: the one on-device check to run after installing bench on a Jetson or GPU machine.

It runs, in order:

1. the runtime and telemetry check (:mod:`devices.smoke`): detect the hardware, resolve the device,
   run a tiny model through every runtime that is importable (ONNX Runtime, TensorRT) with telemetry
   sampling around the timed loop, and check TensorRT's outputs against ONNX Runtime's;
2. with ``--model`` and ``--data``: the TensorRT builder check (:mod:`exporters.trt_smoke`): build each
   engine variant from the model, run it, and compare it with the FP32 ONNX output.

Nothing here prints a number for a runtime that did not run: a runtime that is not importable is
listed with the reason. Exit status: 0 every check ran and passed, 1 a check failed, 2 bad input or a
missing runtime for step 2 (one line on stderr).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="auto", help="auto, jetson or a profile name (default auto)")
    parser.add_argument("--iters", type=int, default=200, help="timed runs per runtime in step 1 (default 200)")
    parser.add_argument("--warmup", type=int, default=20, help="untimed runs first (default 20)")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads")
    parser.add_argument("--json", action="store_true", help="print step 1's report as JSON")
    engines = parser.add_argument_group("step 2: TensorRT engines from a model (needs tensorrt and a GPU)")
    engines.add_argument("--model", type=Path, help="Ultralytics .pt to build engines from")
    engines.add_argument("--data", type=Path, help="dataset YAML (its train images calibrate INT8)")
    engines.add_argument("--imgsz", type=int, default=320)
    engines.add_argument("--variants", nargs="+", default=["fp32", "fp16", "int8"])
    engines.add_argument("--dla-core", type=int, default=None)


def _step1_argv(args: argparse.Namespace) -> list[str]:
    argv = ["--device", args.device, "--iters", str(args.iters), "--warmup", str(args.warmup)]
    if args.threads is not None:
        argv += ["--threads", str(args.threads)]
    if args.json:
        argv.append("--json")
    return argv


def _step2_argv(args: argparse.Namespace) -> list[str]:
    argv = ["--model", str(args.model), "--data", str(args.data), "--imgsz", str(args.imgsz),
            "--variants", *args.variants]
    if args.dla_core is not None:
        argv += ["--dla-core", str(args.dla_core)]
    return argv


def run(args: argparse.Namespace) -> int:
    from common.errors import InputError, expected

    if (args.model is None) != (args.data is None):
        raise InputError(expected("--model and --data together (step 2 builds engines)",
                                  "only --model" if args.data is None else "only --data", "bench smoke"))
    from devices import smoke as device_smoke

    print("== step 1: runtimes and telemetry", flush=True)
    status = device_smoke.main(_step1_argv(args))
    if args.model is None:
        print("== step 2: TensorRT engines: not run (pass --model M.pt --data data.yaml)", flush=True)
        return status
    from exporters import trt_smoke

    print("== step 2: TensorRT engines", flush=True)
    return max(status, trt_smoke.main(_step2_argv(args)))
