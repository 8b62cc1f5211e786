"""The profile loader: every shipped profile validates; bad files get one precise line."""

from __future__ import annotations

import dataclasses

import pytest

from devices.profiles import PRECISIONS, PROFILE_VERSION, list_profiles, load_profile
from common.errors import InputError

EXPECTED = {"cpu", "desktop-gpu", "jetson-nano", "jetson-xavier-nx", "jetson-agx-xavier",
            "jetson-orin-nano", "jetson-orin-nx", "jetson-agx-orin"}

GOOD = """
profile_version: 1
name: my-board
title: test board
kind: jetson
arches: [aarch64]
match: {modules: [p9999], models: ['My Board'], socs: [tegra999]}
runtimes:
  - {runtime: tensorrt}
  - {runtime: onnxruntime, providers: [CPUExecutionProvider]}
precisions:
  fast: [fp32, fp16]
  slow: {int8: no int8 units}
telemetry: [psutil, tegrastats]
power_modes: [{name: MAXN, budget_w: null}, {name: 10W, budget_w: 10}]
setup: {nvpmodel: MAXN, jetson_clocks: true}
"""


def test_every_shipped_profile_loads_and_is_complete():
    assert set(list_profiles()) == EXPECTED
    for name in list_profiles():
        p = load_profile(name)
        assert p.name == name and p.profile_version == PROFILE_VERSION
        for prec in PRECISIONS:  # every precision is classified, slow ones have a reason
            assert p.runs_fast(prec) or p.slow_reason(prec)
        assert p.runtimes, name
        if p.kind == "jetson":
            assert p.match is not None and p.match.modules
            assert {"ina3221", "tegrastats", "psutil"} <= set(p.telemetry)
            assert p.setup.jetson_clocks and p.setup.nvpmodel in {m.name for m in p.power_modes}
        assert p.to_dict()["name"] == name


def test_precision_facts():
    assert not load_profile("cpu").runs_fast("fp16")
    assert "FP16" in load_profile("cpu").skip_reason("fp16")
    assert load_profile("cpu").skip_reason("fp32") is None
    assert not load_profile("jetson-nano").runs_fast("int8")
    assert "sm_53" in load_profile("jetson-nano").skip_reason("int8")
    assert load_profile("jetson-agx-orin").runs_fast("int8") and load_profile("jetson-agx-orin").sparsity_2_4
    assert load_profile("jetson-orin-nano").dla_cores == 0 and load_profile("jetson-agx-orin").dla_cores == 2
    assert load_profile("jetson-xavier-nx").sparsity_2_4 is False
    assert [r.runtime for r in load_profile("desktop-gpu").runtimes][0] == "tensorrt"
    with pytest.raises(InputError, match="expected a precision"):
        load_profile("cpu").runs_fast("fp8")


def test_profile_is_immutable():
    p = load_profile("cpu")
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.name = "x"
    with pytest.raises(TypeError):
        p.slow["fp16"] = "x"


def test_unknown_profile_name():
    with pytest.raises(InputError, match=r"profile: expected a device profile, one of cpu, .* got 'gpu9'"):
        load_profile("gpu9")


def test_load_by_path(tmp_path):
    path = tmp_path / "my-board.yaml"
    path.write_text(GOOD)
    p = load_profile(str(path))
    assert p.match.matches_module(("p9999-0001",)) and p.match.matches_model("NVIDIA My Board Kit")
    assert p.slow_reason("int8") == "no int8 units"


@pytest.mark.parametrize("change, message", [
    (("profile_version: 1", "profile_version: 2"), r"key 'profile_version': expected profile_version 1 \(upgrade bench"),
    (("profile_version: 1", "profile_version: 0"), r"expected profile_version 1 \(rewrite"),
    (("kind: jetson", "kind: fpga"), r"key 'kind': expected kind, one of cpu, gpu, jetson, got 'fpga'"),
    (("slow: {int8: no int8 units}", "slow: {}"), r"key 'precisions': expected every precision .* int8 in neither"),
    (("fast: [fp32, fp16]", "fast: [fp32, fp64]"), r"key 'precisions.fast\[1\]': expected precisions: one of fp32, fp16, int8, bf16, got 'fp64'"),
    (("telemetry: [psutil, tegrastats]", "telemetry: [psutil, jtop]"), r"key 'telemetry\[1\]'"),
    (("{runtime: tensorrt}", "{runtime: tflite}"), r"key 'runtimes\[0\].runtime': expected a runtime, one of .*, got 'tflite'"),
    (("providers: [CPUExecutionProvider]", "providers: []"), r"key 'runtimes\[1\].providers'"),
    (("setup: {nvpmodel: MAXN", "setup: {nvpmodel: 25W"), r"key 'setup.nvpmodel': expected a mode named in power_modes"),
    (("match: {modules: [p9999], models: ['My Board'], socs: [tegra999]}\n", ""), r"key 'match': expected a match mapping"),
    (("models: ['My Board']", "models: ['(']"), r"key 'match.models\[0\]': expected a valid regular expression"),
    (("jetson_clocks: true", "jetson_clocks: 1"), r"key 'setup.jetson_clocks': expected true or false, got 1"),
])
def test_validation_errors_name_file_and_key(tmp_path, change, message):
    path = tmp_path / "my-board.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(InputError, match=message) as info:
        load_profile(str(path))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_broken_yaml_names_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("profile_version: 1\nname: [unclosed\n")
    with pytest.raises(InputError, match=r"bad.yaml line \d+: expected valid YAML"):
        load_profile(str(path))
