"""The live progress of ``bench run`` (harness/render.py): plain lines without a terminal, stopped clocks on one."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap

from harness import render


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _events(p, clock):
    fp32 = p.callback("fp32")
    fp32({"stage": "export (cached)", "done": 1, "total": 1})
    fp32({"stage": "warmup", "done": 10, "total": None})
    for n in range(20, 400, 10):  # 38 events over 19 s
        clock.now += 0.5
        fp32({"stage": "timed", "done": n, "total": None})
    int8 = p.callback("int8")
    for n in range(0, 201, 20):
        clock.now += 1.0
        int8({"stage": "calibrate", "done": n, "total": 200})


def test_plain_lines_without_a_terminal_are_rate_limited(capsys):
    clock = Clock()
    with render.progress(rows=2, clock=clock) as p:  # capsys: stderr is not a terminal
        _events(p, clock)
    err = capsys.readouterr().err.splitlines()
    assert all(line.startswith("bench: [") for line in err), err
    assert err[0] == "bench: [1/2] fp32: export (cached) 1/1 done (0.0 s)"
    timed = [ln for ln in err if ": timed " in ln]
    # a start line, at most one per 5 s over 19 s, and an end line when the next variant starts
    assert timed[0] == "bench: [1/2] fp32: timed 20"
    assert timed[-1].startswith("bench: [1/2] fp32: timed 390 done (")
    assert 3 <= len(timed) <= 2 + 19 / render.LINE_INTERVAL_S + 1
    calib = [ln for ln in err if ": calibrate " in ln]
    assert calib[0] == "bench: [2/2] int8: calibrate 0/200"
    assert calib[-1] == "bench: [2/2] int8: calibrate 200/200 done (10.0 s)"
    assert len(calib) <= 4  # 10 s: start, one at 5 s, maybe one at 10 s, the end


def test_quiet_prints_nothing(capsys):
    with render.progress(quiet=True) as p:
        p.callback("fp32")({"stage": "timed", "done": 10, "total": None})
    render.preparing(quiet=True)
    assert capsys.readouterr().err == ""


def test_a_piped_stderr_gets_lines_from_the_first_call():
    script = textwrap.dedent("""
        from harness import render
        render.preparing()
        with render.progress(rows=1) as p:
            p.callback("fp32")({"stage": "score", "done": 0, "total": 3})
            p.callback("fp32")({"stage": "score", "done": 3, "total": 3})
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    # no preparing line without a terminal: a bad-input error before the rows stays one line
    assert lines[0] == "bench: [1/1] fp32: score 0/3"
    assert re.fullmatch(r"bench: \[1/1\] fp32: score 3/3 done \(\d+\.\d s\)", lines[1]), lines
    assert len(lines) == 2


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_on_a_terminal_finished_stages_clocks_stop():
    clock = Clock()
    with render.progress(rows=2, stream=_Tty(), clock=clock) as p:
        bars = p._bars
        assert bars is not None, "a terminal gets progress bars"
        fp32 = p.callback("fp32")
        fp32({"stage": "calibrate", "done": 0, "total": 4})
        clock.now = 3.0
        fp32({"stage": "calibrate", "done": 4, "total": 4})  # finished: its clock stops at 3 s
        fp32({"stage": "warmup", "done": 10, "total": None})
        clock.now = 5.0
        fp32({"stage": "timed", "done": 10, "total": None})  # warm-up superseded: stops at 2 s
        clock.now = 9.0
        tasks = {t.description: t for t in bars.tasks}
        assert tasks["[1/2] fp32: calibrate"].elapsed == 3.0
        assert tasks["[1/2] fp32: warmup"].elapsed == 2.0
        assert tasks["[1/2] fp32: timed"].elapsed == 4.0  # still running
        p.callback("int8")  # the next variant: fp32's last stage stops too
        clock.now = 20.0
        assert tasks["[1/2] fp32: timed"].elapsed == 4.0


def test_on_a_terminal_a_line_at_once_erased_by_the_next_output(monkeypatch):
    tty = _Tty()
    monkeypatch.setattr(sys, "stderr", tty)
    render.preparing()
    assert tty.getvalue().startswith("bench: preparing the run")
    print("bench: error: --model: expected a .pt, got x", file=sys.stderr)  # what the CLI does on bad input
    assert sys.stderr is tty  # unwrapped after its first write
    text = tty.getvalue()
    assert text.endswith("\r\x1b[2Kbench: error: --model: expected a .pt, got x\n")
    render.preparing()
    with render.progress(rows=1, clock=Clock()) as p:  # the bars start: the line is erased first
        assert p._bars is not None
        text = tty.getvalue()
        assert text.count("bench: preparing the run") == 2 and text.count("...\r\x1b[2K") == 2


def test_a_silent_stage_gets_a_still_running_line(capsys):
    clock = Clock()
    with render.progress(rows=1, clock=clock) as p:
        p.callback("int8")({"stage": "quantize int8", "done": 0, "total": 1})
        clock.now = 10.0
        p.heartbeat()  # not yet
        clock.now = render.HEARTBEAT_S + 1
        p.heartbeat()
        p.heartbeat()  # once per HEARTBEAT_S, not per call
        clock.now = 2 * render.HEARTBEAT_S + 2
        p.heartbeat()
        p.callback("int8")({"stage": "quantize int8", "done": 1, "total": 1})
    err = capsys.readouterr().err.splitlines()
    assert err == ["bench: [1/1] int8: quantize int8 0/1",
                   "bench: [1/1] int8: quantize int8 0/1 (still running, 31 s)",
                   "bench: [1/1] int8: quantize int8 0/1 (still running, 62 s)",
                   "bench: [1/1] int8: quantize int8 1/1 done (62.0 s)"]
