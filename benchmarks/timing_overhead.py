"""How much the harness's timed loop costs: ``measure(session.run)`` vs a bare ``session.run`` loop.

Same ONNX file, same session object, same input tensor. Each round times ``--calls`` inference
calls both ways, in A B B A order across rounds so that drift of a shared machine hits both
alike:

* **bare**: ``t0 = perf_counter(); for _ in range(n): session.run(x); t = perf_counter() - t0``
* **harness**: :func:`harness.pipeline.timing.measure` with warm-up off and exactly ``n`` timed
  calls (two clock readings and one append per call, plus the stopping checks); its cost per
  call is its timed window / ``n``, the figure its FPS is computed from.

Overhead = harness / bare - 1, reported as the median over rounds (noisy on a busy machine: the
spread is printed). Because that difference is small next to run-to-run noise, the script also
measures the loop's own cost on an empty function, where there is no noise to hide behind, and
expresses it as a share of one inference call. The same two comparisons are made for the
per-scope end-to-end loop of :func:`harness.pipeline.runner.time_pipeline` vs a bare loop over
whole frames. Target: overhead <= 1%.

Run::

    python benchmarks/timing_overhead.py                  # reference model if shipped, else random weights
    python benchmarks/timing_overhead.py --onnx m.onnx --imgsz 640 --rounds 16 --calls 8 --threads 2
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline_vs_ultralytics import make_frames, open_session, prepare_onnx  # noqa: E402


def bare_loop(fn, n: int) -> float:
    """Seconds per call of a plain loop."""
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def harness_loop(fn, n: int) -> float:
    """Seconds per call of the harness's timed loop (warm-up off, exactly ``n`` calls)."""
    from harness.pipeline.timing import measure

    r = measure(fn, warmup_min=0, warmup_max_iters=0, min_iters=n, min_seconds=0)
    return r.window_s / n


def scoped_loop(pipe, frames, n: int) -> float:
    """Seconds per frame of time_pipeline's per-scope loop (warm-up off, exactly ``n`` frames)."""
    from harness.pipeline.runner import time_pipeline

    t = time_pipeline(pipe, frames, pipelined=False, warmup_min=0, warmup_max_iters=0, min_iters=n, min_seconds=0)
    return t.end_to_end.window_s / n


def bare_frames(pipe, frames, n: int) -> float:
    """Seconds per frame of a plain loop calling the pipeline on cycled frames."""
    source = itertools.cycle(frames)
    return bare_loop(lambda: pipe(next(source)), n)


def interleaved(a, b, rounds: int) -> tuple[list[float], list[float]]:
    """Run ``a()`` and ``b()`` for ``rounds`` rounds in A B B A order; per-call seconds of each."""
    ta, tb = [], []
    for r in range(rounds):
        if r % 2 == 0:
            ta.append(a())
            tb.append(b())
        else:
            tb.append(b())
            ta.append(a())
    return ta, tb


def report(label: str, bare: list[float], harness: list[float]) -> None:
    ratios = sorted(h / b for h, b in zip(harness, bare))
    q1, med, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else (ratios[0],) * 3
    print(f"{label:34} bare {1e3 * statistics.median(bare):8.3f} ms  harness {1e3 * statistics.median(harness):8.3f} ms  "
          f"overhead {100 * (med - 1):+6.2f}%  (IQR {100 * (q1 - 1):+.2f}% .. {100 * (q3 - 1):+.2f}%, {len(ratios)} rounds)")


def run(args: argparse.Namespace) -> int:
    from harness.pipeline.preprocess import preprocess
    from harness.pipeline.runner import Pipeline

    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        if args.onnx:
            onnx, imgsz, what = Path(args.onnx), args.imgsz or 320, f"{args.onnx}, imgsz {args.imgsz or 320}"
        else:
            onnx, imgsz, what = prepare_onnx(Path(tmp), imgsz=args.imgsz)
        session = open_session(onnx, args.threads)
        frames = make_frames(8)
        x, _ = preprocess(frames[0], imgsz, session.input_dtype.type)
        pipe = Pipeline(session, imgsz=imgsz)

        def infer() -> None:
            session.run(x)

        for _ in range(5):  # warm both paths up
            infer()
            pipe(frames[0])
        n = args.calls
        print(f"model: {what}; ONNX Runtime threads {args.threads or 'default'}; {n} calls per round")
        bare, harness = interleaved(lambda: bare_loop(infer, n), lambda: harness_loop(infer, n), args.rounds)
        report("session.run: measure() vs bare", bare, harness)
        bare_f, scoped_f = interleaved(lambda: bare_frames(pipe, frames, n), lambda: scoped_loop(pipe, frames, n), args.rounds)
        report("frames: time_pipeline() vs bare", bare_f, scoped_f)

        # the loops' own cost, where noise cannot hide it
        empty = 200_000
        noop_bare, noop_harness = interleaved(lambda: bare_loop(lambda: None, empty), lambda: harness_loop(lambda: None, empty), 3)
        per_call_ns = 1e9 * (statistics.median(noop_harness) - statistics.median(noop_bare))
        share = per_call_ns / (1e9 * statistics.median(bare))
        print(f"timed-loop cost per call (empty function, {empty} calls): {per_call_ns:.0f} ns "
              f"= {100 * share:.4f}% of one session.run ({1e3 * statistics.median(bare):.2f} ms)")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--onnx", help="ONNX model (default: export the reference model, or random-weight yolo11n)")
    p.add_argument("--imgsz", type=int, help="input size (default: the reference model's, else 320)")
    p.add_argument("--rounds", type=int, default=16, help="short rounds, alternated, keep drift out of the ratio")
    p.add_argument("--calls", type=int, default=8, help="inference calls per round and side")
    p.add_argument("--threads", type=int, default=None, help="ONNX Runtime intra-op threads (default: ORT's)")
    return run(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
