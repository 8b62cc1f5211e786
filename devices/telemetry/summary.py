"""Summarise sampled telemetry over the timed window into a :class:`TelemetrySummary`.

Only what was measured appears: a metric no source read is absent, never 0. Power comes from
the best source present (INA3221 > NVML > tegrastats); energy is NVML's energy counter
difference where available, else the trapezoid integral of the power samples over the window.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping, Sequence, Tuple

from devices.telemetry.energy import counter_difference, integrate_energy
from devices.telemetry.sources import wait_share

__all__ = ["TelemetrySummary", "build_summary", "POWER_SOURCE_ORDER", "CLOCK_FALL_FRACTION"]

POWER_SOURCE_ORDER = ("ina3221", "nvml", "tegrastats")
TEMPERATURE_SOURCE_ORDER = ("thermal", "psutil", "tegrastats")
CLOCK_FALL_FRACTION = 0.9
"""A clock whose end-of-window value is below this fraction of its start-of-window value fell."""

Reading = Tuple[float, Mapping[str, float], Tuple[str, ...]]  # typing.Tuple: the device side runs on Python 3.8


def _ro(d: Mapping | None) -> Mapping:
    return MappingProxyType(dict(d or {}))


@dataclass(frozen=True)
class TelemetrySummary:
    """What the sampler measured during the window (absent metrics are absent, never 0).

    Attributes:
        window_s: window duration in seconds.
        sources: source name -> {"samples": n, ...what the source reported about itself}.
        notes: sources that could not run here, and why; other caveats.
        power: {"source", "total", "mean_w", "peak_w", "energy_j", "energy_method", "samples"} or empty.
        rails_w: rail -> {"mean", "peak"} in watts.
        process: {"cpu_percent", "cpu_wait_share", "rss_mb_mean", "rss_mb_peak", "peak_rss_lifetime_mb"}
            (what was read). ``cpu_wait_share`` is the share of the time the process's threads were
            ready to run that they spent waiting for a CPU held by something else (run-queue wait
            over run + wait, from Linux schedstat): ~0 on an idle machine, 0.5 when half of it was
            lost to other processes.
        system_memory: {"used_mb_peak", "total_mb"}.
        cpu_freq_mhz: {"before": [...], "after": [...], "mean": [...]} per core.
        temperatures_c: sensor -> peak temperature in the window.
        gpu: GPU metrics (utilisation mean, memory peak, temperature peak, ...).
        clocks_before: clock -> MHz at the start of the window.
        clocks_after: clock -> MHz at the end of the window.
        throttled: True/False when clocks or limits could be observed, None when nothing could tell.
        throttle_reasons: why ``throttled`` is True.
        throttle_checks: what ``throttled`` is based on (clocks compared, limits watched).
        tegrastats: what only tegrastats reports, over the window: ``rails_w`` (rail -> its own
            running ``average`` at the window's end and, JetPack 7, its ``peak``), ``gpc_mhz``
            (mean clock per GPC), ``gpu2`` (GR3D2: ``util_pct_mean``, ``mhz_mean``) and ``engines``
            (NVENC, NVDEC, VIC, APE, DLA...: ``util_pct_mean``, ``mhz_mean``, ``off_share``).
        unparsed_fields: field name -> how many times a source printed something it could not
            parse in the window (``(line)`` for a whole line): counted so the run can say so.

    Example:
        >>> s = TelemetrySummary(window_s=2.0, power={"mean_w": 10.0, "energy_j": 20.0})
        >>> s.per_frame(100), s.fps_per_watt(50.0)
        (0.2, 5.0)
    """

    window_s: float
    sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)
    notes: tuple[str, ...] = ()
    power: Mapping[str, Any] = field(default_factory=dict, hash=False)
    rails_w: Mapping[str, Mapping[str, float]] = field(default_factory=dict, hash=False)
    process: Mapping[str, float] = field(default_factory=dict, hash=False)
    system_memory: Mapping[str, float] = field(default_factory=dict, hash=False)
    cpu_freq_mhz: Mapping[str, list] = field(default_factory=dict, hash=False)
    temperatures_c: Mapping[str, float] = field(default_factory=dict, hash=False)
    gpu: Mapping[str, float] = field(default_factory=dict, hash=False)
    clocks_before: Mapping[str, float] = field(default_factory=dict, hash=False)
    clocks_after: Mapping[str, float] = field(default_factory=dict, hash=False)
    throttled: bool | None = None
    throttle_reasons: tuple[str, ...] = ()
    throttle_checks: tuple[str, ...] = ()
    tegrastats: Mapping[str, Any] = field(default_factory=dict, hash=False)
    unparsed_fields: Mapping[str, int] = field(default_factory=dict, hash=False)

    @property
    def energy_j(self) -> float | None:
        """Energy over the window in joules, when power was measured."""
        return self.power.get("energy_j")

    @property
    def power_mean_w(self) -> float | None:
        """Mean power over the window (energy / duration) in watts."""
        return self.power.get("mean_w")

    @property
    def power_peak_w(self) -> float | None:
        """Highest power sample in the window."""
        return self.power.get("peak_w")

    def per_frame(self, n_frames: int) -> float | None:
        """Energy per frame in J/frame over the window's ``n_frames`` frames (None without energy)."""
        if self.energy_j is None or n_frames <= 0:
            return None
        return self.energy_j / n_frames

    def fps_per_watt(self, fps: float) -> float | None:
        """Frames per second per watt of mean power (None without power)."""
        if not self.power_mean_w:
            return None
        return fps / self.power_mean_w

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form with only the measured parts."""
        out: dict[str, Any] = {"window_s": self.window_s}
        for key in ("sources", "power", "rails_w", "process", "system_memory", "cpu_freq_mhz",
                    "temperatures_c", "gpu", "clocks_before", "clocks_after"):
            value = getattr(self, key)
            if value:
                out[key] = _plain(value)
        if self.notes:
            out["notes"] = list(self.notes)
        if self.tegrastats:
            out["tegrastats"] = _plain(self.tegrastats)
        if self.unparsed_fields:
            out["unparsed_fields"] = dict(self.unparsed_fields)
        if self.throttled is not None:
            out["throttled"] = self.throttled
            if self.throttle_reasons:
                out["throttle_reasons"] = list(self.throttle_reasons)
            out["throttle_checks"] = list(self.throttle_checks)
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _series(readings: Sequence[Reading], key: str) -> tuple[list[float], list[float]]:
    ts, vs = [], []
    for t, values, _ in readings:
        if key in values:
            ts.append(t)
            vs.append(values[key])
    return ts, vs


def _in_window(readings: Sequence[Reading], t0: float, t1: float) -> list[Reading]:
    return [r for r in readings if t0 <= r[0] <= t1]


def _keys(readings: Sequence[Reading], prefix: str) -> list[str]:
    seen: dict[str, None] = {}
    for _, values, _ in readings:
        for k in values:
            if k.startswith(prefix):
                seen[k] = None
    return list(seen)


def _edge(readings: Sequence[Reading], key: str, *, last: bool, n: int = 3) -> float | None:
    """Median of the first (or last) ``n`` in-window values of ``key``: robust to one DVFS blip."""
    vals = [v[key] for _, v, _ in readings if key in v]
    if not vals:
        return None
    return float(statistics.median(vals[-n:] if last else vals[:n]))


def build_summary(
    readings: Mapping[str, Sequence[Reading]],
    *,
    window: tuple[float, float],
    interval_s: float,
    source_info: Mapping[str, Mapping[str, Any]] | None = None,
    notes: Sequence[str] = (),
) -> TelemetrySummary:
    """Summarise ``readings`` (source name -> time-ordered readings) over ``window``.

    Args:
        readings: per source, ``(time, values, flags)`` tuples on the window's clock.
        window: ``(start, end)`` of the timed window.
        interval_s: the sampling interval (edge samples may be held over at most 1.5 intervals).
        source_info: per source, what it reported about itself (rails, zones, unsupported calls).
        notes: caveats to carry (e.g. sources that could not start).
    """
    t0, t1 = window
    duration = t1 - t0
    notes = list(notes)
    info = {k: dict(v) for k, v in (source_info or {}).items()}
    unparsed: dict[str, int] = {}
    for source in info.values():
        for name, count in dict(source.pop("unparsed_fields", None) or {}).items():
            unparsed[name] = unparsed.get(name, 0) + int(count)
    win = {name: _in_window(rs, t0, t1) for name, rs in readings.items()}
    sources = {name: {"samples": len(win[name]), **info.get(name, {})} for name in readings}
    max_gap = 1.5 * interval_s if interval_s > 0 else None

    power: dict[str, Any] = {}
    rails: dict[str, dict[str, float]] = {}
    for name in POWER_SOURCE_ORDER:
        rs = readings.get(name, ())
        ts, ws = _series(rs, "power_w")
        if not ts:
            continue
        energy = method = None
        if name == "nvml":
            cts, cvs = _series(rs, "energy_j_counter")
            energy = counter_difference(cts, cvs, t0, t1) if cts else None
            method = "NVML total energy counter difference" if energy is not None else None
        if energy is None:
            # streaming samples arrive on their own schedule; allow a gap of one of their intervals
            energy = integrate_energy(ts, ws, t0, t1, max_edge_gap_s=max_gap)
            method = f"trapezoid over {len([t for t in ts if t0 <= t <= t1])} power samples" if energy is not None else None
        in_win = [w for t, w in zip(ts, ws) if t0 <= t <= t1]
        power = {"source": name, "total": info.get(name, {}).get("total", "power_w"), "samples": len(in_win)}
        if in_win:
            power["peak_w"] = max(in_win)
        if energy is not None and duration > 0:
            power["energy_j"] = energy
            power["mean_w"] = energy / duration
            power["energy_method"] = method
        else:
            notes.append(f"{name}: power samples do not cover the window edges; energy not reported")
        for key in _keys(win[name], "rail_w:"):
            vals = [v[key] for _, v, _ in win[name] if key in v]
            rails[key.split(":", 1)[1]] = {"mean": statistics.fmean(vals), "peak": max(vals)}
        break

    process: dict[str, float] = {}
    system: dict[str, float] = {}
    cpu_freq: dict[str, list] = {}
    ps = readings.get("psutil", ())
    if ps:
        cts, cvs = _series(ps, "proc_cpu_s")
        used = counter_difference(cts, cvs, t0, t1) if cts else None
        if used is not None and duration > 0:
            process["cpu_percent"] = 100.0 * used / duration
        rts, rvs = _series(ps, "proc_run_s")
        wts, wvs = _series(ps, "proc_wait_s")
        ran = counter_difference(rts, rvs, t0, t1) if rts else None
        waited = counter_difference(wts, wvs, t0, t1) if wts else None
        share = wait_share(ran, waited)
        if share is not None:
            process["cpu_wait_share"] = share
        rss = [v["rss_mb"] for _, v, _ in win["psutil"] if "rss_mb" in v]
        if rss:
            process["rss_mb_mean"] = statistics.fmean(rss)
            process["rss_mb_peak"] = max(rss)
        life = [v["peak_rss_lifetime_mb"] for _, v, _ in ps if "peak_rss_lifetime_mb" in v]
        if life:
            # the kernel updates its high-water mark lazily; never report it below a sampled RSS
            process["peak_rss_lifetime_mb"] = max(life + rss)
        mem = [v["sys_mem_used_mb"] for _, v, _ in win["psutil"] if "sys_mem_used_mb" in v]
        if mem:
            system["used_mb_peak"] = max(mem)
        total = [v["sys_mem_total_mb"] for _, v, _ in ps if "sys_mem_total_mb" in v]
        if total:
            system["total_mb"] = total[-1]
    freq_src = "psutil" if ps and _keys(win.get("psutil", ()), "cpu_mhz:") else "tegrastats"
    cores = sorted(_keys(win.get(freq_src, ()), "cpu_mhz:"), key=lambda k: int(k.split(":")[1]))
    if cores:
        w = win[freq_src]
        cpu_freq = {
            "before": [_edge(w, k, last=False) for k in cores],
            "after": [_edge(w, k, last=True) for k in cores],
            "mean": [statistics.fmean([v[k] for _, v, _ in w if k in v]) for k in cores],
        }

    temps: dict[str, float] = {}
    for name in TEMPERATURE_SOURCE_ORDER:
        keys = _keys(win.get(name, ()), "temp_c:")
        if keys:
            temps = {k.split(":", 1)[1]: max(v[k] for _, v, _ in win[name] if k in v) for k in keys}
            break

    gpu: dict[str, float] = {}
    before: dict[str, float] = {}
    after: dict[str, float] = {}
    for name in ("nvml", "tegrastats"):
        w = win.get(name, ())
        for key, agg in (("gpu_util_pct", "mean"), ("gpu_mem_util_pct", "mean"), ("gpu_mem_used_mb", "peak"),
                         ("gpu_temp_c", "peak"), ("emc_util_pct", "mean")):
            vals = [v[key] for _, v, _ in w if key in v]
            if vals and f"{key}_{agg}" not in gpu:
                gpu[f"{key}_{agg}"] = statistics.fmean(vals) if agg == "mean" else max(vals)
        for key in ("gpu_sm_mhz", "gpu_mem_mhz", "gpu_mhz", "emc_mhz"):
            b, a = _edge(w, key, last=False), _edge(w, key, last=True)
            if b is not None and key not in before:
                before[key], after[key] = b, a
    if cpu_freq:
        before["cpu_max_mhz"] = max(x for x in cpu_freq["before"] if x is not None)
        after["cpu_max_mhz"] = max(x for x in cpu_freq["after"] if x is not None)

    reasons: list[str] = []
    for name, w in win.items():
        for _, _, flags in w:
            for f in flags:
                if f not in reasons:
                    reasons.append(f)
    for key, b in before.items():
        a = after.get(key)
        if a is not None and b > 0 and a < CLOCK_FALL_FRACTION * b:
            reasons.append(f"{key.replace('_mhz', '')} clock fell {b:g} -> {a:g} MHz during the window")
    checks = [f"{k.replace('_mhz', '')} clock, start vs end of window" for k in before if k in after]
    if "nvml" in win:
        checks.append("NVML clock-event reasons")
    if "thermal" in win:
        checks.append("thermal zone passive trip points")
    if _keys(win.get("psutil", ()), "temp_c:"):
        checks.append("hwmon temperature limits")
    throttled = bool(reasons) if (checks or reasons) else None

    return TelemetrySummary(
        tegrastats=_ro(_tegrastats_only(win.get("tegrastats", ()))),
        unparsed_fields=_ro(unparsed),
        window_s=duration,
        sources=_ro({k: _ro(v) for k, v in sources.items()}),
        notes=tuple(notes),
        power=_ro(power),
        rails_w=_ro({k: _ro(v) for k, v in rails.items()}),
        process=_ro(process),
        system_memory=_ro(system),
        cpu_freq_mhz=_ro(cpu_freq),
        temperatures_c=_ro(temps),
        gpu=_ro(gpu),
        clocks_before=_ro(before),
        clocks_after=_ro(after),
        throttled=throttled,
        throttle_reasons=tuple(reasons),
        throttle_checks=tuple(checks),
    )


def _tegrastats_only(w: Sequence[Reading]) -> dict[str, Any]:
    """What only tegrastats prints, summarised over the window's readings (absent when not printed)."""
    out: dict[str, Any] = {}
    rails: dict[str, dict[str, float]] = {}
    for key in _keys(w, "rail_avg_w:"):
        rails.setdefault(key.split(":", 1)[1], {})["average"] = [v[key] for _, v, _ in w if key in v][-1]
    for key in _keys(w, "rail_peak_w:"):
        rails.setdefault(key.split(":", 1)[1], {})["peak"] = max(v[key] for _, v, _ in w if key in v)
    if rails:
        out["rails_w"] = rails
    gpcs = sorted(_keys(w, "gpc_mhz:"), key=lambda k: int(k.split(":")[1]))
    if len(gpcs) > 1:  # one GPC is gpu_mhz already
        out["gpc_mhz"] = [statistics.fmean([v[k] for _, v, _ in w if k in v]) for k in gpcs]
    gpu2 = {}
    for key, name in (("gpu2_util_pct", "util_pct_mean"), ("gpu2_mhz", "mhz_mean")):
        vals = [v[key] for _, v, _ in w if key in v]
        if vals:
            gpu2[name] = statistics.fmean(vals)
    if gpu2:
        out["gpu2"] = gpu2
    engines: dict[str, dict[str, float]] = {}
    for key in _keys(w, "engine_off:"):
        name = key.split(":", 1)[1]
        entry = engines.setdefault(name, {})
        entry["off_share"] = statistics.fmean([v[key] for _, v, _ in w if key in v])
        for prefix, label in (("engine_util_pct:", "util_pct_mean"), ("engine_mhz:", "mhz_mean")):
            vals = [v[prefix + name] for _, v, _ in w if prefix + name in v]
            if vals:
                entry[label] = statistics.fmean(vals)
    if engines:
        out["engines"] = engines
    return out
