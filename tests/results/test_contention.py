"""A row timed beside busy processes is marked contended, from the real telemetry sampler (Linux schedstat)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from results.render import run_table
from results.schema import validate_record
from results.validity import CONTENDED_WAIT_SHARE, verdict

from .conftest import make_record


def _timed_window_beside(busy: int, seconds: float) -> dict:
    """Telemetry of a CPU-bound loop in this process while ``busy`` other processes spin."""
    from devices.profiles import load_profile
    from devices.telemetry import start_sampling

    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
    try:
        time.sleep(0.3)  # let them start spinning
        sampler = start_sampling(load_profile("cpu"), interval_s=0.05)
        t0 = sampler.mark()
        end, x = time.monotonic() + seconds, 0
        while time.monotonic() < end:
            x += 1
        t1 = sampler.mark()
        return sampler.stop(window=(t0, t1)).to_dict()
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def test_a_loop_beside_busy_processes_is_marked_contended():
    from devices.telemetry.sources import read_schedstat

    if read_schedstat() is None:
        pytest.skip("no /proc/self/schedstat here: the CPU wait share cannot be read")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    telemetry = _timed_window_beside(2 * cores, 1.5)  # 2 x cores spinning: this loop waits most of its time
    share = telemetry["process"]["cpu_wait_share"]
    assert share > CONTENDED_WAIT_SHARE
    raw = make_record()
    raw["variants"][1]["telemetry"] = telemetry  # int8
    record = validate_record(raw, "beside busy processes")
    assert verdict(record.variant("int8")).contended
    table = run_table(record)
    row = next(r for r in table.rows if r.name == "int8")
    assert row.cells["status"].startswith("ok C")
    assert f"int8 C (wait {share:.0%}" in table.legend[-1] and not row.notes  # its figure: the legend's last line
