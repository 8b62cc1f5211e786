"""The tegrastats parser on every shared recorded line, the README's expected values, and fuzzing."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.telemetry.tegrastats import ABSENT_SENSOR_C, parse_line, sample_readings
from tests.devices.fakes import DATA, data_lines

ID_FILES = ("nv_tegra_release", "device-tree", "nvpmodel")
TEGRA_FILES = sorted(p.name for p in DATA.glob("*.txt") if not p.name.startswith(ID_FILES))
DATE_LINES = {("agx-xavier-32gb-jp5_tegrastats_parser_fork.txt", 1), ("agx-xavier-32gb-jp5_tegrastats_parser_fork.txt", 3),
              ("tx2-l4t32_tegrastats_parser.txt", 1)}
ALL_LINES = [(f, i + 1, line) for f in TEGRA_FILES for i, line in enumerate(data_lines(f))]


def test_shared_set_is_complete():
    # README: 23 tegrastats files holding 56 lines = 53 tegrastats lines + 3 date headers
    assert len(TEGRA_FILES) == 23 and len(ALL_LINES) == 56


@pytest.mark.parametrize("name, lineno, line", ALL_LINES, ids=[f"{f}:{i}" for f, i, _ in ALL_LINES])
def test_every_shared_line_parses(name, lineno, line):
    s = parse_line(line)
    if (name, lineno) in DATE_LINES:
        assert not s.is_tegrastats and s.unparsed == tuple(line.split())
        return
    assert s.is_tegrastats and s.unparsed == (), s.unparsed
    assert s.ram_total_mb and s.ram_used_mb <= s.ram_total_mb
    # one CpuCore per entry printed in the CPU list
    m = re.search(r"(?:CPU|cpu) \[([^\]]*)\]", line)
    assert len(s.cpus) == len(m.group(1).split(","))
    assert sum(1 for c in s.cpus if not c.online) == m.group(1).split(",").count("off")
    assert len(s.temps_c) == len(re.findall(r"@-?[\d.]+C", line))
    assert len(s.rails) == len(re.findall(r" \d+(?:mW)?/\d+(?:mW)?(?:/\d+(?:mW)?)?(?=\s|$)", line))
    if line[:2].isdigit():
        assert s.timestamp == line[:19]
    if s.rails:
        assert s.total_power_mw() is not None
    readings = sample_readings(s)
    assert all(isinstance(v, float) for v in readings.values())
    assert ABSENT_SENSOR_C not in readings.values()


def one(name, lineno=1):
    return parse_line(data_lines(name)[lineno - 1])


def rails(s):
    return [(r.name, r.current_mw, r.average_mw, r.third_mw) for r in s.rails]


def cores(s):
    return [(c.load_pct, c.freq_mhz) if c.online else "off" for c in s.cpus]


def test_readme_agx_orin_jp72():
    s = one("agx-orin-jp7.2_jetson_stats.txt")
    assert (s.ram_used_mb, s.ram_total_mb, s.swap_total_mb) == (20642, 62817, None)
    assert [c.load_pct for c in s.cpus] == [23, 10, 4, 14, 30, 18, 10, 10, 33, 7, 5, 27]
    assert {c.freq_mhz for c in s.cpus} == {2201}
    assert (s.emc_load_pct, s.emc_freq_mhz) == (3, 3199)
    assert (s.gpu_load_pct, s.gpu_freqs_mhz, s.gpu_freq_mhz) == (12, (1300, 1300), 1300)
    assert s.engines["APE"].freq_mhz == 174
    for e in ("NVENC0", "NVDEC0", "NVJPG0", "NVJPG1", "VIC", "OFA", "NVDLA0", "NVDLA1", "PVA0"):
        assert s.engines[e].off
    assert dict(s.temps_c) == {"cpu": 52.968, "soc2": 48.406, "soc0": 49.531, "gpu": 47.625}
    assert dict(s.temps_second_c) == dict(s.temps_c)
    assert rails(s) == [("VDD_GPU_SOC", 5139, 5139, 5139), ("VDD_CPU_CV", 3268, 3268, 3268), ("VIN_SYS_5V0", 5500, 5500, 5500)]
    assert s.total_power_mw() == (5139 + 3268 + 5500, "sum(VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0)")


def test_readme_nano_jp4():
    s = one("nano-4gb-jp4_csc2231.txt", 4)
    assert (s.ram_used_mb, s.ram_total_mb, s.swap_used_mb, s.swap_total_mb, s.swap_cached_mb) == (1762, 3964, 0, 4096, 0)
    assert (s.iram_used_kb, s.iram_total_kb, s.iram_lfb_kb) == (0, 252, 252)
    assert cores(s) == [(17, 204), (0, 204), (3, 204), (3, 204)]
    assert (s.emc_load_pct, s.emc_freq_mhz, s.gpu_load_pct, s.gpu_freq_mhz) == (4, 1600, 99, 921)
    assert s.engines["APE"].freq_mhz == 25
    assert dict(s.temps_c) == {"PLL": 25, "CPU": 28.5, "PMIC": 50, "GPU": 27, "AO": 30, "thermal": 27}
    assert "PMIC" not in s.valid_temps_c()
    assert rails(s) == [("POM_5V_IN", 5143, 2615, None), ("POM_5V_GPU", 2949, 182, None), ("POM_5V_CPU", 179, 998, None)]
    assert s.total_power_mw() == (5143, "POM_5V_IN")


def test_readme_tx1_legacy():
    s = one("tx1-l4t28.1_jetson-tx1-dev.txt", 4)
    assert (s.ram_used_mb, s.ram_total_mb, s.swap_used_mb, s.swap_total_mb, s.swap_cached_mb) == (3607, 3983, 873, 8192, 281)
    assert cores(s) == [(17, 1734), (11, 1734), (65, 1734), (0, 1734)]
    assert (s.emc_load_pct, s.emc_freq_mhz, s.gpu_load_pct, s.gpu_freq_mhz) == (1, 1600, 39, 76)
    assert s.engines["APE"].freq_mhz == 25
    assert not s.temps_c and not s.rails and s.total_power_mw() is None
    s = one("tx1-l4t24_gtop.txt")
    assert s.edp_limit_mhz == 1734 and s.engines["AVP"] == type(s.engines["AVP"])(1, 115) and s.engines["MSENC"].freq_mhz == 192


def test_readme_tx2_l4t282():
    s = one("tx2-l4t28.2_realtime_object_detection-issue24.txt", 2)
    assert (s.ram_used_mb, s.ram_total_mb, s.swap_used_mb, s.swap_cached_mb) == (1685, 7854, 278, 23)
    assert cores(s) == [(4, 346), (0, 344), (0, 345), (1, 345), (0, 345), (2, 345)]
    assert (s.emc_load_pct, s.emc_freq_mhz, s.gpu_load_pct, s.gpu_freq_mhz) == (16, 102, 0, 140)
    assert (s.mts_fg_pct, s.mts_bg_pct, s.engines["APE"].freq_mhz) == (0, 0, 150)
    assert dict(s.temps_c) == {"BCPU": 41, "MCPU": 41, "GPU": 39, "PLL": 41, "Tboard": 37, "Tdiode": 37.25, "PMIC": 100, "thermal": 39.9}
    assert rails(s) == [("VDD_IN", 1776, 1853, None), ("VDD_CPU", 231, 231, None), ("VDD_GPU", 154, 154, None),
                        ("VDD_SOC", 386, 385, None), ("VDD_WIFI", 38, 38, None), ("VDD_DDR", 250, 288, None)]
    assert s.total_power_mw() == (1776, "VDD_IN")


def test_readme_tx2_l4t32_no_freqs():
    s = one("tx2-l4t32_tegrastats_parser.txt", 4)
    assert (s.emc_load_pct, s.emc_freq_mhz, s.gpu_load_pct, s.gpu_freq_mhz) == (0, None, 99, None)
    assert cores(s) == [(3, 345), (21, 2035), (65, 2035), (1, 345), (0, 345), (0, 345)]
    assert rails(s)[3] == ("VDD_IN", 7842, 4150, None) and rails(s)[2] == ("VDD_4V0_WIFI", 0, 0, None)
    assert s.temps_c["Tdiode"] == 36.5 and s.temps_c["thermal"] == 34.8


def test_readme_agx_xavier_jp4_rail_names_collide_with_temps():
    s = one("agx-xavier-16gb-jp4_jetson_stats.txt")
    assert cores(s) == [(1, 1160), (2, 1161), (0, 1189), (0, 1189), "off", "off", "off", "off"]
    assert (s.emc_load_pct, s.emc_freq_mhz, s.gpu_load_pct, s.gpu_freq_mhz) == (0, 665, 0, 114)
    assert s.temps_c["GPU"] == 30 and s.temps_c["CPU"] == 30 and s.temps_c["thermal"] == 29.45
    assert rails(s) == [("GPU", 466, 466, None), ("CPU", 466, 466, None), ("SOC", 932, 932, None),
                        ("CV", 0, 0, None), ("VDDRQ", 0, 0, None), ("SYS5V", 1854, 1854, None)]
    assert s.total_power_mw()[0] == 466 + 466 + 932 + 1854
    s2 = one("agx-xavier-16gb-jp4_jetson_stats.txt", 2)  # non-root: no freqs
    assert (s2.emc_freq_mhz, s2.gpu_load_pct, s2.gpu_freq_mhz) == (None, 4, None)


def test_readme_xavier_nx_jp5():
    s = one("xavier-nx-8gb-jp5_tegra_burn.txt")
    assert s.timestamp == "10-01-2025 19:41:42"
    assert (s.ram_used_mb, s.ram_total_mb, s.lfb_blocks, s.lfb_block_kb) == (1650, 6834, 20, 2048)
    assert (s.swap_used_mb, s.swap_total_mb, s.swap_cached_mb) == (441, 3417, 1)
    assert cores(s) == [(29, 1189), (22, 1189), (17, 1190), (22, 1189), "off", "off"]
    assert (s.gpu_load_pct, s.gpu_freqs_mhz) == (0, (114,)) and s.engines["VIC"].freq_mhz == 115
    assert rails(s) == [("VDD_IN", 4552, 4552, None), ("VDD_CPU_GPU_CV", 637, 637, None), ("VDD_SOC", 1236, 1236, None)]
    s4 = one("xavier-nx-8gb-jp5_tegra_burn.txt", 4)
    assert (s4.lfb_blocks, s4.lfb_block_kb) == (54, 128)


def test_readme_agx_orin_jp5_absent_sensors_and_two_nc_rails():
    s = one("agx-orin-64gb-jp5_jetson_exporter.txt")
    assert cores(s) == [(0, 729)] * 12
    assert (s.swap_used_mb, s.swap_total_mb, s.gpu_freqs_mhz) == (19, 31400, (0, 0))
    assert dict(s.temps_c) == {"CV0": -256, "CPU": 44.562, "Tboard": 32, "SOC2": 40.093, "Tdiode": 33, "SOC0": 41.093,
                               "CV1": -256, "GPU": -256, "tj": 44.343, "SOC1": 41.25, "CV2": -256}
    assert set(s.valid_temps_c()) == {"CPU", "Tboard", "SOC2", "Tdiode", "SOC0", "tj", "SOC1"}
    assert [r.name for r in s.rails] == ["VDD_GPU_SOC", "VDD_CPU_CV", "VIN_SYS_5V0", "NC", "VDDQ_VDD2_1V8AO", "NC"]
    assert s.total_power_mw() == (2340 + 390 + 4025 + 301, "sum(VDD_GPU_SOC+VDD_CPU_CV+VIN_SYS_5V0+VDDQ_VDD2_1V8AO)")
    assert "rail_w:NC" not in sample_readings(s)


def test_readme_orin_nano_jp6():
    s = one("orin-nano-8gb-jp6_beszel.txt")
    assert (s.gpu_load_pct, s.gpu_freq_mhz, s.emc_load_pct, s.emc_freq_mhz) == (63, 621, 43, 2133)
    assert s.temps_c["cpu"] == 53.968 and s.engines["APE"].freq_mhz == 200 and s.engines["NVJPG1"].off
    assert s.rail("VDD_CPU_GPU_CV").current_mw == 4667 and s.total_power_mw() == (12479, "VDD_IN")
    r = sample_readings(s)
    assert r["power_w"] == 12.479 and r["gpu_util_pct"] == 63 and r["temp_c:gpu"] == 53.343


def test_readme_agx_orin_jp621_engines():
    s = one("agx-orin-64gb-jp6.2.1-r36.4.4_tegra-exporter.txt")
    assert s.timestamp == "05-09-2026 18:42:06" and (s.lfb_blocks, s.lfb_block_kb) == (466, 4096)
    assert cores(s)[:4] == [(14, 2188), (5, 2112), (8, 2035), (14, 2201)] and cores(s)[-1] == (10, 1036)
    assert s.engines["NVENC"] == type(s.engines["NVENC"])(79, 166) and s.engines["VIC"].load_pct == 36
    assert s.engines["PVA0"].off and s.engines["NVDEC"].off


def test_readme_thor():
    s = one("thor-jp7.1-r38.4_tegra-exporter.txt", 2)
    assert (s.ram_used_mb, s.ram_total_mb, s.lfb_blocks) == (4280, 125773, 29)
    assert [c.load_pct for c in s.cpus] == [0, 0, 0, 0, 1, 0, 1, 0, 0, 17, 1, 9, 0, 1]
    assert s.cpus[9].freq_mhz == 2601 and s.cpus[10].freq_mhz == 972
    assert (s.gpu_load_pct, s.gpu_freqs_mhz) == (None, (0, 0, 0))
    assert s.engines["NVENC0"].freq_mhz == 0 and s.engines["OFA"].freq_mhz == 0 and s.engines["VIC"].off
    assert s.engines["APE"].freq_mhz == 300
    assert rails(s) == [("VDD_GPU", 0, 0, None), ("VDD_CPU_SOC_MSS", 4923, 4544, None), ("VIN_SYS_5V0", 4327, 4227, None)]
    n = one("thor-jp7.2-r39.2-nonroot_wendy-agent.txt")
    assert n.emc_freq_mhz is None and n.gpu_load_pct is None and not n.engines
    assert rails(n)[-1] == ("VIN", 87426, 43713, 87426) and n.total_power_mw() == (87426, "VIN")
    assert n.temps_c["gpu"] == 62.906 and n.rail("VDD_GPU").current_mw == 37528


def test_readme_orin_class_jp50_loads():
    s = one("orin-class-24gb-unknown-os_tegrastats_parser-neleon.txt")
    assert (s.emc_load_pct, s.emc_freq_mhz) == (None, 3199)
    assert (s.gpu_load_pct, s.gpu_freq_mhz, s.gpu2_load_pct, s.gpu2_freq_mhz) == (99, 1274, 99, 1274)
    assert s.engines["NVENC"].load_pct == 7 and s.engines["NVDLA1"].load_pct == 0 and s.engines["APE"].freq_mhz == 81
    assert not s.rails and s.total_power_mw() is None and s.temps_c["GPU"] == 78.937


def test_nonroot_then_root_lines_in_one_log():
    a, b, c, _ = [parse_line(l) for l in data_lines("tx2-l4t28_log-project.txt")]
    assert a.emc_freq_mhz is None and a.gpu_load_pct is None and a.rails
    assert c.emc_freq_mhz == 1600 and c.gpu_load_pct == 17 and c.gpu_freq_mhz == 1134


def test_unknown_tokens_are_reported_not_fatal():
    s = parse_line("RAM 1/2MB FUTURE_TOKEN 12abc CPU [1%@2,weird] GPU@3C VDD_IN 598mW/598 UTC 2021")
    assert s.ram_total_mb == 2 and s.temps_c == {"GPU": 3}
    assert s.cpus[1].load_pct is None and "CPU[1]=weird" in s.unparsed
    assert s.rail("VDD_IN").current_mw == 598  # mixed units
    assert {"FUTURE_TOKEN", "12abc", "UTC", "2021"} <= set(s.unparsed)
    assert not parse_line("").is_tegrastats and parse_line("   \n").unparsed == ()


# ----------------------------------------------------------------------------- fuzzing

@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_fuzz_never_raises_and_unparsed_are_input_tokens(text):
    s = parse_line(text)
    tokens = set(text.split())
    for tok in s.unparsed:
        assert tok in tokens or re.match(r"^(CPU|cpu)\[\d+\]=", tok)


_alphabet = st.sampled_from(list("RAMCPUSWAPGR3D_FREQ@%[],/mWC0123456789 .-offlbx()kBEMC"))


@settings(max_examples=200, deadline=None)
@given(st.lists(_alphabet, max_size=200).map("".join))
def test_fuzz_tegrastats_alphabet_never_raises(text):
    s = parse_line(text)
    assert isinstance(s.unparsed, tuple)


@st.composite
def tegra_lines(draw):
    used = draw(st.integers(0, 64000))
    total = draw(st.integers(used, 128000))
    ncores = draw(st.integers(1, 14))
    core = st.one_of(st.just(None), st.tuples(st.integers(0, 100), st.integers(100, 3000)))
    cpus = draw(st.lists(core, min_size=ncores, max_size=ncores))
    gpu = draw(st.tuples(st.integers(0, 100), st.lists(st.integers(0, 2000), min_size=1, max_size=3)))
    name = st.text(alphabet="ABCDEFGHIJKLNOPQTUVXYZ0123456789_", max_size=10).map(lambda n: "V" + n)
    rails = draw(st.lists(st.tuples(name, st.integers(0, 90000), st.integers(0, 90000)), max_size=6, unique_by=lambda r: r[0]))
    tname = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCXYZ0123456789", max_size=8).map(lambda n: "t" + n)
    temps = draw(st.lists(st.tuples(tname, st.integers(-40000, 120000).map(lambda v: v / 1000)), max_size=8, unique_by=lambda t: t[0]))
    mw = draw(st.booleans())
    parts = [f"RAM {used}/{total}MB (lfb 3x4MB)",
             "CPU [" + ",".join("off" if c is None else f"{c[0]}%@{c[1]}" for c in cpus) + "]",
             f"GR3D_FREQ {gpu[0]}%@[{','.join(map(str, gpu[1]))}]"]
    parts += [f"{t}@{v:g}C" for t, v in temps]
    unit = "mW" if mw else ""
    parts += [f"{n} {a}{unit}/{b}{unit}" for n, a, b in rails]
    return " ".join(parts), (used, total, cpus, gpu, rails, temps)


@settings(max_examples=80, deadline=None)
@given(tegra_lines())
def test_generated_lines_round_trip(case):
    line, (used, total, cpus, gpu, rails, temps) = case
    s = parse_line(line)
    assert s.unparsed == ()
    assert (s.ram_used_mb, s.ram_total_mb) == (used, total)
    assert cores(s) == ["off" if c is None else (c[0], c[1]) for c in cpus]
    assert (s.gpu_load_pct, s.gpu_freqs_mhz) == (gpu[0], tuple(gpu[1]))
    assert [(r.name, r.current_mw, r.average_mw) for r in s.rails] == [(n, a, b) for n, a, b in rails]
    assert dict(s.temps_c) == {t: v for t, v in temps}


@settings(max_examples=80, deadline=None)
@given(st.sampled_from([l for f, i, l in ALL_LINES if (f, i) not in DATE_LINES]),
       st.lists(st.from_regex(r"~[a-z0-9#:]{0,6}", fullmatch=True), min_size=1, max_size=3), st.randoms())
def test_junk_between_fields_keeps_the_rest(line, junk, rnd):
    clean = parse_line(line)
    tokens = line.split(" ")
    for j in junk:
        tokens.insert(rnd.randrange(len(tokens) + 1), j)
    s = parse_line(" ".join(tokens))
    # junk landing inside a multi-token field (e.g. between "RAM" and its value) may cost that field;
    # everything else must come out the same and every junk token must be reported
    assert set(junk) <= set(s.unparsed)
    assert len(s.rails) >= len(clean.rails) - len(junk)
    assert sum(1 for k in s.temps_c.items() if k in clean.temps_c.items()) >= len(clean.temps_c) - len(junk)


# -- issue #16 class 9: runs of blanks inside fields, counted leftovers, what reaches the record --

def _fields(s):
    return {k: (dict(v) if hasattr(v, "items") else v) for k, v in s.__dict__.items() if k != "raw"}


def _padded(line: str, seed: int) -> str:
    """The line with every blank widened to a run of 1-7 blanks (tegrastats pads some columns)."""
    import random

    rng = random.Random(seed)
    return re.sub(r" ", lambda m: " " * rng.randint(1, 7), line)


@pytest.mark.parametrize("name, lineno, line", ALL_LINES, ids=[f"{f}:{i}" for f, i, _ in ALL_LINES])
def test_every_shared_line_parses_the_same_with_runs_of_blanks(name, lineno, line):
    if (name, lineno) in DATE_LINES:
        return
    padded = _padded(line, lineno)
    assert padded != line or " " not in line
    assert _fields(parse_line(padded)) == _fields(parse_line(line))


def test_made_up_fields_with_runs_of_blanks():
    s = parse_line("RAM 936/3964MB  (lfb 366x4MB) CPU  [10%@102, off] GR3D_FREQ   5%@[1300, 1300] NVENC      off "
                   "APE           174 VIC_FREQ   729 NVDEC  12%@600 VDD_IN  5mW/5mW VDD_CPU_CV 3268mW/ 3100mW/ 3300mW "
                   "MTS fg  1% bg  2% GPU@28C")
    assert [(c.load_pct, c.online) for c in s.cpus] == [(10.0, True), (None, False)]
    assert s.engines["NVENC"].off and s.engines["APE"].freq_mhz == 174 and s.engines["VIC"].freq_mhz == 729
    assert (s.engines["NVDEC"].load_pct, s.engines["NVDEC"].freq_mhz) == (12, 600)
    assert s.rail("VDD_IN").current_mw == 5 and s.lfb_blocks == 366 and (s.mts_fg_pct, s.mts_bg_pct) == (1, 2)
    assert s.gpu_load_pct == 5  # the GR3D array with a blank after its comma is not lost
    assert s.gpu_freqs_mhz == (1300, 1300) and s.rail("VDD_CPU_CV").third_mw == 3300 and s.unparsed == ()


def test_unparsed_fields_are_counted_and_reach_the_summary():
    from devices.telemetry.sources import TegrastatsSource
    from devices.telemetry.summary import build_summary
    from tests.devices.test_telemetry import FakePopen

    line = data_lines("agx-orin-jp7.2_jetson_stats.txt")[0]
    lines = ["Tue Jan 26 18:22:31 UTC 2021", line + " NEWENG 12x", line + " NEWENG 3x ???", line]
    src = TegrastatsSource(interval_s=0.1, executable="/usr/bin/tegrastats", popen=FakePopen(lines))
    ticks = iter(range(1000))
    src.open(lambda: float(next(ticks)))
    import time
    deadline = time.monotonic() + 5
    while len(src._reader.samples) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    readings = src.close()
    assert src.info["unparsed_fields"] == {"(line)": 1, "NEWENG": 2, "(value)": 3}
    summary = build_summary({"tegrastats": readings}, window=(0.0, 10.0), interval_s=0.1,
                            source_info={"tegrastats": src.info})
    assert dict(summary.unparsed_fields) == {"(line)": 1, "NEWENG": 2, "(value)": 3}
    out = summary.to_dict()
    assert out["unparsed_fields"] == {"(line)": 1, "NEWENG": 2, "(value)": 3}
    assert "unparsed_fields" not in out["sources"]["tegrastats"]
    # what only tegrastats says reaches the record: rails' own average and JetPack 7 peak, GPCs, engines
    teg = out["tegrastats"]
    assert teg["rails_w"]["VDD_GPU_SOC"] == {"average": 5.139, "peak": 5.139}
    assert teg["gpc_mhz"] == [1300.0, 1300.0]
    assert teg["engines"]["APE"] == {"off_share": 0.0, "mhz_mean": 174.0}
    assert teg["engines"]["NVDLA0"] == {"off_share": 1.0}


def test_gr3d2_reaches_the_summary():
    from devices.telemetry.summary import build_summary

    lines = data_lines("orin-class-24gb-unknown-os_tegrastats_parser-neleon.txt")[:2]
    readings = [(float(i), sample_readings(parse_line(line)), ()) for i, line in enumerate(lines)]
    teg = build_summary({"tegrastats": readings}, window=(0.0, 1.0), interval_s=1.0).to_dict()["tegrastats"]
    assert teg["gpu2"] == {"util_pct_mean": (99 + 82) / 2, "mhz_mean": 1274.0}
    assert teg["engines"]["NVENC"] == {"off_share": 0.0, "util_pct_mean": 3.5}
