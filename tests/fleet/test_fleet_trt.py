"""TensorRT rows through the fleet: the host ships the engine's ONNX in a version-2 job, the device builds the engine.

No GPU here: the device side builds with the one fake TensorRT (tests/fakes/trt.py). The ``test_device_*`` tests
import only numpy, common/ and devices/ and run under Python 3.8 in the light device venv too
(:func:`test_device_side_tests_pass_under_python38`); the host tests import the harness inside themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from common.errors import BenchError, InputError, MissingDependency
from common.hashing import file_sha256
from devices import agent
from devices.job import ArtifactRef, EngineBuild, FrameSet, Job, WorkerResult
from devices.trt_engine import TrtSettings, cached_engine, engine_job
from tests.fakes.trt import engine_spec, make_trt

ROOT = Path(__file__).resolve().parents[2]
TAG = ("jetson-orin-nano-developer-kit", (8, 7))
PY38 = Path(os.environ.get("BENCH_PY38") or Path.home() / ".cache" / "edge-bench" / "venv-py38" / "bin" / "python")
OLD_JOB_COMMIT = "1f42bd7"  # devices/job.py before engine jobs: an older device agent's reader


def _onnx(folder: Path, name: str = "int8-qdq-trt-64.onnx", content: bytes = b"ONNXBYTES-qdq") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def _job(onnx: Path, **engine) -> Job:
    ref = ArtifactRef(onnx.name, file_sha256(onnx), "onnx")
    build = EngineBuild(**{"precision": "int8", "int8_mode": "qdq", "source": ref, **engine})
    return Job(variant="int8", precision=build.precision, runtime="tensorrt", device="jetson-orin-nano", artifact=ref,
               imgsz=64, nc=2, frames=FrameSet("images", 2, ("a.jpg", "b.jpg")), engine=build)


# ------------------------------------------------------------------------------------------ device side

def test_device_engine_is_built_once_into_the_cache_and_reused(tmp_path):
    onnx, cache = _onnx(tmp_path / "shipped"), tmp_path / "engines"
    seen = []
    trt = make_trt("8.5.2")
    built = cached_engine(onnx, TrtSettings("int8", "qdq"), cache_dir=cache, trt=trt, tag=TAG,
                          progress=lambda *a: seen.append(a))
    assert not built.reused and built.path.parent == cache and built.path.suffix == ".engine"
    assert "-int8-jetson-orin-nano-developer-kit-trt8.5.2-" in built.path.name
    assert engine_spec(built.path.read_bytes())["network"].startswith("ONNXBYTES-qdq")  # built from the shipped ONNX
    assert seen == [("building engine", 0, 1), ("building engine", 1, 1)]
    assert built.record["sha256"] == file_sha256(built.path) and built.record["tensorrt"]["version"] == "8.5.2"
    assert (cache / "timing-jetson-orin-nano-developer-kit-trt8.5.2.cache").is_file()
    block = built.runtime_block()
    assert block["tensorrt"] == "8.5.2" and block["reused"] is False and block["source_sha256"] == file_sha256(onnx)
    assert block["settings"]["precision"] == "int8" and isinstance(block["build_seconds"], float)

    again = make_trt("8.5.2")
    reused = cached_engine(onnx, TrtSettings("int8", "qdq"), cache_dir=cache, trt=again, tag=TAG,
                           progress=lambda *a: seen.append(a))
    assert reused.reused and reused.path == built.path and "config" not in again.calls  # nothing built
    assert seen[-1] == ("building engine (cached)", 1, 1) and reused.runtime_block()["reused"] is True

    # another TensorRT, other settings, another ONNX, another GPU: each its own engine
    others = [cached_engine(onnx, TrtSettings("int8", "qdq"), cache_dir=cache, trt=make_trt("10.3.0"), tag=TAG),
              cached_engine(onnx, TrtSettings("fp16"), cache_dir=cache, trt=make_trt("8.5.2"), tag=TAG),
              cached_engine(_onnx(tmp_path / "b", content=b"OTHERONNX"), TrtSettings("int8", "qdq"), cache_dir=cache,
                            trt=make_trt("8.5.2"), tag=TAG),
              cached_engine(onnx, TrtSettings("int8", "qdq"), cache_dir=cache, trt=make_trt("8.5.2"),
                            tag=("jetson-agx-orin", (8, 7)))]
    assert not any(o.reused for o in others) and len({o.path for o in others} | {built.path}) == 5


def test_device_a_damaged_cached_engine_is_rebuilt_not_reused(tmp_path):
    onnx, cache = _onnx(tmp_path), tmp_path / "engines"
    built = cached_engine(onnx, TrtSettings("fp16"), cache_dir=cache, trt=make_trt(), tag=TAG)
    built.path.write_bytes(b"half an engine")
    again = cached_engine(onnx, TrtSettings("fp16"), cache_dir=cache, trt=make_trt(), tag=TAG)
    assert not again.reused and again.path == built.path and file_sha256(again.path) == again.record["sha256"]


def test_device_a_failed_build_is_one_line_and_leaves_nothing_behind(tmp_path):
    onnx, cache = _onnx(tmp_path), tmp_path / "engines"
    with pytest.raises(BenchError) as err:
        cached_engine(onnx, TrtSettings("int8", "qdq"), cache_dir=cache, trt=make_trt(fail_build=True), tag=TAG)
    assert str(err.value) == "TensorRT engine build failed: out of memory while building"
    assert sorted(p.name for p in cache.iterdir()) == []  # no engine, no sidecar, no partial file
    broken = _onnx(tmp_path, "broken.onnx", b"BROKEN")
    with pytest.raises(BenchError, match=r"could not parse .*broken\.onnx: In node 3 \(Conv\): unsupported"):
        cached_engine(broken, TrtSettings("fp16"), cache_dir=cache, trt=make_trt(), tag=TAG)
    with pytest.raises(InputError, match="--dla-core: expected a DLA core below 0 on this device, got 0"):
        cached_engine(onnx, TrtSettings("fp16", dla_core=0), cache_dir=cache, trt=make_trt(dla_cores=0), tag=TAG)
    with pytest.raises(InputError, match="no calibration images on the device"):
        cached_engine(onnx, TrtSettings("int8", "calibrator"), cache_dir=cache, trt=make_trt(), tag=TAG)
    assert not list(cache.glob("*.engine"))


def test_device_engine_job_points_the_job_at_the_engine_and_builds_the_batch_one_too(tmp_path):
    onnx = _onnx(tmp_path / "shipped")
    batch_onnx = _onnx(tmp_path / "shipped", "int8-qdq-trt-64-b8.onnx", b"ONNXBYTES-b8")
    job = replace(_job(onnx), batch=8, batch_artifact=ArtifactRef(batch_onnx.name, file_sha256(batch_onnx), "onnx"))
    kw = {"trt": make_trt("8.5.2"), "tag": TAG, "cache_dir": tmp_path / "engines"}
    ready, path, block = engine_job(job, onnx, **kw)
    assert ready.artifact == ArtifactRef(path.name, file_sha256(path), "engine") and ready.runtime == "tensorrt"
    assert ready.batch_artifact.format == "engine" and (path.parent / ready.batch_artifact.name).is_file()
    assert engine_spec((path.parent / ready.batch_artifact.name).read_bytes())["network"].startswith("ONNXBYTES-b8")
    assert block["tensorrt"] == "8.5.2" and block["batch"]["source_sha256"] == file_sha256(batch_onnx)
    assert ready.engine == job.engine  # the record keeps what the engine was built from
    with pytest.raises(InputError, match="expected int8-qdq-trt-64.onnx with sha256"):
        engine_job(job, _onnx(tmp_path / "wrong", content=b"ANOTHER FILE"), **kw)


def test_device_agent_run_builds_then_measures_the_engine_and_reports_it(tmp_path, monkeypatch):
    import devices.worker

    onnx = _onnx(tmp_path / "shipped")
    job_path = tmp_path / "job.json"
    job_path.write_text(_job(onnx).to_json())
    frames = tmp_path / "frames.npz"
    frames.write_bytes(agent.save_frames_bytes(agent.synthetic_frames(2)))
    measured = {}

    def fake_run_job(job, *, artifact, out, frames, progress=None, verify=True):  # the runtime is tested elsewhere
        measured.update(job=job, artifact=Path(artifact))
        return WorkerResult(job.variant, {"stages_ms": {}}, {}, {"runtime": job.runtime}, {"tensorrt": "8.5.2"}, 2)

    monkeypatch.setattr(devices.worker, "run_job", fake_run_job)
    result = agent.run(job_path, artifact=onnx, frames=frames, out=tmp_path / "out",
                       engine_kwargs={"trt": make_trt("8.5.2"), "tag": TAG, "cache_dir": tmp_path / "engines"})
    assert measured["artifact"].suffix == ".engine" and measured["job"].artifact.format == "engine"
    assert result.runtime["runtime"] == "tensorrt" and result.runtime["engine"]["tensorrt"] == "8.5.2"
    assert result.runtime["engine"]["reused"] is False
    written = json.loads((tmp_path / "out" / "result.json").read_text())
    assert written["runtime"]["engine"]["file"] == measured["artifact"].name


def test_device_without_tensorrt_the_row_fails_naming_the_jetpack_package(tmp_path, monkeypatch):
    try:
        import tensorrt  # noqa: F401
        pytest.skip("tensorrt is installed here: the missing-TensorRT path cannot be shown")
    except ImportError:
        pass
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    onnx = _onnx(tmp_path / "host")
    reply = agent.execute(_job(onnx).to_json(), {onnx.name: onnx.read_bytes()},
                          agent.save_frames_bytes(agent.synthetic_frames(2)), timeout=120)
    assert reply["ok"] is False and "\n" not in reply["error"]
    assert "python3-libnvinfer" in reply["error"] and "tensorrt" in reply["error"]
    with pytest.raises(MissingDependency, match="python3-libnvinfer"):
        engine_job(_job(onnx), onnx, tag=TAG, cache_dir=tmp_path / "engines")


def test_device_job_round_trips_with_and_without_an_engine(tmp_path):
    job = _job(_onnx(tmp_path), workspace_mib=512, dla_core=1, sparse_weights=True)
    data = json.loads(job.to_json())
    assert data["version"] == 2 and data["engine"]["dla_core"] == 1 and data["engine"]["source"]["format"] == "onnx"
    assert Job.from_json(job.to_json()) == job
    plain = replace(job, engine=None)
    assert json.loads(plain.to_json())["version"] == 1 and "engine" not in plain.to_json()  # as before engine jobs
    assert Job.from_json(plain.to_json()) == plain
    assert Job.from_json(replace(job, engine=replace(job.engine, source=None)).to_json()).engine.source is None


@pytest.mark.parametrize("patch, message", [
    ({"version": 1}, "job: expected job version 2 for a job with an 'engine' block, got version 1"),
    ({"engine": None}, "job: expected job version 1, or version 2 with an 'engine' block, got version 2 without one"),
    ({"engine": {"precision": "int8", "int8_mode": "calibrator"}}, "job.engine.int8_mode: expected 'qdq' for int8"),
    ({"engine": {"precision": "bf16"}}, "job.engine.precision: expected fp32, fp16 or int8, got 'bf16'"),
    ({"engine": {"precision": "fp16", "workspace_mib": 8}}, "job.engine.workspace_mib: expected an integer >= 16, got 8"),
    ({"engine": {"precision": "fp16", "sparse_weights": "yes"}}, "job.engine.sparse_weights: expected true or false"),
    ({"version": 3}, "job: expected job version 1 or 2 (this bench reads only those;"),
])
def test_device_a_bad_engine_job_is_one_clear_line(tmp_path, patch, message):
    data = json.loads(_job(_onnx(tmp_path)).to_json())
    data.update(patch)
    with pytest.raises(InputError) as err:
        Job.from_dict(data)
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_device_an_older_agent_refuses_an_engine_job_in_one_line(tmp_path, monkeypatch):
    """The reader of the bench before engine jobs (devices/job.py at OLD_JOB_COMMIT) gets a version-2 job."""
    old = subprocess.run(["git", "show", f"{OLD_JOB_COMMIT}:devices/job.py"], cwd=ROOT, capture_output=True, text=True)
    if old.returncode != 0:
        pytest.skip(f"the older reader is not in this checkout's history ({OLD_JOB_COMMIT}: {old.stderr.strip()})")
    import importlib.util

    (tmp_path / "old_job.py").write_text(old.stdout)
    spec = importlib.util.spec_from_file_location("old_job", tmp_path / "old_job.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "old_job", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    job = _job(_onnx(tmp_path))
    with pytest.raises(InputError) as err:
        module.Job.from_json(job.to_json())
    assert str(err.value) == ("job: expected job version 1 (this bench reads only that one; run the same bench version "
                              "on host and device), got version 2")
    assert module.Job.from_json(replace(job, engine=None).to_json()).variant == "int8"  # every other job still runs


@pytest.mark.slow
def test_device_side_tests_pass_under_python38():
    """The ``test_device_*`` tests above, in the light Python 3.8 venv (numpy, psutil, onnxruntime; pytest beside)."""
    tools = Path(str(PY38.parent.parent) + "-testtools")
    if not PY38.is_file() or not (tools / "pytest").is_dir():
        pytest.skip(f"no Python 3.8 device venv with its pytest at {PY38} / {tools} (.ci/run makes them)")
    proc = subprocess.run([str(PY38), "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "test_device_ and not python38",
                           str(Path(__file__))], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": f"{ROOT}{os.pathsep}{tools}", "PATH": os.path.dirname(sys.executable) + ":/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout


# -------------------------------------------------------------------------------------------- host side

def _jetson(job_versions=(1, 2)):
    from harness.fleet import FleetDevice

    described = {"runtimes": {"tensorrt": {"available": True, "version": "8.5.2"},
                              "onnxruntime": {"available": True, "providers": ["CPUExecutionProvider"]}},
                 "python": "3.8.10", "job_version": 1}
    if job_versions:
        described["job_versions"] = list(job_versions)
    return FleetDevice(name="orin1", profile="jetson-orin-nano", runtime={"runtime": "tensorrt", "providers": []},
                       python="/usr/bin/python3.8", agent=described, node_ip="10.0.0.8")


def _plan(tmp_path, **options):
    from harness.fleet_run import plan_lane, remote_device
    from harness.options import RunOptions
    from tests.harness.test_control import DATA, shipped_trio

    trio = shipped_trio(tmp_path)
    opts = replace(RunOptions(variants="fp16,int8,pruned30-int8"), variant_options=options)
    dev = _jetson()
    resolved = remote_device(dev)
    plan, _ = plan_lane(opts, trio.model, DATA, resolved, None, read=trio.files.read)
    return opts, trio.model, DATA, resolved, plan


def test_host_plans_a_jetsons_trt_rows_as_engine_jobs(tmp_path):
    from harness import fleet_trt
    from harness.plan import make_task

    opts, model, data, resolved, plan = _plan(tmp_path)
    rows = [r for r in plan if r.reason is None]
    assert [r.name for r in rows] == ["fp32", "fp16", "int8", "pruned30-int8", "fp32+ft20"]  # fp32: the reference
    assert all(r.spec.fmt == "trt" for r in rows)
    for row in rows:
        assert fleet_trt.skip_reason(row.spec, resolved.profile, _jetson().agent, opts.variant_options) is None
        build, job, _ = make_task(opts, model, data, resolved, row)
        job = replace(job, engine=fleet_trt.engine_build(row.spec, opts.variant_options))
        assert build.format == "trt" and job.runtime == "tensorrt" and job.engine.precision == row.spec.precision
        assert job.engine.int8_mode == ("qdq" if row.spec.precision == "int8" else None)
        shipped = (object(), ArtifactRef("x.onnx", "ab" * 32, "onnx"), {})
        sent = fleet_trt.with_source(job, shipped).with_artifact(shipped[1])
        assert sent.engine.source == shipped[1] and json.loads(sent.to_json())["version"] == 2
        assert Job.from_json(sent.to_json()) == sent
        assert fleet_trt.with_source(job, "build failed: no") is job


def test_host_skips_what_a_device_cannot_build_with_the_reason(tmp_path):
    from harness import fleet_trt

    opts, _, _, resolved, plan = _plan(tmp_path, trt_int8_mode="calibrator")
    by = {r.name: r for r in plan}
    new, old = _jetson().agent, _jetson(job_versions=()).agent
    assert "calibration images, which stay on the host" in fleet_trt.skip_reason(by["int8"].spec, resolved.profile, new,
                                                                                  opts.variant_options)
    assert fleet_trt.skip_reason(by["fp16"].spec, resolved.profile, new, opts.variant_options) is None
    dla = {"dla_core": 0}
    assert fleet_trt.skip_reason(by["fp16"].spec, resolved.profile, new, dla) == (
        "--dla-core 0: the device's profile jetson-orin-nano has no DLA")
    assert "update bench there and rejoin" in fleet_trt.skip_reason(by["fp16"].spec, resolved.profile, old, {})
    with pytest.raises(InputError, match="--workspace"):
        fleet_trt.skip_reason(by["fp16"].spec, resolved.profile, new, {"workspace_mib": 8})


@pytest.mark.parametrize("variant, source, profile", [
    ("fp16", "fp32", None), ("fp32", "fp32", None), ("int8", "int8", "trt"), ("pruned30-int8", "pruned30-int8", "trt"),
    ("pruned30-fp16", "pruned30", None),
])
def test_host_builds_the_onnx_the_engine_is_built_from(monkeypatch, variant, source, profile):
    import harness.worker
    from harness import fleet_trt
    from harness.worker import BuildRequest

    asked = []
    monkeypatch.setattr(harness.worker, "build_artifact", lambda b, progress=None, **kw: asked.append((b, kw)) or "art")
    build = BuildRequest(source="m.pt", variant=variant, format="trt", imgsz=64, cache_dir="/tmp/x")
    assert fleet_trt.build_source(build, batch=4) == "art"
    (b, kw), = asked
    assert (b.variant, b.format, kw) == (source, "onnx", {"batch": 4, "int8_profile": profile})


@pytest.mark.slow
def test_host_ships_the_very_onnx_a_local_trt_build_makes_its_engine_from(tmp_path, monkeypatch):
    """int8: the QDQ ONNX quantized with the ``trt`` profile, the same cached file as a local ``--format trt`` run's."""
    from exporters import tensorrt_build as tb
    from exporters.build import build_variant
    from exporters.spec import parse_variant
    from harness import fleet_trt
    from harness.worker import BuildRequest
    from tests.exporters.conftest import IMGSZ, save_random_model
    from tests.exporters.synthdata import make_dataset

    pt = save_random_model("yolo11n.yaml", tmp_path / "yolo11n-random.pt")
    data = make_dataset(tmp_path / "data", n_train=6, n_val=2, size=IMGSZ)
    build = BuildRequest(source=str(pt), variant="int8", format="trt", imgsz=IMGSZ, cache_dir=str(tmp_path / "cache"),
                         data_yaml=str(data), calib_images=3)
    shipped = fleet_trt.build_source(build, progress=None)
    assert shipped.path.name == "int8-qdq-trt-64.onnx" and shipped.manifest["quantization"]["profile"] == "trt"
    assert shipped.manifest["quantization"]["activation_symmetric"] is True  # what TensorRT's explicit INT8 needs

    monkeypatch.setattr(tb, "import_tensorrt", lambda: make_trt("8.5.2"))
    monkeypatch.setattr(tb, "device_tag", lambda: TAG)
    local = build_variant(pt, parse_variant("int8", fmt="trt"), cache_dir=tmp_path / "cache", imgsz=IMGSZ,
                          data_yaml=data, calib_images=3)
    assert local.manifest["parent"] == {"file": shipped.path.name, "sha256": shipped.manifest["artifact"]["sha256"]}
    device = cached_engine(shipped.path, TrtSettings("int8", "qdq"), cache_dir=tmp_path / "engines", trt=make_trt("8.5.2"),
                           tag=TAG)
    assert engine_spec(device.path.read_bytes()) == engine_spec(local.path.read_bytes())  # the same engine input
