"""TensorRT builder: spec -> settings -> builder calls, cache keys per device + version, clear errors.

No GPU here: the builder runs against tests/fakes/trt.py, which records the API calls.
"""

from __future__ import annotations

import subprocess

import onnx
import pytest

from exporters import tensorrt_build as tb
from exporters.spec import parse_variant
from common.errors import BenchError, InputError, MissingDependency
from tests.exporters.conftest import IMGSZ
from tests.fakes.trt import BuilderFlag, DeviceType, MemoryPoolType, engine_spec, make_trt


@pytest.mark.parametrize(
    ("variant", "flags"),
    [("fp32", []), ("fp16", ["FP16"]), ("int8", ["FP16", "INT8"]), ("pruned30-int8", ["FP16", "INT8"])],
)
def test_spec_to_builder_flags(variant, flags):
    settings = tb.trt_settings(parse_variant(variant, fmt="trt"))
    assert tb.builder_flag_names(settings) == flags
    assert settings.int8_mode == ("qdq" if "INT8" in flags else None)


def test_dla_sparsity_and_tags():
    spec = parse_variant("fp16", fmt="trt")
    s = tb.trt_settings(spec, dla_core=1, sparse_weights=True, workspace_mib=512)
    assert tb.builder_flag_names(s) == ["FP16", "GPU_FALLBACK", "SPARSE_WEIGHTS"]
    assert s.tag == "-dla1-sparse" and s.workspace_mib == 512
    calib = tb.trt_settings(parse_variant("int8", fmt="trt"), int8_mode="calibrator")
    assert calib.tag == "-calib"
    assert tb.trt_settings(spec, int8_mode="calibrator").int8_mode is None  # only meaningful for int8


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"int8_mode": "ptq"}, "--trt-int8"), ({"workspace_mib": 8}, "--workspace"), ({"dla_core": -1}, "--dla-core")],
)
def test_settings_validation(kwargs, match):
    with pytest.raises(InputError, match=match):
        tb.trt_settings(parse_variant("int8", fmt="trt"), **kwargs)
    with pytest.raises(InputError, match="expected a variant with format trt, got onnx"):
        tb.trt_settings(parse_variant("int8"))


def test_device_tag_jetson_and_dgpu():
    jetson = tb.device_tag(read_text=lambda p: "NVIDIA Jetson AGX Orin Developer Kit\x00", run=None)
    assert jetson == ("jetson-agx-orin-developer-kit", (8, 7))

    def no_tree(path):
        raise FileNotFoundError(path)

    def smi(cmd, **kwargs):
        assert cmd[0] == "nvidia-smi"
        return subprocess.CompletedProcess(cmd, 0, stdout="NVIDIA GeForce RTX 3080, 8.6\n", stderr="")

    assert tb.device_tag(read_text=no_tree, run=smi) == ("nvidia-geforce-rtx-3080-sm86", (8, 6))

    def no_smi(cmd, **kwargs):
        raise FileNotFoundError("nvidia-smi")

    with pytest.raises(BenchError, match="no NVIDIA GPU found"):
        tb.device_tag(read_text=no_tree, run=no_smi)


def test_the_engine_the_builder_writes_opens_in_the_runner(tmp_path):
    """One fake TensorRT for both sides: what exporters.tensorrt_build builds, devices.runtimes.tensorrt runs."""
    import numpy as np

    from devices.runtimes.tensorrt import TensorRTSession
    from tests.fakes.trt import FakeCudart

    trt = make_trt("10.3.0")
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"ONNXBYTES")
    settings = tb.trt_settings(parse_variant("fp16", fmt="trt"))
    tb.build_engine(onnx_file, tmp_path / "m.engine", settings, timing_cache=tmp_path / "t.cache", trt=trt)
    with TensorRTSession(tmp_path / "m.engine", trt=trt, cudart=FakeCudart()) as session:
        x = np.ones((1, 3, 64, 64), np.float32)
        out, score = session.run(x)
    assert session.input_shape == (1, 3, 64, 64) and float(out.max()) == 3.0 and score.tolist() == [3 * 64 * 64]


@pytest.mark.parametrize(("version", "network_flags"), [("8.6.1", 1), ("10.3.0", 0)])
def test_build_engine_calls(tmp_path, version, network_flags):
    trt = make_trt(version)
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"ONNXBYTES")
    timing = tmp_path / "timing.cache"
    timing.write_bytes(b"old")
    settings = tb.trt_settings(parse_variant("int8", fmt="trt"), workspace_mib=256)
    section = tb.build_engine(onnx_file, tmp_path / "m.engine", settings, timing_cache=timing, trt=trt)
    config = trt.calls["config"]
    assert trt.calls["network_flags"] == network_flags  # explicit batch flag only before TensorRT 10
    assert config.flags == {BuilderFlag.FP16, BuilderFlag.INT8}
    assert config.pools == {MemoryPoolType.WORKSPACE: 256 << 20}
    assert config.default_device_type == DeviceType.GPU and config.int8_calibrator is None
    assert engine_spec((tmp_path / "m.engine").read_bytes())["network"].startswith("ONNXBYTES")  # built from that ONNX
    assert timing.read_bytes() == b"old+timings"  # loaded, then updated
    assert section["version"] == version and section["builder_flags"] == ["FP16", "INT8"]
    assert section["io"][0] == {"name": "images", "mode": "input", "shape": [1, 3, 64, 64], "dtype": "float"}


def test_build_engine_dla(tmp_path):
    onnx_file = tmp_path / "m.onnx"
    onnx_file.write_bytes(b"ONNX")
    settings = tb.trt_settings(parse_variant("fp16", fmt="trt"), dla_core=0)
    trt = make_trt(dla_cores=2)
    tb.build_engine(onnx_file, tmp_path / "e", settings, trt=trt)
    config = trt.calls["config"]
    assert config.default_device_type == DeviceType.DLA and config.DLA_core == 0
    assert BuilderFlag.GPU_FALLBACK in config.flags
    with pytest.raises(InputError, match="--dla-core: expected a DLA core below 0 on this device, got 0"):
        tb.build_engine(onnx_file, tmp_path / "e", settings, trt=make_trt(dla_cores=0))


def test_build_engine_errors(tmp_path):
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"BROKEN")
    fp16 = tb.trt_settings(parse_variant("fp16", fmt="trt"))
    with pytest.raises(BenchError, match=r"could not parse .*broken\.onnx: In node 3 \(Conv\): unsupported; second error"):
        tb.build_engine(broken, tmp_path / "e", fp16, trt=make_trt())
    ok = tmp_path / "ok.onnx"
    ok.write_bytes(b"ONNX")
    with pytest.raises(BenchError, match="engine build failed: out of memory while building"):
        tb.build_engine(ok, tmp_path / "e", fp16, trt=make_trt(fail_build=True))
    sparse = tb.trt_settings(parse_variant("fp16", fmt="trt"), sparse_weights=True)
    with pytest.raises(InputError, match="Ampere or newer GPU .* got sm72"):
        tb.build_engine(ok, tmp_path / "e", sparse, compute_capability=(7, 2), trt=make_trt())
    assert not (tmp_path / "e").exists()


def test_calibrator_availability():
    with pytest.raises(MissingDependency, match="TensorRT 10.3.0 has no INT8 calibrators"):
        tb.make_calibrator(make_trt("10.3.0"), reader=None, cache_file=None)


def test_missing_tensorrt_is_one_line(yolo11_pt, tmp_path, monkeypatch):
    import builtins

    from exporters.build import build_variant

    real_import = builtins.__import__

    def no_tensorrt(name, *args, **kwargs):
        if name == "tensorrt":
            raise ModuleNotFoundError("No module named 'tensorrt'", name="tensorrt")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_tensorrt)
    with pytest.raises(MissingDependency) as err:
        build_variant(yolo11_pt, parse_variant("fp16", fmt="trt"), cache_dir=tmp_path, imgsz=IMGSZ)
    message = str(err.value)
    assert "\n" not in message and "pip install 'edge-bench[tensorrt]'" in message and "python3-libnvinfer" in message
    assert not any(tmp_path.iterdir())  # failed before any work


@pytest.mark.slow
def test_build_variant_trt_int8_chain(fp32_artifact, yolo11_pt, session_cache, data_yaml, monkeypatch):
    """int8 + trt: the symmetric QDQ ONNX, then an engine cached per device tag and TensorRT version."""
    import numpy as np

    from exporters.build import build_variant

    trt = make_trt("10.3.0")
    monkeypatch.setattr(tb, "import_tensorrt", lambda: trt)
    monkeypatch.setattr(tb, "device_tag", lambda: ("jetson-orin-nano", (8, 7)))
    spec = parse_variant("int8", fmt="trt")
    art = build_variant(yolo11_pt, spec, cache_dir=session_cache, imgsz=IMGSZ, data_yaml=data_yaml, calib_images=3)
    assert art.path.name == "int8-64-jetson-orin-nano-trt10.3.0.engine"
    m = art.manifest
    assert m["tensorrt"]["device"] == "jetson-orin-nano" and m["tensorrt"]["version"] == "10.3.0"
    assert m["variant"]["format"] == "trt" and m["input"]["shape"] == [1, 3, 64, 64]
    assert m["quantization"]["profile"] == "trt" and m["quantization"]["activation_symmetric"] is True
    qdq = session_cache.glob("*/int8-qdq-trt-64.onnx")
    qdq_path = next(qdq)
    assert trt.calls["network_flags"] == 0
    model = onnx.load(str(qdq_path))
    inits = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    zero_points = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear" and len(n.input) > 2]
    assert zero_points and all(z.dtype == np.int8 and not z.any() for z in zero_points)  # TensorRT needs zero-point 0
    from exporters.onnx_export import head_decode

    _, convs = head_decode(model)
    producer = {o: n for n in model.graph.node for o in n.output}
    after_head = [n for n in model.graph.node if any(i in producer and producer[i].name in convs for i in n.input)]
    assert after_head and all(n.op_type != "QuantizeLinear" for n in after_head)  # head outputs stay float
    # same device + version: reused; another TensorRT version: another engine
    assert build_variant(yolo11_pt, spec, cache_dir=session_cache, imgsz=IMGSZ, data_yaml=data_yaml,
                         calib_images=3).reused
    monkeypatch.setattr(tb, "import_tensorrt", lambda: make_trt("8.6.1"))
    other = build_variant(yolo11_pt, spec, cache_dir=session_cache, imgsz=IMGSZ, data_yaml=data_yaml, calib_images=3)
    assert not other.reused and other.path.name == "int8-64-jetson-orin-nano-trt8.6.1.engine"
