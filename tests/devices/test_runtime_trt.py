"""The TensorRT runner against fake tensorrt/cudart modules (no GPU here) and the real cuda-python
bindings where importable (they fail cleanly without a driver)."""

from __future__ import annotations

import numpy as np
import pytest

from devices.runtimes import RuntimeFailure
from devices.runtimes.tensorrt import TensorRTSession, trt_version_tuple
from common.errors import InputError, MissingDependency
from tests.fakes.trt import FakeCudart, engine_blob, make_trt


def session(tmp_path, blob=None, *, trt=None, cudart=None, name="m.engine"):
    path = tmp_path / name
    path.write_bytes(blob if blob is not None else engine_blob())
    return TensorRTSession(path, trt=trt or make_trt(), cudart=cudart or FakeCudart())


def test_run_end_to_end_split_timing_and_describe(tmp_path):
    cuda = FakeCudart()
    s = session(tmp_path, cudart=cuda)
    assert (s.input_name, s.input_shape, s.input_dtype) == ("images", (1, 3, 4, 4), np.float32)
    x = np.arange(48, dtype=np.float32).reshape(1, 3, 4, 4)
    out, score = s.run(x)
    np.testing.assert_array_equal(out, 2 * x + 1)
    np.testing.assert_array_equal(score, [x.sum()])
    assert cuda.copies == [1, 2, 2]  # one H2D, two D2H
    assert s.last_split_ms == {"h2d_ms": 0.25, "compute_ms": 0.25, "d2h_ms": 0.25}
    out[...] = -1  # returned arrays are copies: the next run is unaffected
    out2, _ = s.run(x + 1)
    np.testing.assert_array_equal(out2, 2 * (x + 1) + 1)
    d = s.describe()
    assert d["runtime"] == "tensorrt" and d["version"] == "10.3.0" and d["device"] == "Fake Orin GPU"
    assert d["outputs"]["out"] == {"shape": [1, 3, 4, 4], "dtype": "float32"} and d["input"]["dynamic"] is False
    s.close()
    assert cuda.buffers == {} and cuda.host == {} and cuda.events == [] and not cuda.streams
    s.close()  # idempotent
    with pytest.raises(RuntimeFailure, match="session is closed"):
        s.run(x)


def test_dynamic_engine_runs_at_profile_opt_shape_and_fp16_io(tmp_path):
    blob = engine_blob(input_shape=(-1, 3, 4, 4), dtype="float16",
                       profile={"min": [1, 3, 4, 4], "opt": [2, 3, 4, 4], "max": [4, 3, 4, 4]})
    s = session(tmp_path, blob)
    assert s.input_shape == (2, 3, 4, 4) and s.input_dtype == np.float16 and s.dynamic_input
    x = np.ones((2, 3, 4, 4), np.float16)
    out, score = s.run(x)
    assert out.dtype == np.float16 and score.tolist() == [48.0, 48.0]
    with pytest.raises(InputError, match=r"expected input dtype float16, got float32"):
        s.run(x.astype(np.float32))
    with pytest.raises(InputError, match=r"expected input shape \(2, 3, 4, 4\), got \(1, 3, 4, 4\)"):
        s.run(x[:1])


def test_engine_from_another_tensorrt_says_rebuild(tmp_path):
    with pytest.raises(RuntimeFailure, match=r"m.engine: TensorRT 10.3.0 could not deserialize the engine "
                                             r"\(IRuntime::deserializeCudaEngine: .*magic tag does not match\)\); .*rebuild it on this device"):
        session(tmp_path, b"not an engine")


def test_unsupported_engines(tmp_path):
    with pytest.raises(InputError, match="expected an engine with one input and at least one output"):
        session(tmp_path, engine_blob(extra_inputs=1))
    with pytest.raises(InputError, match=r"expected I/O tensors numpy can hold .* got out: DataType.BF16"):
        session(tmp_path, engine_blob(out_dtype="bfloat16"))


def test_old_tensorrt_is_refused_with_the_reason(tmp_path):
    with pytest.raises(MissingDependency, match=r"tensorrt 8.2.1.8 is too old: the runner needs TensorRT >= 8.5"):
        session(tmp_path, trt=make_trt("8.2.1.8"))
    assert trt_version_tuple("8.6.1.post1") == (8, 6) and trt_version_tuple("10") == (10, 0)


def test_cuda_errors_are_one_line_and_free_what_was_allocated(tmp_path):
    cuda = FakeCudart(fail={"cudaMallocHost": 2})
    with pytest.raises(RuntimeFailure, match=r"CUDA cudaMallocHost failed: cudaErrorMemoryAllocation \(2\)$"):
        session(tmp_path, cudart=cuda)
    assert cuda.buffers == {} and cuda.host == {}
    with pytest.raises(RuntimeFailure, match=r"cudaSetDevice failed: cudaErrorNoDevice \(100\) \(no usable NVIDIA GPU or driver here\)"):
        session(tmp_path, cudart=FakeCudart(fail={"cudaSetDevice": 100}))


def test_real_cuda_bindings_without_a_driver_fail_cleanly(tmp_path):
    from devices.runtimes import import_cudart
    try:
        cudart = import_cudart()
    except MissingDependency:
        pytest.skip("cuda-python not installed")
    if int(cudart.cudaGetDeviceCount()[0]) == 0:
        pytest.skip("a CUDA device is present")
    with pytest.raises(RuntimeFailure, match=r"^CUDA cudaSetDevice failed: cudaError\w+ \(\d+\)"):
        session(tmp_path, cudart=cudart)
