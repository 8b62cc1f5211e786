"""The live progress display of ``bench run`` (on stderr).

Two faces, chosen once per run from whether stderr is a terminal:

* a terminal: progress bars (rich), one per variant stage; a stage's clock stops when it finishes
  (its count reaches its total, the same variant moves to its next stage, or the next variant starts);
* anything else (CI logs, ``| tee``, a file): plain lines such as ``bench: [2/5] int8: calibrate 120/200``,
  one when a stage starts, one when it ends (with its seconds), and in between at most one every
  :data:`LINE_INTERVAL_S` seconds per stage; a stage that reports no progress for :data:`HEARTBEAT_S`
  seconds gets a ``(still running, 95 s)`` line, so a log never looks hung.

:func:`preparing` shows one line on a terminal at once, before the model, the data and the plan are
resolved (a first run generates the synthetic dataset then), so a run is never blank from its first second.

The run table itself is rendered by :mod:`results.render` from the typed record.

Example:
    >>> import io
    >>> out = io.StringIO()
    >>> with progress(stream=out, rows=2, clock=lambda: 0.0) as p:
    ...     p.callback("fp32")({"stage": "calibrate", "done": 0, "total": 2})
    >>> out.getvalue().splitlines()[0]
    'bench: [1/2] fp32: calibrate 0/2'
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Callable, TextIO

LINE_INTERVAL_S = 5.0  # plain lines: at most one per stage this often between its start and end lines
HEARTBEAT_S = 30.0  # plain lines: a stage that reports nothing (an INT8 calibration, an export) says so this often


def preparing(*, quiet: bool = False) -> None:
    """On a terminal, a line at once, before anything slow (model, data, plan) is resolved; erased by the next output.

    Nothing is printed when stderr is not a terminal (a bad-input error stays one line there); the
    line is erased (carriage return, clear line) as soon as anything else is written to stdout or
    stderr, or :func:`progress` starts, so an error line or the bars take its place.
    """
    global _pending
    if quiet or _pending is not None or not _isatty(sys.stderr):
        return
    _pending = _Pending(sys.stderr, sys.stdout)
    _pending.err.write("bench: preparing the run (device, model, data; a first run generates the dataset)...")
    _pending.err.flush()


def _isatty(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(callable(isatty) and isatty())


class _Pending:
    """The preparing line: sys.stderr/sys.stdout wrapped so that their first write erases it first."""

    def __init__(self, err, out):
        self.err, self.out = err, out
        sys.stderr = _EraseFirst(err, self)
        if _isatty(out):
            sys.stdout = _EraseFirst(out, self)

    def clear(self) -> None:
        global _pending
        if _pending is not self:
            return
        _pending = None
        if isinstance(sys.stderr, _EraseFirst):
            sys.stderr = self.err
        if isinstance(sys.stdout, _EraseFirst):
            sys.stdout = self.out
        self.err.write("\r\x1b[2K")
        self.err.flush()


class _EraseFirst:
    def __init__(self, stream, pending: _Pending):
        self._stream, self._pending = stream, pending

    def write(self, text):
        self._pending.clear()
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


_pending: _Pending | None = None


class _Stage:
    __slots__ = ("name", "done", "total", "start", "last_line", "ended", "task")

    def __init__(self, name: str, start: float):
        self.name, self.start = name, start
        self.done: int = 0
        self.total: int | None = None
        self.last_line = start
        self.ended = False
        self.task = None


class _RunProgress:
    """Progress of a run: one stage at a time per variant, the variants in the order their callbacks are made.

    Args:
        bars: a rich ``Progress`` (terminal face), or None.
        stream: where plain lines go (the non-terminal face), or None.
        rows: how many variants will run (shown as ``[i/rows]``); None shows ``[i]``.
        clock: seconds, monotonic (injected by tests).
        interval: seconds between two plain lines of one stage.
    """

    def __init__(self, bars=None, *, stream: TextIO | None = None, rows: int | None = None,
                 clock: Callable[[], float] = time.monotonic, interval: float = LINE_INTERVAL_S):
        self._bars, self._stream, self._rows = bars, stream, rows
        self._clock, self._interval = clock, interval
        self._variants: list[str] = []
        self._current: dict[str, _Stage] = {}  # variant -> its running stage
        self._lock = threading.RLock()  # the heartbeat thread and the worker's reader both print
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None

    # -- the caller's side
    def callback(self, variant: str) -> Callable[[dict], None]:
        """The ``progress`` callback of one variant's worker: called with ``{"stage", "done", "total"}`` events."""
        with self._lock:
            for other in self._variants:  # a new variant starts: the previous ones are over
                if other != variant:
                    self._end(other)
            if variant not in self._variants:
                self._variants.append(variant)

        def update(event: dict) -> None:
            if self._bars is None and self._stream is None:
                return
            with self._lock:
                self._event(variant, str(event.get("stage", "?")), event.get("done"), event.get("total"))

        return update

    def __enter__(self):
        if self._bars is not None:
            self._bars.__enter__()
        if self._stream is not None and self._clock is time.monotonic:
            self._beat = threading.Thread(target=self._beating, name="bench-progress", daemon=True)
            self._beat.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=2)
        with self._lock:
            for variant in self._variants:
                self._end(variant)
        if self._bars is not None:
            self._bars.__exit__(*exc)
        return False

    def heartbeat(self) -> None:
        """Plain lines only: one ``(still running, N s)`` line per stage silent for :data:`HEARTBEAT_S` seconds."""
        if self._stream is None:
            return
        with self._lock:
            now = self._clock()
            for variant, stage in self._current.items():
                if not stage.ended and now - stage.last_line >= HEARTBEAT_S:
                    self._line(variant, stage, now, note=f" (still running, {now - stage.start:.0f} s)")

    def _beating(self) -> None:
        while not self._stop.wait(1.0):
            self.heartbeat()

    # -- internals
    def _label(self, variant: str) -> str:
        i = self._variants.index(variant) + 1
        return f"[{i}/{self._rows}] {variant}" if self._rows else f"[{i}] {variant}"

    def _event(self, variant: str, name: str, done, total) -> None:
        now = self._clock()
        stage = self._current.get(variant)
        if stage is None or stage.name != name or stage.ended:
            if stage is not None and stage.name != name:
                self._end(variant)
            stage = self._current[variant] = _Stage(name, now)
            fresh = True
        else:
            fresh = False
        stage.done = int(done) if isinstance(done, (int, float)) else stage.done
        stage.total = int(total) if isinstance(total, (int, float)) and total > 0 else None
        finished = stage.total is not None and stage.done >= stage.total
        if self._bars is not None:
            if stage.task is None:
                stage.task = self._bars.add_task(f"{self._label(variant)}: {name}", total=stage.total)
            self._bars.update(stage.task, completed=stage.done, total=stage.total)
        if self._stream is not None and not finished and (fresh or now - stage.last_line >= self._interval):
            self._line(variant, stage, now)
        if finished:
            self._end(variant)

    def _end(self, variant: str) -> None:
        stage = self._current.get(variant)
        if stage is None or stage.ended:
            return
        stage.ended = True
        if self._bars is not None and stage.task is not None:
            self._bars.stop_task(stage.task)  # its clock stops here
        if self._stream is not None:
            self._line(variant, stage, self._clock(), end=True)

    def _line(self, variant: str, stage: _Stage, now: float, *, end: bool = False, note: str = "") -> None:
        count = f"{stage.done}/{stage.total}" if stage.total is not None else f"{stage.done}"
        tail = f" done ({now - stage.start:.1f} s)" if end else note
        print(f"bench: {self._label(variant)}: {stage.name} {count}{tail}", file=self._stream, flush=True)
        stage.last_line = now


def progress(*, quiet: bool = False, rows: int | None = None, stream: TextIO | None = None,
             clock: Callable[[], float] = time.monotonic) -> _RunProgress:
    """A context manager showing a run's progress on stderr: bars on a terminal, plain lines otherwise.

    Args:
        quiet: show nothing (e.g. with ``--json``).
        rows: how many variants will run, for ``[i/rows]``.
        stream: where to write instead of stderr (plain lines when it is not a terminal).
        clock: monotonic seconds, for tests.
    """
    if _pending is not None:
        _pending.clear()
    if quiet:
        return _RunProgress(None)
    out = sys.stderr if stream is None else stream
    if not _isatty(out):
        return _RunProgress(None, stream=out, rows=rows, clock=clock)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(file=out), transient=True, get_time=clock)
    return _RunProgress(bars, rows=rows, clock=clock)
