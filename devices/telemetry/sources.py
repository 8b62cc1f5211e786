"""Telemetry sources. Each reads only what it can and reports absent metrics as absent.

A polling source has ``open(clock)``, ``read() -> (values, flags)`` and ``close()``; the sampler
calls ``read`` every interval. A streaming source (tegrastats) has ``streaming = True`` and
returns its own timestamped readings from ``close()``. ``open`` raises :class:`SourceUnavailable`
with the reason when the source cannot work here; the summary lists that reason.

Reading keys (units in the name): ``power_w``, ``rail_w:<rail>``, ``energy_j_counter``,
``proc_cpu_s``, ``proc_run_s``, ``proc_wait_s``, ``rss_mb``, ``peak_rss_lifetime_mb``, ``sys_mem_used_mb``, ``sys_mem_total_mb``,
``cpu_mhz:<core>``, ``temp_c:<sensor>``, ``gpu_util_pct``, ``gpu_mem_util_pct``,
``gpu_mem_used_mb``, ``gpu_sm_mhz``, ``gpu_mem_mhz``, ``gpu_mhz``, ``gpu_temp_c``, ``emc_mhz``,
``emc_util_pct``. Flags are strings such as ``"throttle:hardware thermal slowdown"``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Dict

from devices.telemetry.tegrastats import TOTAL_RAILS, TegrastatsReader, sample_readings

__all__ = [
    "Ina3221Source",
    "NvmlSource",
    "PsutilSource",
    "SourceUnavailable",
    "TegrastatsSource",
    "ThermalSource",
    "read_schedstat",
    "sources_for",
]

Values = Dict[str, float]  # typing.Dict: the device side runs on Python 3.8


class SourceUnavailable(Exception):
    """A telemetry source cannot work on this machine; the message says why."""


def _read_number(fd: int) -> float | None:
    try:
        raw = os.pread(fd, 64, 0)
    except OSError:
        return None
    try:
        return float(raw.split()[0]) if raw.strip() else None
    except ValueError:
        return None


def read_schedstat(pid: int | None = None, *, root: str | os.PathLike = "/") -> tuple[float, float] | None:
    """Seconds the process's threads ran on a CPU and waited, runnable, for one (Linux).

    Sums ``/proc/<pid>/task/*/schedstat`` (fields: on-CPU ns, run-queue wait ns, timeslices).
    Run-queue wait is time a thread was ready to run while every CPU was busy with something
    else: it is how contention from other processes shows up in this process. None where the
    kernel does not expose it (not Linux, or scheduler statistics compiled out).

    Example:
        >>> read_schedstat(root="/nonexistent") is None
        True
    """
    tasks = Path(root, "proc", "self" if pid is None else str(pid), "task")
    try:
        names = os.listdir(tasks)
    except OSError:
        return None
    run = wait = 0
    seen = False
    for name in names:
        try:
            fields = (tasks / name / "schedstat").read_text().split()
            run += int(fields[0])
            wait += int(fields[1])
            seen = True
        except (OSError, ValueError, IndexError):
            continue  # a thread that ended between listing and reading
    return (run / 1e9, wait / 1e9) if seen else None


def wait_share(ran: float | None, waited: float | None) -> float | None:
    """The share of ready time spent waiting for a CPU, from the seconds the threads ran and waited over
    a window (differences of :func:`read_schedstat` readings): ``waited / (ran + waited)``.

    None when either is unknown or nothing ran; a negative difference (threads that ended inside the
    window take their counters with them) is not a measurement either.

        >>> wait_share(1.0, 0.5), wait_share(None, 0.5), wait_share(0.0, 0.0), wait_share(-1.0, 2.0)
        (0.3333333333333333, None, None, None)
    """
    if ran is None or waited is None or ran < 0 or waited < 0 or ran + waited <= 0:
        return None
    return waited / (ran + waited)


class PsutilSource:
    """Process CPU time, run-queue wait, RSS (and lifetime peak), system memory, per-core frequency,
    hwmon temperatures."""

    name = "psutil"
    streaming = False

    def __init__(self, *, pid: int | None = None) -> None:
        self.pid = pid
        self.info: dict[str, Any] = {}

    def open(self, clock: Callable[[], float]) -> None:
        try:
            import psutil
        except ImportError as exc:
            raise SourceUnavailable("psutil not importable (pip install psutil)") from exc
        self._psutil = psutil
        self._proc = psutil.Process(self.pid)
        self._temps = hasattr(psutil, "sensors_temperatures")
        self.info = {"pid": self._proc.pid}

    def read(self) -> tuple[Values, tuple[str, ...]]:
        ps = self._psutil
        out: Values = {}
        flags: list[str] = []
        times = self._proc.cpu_times()
        out["proc_cpu_s"] = float(times.user + times.system)
        sched = read_schedstat(self.pid)
        if sched is not None:
            out["proc_run_s"], out["proc_wait_s"] = sched
        out["rss_mb"] = self._proc.memory_info().rss / 2**20
        if self.pid is None:
            import resource

            # ru_maxrss is in kB on Linux
            out["peak_rss_lifetime_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        vm = ps.virtual_memory()
        out["sys_mem_used_mb"] = (vm.total - vm.available) / 2**20
        out["sys_mem_total_mb"] = vm.total / 2**20
        freqs = ps.cpu_freq(percpu=True) or []
        for i, f in enumerate(freqs):
            if f.current:
                out[f"cpu_mhz:{i}"] = float(f.current)
        if self._temps:
            for chip, entries in (ps.sensors_temperatures() or {}).items():
                for j, e in enumerate(entries):
                    label = f"{chip}.{e.label or j}"
                    out[f"temp_c:{label}"] = float(e.current)
                    limit = e.high or e.critical
                    if limit and e.current >= limit:
                        flags.append(f"temperature limit: {label} at {e.current:g} C >= {limit:g} C")
        return out, tuple(flags)

    def close(self) -> None:
        return None


class ThermalSource:
    """Linux thermal zones (``/sys/class/thermal/thermal_zone*``) with their passive trip points.

    A zone at or above its passive trip point is the kernel's throttling threshold: flagged.
    """

    name = "thermal"
    streaming = False

    def __init__(self, *, root: str | os.PathLike = "/") -> None:
        self.root = Path(root)
        self.info: dict[str, Any] = {}
        self._zones: list[tuple[str, int, float | None]] = []

    def open(self, clock: Callable[[], float]) -> None:
        base = self.root / "sys/class/thermal"
        for zone in sorted(base.glob("thermal_zone*"), key=lambda p: int(re.sub(r"\D", "", p.name) or 0)):
            try:
                kind = (zone / "type").read_text().strip()
                fd = os.open(zone / "temp", os.O_RDONLY)
            except OSError:
                continue
            passive = None
            for trip in zone.glob("trip_point_*_type"):
                try:
                    if trip.read_text().strip() == "passive":
                        value = float((zone / trip.name.replace("_type", "_temp")).read_text().split()[0]) / 1000
                        passive = value if passive is None else min(passive, value)
                except (OSError, ValueError, IndexError):
                    continue
            self._zones.append((kind, fd, passive))
        if not self._zones:
            raise SourceUnavailable(f"no readable thermal zones under {base}")
        self.info = {"zones": [z[0] for z in self._zones],
                     "passive_trip_c": {z[0]: z[2] for z in self._zones if z[2] is not None}}

    def read(self) -> tuple[Values, tuple[str, ...]]:
        out: Values = {}
        flags: list[str] = []
        for kind, fd, passive in self._zones:
            milli = _read_number(fd)
            if milli is None:
                continue
            temp = milli / 1000
            out[f"temp_c:{kind}"] = temp
            if passive is not None and temp >= passive:
                flags.append(f"temperature limit: {kind} at {temp:g} C >= passive trip {passive:g} C")
        return out, tuple(flags)

    def close(self) -> None:
        for _, fd, _ in self._zones:
            os.close(fd)
        self._zones = []


_INA_SKIP = re.compile(r"^(NC|sum of shunt voltages)$", re.IGNORECASE)


class Ina3221Source:
    """Jetson INA3221 power monitors through sysfs (hwmon on JetPack 5+, iio ``ina3221x`` on JetPack 4).

    Power per channel = bus voltage (mV) x current (mA) on hwmon, or ``in_power<N>_input`` (mW)
    on the legacy driver. Total = ``VDD_IN`` / ``POM_5V_IN`` / ``VIN`` where present, else the sum.
    """

    name = "ina3221"
    streaming = False

    def __init__(self, *, root: str | os.PathLike = "/") -> None:
        self.root = Path(root)
        self.info: dict[str, Any] = {}
        # (label, kind, fd_a, fd_b): kind "vi" (mV, mA) or "p" (mW, -1)
        self._channels: list[tuple[str, str, int, int]] = []

    def _hwmon_dirs(self) -> list[Path]:
        dirs = list(self.root.glob("sys/bus/i2c/drivers/ina3221/*/hwmon/hwmon*"))
        for d in self.root.glob("sys/class/hwmon/hwmon*"):
            try:
                if (d / "name").read_text().strip() == "ina3221":
                    dirs.append(d)
            except OSError:
                continue
        seen, out = set(), []
        for d in dirs:
            key = os.path.realpath(d)
            if key not in seen:
                seen.add(key)
                out.append(d)
        return sorted(out)

    def open(self, clock: Callable[[], float]) -> None:
        for d in self._hwmon_dirs():
            for label_file in sorted(d.glob("in*_label")):
                n = label_file.name[2:-6]
                try:
                    label = label_file.read_text().strip()
                except OSError:
                    continue
                if _INA_SKIP.match(label) or not (d / f"curr{n}_input").exists():
                    continue
                try:
                    self._channels.append((label, "vi", os.open(d / f"in{n}_input", os.O_RDONLY),
                                           os.open(d / f"curr{n}_input", os.O_RDONLY)))
                except OSError:
                    continue
        for d in sorted(self.root.glob("sys/bus/i2c/drivers/ina3221x/*/iio:device*")):
            for name_file in sorted(d.glob("rail_name_*")):
                n = name_file.name.rsplit("_", 1)[1]
                try:
                    label = name_file.read_text().strip()
                    fd = os.open(d / f"in_power{n}_input", os.O_RDONLY)
                except OSError:
                    continue
                if _INA_SKIP.match(label):
                    os.close(fd)
                    continue
                self._channels.append((label, "p", fd, -1))
        if not self._channels:
            raise SourceUnavailable(
                f"no INA3221 channels under {self.root / 'sys/bus/i2c/drivers/ina3221'} (hwmon) or ina3221x (iio)")
        labels = [c[0] for c in self._channels]
        total = next((r for r in TOTAL_RAILS if r in labels), None)
        self.info = {"rails": labels, "total": total or "sum(" + "+".join(labels) + ")"}

    def read(self) -> tuple[Values, tuple[str, ...]]:
        out: Values = {}
        for label, kind, a, b in self._channels:
            if kind == "vi":
                mv, ma = _read_number(a), _read_number(b)
                if mv is None or ma is None:
                    continue
                mw = mv * ma / 1000.0
            else:
                mw = _read_number(a)
                if mw is None:
                    continue
            out[f"rail_w:{label}"] = mw / 1000.0
        total = next((out[f"rail_w:{r}"] for r in TOTAL_RAILS if f"rail_w:{r}" in out), None)
        if total is None and out and len(out) == len(self._channels):
            total = sum(out.values())  # a sum is only a total when every rail was read
        if total is not None:
            out["power_w"] = total
        return out, ()

    def close(self) -> None:
        for _, _, a, b in self._channels:
            os.close(a)
            if b >= 0:
                os.close(b)
        self._channels = []


# NVML clock-event (throttle) reason bits worth reporting; idle, application clocks, sync
# boost and display settings are normal operation.
_NVML_REASONS = {0x4: "power cap", 0x8: "hardware slowdown", 0x20: "software thermal slowdown",
                 0x40: "hardware thermal slowdown", 0x80: "power brake slowdown"}


class NvmlSource:
    """NVIDIA discrete GPU through NVML (nvidia-ml-py); each unsupported call is dropped per metric."""

    name = "nvml"
    streaming = False

    def __init__(self, *, index: int = 0, nvml: Any = None) -> None:
        self.index = index
        self._nvml = nvml
        self.info: dict[str, Any] = {}
        self.unsupported: list[str] = []

    def open(self, clock: Callable[[], float]) -> None:
        nv = self._nvml
        if nv is None:
            try:
                import pynvml as nv
            except ImportError as exc:
                raise SourceUnavailable("NVML not importable (pip install nvidia-ml-py)") from exc
            self._nvml = nv
        try:
            nv.nvmlInit()
            self._h = nv.nvmlDeviceGetHandleByIndex(self.index)
        except nv.NVMLError as exc:
            raise SourceUnavailable(f"NVML: {exc}") from exc
        reasons = getattr(nv, "nvmlDeviceGetCurrentClocksEventReasons", None) or getattr(
            nv, "nvmlDeviceGetCurrentClocksThrottleReasons", None)
        h = self._h
        self._metrics: list[tuple[str, Callable[[], Any]]] = [
            ("power", lambda: {"power_w": nv.nvmlDeviceGetPowerUsage(h) / 1000.0}),
            ("energy", lambda: {"energy_j_counter": nv.nvmlDeviceGetTotalEnergyConsumption(h) / 1000.0}),
            ("utilization", lambda: (lambda u: {"gpu_util_pct": float(u.gpu), "gpu_mem_util_pct": float(u.memory)})(
                nv.nvmlDeviceGetUtilizationRates(h))),
            ("memory", lambda: {"gpu_mem_used_mb": nv.nvmlDeviceGetMemoryInfo(h).used / 2**20}),
            ("sm clock", lambda: {"gpu_sm_mhz": float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_SM))}),
            ("memory clock", lambda: {"gpu_mem_mhz": float(nv.nvmlDeviceGetClockInfo(h, nv.NVML_CLOCK_MEM))}),
            ("temperature", lambda: {"gpu_temp_c": float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))}),
        ]
        if reasons is not None:
            self._metrics.append(("throttle reasons", lambda: {"_reasons": float(reasons(h))}))
        name = nv.nvmlDeviceGetName(h)
        self.info = {"gpu": name.decode() if isinstance(name, bytes) else str(name), "index": self.index}

    def read(self) -> tuple[Values, tuple[str, ...]]:
        nv = self._nvml
        out: Values = {}
        flags: list[str] = []
        keep = []
        for label, fn in self._metrics:
            try:
                out.update(fn())
            except nv.NVMLError as exc:
                # NotSupported / NoPermission: this metric will not appear; stop asking for it
                self.unsupported.append(f"{label}: {exc}")
                continue
            keep.append((label, fn))
        self._metrics = keep
        bits = int(out.pop("_reasons", 0))
        for bit, text in _NVML_REASONS.items():
            if bits & bit:
                flags.append(f"throttle: {text}")
        self.info["unsupported"] = list(self.unsupported)
        return out, tuple(flags)

    def close(self) -> None:
        try:
            self._nvml.nvmlShutdown()
        except self._nvml.NVMLError:
            pass


class TegrastatsSource:
    """tegrastats run for the sampling window (a streaming source)."""

    name = "tegrastats"
    streaming = True

    def __init__(self, *, interval_s: float = 0.1, executable: str | None = None, popen: Any = None) -> None:
        self.interval_s = interval_s
        self.executable = executable
        self.popen = popen
        self.info: dict[str, Any] = {}
        self.error: str | None = None
        self._reader: TegrastatsReader | None = None

    def open(self, clock: Callable[[], float]) -> None:
        kwargs = {"popen": self.popen} if self.popen is not None else {}
        reader = TegrastatsReader(interval_s=self.interval_s, clock=clock, executable=self.executable, **kwargs)
        try:
            reader.start()
        except OSError as exc:
            raise SourceUnavailable(f"tegrastats could not start ({reader.executable}: {exc.strerror or exc})") from exc
        self._reader = reader
        self.info = {"command": " ".join(reader.command()), "interval_ms": reader.interval_ms}

    def close(self) -> list[tuple[float, Values, tuple[str, ...]]]:
        if self._reader is None:
            return []
        pairs = self._reader.stop()
        self.error = self._reader.error
        if self._reader.unparsed:
            self.info["unparsed_fields"] = dict(self._reader.unparsed)
        if pairs:
            total = pairs[-1][1].total_power_mw()
            if total is not None:
                self.info["total"] = total[1]
        return [(t, sample_readings(s), ()) for t, s in pairs]


def sources_for(names: tuple[str, ...], *, root: str | os.PathLike = "/", interval_s: float = 0.1) -> list[Any]:
    """Source objects for a profile's telemetry names (psutil, thermal, nvml, tegrastats, ina3221)."""
    makers: dict[str, Callable[[], Any]] = {
        "psutil": PsutilSource,
        "thermal": lambda: ThermalSource(root=root),
        "nvml": NvmlSource,
        "tegrastats": lambda: TegrastatsSource(interval_s=interval_s),
        "ina3221": lambda: Ina3221Source(root=root),
    }
    return [makers[n]() for n in names]
