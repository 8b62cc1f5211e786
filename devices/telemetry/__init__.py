"""Telemetry: a sampler thread during the timed window, summarised to what was really measured.

Typical use by the run loop::

    sampler = start_sampling(resolved.profile, interval_s=0.1)   # or a list of sources
    t0 = sampler.mark()            # polls every source now: a sample exactly at the window start
    ... timed loop: n_frames inferences ...
    t1 = sampler.mark()
    summary = sampler.stop(window=(t0, t1))
    summary.power_mean_w, summary.energy_j, summary.per_frame(n_frames), summary.to_dict()

Sources per profile (``telemetry:`` in the profile file): ``psutil`` (process CPU %, RSS, system
memory, per-core frequency, hwmon temperatures; always available), ``thermal`` (kernel thermal
zones and passive trip points), ``nvml`` (discrete NVIDIA GPU: power, energy counter,
utilisation, memory, clocks, temperature, throttle reasons), ``ina3221`` (Jetson power rails
through sysfs; the preferred power source) and ``tegrastats`` (Jetson; spawned with the interval).
A source that cannot run here is skipped and the summary's ``notes`` say why.

Example:
    >>> import time
    >>> from devices.telemetry.sources import PsutilSource
    >>> s = start_sampling([PsutilSource()], interval_s=0.05)
    >>> t0 = s.mark(); _ = sum(range(10**5)); t1 = s.mark()
    >>> "cpu_percent" in s.stop(window=(t0, t1)).process
    True
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Sequence

from devices.telemetry.sources import SourceUnavailable, sources_for
from devices.telemetry.summary import TelemetrySummary, build_summary

__all__ = ["Sampler", "TelemetrySummary", "start_sampling"]


class Sampler:
    """Polls telemetry sources on a background thread and summarises a window.

    Args:
        sources: source objects (see :mod:`devices.telemetry.sources`).
        interval_s: polling interval in seconds.
        clock: the clock the timed window uses (inject a fake one in tests).
    """

    def __init__(self, sources: Sequence[Any], *, interval_s: float = 0.1, clock: Callable[[], float] = time.monotonic) -> None:
        if interval_s <= 0:
            raise ValueError(f"interval_s must be > 0, got {interval_s}")
        self.interval_s = interval_s
        self.clock = clock
        self._sources = list(sources)
        self._polling: list[Any] = []
        self._streaming: list[Any] = []
        self._readings: dict[str, list] = {}
        self._notes: list[str] = []
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.started_at: float | None = None

    def start(self) -> "Sampler":
        """Open the sources, take a first sample and start the polling thread."""
        for src in self._sources:
            try:
                src.open(self.clock)
            except SourceUnavailable as exc:
                self._notes.append(f"{src.name}: {exc}")
                continue
            self._readings.setdefault(src.name, [])
            (self._streaming if getattr(src, "streaming", False) else self._polling).append(src)
        self.started_at = self.clock()
        self.poll()
        self._thread = threading.Thread(target=self._loop, name="telemetry-sampler", daemon=True)
        self._thread.start()
        return self

    def poll(self) -> float:
        """Read every polling source now; returns the clock time of the poll."""
        with self._poll_lock:  # mark() on the caller's thread and the sampler thread never read at once
            return self._poll_locked()

    def _poll_locked(self) -> float:
        first: float | None = None
        for src in list(self._polling):
            t = self.clock()
            first = t if first is None else first
            try:
                values, flags = src.read()
            except OSError as exc:  # a sysfs file vanished or became unreadable
                self._notes.append(f"{src.name}: read failed ({exc}); later samples dropped")
                self._polling = [s for s in self._polling if s is not src]
                continue
            with self._lock:
                self._readings[src.name].append((t, values, flags))
        return first if first is not None else self.clock()

    def mark(self) -> float:
        """Poll now and return the time: call it at the timed window's start and end."""
        return self.poll()

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval_s):
                self.poll()
        except Exception as exc:  # kept and re-raised by stop(): a dead sampler must not pass silently
            self._error = exc

    def stop(self, *, window: tuple[float, float] | None = None) -> TelemetrySummary:
        """Stop sampling and summarise ``window`` (default: from start to now).

        Raises:
            Exception: whatever stopped the polling thread, re-raised here.
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        end = self.poll()
        info: dict[str, dict] = {}
        for src in self._streaming:
            readings = src.close() or []
            if getattr(src, "error", None):
                self._notes.append(f"{src.name}: {src.error}")
            with self._lock:
                self._readings[src.name].extend(readings)
                self._readings[src.name].sort(key=lambda r: r[0])
        for src in self._polling:
            src.close()
        for src in self._sources:
            if src.name in self._readings:
                info[src.name] = dict(getattr(src, "info", {}) or {})
        if self._error is not None:
            raise self._error
        start = self.started_at if self.started_at is not None else end
        return build_summary(self._readings, window=window or (start, end), interval_s=self.interval_s,
                             source_info=info, notes=self._notes)

    @property
    def readings(self) -> dict[str, list]:
        """Raw readings so far, per source (a copy)."""
        with self._lock:
            return {k: list(v) for k, v in self._readings.items()}

    def __enter__(self) -> "Sampler":
        return self

    def __exit__(self, *exc: Any) -> None:
        if not self._stop.is_set():
            self._stop.set()
            if self._thread is not None:
                self._thread.join()
            for src in self._streaming:
                src.close()
            for src in self._polling:
                src.close()


def start_sampling(
    profile_or_sources: Any,
    *,
    interval_s: float = 0.1,
    clock: Callable[[], float] = time.monotonic,
    root: str | os.PathLike = "/",
) -> Sampler:
    """Start sampling the telemetry a device profile names, or the given sources.

    Args:
        profile_or_sources: a :class:`devices.profiles.DeviceProfile` (its ``telemetry`` list)
            or a sequence of source objects.
        interval_s: polling interval (tegrastats gets the same interval).
        clock: the clock the timed window is measured with.
        root: filesystem root for sysfs sources (tests use fake trees).

    Returns:
        A started :class:`Sampler`; call ``stop(window=...)`` for the summary.
    """
    names = getattr(profile_or_sources, "telemetry", None)
    if names is not None:
        sources = sources_for(tuple(names), root=root, interval_s=interval_s)
    else:
        sources = list(profile_or_sources)
    return Sampler(sources, interval_s=interval_s, clock=clock).start()
