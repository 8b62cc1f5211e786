"""Synthetic records for the results tests (built with the public builders)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from results.record import new_record, timing_entry, variant_entry

DATA = Path(__file__).parent / "data"
SHA = "ab" * 32
T0 = datetime(2026, 11, 21, 23, 30, tzinfo=timezone.utc)

# variant -> (median inference ms, mAP50-95, avg IoU)
DEFAULT_VARIANTS = {"fp32": (20.0, 0.52, 0.81), "int8": (9.0, 0.505, 0.79), "pruned50": (12.0, 0.47, 0.78)}


def make_variant(name, *, median_ms, map50_95, avg_iou, slow=1.0, seed=0, n=1200, frames=60,
                 reference="fp32", samples=True, gaps=False, burst=None, cpu_wait=None):
    """One variant entry with synthetic, time-ordered latency samples.

    ``burst=(start, stop, factor)`` multiplies the inference latencies of the contiguous
    stretch [start, stop) of the run (fractions of it) by ``factor``: contention from another
    process during part of the run. ``cpu_wait`` records the telemetry's run-queue wait share.
    """
    rng = np.random.default_rng(seed)
    infer = median_ms * slow * (1 + 0.03 * rng.standard_normal(n)).clip(0.8)
    if burst is not None:
        start, stop, factor = burst
        infer[int(start * n):int(stop * n)] *= factor
    pre = 1.5 + 0.05 * rng.standard_normal(n).clip(-3, 3)
    post = 0.8 + 0.05 * rng.standard_normal(n).clip(-3, 3)
    e2e = infer + pre + post
    timing = timing_entry({"preprocess": pre, "inference": infer, "postprocess": post, "end_to_end": e2e},
                          fps=float(1000.0 / e2e.mean()), warmup_iterations=10,
                          timed_seconds=float(e2e.sum() / 1000), keep_samples=samples)
    ious = np.clip(avg_iou + 0.05 * rng.standard_normal(frames), 0, 1)
    if gaps:  # frames without ground truth have no IoU
        ious[::7] = np.nan
    vs = None
    if name != reference:
        drop = (DEFAULT_VARIANTS[reference][1] - map50_95) * 100
        vs = {"reference": reference, "map_drop_points": drop, "map_drop_ci95": [drop - 0.4, drop + 0.4],
              "map_pct_of_reference": 100 * map50_95 / DEFAULT_VARIANTS[reference][1],
              "iou_drop": DEFAULT_VARIANTS[reference][2] - avg_iou,
              "agreement_mean_iou": 0.9, "agreement_recall": 0.95}
    return variant_entry(
        name=name, format="onnx", precision=name if name in ("fp32", "int8") else "fp32",
        artifact={"path": f"artifacts/{name}.onnx", "size_bytes": 5_400_000}, timing=timing,
        accuracy={"map50_95": map50_95, "map50": min(1.0, map50_95 + 0.2), "precision": 0.7, "recall": 0.6,
                  "f1": 0.65, "avg_iou_per_frame": avg_iou, "mean_tp_iou": avg_iou + 0.02,
                  "coco_stats": [map50_95, map50_95 + 0.2] + [0.3] * 10, "per_class_ap": {"box": map50_95}},
        vs_reference=vs, telemetry={"cpu_percent": 180.0, "rss_peak_mb": 310.0,
                                    **({"process": {"cpu_wait_share": cpu_wait}} if cpu_wait is not None else {})},
        per_frame_iou=ious,
    )


def make_record(*, release="v1.0", device="cpu", sha=SHA, slow=None, seed=0, minutes=0, kind="images",
                skipped=("trt-fp16",), failed=(), variants=DEFAULT_VARIANTS, samples=True, threads=2,
                gaps=False, burst=None, cpu_wait=None, n=1200):
    """A valid record in its JSON form (a dict the tests can alter); ``slow``, ``burst`` and ``cpu_wait`` are
    per variant name (see make_variant); ``n`` timed samples per variant (1200: enough for p99 to be judged)."""
    slow = slow or {}
    burst = burst or {}
    cpu_wait = cpu_wait or {}
    entries = []
    for i, (name, (ms, m, iou)) in enumerate(variants.items()):
        if name in failed:
            entries.append(variant_entry(name=name, format="onnx", precision="int8", status="failed",
                                         reason="export crashed", error_tail="RuntimeError: boom"))
            continue
        entries.append(make_variant(name, median_ms=ms, map50_95=m, avg_iou=iou, slow=slow.get(name, 1.0),
                                    seed=seed * 100 + i, samples=samples, gaps=gaps, burst=burst.get(name),
                                    cpu_wait=cpu_wait.get(name), n=n))
    for name in skipped:
        entries.append(variant_entry(name=name, format="engine", precision="fp16", status="skipped",
                                     reason="TensorRT is not installed on this device"))
    now = T0 + timedelta(minutes=minutes)
    return new_record(
        release=release, command=["bench", "run", "--device", device, "--release", release],
        device=device, hardware={"cpu_model": "Synthetic CPU", "cores": 2, "ram_gb": 24.0},
        runtime_versions={"onnxruntime": "1.22.0", "tensorrt": None},
        model={"path": "models/yolo11n.pt", "sha256": sha, "name": "yolo11n", "family": "yolo11",
               "imgsz": 320, "classes": ["box"]},
        data={"kind": kind, "source": "embedded-synthetic", "count": 60, "with_ground_truth": True},
        settings={"conf": 0.001, "iou": 0.7, "max_det": 300, "operating_conf": 0.25, "threads": threads,
                  "batch": 1},
        variants=entries, harness={"version": "0.1.0", "git_commit": None},
        run_id=f"{now:%Y%m%dT%H%M%SZ}-{seed:06x}", now=lambda: now,
    ).to_dict()


@pytest.fixture
def record_factory():
    return make_record
