"""Detection against fake /proc, /sys, /etc trees and the shared device-identification samples."""

from __future__ import annotations

import pytest

from devices.detect import (detect_hardware, jetpack_for_l4t, parse_compatible, parse_nv_tegra_release,
                            parse_nvpmodel_conf, parse_nvpmodel_query)
from tests.devices.fakes import (ORT_CPU, TRT_OK, cpuinfo_x86, data_lines, fake_nvml,
                                 jetson_tree, write_tree)

RUNTIMES = {"onnxruntime": ORT_CPU, "tensorrt": TRT_OK}


def test_nv_tegra_release_shared_examples():
    lines = data_lines("nv_tegra_release_examples.txt")
    assert [parse_nv_tegra_release(l) for l in lines] == ["28.2.1", "35.3.1", "36.4.4", "38.4.0"]
    assert [jetpack_for_l4t(parse_nv_tegra_release(l)) for l in lines] == [None, "5.1.1", "6.2.1", "7.1"]
    # r36+ files continue after the first line
    assert parse_nv_tegra_release(lines[2] + "\n# KERNEL_VARIANT: oot\nTARGET_USERSPACE_LIB_DIR=nvidia\n") == "36.4.4"
    assert parse_nv_tegra_release("garbage") is None and parse_nv_tegra_release("") is None


def test_compatible_shared_examples_nul_dropped():
    orin, thor = data_lines("device-tree-compatible_examples.txt")
    assert parse_compatible(orin) == (("p3768-0000", "p3767-0003", "p3767-0005"), ("tegra234",))
    assert parse_compatible(thor) == (("p4071-0000", "p3834-0008"), ("tegra264",))


def test_nvpmodel_query_shared_examples():
    assert parse_nvpmodel_query("\n".join(data_lines("nvpmodel-q_nano-root_jetbot-issue49.txt"))) == ("5W", 1)
    assert parse_nvpmodel_query("\n".join(data_lines("nvpmodel-q_nano-nonroot_jetbot-issue49.txt"))) == ("5W", 1)
    assert parse_nvpmodel_query("command not found") == (None, None)
    conf = "< PARAM TYPE=FILE NAME=CPU_ONLINE >\n< POWER_MODEL ID=0 NAME=MAXN >\nCPU_ONLINE CORE_0 1\n< POWER_MODEL ID=1 NAME=MODE_15W >\n< PM_CONFIG DEFAULT=0 >"
    assert parse_nvpmodel_conf(conf) == {0: "MAXN", 1: "MODE_15W"}


def test_orin_nano_devkit_jetpack6(tmp_path):
    release = data_lines("nv_tegra_release_examples.txt")[2] + "\n# KERNEL_VARIANT: oot\n"
    jetson_tree(tmp_path, model="NVIDIA Jetson Orin Nano Developer Kit",
                compatible="nvidia,p3768-0000+p3767-0005\x00nvidia,p3767-0005\x00nvidia,tegra234\x00",
                release=release, extra={"var/lib/nvpmodel/status": "pmode:0002 fmode:quiet\n",
                                        "etc/nvpmodel.conf": "< POWER_MODEL ID=0 NAME=15W >\n< POWER_MODEL ID=2 NAME=MAXN_SUPER >\n"})
    hw = detect_hardware(root=tmp_path, machine="aarch64", runtimes=RUNTIMES)
    j = hw.jetson
    assert hw.not_jetson_reason is None
    assert j.model == "NVIDIA Jetson Orin Nano Developer Kit"
    assert j.part_numbers == ("p3768-0000", "p3767-0005") and j.socs == ("tegra234",)
    assert j.module == "Jetson Orin Nano 8GB (developer kit)" and j.profile == "jetson-orin-nano"
    assert (j.l4t, j.jetpack) == ("36.4.4", "6.2.1")
    assert (j.nvpmodel_mode, j.nvpmodel_id) == ("MAXN_SUPER", 2)
    assert j.gpu_node == "/dev/nvgpu/igpu0"
    assert hw.cpu_cores == 6 and hw.ram_mb == pytest.approx(7619.4, abs=0.1)
    assert hw.cpu_model.startswith("Arm CPU (implementer 0x41, part 0xd42")
    assert set(hw.cpu_flags) == {"asimddp", "asimdhp", "fphp"}
    assert hw.gpus == () and "NVML does not cover it" in hw.gpu_reason
    d = hw.to_dict()
    assert d["jetson"]["jetpack"] == "6.2.1" and d["runtimes"]["tensorrt"]["available"] is True


def test_shared_model_strings_identify_modules(tmp_path):
    orin_model, thor_model = data_lines("device-tree-model_examples.txt")
    orin_compat, thor_compat = data_lines("device-tree-compatible_examples.txt")
    a = jetson_tree(tmp_path / "a", model=orin_model, compatible=orin_compat, release=data_lines("nv_tegra_release_examples.txt")[1])
    hw = detect_hardware(root=a, machine="aarch64", runtimes=RUNTIMES)
    assert hw.jetson.profile == "jetson-orin-nano" and hw.jetson.jetpack == "5.1.1"
    b = jetson_tree(tmp_path / "b", model=thor_model, compatible=thor_compat, release=data_lines("nv_tegra_release_examples.txt")[3])
    hw = detect_hardware(root=b, machine="aarch64", runtimes=RUNTIMES)
    assert hw.jetson.profile is None and hw.jetson.module == "Jetson AGX Thor" and hw.jetson.jetpack == "7.1"


@pytest.mark.parametrize("model, compatible, profile", [
    ("NVIDIA Jetson Nano Developer Kit", "nvidia,p3449-0000-b00+p3448-0000-b00\x00nvidia,jetson-nano\x00nvidia,tegra210\x00", "jetson-nano"),
    ("NVIDIA Jetson Xavier NX Developer Kit", "nvidia,p3509-0000+p3668-0001\x00nvidia,tegra194\x00", "jetson-xavier-nx"),
    ("Jetson-AGX", None, "jetson-agx-xavier"),  # JetPack 4 AGX Xavier: model string only
    ("NVIDIA Jetson AGX Orin Developer Kit", "nvidia,p3737-0000+p3701-0005\x00nvidia,p3701-0005\x00nvidia,tegra234\x00", "jetson-agx-orin"),
    ("NVIDIA Jetson Orin NX Engineering Reference Developer Kit", "nvidia,p3768-0000+p3767-0000\x00nvidia,tegra234\x00", "jetson-orin-nx"),
    ("NVIDIA Orin Nano Developer Kit", None, "jetson-orin-nano"),
    ("Some Carrier", "nvidia,p3509-0000+p3767-0001\x00nvidia,tegra234\x00", "jetson-orin-nx"),  # part number wins
])
def test_module_to_profile(tmp_path, model, compatible, profile):
    jetson_tree(tmp_path, model=model, compatible=compatible, release="# R35 (release), REVISION: 4.1, GCID: 1, BOARD: t186ref, EABI: aarch64")
    assert detect_hardware(root=tmp_path, machine="aarch64", runtimes=RUNTIMES).jetson.profile == profile


def test_nano_jetpack4_nvpmodel_via_command_and_dpkg_l4t(tmp_path):
    status = "Package: bash\nVersion: 5.0\n\nPackage: nvidia-l4t-core\nStatus: install ok installed\nVersion: 32.7.1-20220219090432\n"
    jetson_tree(tmp_path, model="NVIDIA Jetson Nano Developer Kit", compatible=None, release=None, cores=4,
                extra={"var/lib/dpkg/status": status})
    calls = []
    output = "\n".join(data_lines("nvpmodel-q_nano-nonroot_jetbot-issue49.txt"))
    hw = detect_hardware(root=tmp_path, machine="aarch64", runtimes=RUNTIMES,
                         run_command=lambda cmd: calls.append(cmd) or output)
    assert calls == [["nvpmodel", "-q"]]
    assert (hw.jetson.l4t, hw.jetson.jetpack) == ("32.7.1", "4.6.1")
    assert (hw.jetson.nvpmodel_mode, hw.jetson.nvpmodel_id) == ("5W", 1)
    assert hw.jetson.profile == "jetson-nano"


def test_not_a_jetson_reasons(tmp_path):
    empty = write_tree(tmp_path / "x86", {"proc/cpuinfo": cpuinfo_x86(4), "proc/meminfo": "MemTotal: 16384000 kB\n"})
    hw = detect_hardware(root=empty, machine="x86_64", runtimes=RUNTIMES)
    assert hw.jetson is None and hw.not_jetson_reason == "not a Jetson: /proc/device-tree/model absent"
    assert hw.cpu_model == "AMD Ryzen 9 7950X 16-Core Processor" and hw.cpu_cores == 4
    assert "avx512_vnni" in hw.cpu_flags
    pi = write_tree(tmp_path / "pi", {"proc/device-tree/model": b"Raspberry Pi 4 Model B Rev 1.4\x00",
                                      "proc/device-tree/compatible": b"raspberrypi,4-model-b\x00brcm,bcm2711\x00"})
    hw = detect_hardware(root=pi, machine="aarch64", runtimes=RUNTIMES)
    assert hw.not_jetson_reason == "not a Jetson: /proc/device-tree/model is 'Raspberry Pi 4 Model B Rev 1.4' and no /etc/nv_tegra_release"


def test_nvml_gpus_and_errors(tmp_path):
    write_tree(tmp_path, {"proc/driver/nvidia/version": "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC 2024\n"})
    hw = detect_hardware(root=tmp_path, machine="x86_64", runtimes=RUNTIMES, nvml=fake_nvml())
    (gpu,) = hw.gpus
    assert (gpu.name, gpu.compute_capability, gpu.memory_mb) == ("NVIDIA GeForce RTX 4090", "8.9", 24564.0)
    assert hw.driver_version == "550.54.14" and hw.gpu_reason is None
    hw = detect_hardware(root=tmp_path, machine="x86_64", runtimes=RUNTIMES, nvml=fake_nvml(init_error="NVML Shared Library Not Found"))
    assert hw.gpus == () and hw.gpu_reason == "NVML: NVML Shared Library Not Found"
    assert hw.driver_version == "550.54.14"  # still read from /proc/driver/nvidia/version
    hw = detect_hardware(root=tmp_path, machine="x86_64", runtimes=RUNTIMES, nvml=fake_nvml(gpus=()))
    assert hw.gpu_reason == "NVML reports 0 GPUs"
    hw = detect_hardware(root=tmp_path, machine="x86_64", runtimes=RUNTIMES,
                         nvml=fake_nvml(unsupported=("nvmlDeviceGetCudaComputeCapability",)))
    assert hw.gpus[0].compute_capability is None and hw.gpus[0].name  # one metric missing, rest kept


def test_live_machine_detects_without_error():
    hw = detect_hardware()
    assert hw.cpu_cores >= 1 and hw.arch
    assert "onnxruntime" in hw.runtimes and "tensorrt" in hw.runtimes
    if hw.jetson is None:
        assert hw.not_jetson_reason.startswith("not a Jetson")
