"""The default ``bench run``'s int8 / fp32 FPS ratio, run after run, on one or more source trees interleaved.

``bench run``'s FPS is end to end per frame (preprocess + inference + postprocess, one frame at a
time; :mod:`harness.pipeline.runner`), so the table's int8/fp32 ratio is diluted by the fixed
per-frame cost of bench's own pre- and postprocessing. This script runs ``bench run --json
--no-archive`` (plus any arguments after ``--``) ``--runs`` times per tree, rotating the order of the
trees from round to round so that drift of a shared machine hits all alike, and prints per run:
the FPS of both rows and their ratio, the inference-only ratio (p50 of the inference call), each
row's preprocess and postprocess p50, its threads and its contention share. ``--json`` and
``--no-archive`` change what is printed and stored, not what is measured.

A tree is a source checkout (``git archive COMMIT | tar -x -C DIR``); its code runs with
``PYTHONPATH=DIR`` from ``DIR``, everything else (the artifact cache, the data) is shared, so two
trees that differ only in one module compare that module. Artifacts are reused from the cache
after the first run. Stop background work that is not part of the comparison before running it.

Run::

    python benchmarks/default_ratio.py --runs 3                       # this checkout
    python benchmarks/default_ratio.py --trees /tmp/before,/tmp/after --runs 4
    python benchmarks/default_ratio.py --runs 5 -- --variants fp32,int8
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROWS = ("fp32", "int8")
_MAIN = "import sys; from harness.cli import main; sys.exit(main(sys.argv[1:]))"


def run_once(tree: Path, extra: list[str], *, timeout: float) -> dict:
    """One ``bench run --json --no-archive`` from ``tree``: the record as a dict.

    Raises:
        RuntimeError: the run failed or printed no record.
    """
    env = dict(os.environ, PYTHONPATH=str(tree), YOLO_OFFLINE="true", YOLO_AUTOINSTALL="false")
    cmd = [sys.executable, "-c", _MAIN, "run", "--json", "--no-archive", *extra]
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout)
    start = proc.stdout.find("{")
    if proc.returncode != 0 or start < 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"bench run in {tree} exited {proc.returncode}: {' | '.join(tail)}")
    return json.loads(proc.stdout[start:])


def row_figures(record: dict) -> dict[str, dict]:
    """Per row of :data:`ROWS`: fps, inference/preprocess/postprocess p50 (ms), threads, contention, runtime."""
    out = {}
    for row in record["variants"]:
        if row["name"] not in ROWS or not row.get("timing"):
            continue
        t = row["timing"]
        rt = (row.get("extra") or {}).get("runtime") or {}
        proc = (row.get("telemetry") or {}).get("process") or {}
        out[row["name"]] = {
            "fps": t["fps"],
            "inf": t["inference"]["p50_ms"],
            "pre": (t.get("preprocess") or {}).get("p50_ms"),
            "post": (t.get("postprocess") or {}).get("p50_ms"),
            "threads": rt.get("threads_used", rt.get("threads")),
            "runtime": rt.get("runtime"),
            "wait": proc.get("cpu_wait_share"),
        }
    return out


def _ms(v) -> str:
    return "    —" if v is None else f"{v:5.2f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", default=str(Path(__file__).resolve().parents[1]),
                        help="comma-separated source trees (default: this checkout)")
    parser.add_argument("--runs", type=int, default=3, help="runs per tree")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per bench run")
    parser.add_argument("extra", nargs="*", help="arguments for bench run (after --)")
    args = parser.parse_args(argv)
    trees = [Path(t).resolve() for t in args.trees.split(",") if t]
    if args.runs < 1 or not trees or not all((t / "harness" / "cli.py").is_file() for t in trees):
        print("bench: error: --trees/--runs: expected source trees with harness/cli.py and runs >= 1, "
              f"got {args.trees!r}, {args.runs}", file=sys.stderr)
        return 2
    ratios: dict[Path, list[float]] = {t: [] for t in trees}
    print(f"{'tree':<28} run  {'fp32 FPS':>8} {'int8 FPS':>8}  ratio  inf ratio   pre/post ms fp32   pre/post ms int8"
          "  threads  cpu wait fp32/int8")
    for r in range(args.runs):
        order = trees[r % len(trees):] + trees[: r % len(trees)]
        for tree in order:
            t0 = time.perf_counter()
            fig = row_figures(run_once(tree, args.extra, timeout=args.timeout))
            if set(fig) != set(ROWS):
                print(f"{tree.name:<28} {r + 1:>3}  rows missing: {sorted(set(ROWS) - set(fig))}")
                continue
            f, i = fig["fp32"], fig["int8"]
            ratio = i["fps"] / f["fps"]
            ratios[tree].append(ratio)
            wait = "/".join("—" if x["wait"] is None else f"{x['wait']:.0%}" for x in (f, i))
            print(f"{tree.name:<28} {r + 1:>3}  {f['fps']:8.1f} {i['fps']:8.1f}  {ratio:5.3f}  {f['inf'] / i['inf']:9.3f}"
                  f"   {_ms(f['pre'])} / {_ms(f['post'])}    {_ms(i['pre'])} / {_ms(i['post'])}"
                  f"  {f['threads']}/{i['threads']} {f['runtime']}  {wait}  ({time.perf_counter() - t0:.0f} s)",
                  flush=True)
    for tree, values in ratios.items():
        if values:
            print(f"{tree.name}: int8/fp32 FPS ratio median {statistics.median(values):.3f} "
                  f"(runs: {', '.join(f'{v:.3f}' for v in values)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
