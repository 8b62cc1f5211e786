"""Issue 7's Must-show, for real: does ``bench compare`` tell a slower release from a noisy machine?

Runs ``bench run`` three times into a fresh archive, each in its own process as a user would:

* ``r1``: the default benchmark;
* ``r2``: the same command again (same model, same settings): ``bench compare r1 r2`` must exit 0;
* ``r3``: the same command with ``--threads 1`` (a genuinely slower candidate on a multi-core
  machine): ``bench compare r1 r3`` must exit 1 and name the regressed variants.

then prints both compare tables and the exit codes, and a last line saying whether both
expectations held. Exit status 0 when they did, 1 when not, 2 on bad input.

Run it when the machine is otherwise quiet: it measures speed. Every option after ``--`` goes
to each ``bench run`` (the default is the full default benchmark, several minutes here)::

    python benchmarks/compare_releases.py                                  # the real demonstration
    python benchmarks/compare_releases.py --keep /tmp/arch -- --variants fp32 --limit 20 --bootstrap 0

``--keep DIR`` archives into DIR (which must not exist yet) and leaves it there; otherwise a
temporary archive is used and deleted. ``--compare-args`` passes options to both compares
(e.g. ``"--factor 1.2"``).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bench(args: list[str], env: dict) -> subprocess.CompletedProcess:
    """``bench ARGS`` in a child process (``python -m harness``: the same entry point as the script)."""
    cmd = [sys.executable, "-m", "harness", *args]
    print(f"$ bench {shlex.join(args)}", flush=True)
    return subprocess.run(cmd, env=env, cwd=ROOT, text=True, capture_output=True)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    run_args: list[str] = []
    if "--" in argv:
        at = argv.index("--")
        argv, run_args = argv[:at], argv[at + 1:]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", metavar="DIR", help="archive into DIR (must not exist) and keep it")
    parser.add_argument("--compare-args", default="", help="extra options for both bench compare calls")
    args = parser.parse_args(argv)

    env = dict(os.environ, YOLO_OFFLINE="true", YOLO_AUTOINSTALL="false", COLUMNS=os.environ.get("COLUMNS", "160"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    if args.keep:
        archive = Path(args.keep)
        if archive.exists():
            print(f"compare_releases: error: expected a new directory for --keep, found an existing one: {archive}",
                  file=sys.stderr)
            return 2
        cleanup = None
    else:
        cleanup = tempfile.mkdtemp(prefix="bench-compare-releases-")
        archive = Path(cleanup) / "archive"
    try:
        for release, extra in (("r1", []), ("r2", []), ("r3", ["--threads", "1"])):
            done = _bench(["run", *run_args, *extra, "--release", release, "--archive", str(archive)], env)
            tail = [ln for ln in done.stdout.splitlines() if ln.strip()][-1:] or ["(no output)"]
            print(f"  exit {done.returncode}: {tail[0].strip()}")
            if done.returncode != 0:
                print(done.stderr.strip()[-2000:], file=sys.stderr)
                print(f"compare_releases: bench run for {release} failed (exit {done.returncode}); nothing compared",
                      file=sys.stderr)
                return 2
        extra = shlex.split(args.compare_args)
        codes = {}
        for candidate, want in (("r2", 0), ("r3", 1)):
            done = _bench(["compare", "r1", candidate, "--archive", str(archive), *extra], env)
            print(done.stdout.rstrip())
            if done.stderr.strip():
                print(done.stderr.rstrip())
            codes[candidate] = done.returncode
            print(f"==> bench compare r1 {candidate}: exit {done.returncode} (expected {want})\n", flush=True)
        held = codes == {"r2": 0, "r3": 1}
        print(f"same settings r1 -> r2: exit {codes['r2']}; --threads 1 r1 -> r3: exit {codes['r3']}; "
              + ("both as expected" if held else "NOT as expected"))
        if args.keep:
            print(f"archive kept in {archive}")
        return 0 if held else 1
    finally:
        if cleanup:
            shutil.rmtree(cleanup, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
