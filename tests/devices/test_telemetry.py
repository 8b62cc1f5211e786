"""Telemetry sources and the sampler: fake sysfs trees, a fake NVML, fake tegrastats, fake clocks."""

from __future__ import annotations

import io
import sys

import pytest

from devices.profiles import load_profile
from devices.telemetry import Sampler, start_sampling
from devices.telemetry.sources import (Ina3221Source, NvmlSource, TegrastatsSource,
                                       ThermalSource, sources_for)
from devices.telemetry.summary import TelemetrySummary
from tests.devices.fakes import data_lines, fake_nvml, write_tree

NEVER = 3600.0  # polling interval for tests that drive polls with mark(): the thread never fires


class FakeClock:
    def __init__(self, t=100.0):
        self.t = t

    def __call__(self):
        return self.t


class Scripted:
    """A polling source whose values are a function of the fake clock's time."""

    streaming = False

    def __init__(self, name, clock, fn, flags=lambda t: (), info=None):
        self.name, self.clock, self.fn, self.flags, self.info = name, clock, fn, flags, info or {}
        self.closed = False

    def open(self, clock):
        pass

    def read(self):
        t = self.clock()
        return self.fn(t), tuple(self.flags(t))

    def close(self):
        self.closed = True


def drive(sampler, clock, times):
    marks = []
    for t in times:
        clock.t = t
        marks.append(sampler.mark())
    return marks


def test_power_ramp_energy_mean_peak_per_frame_and_only_measured_keys():
    clock = FakeClock()
    ramp = Scripted("ina3221", clock, lambda t: {"power_w": 5.0 + (t - 100.0), "rail_w:VDD_IN": 5.0 + (t - 100.0)},
                    info={"total": "VDD_IN"})
    s = Sampler([ramp], interval_s=NEVER, clock=clock).start()
    marks = drive(s, clock, [100.5, 101.0, 101.5, 102.0, 102.5, 103.0])
    clock.t = 103.2
    summary = s.stop(window=(marks[0], marks[-1]))  # 100.5 .. 103.0
    assert isinstance(summary, TelemetrySummary) and ramp.closed
    assert summary.window_s == pytest.approx(2.5)
    # P(t) = 5 + (t - 100): integral over [100.5, 103] = 5*2.5 + (3^2 - 0.5^2)/2
    assert summary.energy_j == pytest.approx(12.5 + 4.375)
    assert summary.power_mean_w == pytest.approx((12.5 + 4.375) / 2.5)
    assert summary.power_peak_w == pytest.approx(8.0)
    assert summary.power["source"] == "ina3221" and summary.power["total"] == "VDD_IN"
    assert summary.per_frame(100) == pytest.approx(0.16875)
    assert summary.fps_per_watt(40.0) == pytest.approx(40.0 / 6.75)
    assert summary.rails_w["VDD_IN"]["peak"] == pytest.approx(8.0)
    d = summary.to_dict()
    assert set(d) == {"window_s", "sources", "power", "rails_w"}  # nothing that was not measured
    assert "throttled" not in d and summary.throttled is None


def test_no_power_source_means_no_power_numbers():
    clock = FakeClock()
    s = Sampler([Scripted("psutil", clock, lambda t: {"proc_cpu_s": 2.0 * (t - 100.0), "rss_mb": 50.0 + t - 100.0})],
                interval_s=NEVER, clock=clock).start()
    m = drive(s, clock, [101.0, 102.0, 103.0])
    summary = s.stop(window=(m[0], m[-1]))
    assert summary.energy_j is None and summary.power_mean_w is None and summary.per_frame(10) is None
    assert summary.fps_per_watt(30.0) is None and "power" not in summary.to_dict()
    assert summary.process["cpu_percent"] == pytest.approx(200.0)  # two cores busy
    assert summary.process["rss_mb_peak"] == pytest.approx(53.0)


def test_cpu_wait_share_is_the_run_queue_wait_over_the_window():
    clock = FakeClock()

    def values(t):  # threads run 1.5 s and wait 0.5 s per second of the window; before it, they never waited
        d = max(0.0, t - 101.0)
        return {"proc_cpu_s": 1.5 * d, "proc_run_s": 10.0 + 1.5 * d, "proc_wait_s": 2.0 + 0.5 * d}

    s = Sampler([Scripted("psutil", clock, values)], interval_s=NEVER, clock=clock).start()
    m = drive(s, clock, [100.0, 101.0, 102.0, 103.0])
    summary = s.stop(window=(m[1], m[3]))
    assert summary.process["cpu_wait_share"] == pytest.approx(0.25)
    assert summary.to_dict()["process"]["cpu_wait_share"] == pytest.approx(0.25)
    # without schedstat readings the share is absent, never 0
    s = Sampler([Scripted("psutil", clock, lambda t: {"proc_cpu_s": t})], interval_s=NEVER, clock=clock).start()
    m = drive(s, clock, [104.0, 105.0])
    assert "cpu_wait_share" not in s.stop(window=(m[0], m[1])).process


def test_read_schedstat_sums_the_threads_and_tolerates_what_is_not_there(tmp_path):
    from devices.telemetry.sources import read_schedstat

    for tid, line in (("11", "3000000000 1000000000 40\n"), ("12", "1500000000 500000000 9\n"), ("13", "garbage\n")):
        task = tmp_path / "proc" / "77" / "task" / tid
        task.mkdir(parents=True)
        (task / "schedstat").write_text(line)
    (tmp_path / "proc" / "77" / "task" / "14").mkdir()  # a thread that ended: no file
    assert read_schedstat(77, root=tmp_path) == pytest.approx((4.5, 1.5))
    assert read_schedstat(78, root=tmp_path) is None


def test_power_source_preference_and_nvml_energy_counter():
    clock = FakeClock()
    tegra = Scripted("tegrastats", clock, lambda t: {"power_w": 99.0})
    nvml = Scripted("nvml", clock, lambda t: {"power_w": 100.0, "energy_j_counter": 5000.0 + 120.0 * (t - 100.0)})
    s = Sampler([tegra, nvml], interval_s=NEVER, clock=clock).start()
    m = drive(s, clock, [100.0, 101.0, 102.0])
    summary = s.stop(window=(m[0], m[-1]))
    assert summary.power["source"] == "nvml"
    assert summary.energy_j == pytest.approx(240.0)  # from the counter, not 100 W x 2 s
    assert summary.power["energy_method"] == "NVML total energy counter difference"


def test_window_edges_not_covered_by_power_samples_gives_no_energy():
    clock = FakeClock()
    sparse = Scripted("tegrastats", clock, lambda t: {"power_w": 3.0})
    s = Sampler([sparse], interval_s=0.1, clock=clock)
    s._polling, s._readings = [], {"tegrastats": [(101.0, {"power_w": 3.0}, ()), (101.1, {"power_w": 3.0}, ())]}
    s.started_at = 100.0
    summary = s.stop(window=(100.0, 101.1))
    assert summary.energy_j is None and summary.power["peak_w"] == 3.0
    assert any("do not cover the window" in n for n in summary.notes)


def test_throttling_from_clock_fall_and_flags():
    clock = FakeClock()
    gpu = Scripted("tegrastats", clock, lambda t: {"gpu_mhz": 1300.0 if t < 102 else 900.0, "cpu_mhz:0": 2000.0})
    s = Sampler([gpu], interval_s=NEVER, clock=clock).start()
    m = drive(s, clock, [100.0, 100.5, 101.0, 102.0, 102.5, 103.0])
    summary = s.stop(window=(m[0], m[-1]))
    assert summary.throttled is True
    assert summary.throttle_reasons == ("gpu clock fell 1300 -> 900 MHz during the window",)
    assert summary.clocks_before["gpu_mhz"] == 1300 and summary.clocks_after["gpu_mhz"] == 900
    clock = FakeClock()
    hot = Scripted("thermal", clock, lambda t: {"temp_c:cpu-thermal": 70.0 if t < 101.5 else 99.5},
                   flags=lambda t: ["temperature limit: cpu-thermal at 99.5 C >= passive trip 99 C"] if t >= 101.5 else [])
    s = Sampler([hot], interval_s=NEVER, clock=clock).start()
    m = drive(s, clock, [100.0, 101.0, 102.0])
    summary = s.stop(window=(m[0], m[-1]))
    assert summary.throttled is True and "passive trip" in summary.throttle_reasons[0]
    assert summary.temperatures_c == {"cpu-thermal": 99.5}


def test_steady_clocks_are_not_throttled():
    clock = FakeClock()
    src = Scripted("psutil", clock, lambda t: {"cpu_mhz:0": 2100.0, "cpu_mhz:1": 2090.0 + (t % 1)})
    s = Sampler([src], interval_s=NEVER, clock=clock).start()
    m = drive(s, clock, [100.0, 100.5, 101.0, 101.5])
    summary = s.stop(window=(m[0], m[-1]))
    assert summary.throttled is False and summary.cpu_freq_mhz["before"][0] == 2100.0
    assert summary.throttle_checks == ("cpu_max clock, start vs end of window",)
    assert summary.to_dict()["throttle_checks"] == ["cpu_max clock, start vs end of window"]


def test_unavailable_sources_are_noted_not_fatal(tmp_path):
    s = start_sampling([ThermalSource(root=tmp_path), Ina3221Source(root=tmp_path),
                        TegrastatsSource(executable=str(tmp_path / "no-tegrastats")),
                        NvmlSource(nvml=fake_nvml(init_error="Driver Not Loaded"))], interval_s=NEVER)
    summary = s.stop()
    notes = " | ".join(summary.notes)
    assert "thermal: no readable thermal zones" in notes and "ina3221: no INA3221 channels" in notes
    assert "tegrastats: tegrastats could not start" in notes and "nvml: NVML: Driver Not Loaded" in notes
    assert summary.sources == {} and summary.throttled is None


def test_sampler_thread_error_is_reraised_at_stop():
    class Boom:
        name, streaming, info = "boom", False, {}

        def __init__(self):
            self.n = 0

        def open(self, clock):
            pass

        def read(self):
            self.n += 1
            if self.n > 1:
                raise ZeroDivisionError("sampler bug")
            return {}, ()

        def close(self):
            pass

    boom = Boom()
    s = Sampler([boom], interval_s=0.001).start()
    import time
    deadline = time.monotonic() + 20
    while boom.n < 2 and time.monotonic() < deadline:
        time.sleep(0.005)
    with pytest.raises(ZeroDivisionError, match="sampler bug"):
        s.stop()


def ina_tree(root):
    hw = "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3"
    files = {f"{hw}/name": "ina3221\n"}
    for n, (label, mv, ma) in enumerate([("VDD_GPU_SOC", 5000, 480), ("VDD_CPU_CV", 5000, 80),
                                         ("VIN_SYS_5V0", 5000, 805), ("NC", 0, 0), ("VDDQ_VDD2_1V8AO", 5000, 60)], 1):
        files[f"{hw}/in{n}_label"] = label + "\n"
        files[f"{hw}/in{n}_input"] = f"{mv}\n"
        files[f"{hw}/curr{n}_input"] = f"{ma}\n"
    files[f"{hw}/in7_label"] = "sum of shunt voltages\n"
    files[f"{hw}/in7_input"] = "123\n"
    files["sys/class/hwmon/hwmon3/name"] = "ina3221\n"  # a second path to the same device kind
    return write_tree(root, files)


def test_ina3221_hwmon_sum_of_rails(tmp_path):
    src = Ina3221Source(root=ina_tree(tmp_path))
    src.open(FakeClock())
    assert src.info["rails"] == ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "VDDQ_VDD2_1V8AO"]
    values, _ = src.read()
    assert values["rail_w:VDD_GPU_SOC"] == pytest.approx(2.4) and values["rail_w:VDDQ_VDD2_1V8AO"] == pytest.approx(0.3)
    assert values["power_w"] == pytest.approx(2.4 + 0.4 + 4.025 + 0.3)
    assert src.info["total"].startswith("sum(")
    # values change between polls (sysfs is re-read each time)
    (tmp_path / "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon3/curr1_input").write_text("960\n")
    assert src.read()[0]["rail_w:VDD_GPU_SOC"] == pytest.approx(4.8)
    src.close()


def test_ina3221_vdd_in_total_and_legacy_iio(tmp_path):
    hw = "sys/bus/i2c/drivers/ina3221/1-0040/hwmon/hwmon1"
    write_tree(tmp_path / "a", {f"{hw}/in1_label": "VDD_IN", f"{hw}/in1_input": "5000", f"{hw}/curr1_input": "2000",
                                f"{hw}/in2_label": "VDD_CPU_GPU_CV", f"{hw}/in2_input": "5000", f"{hw}/curr2_input": "600"})
    src = Ina3221Source(root=tmp_path / "a")
    src.open(FakeClock())
    values, _ = src.read()
    assert values["power_w"] == pytest.approx(10.0) and src.info["total"] == "VDD_IN"
    iio = "sys/bus/i2c/drivers/ina3221x/6-0040/iio:device0"
    write_tree(tmp_path / "b", {f"{iio}/rail_name_0": "POM_5V_IN", f"{iio}/in_power0_input": "5143",
                                f"{iio}/rail_name_1": "POM_5V_GPU", f"{iio}/in_power1_input": "2949"})
    src = Ina3221Source(root=tmp_path / "b")
    src.open(FakeClock())
    values, _ = src.read()
    assert values == pytest.approx({"rail_w:POM_5V_IN": 5.143, "rail_w:POM_5V_GPU": 2.949, "power_w": 5.143})


def test_thermal_zones_and_passive_trip(tmp_path):
    z = "sys/class/thermal/thermal_zone"
    write_tree(tmp_path, {f"{z}0/type": "cpu-thermal\n", f"{z}0/temp": "45500\n",
                          f"{z}0/trip_point_0_type": "passive\n", f"{z}0/trip_point_0_temp": "99000\n",
                          f"{z}0/trip_point_1_type": "critical\n", f"{z}0/trip_point_1_temp": "105000\n",
                          f"{z}1/type": "gpu-thermal\n", f"{z}1/temp": "99000\n",
                          f"{z}1/trip_point_0_type": "passive\n", f"{z}1/trip_point_0_temp": "95500\n"})
    src = ThermalSource(root=tmp_path)
    src.open(FakeClock())
    values, flags = src.read()
    assert values == {"temp_c:cpu-thermal": 45.5, "temp_c:gpu-thermal": 99.0}
    assert flags == ("temperature limit: gpu-thermal at 99 C >= passive trip 95.5 C",)
    assert src.info["passive_trip_c"] == {"cpu-thermal": 99.0, "gpu-thermal": 95.5}
    src.close()


def test_nvml_source_per_metric_errors_and_throttle_reasons():
    nv = fake_nvml(unsupported=("nvmlDeviceGetTotalEnergyConsumption",),
                   values={"nvmlDeviceGetCurrentClocksThrottleReasons": lambda h: 0x1 | 0x40})
    src = NvmlSource(nvml=nv)
    src.open(FakeClock())
    v1, flags = src.read()
    v2, _ = src.read()
    assert "energy_j_counter" not in v1 and v1["power_w"] == 150.0 and v1["gpu_util_pct"] == 97.0
    assert v1["gpu_sm_mhz"] == 2520.0 and v1["gpu_temp_c"] == 61.0 and v1["gpu_mem_used_mb"] == 1024.0
    assert flags == ("throttle: hardware thermal slowdown",)  # idle bit is not throttling
    assert nv._state["calls"]["nvmlDeviceGetTotalEnergyConsumption"] == 1  # not asked again
    assert src.info["unsupported"][0].startswith("energy:") and v2 == v1
    src.close()


class FakePopen:
    """Stands in for subprocess.Popen running tegrastats: yields recorded lines."""

    def __init__(self, lines):
        self.lines = lines
        self.args = None
        self.returncode = None

    def __call__(self, args, **kwargs):
        self.args = args
        self.stdout = io.StringIO("".join(line + "\n" for line in self.lines))
        return self

    def terminate(self):
        self.returncode = -15

    def wait(self, timeout=None):
        return self.returncode

    def kill(self):
        self.returncode = -9


def test_tegrastats_source_with_recorded_lines():
    lines = data_lines("agx-orin-64gb-jp6_tegrastats_parser-abdel-e.txt")
    popen = FakePopen(["Tue Jan 26 18:22:31 UTC 2021", *lines])  # the date header is skipped
    ticks = iter(range(1000))
    src = TegrastatsSource(interval_s=0.25, executable="/usr/bin/tegrastats", popen=popen)
    src.open(lambda: float(next(ticks)))
    assert popen.args[-3:] == ["/usr/bin/tegrastats", "--interval", "250"]
    import time
    deadline = time.monotonic() + 5
    while len(src._reader.samples) < len(lines) and time.monotonic() < deadline:
        time.sleep(0.01)
    readings = src.close()
    assert len(readings) == 4
    t, values, flags = readings[0]
    assert values["power_w"] == pytest.approx(2.801 + 0.4 + 4.536 + 0.604)
    assert values["gpu_mhz"] == 305.0 and values["temp_c:gpu"] == 43.218 and flags == ()
    assert src.info["total"] == "sum(VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0+VDDQ_VDD2_1V8AO)"


def test_tegrastats_reader_real_subprocess(tmp_path):
    # a stand-in executable that prints recorded lines at the requested interval
    script = tmp_path / "tegrastats"
    lines = data_lines("orin-nano-8gb-jp6_beszel.txt") * 3
    script.write_text("#!" + sys.executable + "\nimport sys, time\n"
                      f"lines = {lines!r}\n"
                      "ms = int(sys.argv[sys.argv.index('--interval') + 1])\n"
                      "for l in lines:\n    print(l, flush=True)\n    time.sleep(ms / 1000)\n"
                      "time.sleep(30)\n")
    script.chmod(0o755)
    src = TegrastatsSource(interval_s=0.02, executable=str(script))
    s = start_sampling([src], interval_s=0.02)
    import time
    deadline = time.monotonic() + 20  # generous: a loaded CI machine starts the child slowly
    while len(src._reader.samples) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    summary = s.stop()
    assert summary.sources["tegrastats"]["samples"] == 3
    assert summary.power["source"] == "tegrastats" and summary.power["peak_w"] == pytest.approx(12.479)
    assert summary.gpu["gpu_util_pct_mean"] == 63.0


def test_profile_sources_and_live_psutil_window():
    assert [s.name for s in sources_for(load_profile("jetson-agx-orin").telemetry)] == \
        ["psutil", "thermal", "ina3221", "tegrastats"]
    assert [s.name for s in sources_for(load_profile("desktop-gpu").telemetry)] == ["psutil", "thermal", "nvml"]
    s = start_sampling(load_profile("cpu"), interval_s=0.02)
    t0 = s.mark()
    total = 0
    for i in range(200_000):
        total += i
    t1 = s.mark()
    summary = s.stop(window=(t0, t1))
    assert summary.process["cpu_percent"] >= 0 and summary.process["rss_mb_peak"] > 0
    assert summary.system_memory["total_mb"] > 0
    from devices.telemetry.sources import read_schedstat

    if read_schedstat() is not None:  # Linux with scheduler statistics
        assert 0 <= summary.process["cpu_wait_share"] <= 1
    assert summary.energy_j is None and "power" not in summary.to_dict()


def test_tegrastats_that_exits_at_once_is_noted(tmp_path):
    script = tmp_path / "tegrastats"
    script.write_text("#!/bin/sh\necho 'tegrastats: permission denied' >&2\nexit 3\n")
    script.chmod(0o755)
    s = start_sampling([TegrastatsSource(interval_s=0.02, executable=str(script))], interval_s=0.02)
    import time
    time.sleep(0.2)
    summary = s.stop()
    assert "tegrastats: tegrastats exited with status 3" in summary.notes
    assert summary.sources["tegrastats"]["samples"] == 0 and not summary.power
