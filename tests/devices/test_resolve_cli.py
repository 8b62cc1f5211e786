"""--device resolution and `bench devices`: usable or a precise reason, exit 2 never a traceback."""

from __future__ import annotations

import json

import pytest

from devices.detect import detect_hardware
from devices.profiles import list_profiles, load_profile
from devices.resolve import resolve_device, usability
from harness.cli import main
from common.errors import InputError
from tests.devices.fakes import ORT_CPU, ORT_CUDA, TRT_MISSING, TRT_OK, fake_nvml, jetson_tree, write_tree

ORIN_NANO = dict(model="NVIDIA Jetson Orin Nano Developer Kit",
                 compatible="nvidia,p3768-0000+p3767-0005\x00nvidia,p3767-0005\x00nvidia,tegra234\x00",
                 release="# R36 (release), REVISION: 4.4, GCID: 41062509, BOARD: generic, EABI: aarch64\n")


def _hw(root, machine="aarch64", **runtimes):
    rts = {"onnxruntime": ORT_CPU, "tensorrt": TRT_OK}
    rts.update(runtimes)
    return detect_hardware(root=root, machine=machine, runtimes=rts)


def test_jetson_resolves_to_detected_module(tmp_path):
    hw = _hw(jetson_tree(tmp_path, **ORIN_NANO))
    for name in ("jetson", "auto", "jetson-orin-nano"):
        d = resolve_device(name, hardware=hw)
        assert d.profile.name == "jetson-orin-nano" and d.runtime.runtime == "tensorrt" and not d.cpu_only
    assert d.to_dict()["hardware"]["jetson"]["l4t"] == "36.4.4"
    with pytest.raises(InputError, match=r"^--device jetson-agx-orin: jetson-agx-orin is not usable here: this Jetson is "
                                         r"Jetson Orin Nano 8GB \(developer kit\) \(p3768-0000, p3767-0005\): it maps to profile jetson-orin-nano"):
        resolve_device("jetson-agx-orin", hardware=hw)
    ok, why = usability(load_profile("desktop-gpu"), hw)
    assert not ok and "this is a Jetson" in why
    ok, why = usability(load_profile("cpu"), hw)
    assert ok  # a Jetson can always be benchmarked on its CPU


def test_jetson_without_tensorrt_falls_back_to_cpu_runtime_and_cpu_precision_rules(tmp_path):
    hw = _hw(jetson_tree(tmp_path, **ORIN_NANO), tensorrt=TRT_MISSING)
    ok, why = usability(load_profile("jetson-orin-nano"), hw)
    assert ok and why.startswith("runtime onnxruntime[CPUExecutionProvider] only, CPU fallback (tensorrt not importable")
    d = resolve_device("jetson", hardware=hw)
    assert d.cpu_only and d.notes and not d.runs_fast("fp16")
    assert "runtime onnxruntime[CPUExecutionProvider]" in d.skip_reason("fp16")
    assert d.runs_fast("int8") and d.skip_reason("fp32") is None


def test_jetson_container_without_gpu_node(tmp_path):
    hw = _hw(jetson_tree(tmp_path, gpu_node=False, **ORIN_NANO))
    ok, why = usability(load_profile("jetson-orin-nano"), hw)
    assert not ok and "--runtime nvidia" in why


def test_unprofiled_jetson(tmp_path):
    hw = _hw(jetson_tree(tmp_path, model="NVIDIA Jetson AGX Thor Developer Kit",
                         compatible="nvidia,p4071-0000+p3834-0008nvidia,p3834-0008nvidia,tegra264",
                         release="# R38 (release), REVISION: 4.0, GCID: 43443517, BOARD: generic, EABI: aarch64"))
    with pytest.raises(InputError, match=r"--device jetson: Jetson AGX Thor \(L4T 38.4.0, JetPack 7.1\) has no device profile"):
        resolve_device("jetson", hardware=hw)
    assert resolve_device("auto", hardware=hw).profile.name == "cpu"


def test_desktop_gpu(tmp_path):
    root = write_tree(tmp_path, {"proc/cpuinfo": "processor : 0\nmodel name : X\n"})
    hw = detect_hardware(root=root, machine="x86_64", nvml=fake_nvml(), runtimes={"onnxruntime": ORT_CPU, "tensorrt": TRT_MISSING})
    ok, why = usability(load_profile("desktop-gpu"), hw)
    assert not ok
    assert why == ("tensorrt not importable (No module named 'tensorrt'); onnxruntime 1.31.1 has no TensorrtExecutionProvider; "
                   "onnxruntime 1.31.1 has no CUDAExecutionProvider")
    hw = detect_hardware(root=root, machine="x86_64", nvml=fake_nvml(), runtimes={"onnxruntime": ORT_CUDA, "tensorrt": TRT_MISSING})
    d = resolve_device("auto", hardware=hw)
    assert d.profile.name == "desktop-gpu" and d.runtime.accelerator == "CUDAExecutionProvider"
    hw = detect_hardware(root=root, machine="x86_64", nvml=fake_nvml(init_error="Driver Not Loaded"), runtimes={"onnxruntime": ORT_CUDA})
    assert usability(load_profile("desktop-gpu"), hw) == (False, "no NVIDIA GPU found (NVML: Driver Not Loaded)")


def test_unknown_device_name():
    with pytest.raises(InputError, match=r"^--device: expected a device: auto, jetson or one of cpu, .*got 'tpu'$"):
        resolve_device("tpu")


def test_this_machine_cpu_usable_every_gpu_profile_not(capsys):
    hw = detect_hardware()
    if hw.jetson is not None or hw.gpus:
        pytest.skip("this check describes the GPU-less dev/CI machines")
    assert main(["devices", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    rows = {r["profile"]: r for r in data["profiles"]}
    assert set(rows) == set(list_profiles())
    assert rows["cpu"]["usable"] is True
    for name, row in rows.items():
        if name != "cpu":
            assert row["usable"] is False and row["reason"]
            if name.startswith("jetson-"):
                assert row["reason"] == "not a Jetson: /proc/device-tree/model absent"
    assert rows["desktop-gpu"]["reason"].startswith("no NVIDIA GPU found")


def test_cli_table_and_profile_view(capsys):
    assert main(["devices"]) == 0
    out = capsys.readouterr().out
    assert "jetson-agx-orin" in out and "cpu" in out
    assert main(["devices", "--profile", "jetson-nano"]) == 0
    out = capsys.readouterr().out
    assert "int8 not fast" in out and "MAXN" in out


def test_cli_fake_root(tmp_path, capsys):
    jetson_tree(tmp_path, **ORIN_NANO)
    assert main(["devices", "--json", "--root", str(tmp_path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hardware"]["jetson"]["profile"] == "jetson-orin-nano"
    rows = {r["profile"]: r for r in data["profiles"]}
    assert rows["jetson-agx-orin"]["usable"] is False and "maps to profile jetson-orin-nano" in rows["jetson-agx-orin"]["reason"]


def test_cli_errors_exit_2_one_line(capsys):
    assert main(["devices", "--profile", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected a device profile" in err and "Traceback" not in err
