"""COCO bbox evaluation speed: this project vs pycocotools vs faster-coco-eval, in one run.

A COCO-scale synthetic set (default 5,000 images, 80 classes, ~7 ground truths and 100
detections per image) is evaluated by all three from the same in-memory ground-truth dict
and results list (each gets its own deep copy, made outside the timing, because the two
references modify their input). Each timing covers everything from those Python objects to
the 12 stats: indexing/validation, matching, accumulation and summary. The script prints
the times, the ratios, and the largest difference between the stats (must be <= 1e-9).

Usage::

    python benchmarks/coco_eval_speed.py                 # full size
    python benchmarks/coco_eval_speed.py --images 500    # smaller
    python benchmarks/coco_eval_speed.py --skip pycocotools

Not part of the test suite: tests never assert on wall-clock time.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import platform
import sys
import time

import numpy as np


def synthetic_set(n_images: int, *, n_classes: int = 80, gt_per_image: float = 7.0,
                  dt_per_image: int = 100, seed: int = 0) -> tuple[dict, list]:
    """A detector-like result set: jittered copies of the ground truth (mostly right class,
    higher scores) plus background false positives, 100 detections per image."""
    rng = np.random.default_rng(seed)
    images, anns, dets = [], [], []
    size = 640.0
    for img in range(1, n_images + 1):
        images.append({"id": img, "width": 640, "height": 640, "file_name": f"{img:012d}.jpg"})
        n_gt = rng.poisson(gt_per_image)
        wh = np.exp(rng.uniform(np.log(4), np.log(400), (n_gt, 2)))
        xy = rng.uniform(0, 1, (n_gt, 2)) * (size - wh)
        cls = rng.integers(1, n_classes + 1, n_gt)
        crowd = rng.random(n_gt) < 0.01
        for j in range(n_gt):
            b = [float(xy[j, 0]), float(xy[j, 1]), float(wh[j, 0]), float(wh[j, 1])]
            anns.append({"id": len(anns) + 1, "image_id": img, "category_id": int(cls[j]), "bbox": b,
                         "area": b[2] * b[3] * 0.8, "iscrowd": int(crowd[j])})
        n_tp = min(dt_per_image, 3 * n_gt)
        src = rng.integers(0, max(n_gt, 1), n_tp)
        for j in range(dt_per_image):
            if j < n_tp and n_gt:
                g = src[j]
                jit = rng.normal(0, 0.08, 4) * np.concatenate([wh[g], wh[g]])
                b = [xy[g, 0] + jit[0], xy[g, 1] + jit[1], max(wh[g, 0] + jit[2], 1.0), max(wh[g, 1] + jit[3], 1.0)]
                c = int(cls[g]) if rng.random() < 0.9 else int(rng.integers(1, n_classes + 1))
                s = float(rng.beta(5, 2))
            else:
                w, h = np.exp(rng.uniform(np.log(4), np.log(300), 2))
                b = [rng.uniform(0, size - w), rng.uniform(0, size - h), w, h]
                c = int(rng.integers(1, n_classes + 1))
                s = float(rng.beta(1, 6))
            dets.append({"image_id": img, "category_id": c, "bbox": [round(float(v), 2) for v in b], "score": round(s, 5)})
    cats = [{"id": c, "name": f"class{c}", "supercategory": "thing"} for c in range(1, n_classes + 1)]
    return {"images": images, "annotations": anns, "categories": cats}, dets


def run_ours(gt: dict, dt: list) -> np.ndarray:
    from harness.metrics import evaluate_coco

    return evaluate_coco(gt, dt).stats


def run_pycocotools(gt: dict, dt: list) -> np.ndarray:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO()
        cg.dataset = gt
        cg.createIndex()
        e = COCOeval(cg, cg.loadRes(dt), "bbox")
        e.evaluate()
        e.accumulate()
        e.summarize()
    return np.asarray(e.stats)


def run_faster_coco_eval(gt: dict, dt: list) -> np.ndarray:
    from faster_coco_eval import COCO, COCOeval_faster

    with contextlib.redirect_stdout(io.StringIO()):
        cg = COCO(gt)
        e = COCOeval_faster(cg, cg.loadRes(dt), "bbox", print_function=lambda *a, **k: None)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return np.asarray(e.stats[:12])


RUNNERS = {"edge-bench": run_ours, "pycocotools": run_pycocotools, "faster-coco-eval": run_faster_coco_eval}


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000, help="number of images (default 5000)")
    ap.add_argument("--classes", type=int, default=80)
    ap.add_argument("--repeat", type=int, default=1, help="runs per evaluator; the best time is kept")
    ap.add_argument("--skip", action="append", default=[], choices=list(RUNNERS), help="leave an evaluator out")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    gt, dt = synthetic_set(args.images, n_classes=args.classes, seed=args.seed)
    print(f"synthetic set: {len(gt['images'])} images, {args.classes} classes, {len(gt['annotations'])} ground truths, "
          f"{len(dt)} detections (built in {time.perf_counter() - t0:.1f} s)")
    try:
        import faster_coco_eval
        import pycocotools
        versions = f"pycocotools {getattr(pycocotools, '__version__', '2.x')}, faster-coco-eval {faster_coco_eval.__version__}"
    except ImportError:
        versions = ""
    print(f"python {platform.python_version()}, numpy {np.__version__}, {versions}")
    times, stats = {}, {}
    for name, fn in RUNNERS.items():
        if name in args.skip:
            continue
        best = float("inf")
        for _ in range(args.repeat):
            g, d = copy.deepcopy(gt), copy.deepcopy(dt)
            t = time.perf_counter()
            stats[name] = fn(g, d)
            best = min(best, time.perf_counter() - t)
        times[name] = best
        print(f"  {name:<17} {best:8.2f} s   AP={stats[name][0]:.6f}", flush=True)
    ours = times.get("edge-bench")
    if ours:
        for name, t in times.items():
            if name != "edge-bench":
                print(f"  edge-bench is {t / ours:5.1f}x faster than {name}")
    worst = 0.0
    for name, s in stats.items():
        if name != "edge-bench" and "edge-bench" in stats:
            diff = float(np.abs(s - stats["edge-bench"]).max())
            worst = max(worst, diff)
            print(f"  max |stats difference| vs {name}: {diff:.3g}")
    if worst > 1e-9:
        print("STATS DIFFER", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
