"""tegrastats: a line parser that never raises, and a reader that runs tegrastats during a window.

Formats covered (all seen in ``tests/devices/data/jetson``): legacy TX1 L4T 24/28.1
(``cpu [a%,b%]@F``, ``EMC x%@F``, ``GR3D x%@F``, ``EDP limit``), Nano/TX2 L4T <= 32 unitless
rails (``POM_5V_IN 920/920``, ``VDD_SYS_GPU 77/77``), AGX Xavier JetPack 4 rails named like
temperatures (``GPU 466/466`` next to ``GPU@30C``), JetPack 5/6 ``NAME xmW/ymW`` with a leading
``MM-DD-YYYY HH:MM:SS`` timestamp and ``GR3D_FREQ x%@[F1,F2]`` arrays, JetPack 7
three-value rails (``xmW/ymW/zmW``) and ``name@xC/yC`` temperatures, engine fields
(``APE 174``, ``VIC_FREQ 729``, ``NVENC 79%@166``, ``NVENC0_FREQ @0``, ``NVDLA0 off``,
``NVENC_LOAD 7%``), ``MTS fg x% bg y%``, ``SWAP``/``IRAM``/``lfb`` with kB or MB blocks.

Units: RAM/SWAP MB, IRAM kB, loads %, frequencies MHz, temperatures degC, rails mW (unitless
values before JetPack 5 are mW too). A field may hold runs of blanks where it usually has one
(``NVENC      off``, ``APE           174``, ``VDD_IN  5mW/5mW``, ``CPU  [...]``: tegrastats pads
columns on some releases). Anything not understood is kept, token by token, in
:attr:`TegraSample.unparsed`, and :class:`TegrastatsReader` counts it by name
(:attr:`TegrastatsReader.unparsed`), which the telemetry summary carries as ``unparsed_fields``.

Example:
    >>> s = parse_line("RAM 936/3964MB (lfb 366x4MB) CPU [10%@102,off] GR3D_FREQ 0%@76 GPU@28C POM_5V_IN 920/920 ???")
    >>> s.ram_used_mb, s.cpus[1].online, s.gpu_freq_mhz, s.temps_c["GPU"], s.total_power_mw(), s.unparsed
    (936, False, 76.0, 28.0, (920.0, 'POM_5V_IN'), ('???',))
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Callable, Mapping

__all__ = [
    "ABSENT_SENSOR_C",
    "CpuCore",
    "Engine",
    "Rail",
    "TegraSample",
    "TegrastatsReader",
    "TOTAL_RAILS",
    "parse_line",
    "sample_readings",
    "unparsed_name",
]

ABSENT_SENSOR_C = -256.0
"""tegrastats prints ``-256C`` for a sensor that is absent or powered off."""

TOTAL_RAILS = ("VDD_IN", "POM_5V_IN", "VIN")
"""Rails that measure the module's whole input. ``VIN`` is JetPack 7's (Thor, AGX Orin r39)
input rail: on the shared Thor line it reads 87.4 W against 74.8 W for the other three rails
together, as an input rail (conversion losses included) would."""

_PLACEHOLDER_TEMPS = ("PMIC",)  # PMIC@100C / PMIC@50C are fixed values, not readings
_NOT_A_RAIL = ("NC",)  # INA3221 channels that are not connected
_KNOWN_ENGINES = re.compile(r"^(APE|AVP|MSENC|NVENC\d*|NVDEC\d*|NVJPG\d*|VIC\d*|OFA|NVDLA\d+|PVA\d+|SE|CV\d*)$")


@dataclass(frozen=True)
class CpuCore:
    """One core: load %, frequency MHz, and whether it is online (``off`` cores are not)."""

    load_pct: float | None
    freq_mhz: float | None
    online: bool = True


@dataclass(frozen=True)
class Engine:
    """An accelerator/engine field: load %, frequency MHz, or off."""

    load_pct: float | None = None
    freq_mhz: float | None = None
    off: bool = False


@dataclass(frozen=True)
class Rail:
    """A power rail: current, average and (JetPack 7) third value, all in mW."""

    name: str
    current_mw: float
    average_mw: float
    third_mw: float | None = None


@dataclass(frozen=True)
class TegraSample:
    """What one tegrastats line said. Fields it did not print are None / empty."""

    raw: str
    timestamp: str | None = None
    ram_used_mb: int | None = None
    ram_total_mb: int | None = None
    lfb_blocks: int | None = None
    lfb_block_kb: float | None = None
    swap_used_mb: int | None = None
    swap_total_mb: int | None = None
    swap_cached_mb: int | None = None
    iram_used_kb: int | None = None
    iram_total_kb: int | None = None
    iram_lfb_kb: int | None = None
    cpus: tuple[CpuCore, ...] = ()
    emc_load_pct: float | None = None
    emc_freq_mhz: float | None = None
    gpu_load_pct: float | None = None
    gpu_freq_mhz: float | None = None
    gpu_freqs_mhz: tuple[float, ...] = ()
    gpu2_load_pct: float | None = None
    gpu2_freq_mhz: float | None = None
    engines: Mapping[str, Engine] = field(default_factory=dict, hash=False)
    mts_fg_pct: float | None = None
    mts_bg_pct: float | None = None
    edp_limit_mhz: float | None = None
    temps_c: Mapping[str, float] = field(default_factory=dict, hash=False)
    temps_second_c: Mapping[str, float] = field(default_factory=dict, hash=False)
    rails: tuple[Rail, ...] = ()
    unparsed: tuple[str, ...] = ()

    @property
    def is_tegrastats(self) -> bool:
        """True when the line held at least one tegrastats field (a ``date`` header does not)."""
        return any((self.ram_total_mb is not None, self.cpus, self.rails, self.temps_c,
                    self.gpu_load_pct is not None, self.gpu_freqs_mhz, self.emc_freq_mhz is not None))

    def rail(self, name: str) -> Rail | None:
        """The first rail called ``name`` (AGX Orin prints two ``NC`` rails)."""
        return next((r for r in self.rails if r.name == name), None)

    def total_power_mw(self) -> tuple[float, str] | None:
        """Total module power (current value, mW) and where it came from.

        ``VDD_IN`` / ``POM_5V_IN`` / ``VIN`` when printed, else the sum of the rails (``NC``
        channels excluded), named ``"sum(A+B+...)"``; None without rails.
        """
        for name in TOTAL_RAILS:
            r = self.rail(name)
            if r is not None:
                return r.current_mw, name
        parts = [r for r in self.rails if r.name not in _NOT_A_RAIL]
        if not parts:
            return None
        return sum(r.current_mw for r in parts), "sum(" + "+".join(r.name for r in parts) + ")"

    def valid_temps_c(self) -> dict[str, float]:
        """Temperatures that are readings: without ``-256C`` (absent) and the fixed ``PMIC`` value."""
        return {k: v for k, v in self.temps_c.items() if v != ABSENT_SENSOR_C and k.upper() not in _PLACEHOLDER_TEMPS}


_NUM = r"-?\d+(?:\.\d+)?"
_KNOWN = r"(?:APE|AVP|MSENC|NVENC\d*|NVDEC\d*|NVJPG\d*|VIC\d*|OFA|NVDLA\d+|PVA\d+|SE)"
# One alternation, tried in this order at each field start; each kind's inner groups are unnamed.
# A bare "NAME 123" or "NAME 12%" is an engine only for known engine names, so that e.g. the
# "UTC 2021" of a date header is not read as an engine.
_KINDS: list[tuple[str, str]] = [
    ("ts", r"\A(\d{2}-\d{2}-\d{4} \d{2}:\d{2}:\d{2})"),
    ("ram", r"RAM (\d+)/(\d+)MB(?: ?\(lfb (\d+)x(\d+)(kB|MB)\))?"),
    ("swap", r"SWAP (\d+)/(\d+)MB(?: ?\(cached (\d+)MB\))?"),
    ("iram", r"IRAM (\d+)/(\d+)kB(?: ?\(lfb (\d+)kB\))?"),
    ("cpu", r"CPU \[ ?([^\]]*?) ?\]"),
    ("cpu_old", r"cpu \[ ?([^\]]*?) ?\]@(\d+)"),
    ("mts", r"MTS fg (\d+)% bg (\d+)%"),
    ("edp", r"EDP limit (\d+)"),
    ("emc", r"(?:EMC_FREQ|EMC) (?:(\d+)%(?:@(\d+))?|@(\d+))"),
    ("gr3d", r"(GR3D\d*)(?:_FREQ)? (?:(\d+)%(?:@\[?(\d+(?:,\s*\d+)*)\]?)?|@\[?(\d+(?:,\s*\d+)*)\]?)"),
    ("rail", rf"([A-Za-z][A-Za-z0-9_]*) ({_NUM})(?:mW)?\s*/\s*({_NUM})(?:mW)?(?:\s*/\s*({_NUM})(?:mW)?)?"),
    ("engine_off", r"([A-Z][A-Z0-9_]*) off"),
    ("engine_load_freq", r"([A-Z][A-Z0-9_]*) (\d+)%@(\d+)"),
    ("engine_at", r"([A-Z][A-Z0-9]*)_FREQ @(\d+)"),
    ("engine_load", r"([A-Z][A-Z0-9]*)_LOAD (\d+)%"),
    ("engine_freq", rf"({_KNOWN}|[A-Z][A-Z0-9]*(?=_FREQ ))(?:_FREQ)? (\d+)"),
    ("engine_pct", rf"({_KNOWN}) (\d+)%"),
    ("temp", rf"([A-Za-z][A-Za-z0-9_]*)@({_NUM})C(?:/({_NUM})C)?"),
]


def _tolerant(rx: str) -> str:
    """The field pattern with any run of blanks where it shows one space (``NVENC      off``,
    ``VDD_IN  5mW/5mW``, ``CPU  [...]``): tegrastats pads some fields to align columns."""
    return rx.replace(" ", "\x00").replace("\x00?", r"\s*").replace("\x00", r"\s+")


_KINDS = [(k, _tolerant(rx)) for k, rx in _KINDS]
_FIELD = re.compile("(?:" + "|".join(f"(?P<{k}>{rx})" for k, rx in _KINDS) + r")(?=\s|$)")
_SPANS: dict[str, tuple[int, int]] = {}
_i = 0
for _k, _rx in _KINDS:
    _n = re.compile(_rx).groups
    _SPANS[_k] = (_i + 1, _i + 1 + _n)  # inner groups of the kind, as indices into m.groups()
    _i += _n + 1
_CORE_RE = re.compile(r"^(\d+)%(?:@(\d+))?$")


def _engine_name(name: str) -> str:
    for suffix in ("_FREQ", "_LOAD"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def parse_line(line: str) -> TegraSample:
    """Parse one tegrastats line. Never raises: what it cannot read goes to ``unparsed``.

    Args:
        line: one line of tegrastats output (a trailing newline is fine).

    Returns:
        A :class:`TegraSample`; ``sample.is_tegrastats`` is False for lines with no field
        (e.g. a ``date`` header in a log).
    """
    text = line.strip() if isinstance(line, str) else ""
    f: dict = {}
    cpus: list[CpuCore] = []
    engines: dict[str, Engine] = {}
    temps: dict[str, float] = {}
    temps2: dict[str, float] = {}
    rails: list[Rail] = []
    unparsed: list[str] = []
    pos, n = 0, len(text)
    while pos < n:
        if text[pos].isspace():
            pos += 1
            continue
        m = _FIELD.match(text, pos)
        if m is None:
            end = pos
            while end < n and not text[end].isspace():
                end += 1
            unparsed.append(text[pos:end])
            pos = end
            continue
        kind = m.lastgroup
        a, b = _SPANS[kind]
        g = m.groups()[a:b]
        pos = m.end()
        if kind == "ts":
            f["timestamp"] = " ".join(g[0].split())
        elif kind == "ram":
            f["ram_used_mb"], f["ram_total_mb"] = int(g[0]), int(g[1])
            if g[2] is not None:
                f["lfb_blocks"] = int(g[2])
                f["lfb_block_kb"] = float(g[3]) * (1024 if g[4] == "MB" else 1)
        elif kind == "swap":
            f["swap_used_mb"], f["swap_total_mb"] = int(g[0]), int(g[1])
            f["swap_cached_mb"] = int(g[2]) if g[2] is not None else None
        elif kind == "iram":
            f["iram_used_kb"], f["iram_total_kb"] = int(g[0]), int(g[1])
            f["iram_lfb_kb"] = int(g[2]) if g[2] is not None else None
        elif kind == "cpu":
            for i, entry in enumerate(e.strip() for e in g[0].split(",")) if g[0] else ():
                if entry == "off":
                    cpus.append(CpuCore(None, None, online=False))
                    continue
                cm = _CORE_RE.match(entry)
                if cm is None:
                    cpus.append(CpuCore(None, None))
                    unparsed.append(f"CPU[{i}]={entry}")
                else:
                    cpus.append(CpuCore(float(cm.group(1)), float(cm.group(2)) if cm.group(2) else None))
        elif kind == "cpu_old":
            freq = float(g[1])
            for i, entry in enumerate(e.strip() for e in g[0].split(",")) if g[0] else ():
                cm = _CORE_RE.match(entry)
                if cm is None or cm.group(2):
                    cpus.append(CpuCore(None, freq))
                    unparsed.append(f"cpu[{i}]={entry}")
                else:
                    cpus.append(CpuCore(float(cm.group(1)), freq))
        elif kind == "mts":
            f["mts_fg_pct"], f["mts_bg_pct"] = float(g[0]), float(g[1])
        elif kind == "edp":
            f["edp_limit_mhz"] = float(g[0])
        elif kind == "emc":
            f["emc_load_pct"] = float(g[0]) if g[0] is not None else None
            freq = g[1] if g[1] is not None else g[2]
            f["emc_freq_mhz"] = float(freq) if freq is not None else None
        elif kind == "gr3d":
            load = float(g[1]) if g[1] is not None else None
            raw = g[2] if g[2] is not None else g[3]
            freqs = tuple(float(x) for x in raw.split(",")) if raw else ()
            if g[0] == "GR3D":
                f["gpu_load_pct"], f["gpu_freqs_mhz"] = load, freqs
                f["gpu_freq_mhz"] = freqs[0] if freqs else None
            else:
                f["gpu2_load_pct"], f["gpu2_freq_mhz"] = load, freqs[0] if freqs else None
        elif kind == "rail":
            rails.append(Rail(g[0], float(g[1]), float(g[2]), float(g[3]) if g[3] is not None else None))
        elif kind == "engine_off":
            engines[_engine_name(g[0])] = Engine(off=True)
        elif kind == "engine_load_freq":
            engines[_engine_name(g[0])] = Engine(load_pct=float(g[1]), freq_mhz=float(g[2]))
        elif kind in ("engine_at", "engine_freq"):
            engines[g[0]] = Engine(freq_mhz=float(g[1]))
        elif kind in ("engine_load", "engine_pct"):
            engines[g[0]] = Engine(load_pct=float(g[1]))
        else:  # temp
            temps[g[0]] = float(g[1])
            if g[2] is not None:
                temps2[g[0]] = float(g[2])
    return TegraSample(
        raw=text, cpus=tuple(cpus), engines=MappingProxyType(engines), temps_c=MappingProxyType(temps),
        temps_second_c=MappingProxyType(temps2), rails=tuple(rails), unparsed=tuple(unparsed), **f,
    )


_TOKEN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def unparsed_name(token: str) -> str:
    """The name an unparsed token is counted under: its leading identifier (``CPU[3]=x`` ->
    ``CPU``), else ``(value)`` for a bare number or symbol, so counts stay few.

    Example:
        >>> unparsed_name("NEWENG"), unparsed_name("CPU[0]=abc"), unparsed_name("12x")
        ('NEWENG', 'CPU', '(value)')
    """
    m = _TOKEN_NAME.match(token)
    return m.group(0)[:40] if m else "(value)"


def sample_readings(sample: TegraSample) -> dict[str, float]:
    """Flat telemetry readings from one sample (the keys :mod:`devices.telemetry` summarises).

    Power in W (current values), frequencies in MHz, loads in %, temperatures in degC.
    """
    out: dict[str, float] = {}
    total = sample.total_power_mw()
    if total is not None:
        out["power_w"] = total[0] / 1000.0
    for r in sample.rails:
        if r.name not in _NOT_A_RAIL:
            out[f"rail_w:{r.name}"] = r.current_mw / 1000.0
            out[f"rail_avg_w:{r.name}"] = r.average_mw / 1000.0  # tegrastats' own running average
            if r.third_mw is not None:
                out[f"rail_peak_w:{r.name}"] = r.third_mw / 1000.0  # JetPack 7: the running peak
    if sample.gpu_load_pct is not None:
        out["gpu_util_pct"] = sample.gpu_load_pct
    if sample.gpu_freq_mhz is not None:
        out["gpu_mhz"] = sample.gpu_freq_mhz
    for i, mhz in enumerate(sample.gpu_freqs_mhz):
        out[f"gpc_mhz:{i}"] = mhz  # Orin prints one clock per GPC: GR3D_FREQ x%@[F1,F2]
    if sample.gpu2_load_pct is not None:
        out["gpu2_util_pct"] = sample.gpu2_load_pct
    if sample.gpu2_freq_mhz is not None:
        out["gpu2_mhz"] = sample.gpu2_freq_mhz
    for name, engine in sample.engines.items():
        out[f"engine_off:{name}"] = 1.0 if engine.off else 0.0
        if engine.load_pct is not None:
            out[f"engine_util_pct:{name}"] = engine.load_pct
        if engine.freq_mhz is not None:
            out[f"engine_mhz:{name}"] = engine.freq_mhz
    if sample.emc_load_pct is not None:
        out["emc_util_pct"] = sample.emc_load_pct
    if sample.emc_freq_mhz is not None:
        out["emc_mhz"] = sample.emc_freq_mhz
    for i, core in enumerate(sample.cpus):
        if core.online and core.freq_mhz is not None:
            out[f"cpu_mhz:{i}"] = core.freq_mhz
        if core.online and core.load_pct is not None:
            out[f"cpu_util_pct:{i}"] = core.load_pct
    for name, value in sample.valid_temps_c().items():
        out[f"temp_c:{name}"] = value
    if sample.ram_used_mb is not None:
        out["ram_used_mb"] = float(sample.ram_used_mb)
    return out


class TegrastatsReader:
    """Runs ``tegrastats --interval MS`` and stamps each line with ``clock()`` on arrival.

    tegrastats' own timestamp has one-second resolution, so arrival time is what aligns the
    samples to the timed window (late by at most the pipe latency). Output is line-buffered
    through ``stdbuf -oL`` where available.

    Args:
        interval_s: tegrastats sampling interval (it accepts milliseconds, >= 1 ms).
        clock: the clock the timed window uses.
        executable: tegrastats path (default: found on PATH or /usr/bin/tegrastats).
        popen: ``subprocess.Popen`` (tests inject a fake).
    """

    name = "tegrastats"

    def __init__(self, *, interval_s: float = 0.1, clock: Callable[[], float], executable: str | None = None,
                 popen: Callable[..., subprocess.Popen] = subprocess.Popen) -> None:
        self.interval_ms = max(1, int(round(interval_s * 1000)))
        self.clock = clock
        self.executable = executable or shutil.which("tegrastats") or "/usr/bin/tegrastats"
        self._popen = popen
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.samples: list[tuple[float, TegraSample]] = []
        self.error: str | None = None
        self.unparsed: dict[str, int] = {}
        """Fields (by name) and non-tegrastats lines (``(line)``) not understood: counted, never silent."""

    def command(self) -> list[str]:
        """The command line run."""
        cmd = [self.executable, "--interval", str(self.interval_ms)]
        stdbuf = shutil.which("stdbuf")
        return [stdbuf, "-oL", *cmd] if stdbuf else cmd

    def start(self) -> None:
        """Spawn tegrastats and the reading thread.

        Raises:
            OSError: tegrastats could not be started (the caller records why).
        """
        if self._popen is subprocess.Popen and not os.access(self.executable, os.X_OK):
            raise FileNotFoundError(2, "not found or not executable", self.executable)
        self._proc = self._popen(self.command(), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True, bufsize=1)
        self._thread = threading.Thread(target=self._read, name="tegrastats-reader", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        stdout = self._proc.stdout if self._proc is not None else None
        if stdout is None:
            return
        for line in stdout:
            t = self.clock()
            sample = parse_line(line)
            with self._lock:
                if sample.is_tegrastats:
                    self.samples.append((t, sample))
                    for token in sample.unparsed:
                        key = unparsed_name(token)
                        self.unparsed[key] = self.unparsed.get(key, 0) + 1
                elif sample.raw:
                    self.unparsed["(line)"] = self.unparsed.get("(line)", 0) + 1

    def stop(self) -> list[tuple[float, TegraSample]]:
        """Stop tegrastats and return the ``(time, sample)`` pairs read."""
        proc = self._proc
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=2)
            if proc.returncode not in (0, -15, None) and not self.samples:
                self.error = f"tegrastats exited with status {proc.returncode}"
        if self._thread is not None:
            self._thread.join(timeout=2)
        with self._lock:
            return list(self.samples)
