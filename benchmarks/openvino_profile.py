"""Where OpenVINO spends a frame: per-layer times of bench's ``fp32`` and ``int8`` rows at 1 and 2 threads.

``bench run``'s INT8 row (OpenVINO, NNCF) reaches about 1.9x the FP32 row at one thread but only
about 1.75x at two (inference alone; end to end, with the same preprocess and postprocess added to
both, less). This script shows why, from OpenVINO's own performance counters (``PERF_COUNT``): for
each row and thread count it sums every layer's real time over ``--runs`` inferences of the same
letterboxed val image, then prints

* the total per precision and thread count, and the 1 -> 2 thread scaling of each;
* the layers that gain least from the second thread, with their share of the 2-thread frame;
* time per execution type (``brgconv_avx512_amx_i8``, ``ref_i8``, ...).

The artifacts are the ones ``bench run`` builds (the same cache, the same session settings: one
stream, latency hint, f32 for what stays float). Layer times do not add up to the wall time of a
call (the call's own overhead is not a layer), and the counters slow every layer a little alike.

Usage::

    python benchmarks/openvino_profile.py                      # the shipped yolo11n, 320 px
    python benchmarks/openvino_profile.py --model yolo12n --runs 300

Not part of the test suite: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from pathlib import Path

os.environ.setdefault("YOLO_OFFLINE", "true")
os.environ.setdefault("YOLO_AUTOINSTALL", "false")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from openvino_int8 import PAUSE_PID_FILE, default_data, pause_pid, paused


def layer_times(path: Path, precision: str, threads: int, x, runs: int) -> dict[tuple[str, str, str], float]:
    """Mean microseconds per call of each (layer, type, execution type), OpenVINO's counters on."""
    import openvino as ov

    from devices.runtimes.openvino import inference_precision

    core = ov.Core()
    compiled = core.compile_model(core.read_model(str(path)), "CPU", {
        "INFERENCE_PRECISION_HINT": inference_precision(precision), "NUM_STREAMS": 1,
        "PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads, "PERF_COUNT": True})
    request = compiled.create_infer_request()
    for _ in range(max(10, runs // 10)):
        request.infer({0: x})
    total: dict[tuple[str, str, str], float] = collections.defaultdict(float)
    for _ in range(runs):
        request.infer({0: x})
        for p in request.profiling_info:
            total[(p.node_name, p.node_type, p.exec_type)] += p.real_time.total_seconds() * 1e6
    return {k: v / runs for k, v in total.items()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="yolo11n", help="a shipped model's name or a .pt path")
    p.add_argument("--imgsz", type=int, default=320)
    p.add_argument("--runs", type=int, default=200, help="inferences per row and thread count")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--top", type=int, default=8, help="layers to list per row")
    p.add_argument("--pause-pid", default=None, help=f"process to SIGSTOP while timing (default: {PAUSE_PID_FILE})")
    args = p.parse_args(argv)

    from exporters.build import build_variant
    from exporters.calibration import load_tensor
    from exporters.spec import parse_variant
    from harness.data.yolo import load_yolo_dataset
    from harness.reference import MODELS_DIR

    data = default_data()
    model = Path(args.model) if args.model.endswith(".pt") else Path(MODELS_DIR) / f"{args.model}.pt"
    threads = [int(t) for t in args.threads.split(",")]
    rows = {name: build_variant(model, parse_variant(name, fmt="openvino"), imgsz=args.imgsz, data_yaml=data).path
            for name in ("fp32", "int8")}
    x = load_tensor(load_yolo_dataset(data, split="val").items[0].path, args.imgsz)
    times: dict[tuple[str, int], dict] = {}
    with paused(pause_pid(args.pause_pid)):
        for t in threads:
            for name, path in rows.items():
                times[(name, t)] = layer_times(path, name, t, x, args.runs)
    print(f"{model.stem} {args.imgsz} px, OpenVINO counters, {args.runs} inferences per row and thread count")
    for name in rows:
        sums = {t: sum(times[(name, t)].values()) / 1e3 for t in threads}
        print(f"\n{name}: layer time per frame " + ", ".join(f"{sums[t]:.2f} ms at {t}" for t in threads)
              + (f"; {threads[0]} -> {threads[-1]} threads {sums[threads[0]] / sums[threads[-1]]:.2f}x"
                 if len(threads) > 1 else ""))
        lo, hi = times[(name, threads[0])], times[(name, threads[-1])]
        worst = sorted(hi, key=lambda k: -(hi[k] - lo.get(k, 0.0) * threads[0] / threads[-1]))[: args.top]
        for k in worst:
            gain = lo.get(k, 0.0) / hi[k] if hi[k] else float("nan")
            print(f"  {k[0][:56]:<56} {k[2]:<26} {lo.get(k, 0.0):7.1f} -> {hi[k]:7.1f} us  {gain:4.2f}x"
                  f"  {100 * hi[k] / 1e3 / sums[threads[-1]]:4.1f}% of the frame")
        by_type: dict[str, float] = collections.defaultdict(float)
        for k, v in hi.items():
            by_type[k[2]] += v
        print("  by execution type at", threads[-1], "threads:",
              ", ".join(f"{e} {v / 1e3:.2f} ms" for e, v in sorted(by_type.items(), key=lambda kv: -kv[1])[:6]))
    for t in threads:
        a, b = sum(times[("fp32", t)].values()), sum(times[("int8", t)].values())
        print(f"\nint8 vs fp32 at {t} thread(s), layer time: {a / b:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
