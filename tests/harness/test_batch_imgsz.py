"""``bench run --imgsz N --batch N``: argument checks, the Job and record they make, the batched timing, the table.

Fast: fake sessions and clocks, the frozen records of tests/results/data; the end-to-end run is one @slow test.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from common.errors import InputError
from devices.job import ArtifactRef, FrameSet, Job
from harness.cli import main
from harness.options import RunOptions
from harness.pipeline.runner import Pipeline, time_batch
from harness.plan import ModelChoice

ROOT = Path(__file__).resolve().parents[2]
RECORDS = ROOT / "tests" / "results" / "data"


def _run(capsys, *argv):
    code = main(["run", *argv])
    return code, capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("argv, needle", [
    (["--imgsz", "100"], "--imgsz: expected a multiple of 32 in 32..2048, got 100"),
    (["--imgsz", "4096"], "--imgsz: expected a multiple of 32 in 32..2048, got 4096"),
    (["--imgsz", "0"], "--imgsz: expected a multiple of 32"),
    (["--batch", "0"], "--batch: expected a batch in 1..256, got 0"),
    (["--batch", "257"], "--batch: expected a batch in 1..256, got 257"),
    (["--model", "exported.onnx", "--batch", "8"], "--batch: expected a .pt model for --batch above 1"),
])
def test_bad_imgsz_or_batch_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, err = _run(capsys, *argv, "--archive", str(tmp_path / "arch"))
    assert code == 2
    assert len(err) == 1 and err[0].startswith("bench: error:") and needle in err[0], err
    assert not (tmp_path / "arch").exists()


def _model(kind: str = "pt", imgsz: int = 640) -> ModelChoice:
    return ModelChoice(Path(f"/m/yolo11n.{kind}"), kind, "yolo11n", "yolo11", imgsz, ("a", "b"), "0" * 64, None)


def test_imgsz_overrides_a_pt_models_size_and_remembers_its_own():
    m = _model().with_imgsz(416)
    assert (m.imgsz, m.own_imgsz) == (416, 640)
    assert _model().with_imgsz(None) == _model() and _model().with_imgsz(640).own_imgsz is None


def test_imgsz_other_than_a_fixed_onnx_input_is_one_clear_line():
    with pytest.raises(InputError) as err:
        _model("onnx", 640).with_imgsz(320)
    assert str(err.value).startswith("--imgsz: expected --imgsz 640 or none (the input of yolo11n.onnx is fixed at 640")
    assert _model("onnx", 640).with_imgsz(640).imgsz == 640


def test_imgsz_and_batch_flow_into_the_build_request_and_the_job(tmp_path):
    from devices.resolve import resolve_device
    from harness.plan import ScoredData, make_task, plan_variants

    device = resolve_device("auto", runtime="onnxruntime")
    opts = RunOptions(variants="fp32,int8", imgsz=256, batch=4, calib_data=None)
    model = _model().with_imgsz(opts.imgsz)
    images = tmp_path / "images"
    data = ScoredData("images", str(images), (str(images / "a.jpg"), str(images / "b.jpg")), None, 2, None,
                      ("a", "b"), tmp_path / "data.yaml", None)
    rows = plan_variants(opts, model, device)
    build, job, root = make_task(opts, model, data, device, rows[1])
    assert build.imgsz == 256 and job.imgsz == 256 and job.batch == 4 and job.batch_artifact is None
    assert root == images and job.frames.names == ("a.jpg", "b.jpg")
    single = make_task(opts.replace(batch=1), model, data, device, rows[0])[1]
    assert single.batch == 1 and "batch" not in single.to_dict()  # a single-stream job is written as before


def test_the_job_carries_batch_and_its_artifact_and_old_jobs_load_with_batch_1():
    job = Job(variant="fp32", precision="fp32", runtime="onnxruntime", device="cpu",
              artifact=ArtifactRef("fp32-320.onnx", "ab" * 32, "onnx"), imgsz=320, nc=2,
              frames=FrameSet("images", 1, ("a.jpg",)), batch=8,
              batch_artifact=ArtifactRef("fp32-320-b8.onnx", "cd" * 32, "onnx"))
    again = Job.from_json(job.to_json())
    assert again == job and again.batch_artifact.name == "fp32-320-b8.onnx"
    old = json.loads((ROOT / "tests/harness/data/job-v1.json").read_text())
    assert "batch" not in old and Job.from_dict(old).batch == 1 and Job.from_dict(old).batch_artifact is None
    for bad in (0, 257, "8"):
        with pytest.raises(InputError, match="job.batch"):
            Job.from_dict({**old, "batch": bad})


class _BatchSession:
    """A stand-in batch-N session: one box per image at the input's centre; each call advances a fake clock."""

    input_dtype = np.float32

    def __init__(self, clock: list[float], seconds_per_call: float):
        self.clock, self.seconds = clock, seconds_per_call
        self.shapes = []

    def run(self, x):
        self.shapes.append(x.shape)
        self.clock[0] += self.seconds
        out = np.zeros((x.shape[0], 6, 10), np.float32)
        for i in range(x.shape[0]):
            out[i, :, 0] = [32, 32, 16, 8, 0.9, 0.1 * i]
        return [out]


def test_batched_timing_is_n_images_per_call_and_images_per_s_is_n_over_the_batch_latency():
    clock = [0.0]
    session = _BatchSession(clock, 0.040)  # a batch of 8 takes 40 ms (pre/postprocessing: no fake time)
    pipe = Pipeline(session, imgsz=64, nc=2)
    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(3)]  # fewer frames than the batch: cycled
    timed = time_batch(pipe, frames, batch=8, min_iters=12, min_seconds=0, warmup_min=0, warmup_max_iters=0,
                       clock=lambda: clock[0])
    assert set(session.shapes) == {(8, 3, 64, 64)}
    assert timed.calls.n == 12 and timed.calls.latency.p50 == pytest.approx(40.0)
    assert timed.images_per_s == pytest.approx(8 / 0.040)
    block = timed.to_dict()
    assert block["batch"] == 8 and block["images_per_s"] == pytest.approx(200.0) and block["n"] == 12
    assert block["batch_p50_ms"] == pytest.approx(40.0) and block["batch_p99_ms"] >= block["batch_p50_ms"]


def test_run_batch_gives_each_frame_its_own_detections_in_its_own_pixels():
    pipe = Pipeline(_BatchSession([0.0], 0.0), imgsz=64, nc=2)
    wide, tall = np.zeros((32, 64, 3), np.uint8), np.zeros((64, 32, 3), np.uint8)
    dets = pipe.run_batch([wide, tall])
    assert [d.boxes.tolist() for d in dets] == [[[24.0, 12.0, 40.0, 20.0]], [[8.0, 28.0, 24.0, 36.0]]]
    with pytest.raises(InputError, match="batch"):
        pipe.run_batch([])
    with pytest.raises(InputError):
        time_batch(pipe, [wide], batch=0)


def _record_with_batch(batch: int = 8, imgsz: int = 416) -> dict:
    raw = json.loads((RECORDS / "record_v2.json").read_text())
    raw["settings"]["imgsz"], raw["settings"]["batch"] = imgsz, batch
    for i, v in enumerate(raw["variants"]):
        if v.get("timing"):
            v["timing"]["batch"] = {"batch": batch, "images_per_s": 400.0 + 10 * i, "batch_p50_ms": 19.5,
                                    "batch_p99_ms": 24.0, "batch_mean_ms": 20.1, "n": 12, "timed_seconds": 0.25,
                                    "warmup_iterations": 20, "artifact": f"{v['name']}-416-b{batch}.onnx"}
    return raw


def test_record_round_trips_with_and_without_the_batch_block_and_old_records_load():
    from results.schema import validate_record

    rec = validate_record(_record_with_batch(), "with batch")
    fp32 = rec.variant("fp32").timing.batch
    assert fp32.batch == 8 and fp32.images_per_s == 400.0 and fp32.artifact == "fp32-416-b8.onnx"
    assert validate_record(rec.to_dict(), "again").to_dict() == rec.to_dict()
    for version in (1, 2):
        old = validate_record(json.loads((RECORDS / f"record_v{version}.json").read_text()), f"v{version}")
        assert all(v.timing is None or v.timing.batch is None for v in old.variants)
    bad = _record_with_batch()
    bad["variants"][0]["timing"]["batch"]["batch_p50_ms"] = 50.0  # above its p99
    with pytest.raises(InputError, match="batch_p50_ms <= batch_p99_ms"):
        validate_record(bad, "bad")
    bad = _record_with_batch()
    bad["variants"][0]["timing"]["batch"]["images_per_s"] = 0
    with pytest.raises(InputError, match="images_per_s"):
        validate_record(bad, "bad")


def _printed(rec, width: int = 80) -> str:
    from rich.console import Console

    from results.render import print_run

    buf = io.StringIO()
    print_run(rec, console=Console(width=width, file=buf, color_system=None))
    return buf.getvalue()


def test_the_80_column_table_has_fps_at_b8_and_no_line_over_80():
    from results.schema import validate_record

    text = _printed(validate_record(_record_with_batch(), "x"))
    lines = text.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= 80, text
    assert lines[0].startswith("yolo11n on cpu") and "416 px" in lines[0]
    assert "@b8" in text and "420.0" in text  # the pruned50 row's images/s, never cut
    assert any(line.startswith("FPS@b8: images per second at batch 8") for line in lines)
    assert "scored by the batch-1 pass" in text
    plain = _printed(validate_record(json.loads((RECORDS / "record_v2.json").read_text()), "v2"))
    assert "@b" not in plain and " px" not in plain.splitlines()[0]


def test_compare_shows_fps_at_bn_where_both_runs_have_it_and_never_gates_on_it():
    from results.compare import compare
    from results.schema import validate_record

    base = validate_record(_record_with_batch(), "base")
    slower = _record_with_batch()
    slower["run_id"] = "20991231T000000Z-abcdef"
    for v in slower["variants"]:
        if v.get("timing"):
            v["timing"]["batch"]["images_per_s"] /= 2
    c = compare(base, validate_record(slower, "cand"))
    m = c.variants[0].metric("batch_fps")
    assert m is not None and m.change == pytest.approx(0.5) and m.mark.value == "not significant"
    assert not any(m.metric == "batch_fps" for v in c.regressions for m in v.metrics if m.mark.is_regression)
    assert "shown, never gates" in m.note and "batch pass was" not in m.note
    from results.encoding import encode_floats

    loaded = _record_with_batch()
    loaded["run_id"] = "20991231T000000Z-abcdef"
    loaded["variants"][0]["timing"]["batch"].update(samples_ms=encode_floats([20.0] * 30), cpu_wait_share=0.4)
    m = compare(base, validate_record(loaded, "cand")).variants[0].metric("batch_fps")
    assert m.mark.value == "same" and m.note == "the candidate run's batch pass was contended"
    plain = validate_record(json.loads((RECORDS / "record_v2.json").read_text()), "v2")
    assert compare(base, plain).variants[0].metric("batch_fps") is None


@pytest.mark.slow
def test_end_to_end_batch_4_at_256_px_on_onnxruntime(tmp_path):
    """The run measures fp32 and int8 at batch 4 beside the single stream, at 256 px, and archives it."""
    cmd = [sys.executable, "-m", "harness", "run", "--variants", "fp32,int8", "--limit", "16", "--batch", "4",
           "--imgsz", "256", "--runtime", "onnxruntime", "--min-iters", "20", "--min-seconds", "0.5",
           "--bootstrap", "0", "--archive", str(tmp_path / "arch"), "--json"]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1500,
                          env={**__import__("os").environ, "YOLO_OFFLINE": "true", "YOLO_AUTOINSTALL": "false"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(proc.stdout)
    assert record["settings"]["imgsz"] == 256 and record["settings"]["batch"] == 4
    for v in record["variants"]:
        assert v["status"] == "ok", v.get("reason")
        batch = v["timing"]["batch"]
        assert batch["batch"] == 4 and batch["images_per_s"] > 0 and batch["artifact"].endswith("-256-b4.onnx")
        assert v["artifact"]["artifact"]["file"].endswith("-256.onnx")  # the batch-1 artifact scores accuracy
        assert batch["images_per_s"] == pytest.approx(4 * batch["n"] / batch["timed_seconds"])
        assert batch["samples_ms"]["n"] == batch["n"]  # encoded like the single stream's samples
    assert len(list((tmp_path / "arch").rglob("*.json"))) == 1


def test_a_contended_or_unstable_batch_pass_is_marked_in_its_own_cell_with_its_figures():
    """The FPS@bN figure is judged like the single stream (results.validity.batch_verdict): its own CPU wait and
    its calls' time blocks; marked in the status as `@b8 CU`, its figures on the legend's marked-rows line; old
    records stay unmarked."""
    from results.encoding import encode_floats
    from results.schema import validate_record
    from results.validity import batch_verdict

    raw = _record_with_batch()
    steady = [20.0] * 30
    for v in raw["variants"]:
        if v.get("timing"):
            v["timing"]["batch"].update(samples_ms=encode_floats(steady), cpu_wait_share=0.05)
    int8 = next(v for v in raw["variants"] if v["name"] == "int8")
    int8["timing"]["batch"].update(samples_ms=encode_floats([20.0] * 15 + [30.0] * 15), cpu_wait_share=0.45)
    rec = validate_record(raw, "marked")
    assert rec.variant("int8").timing.batch.samples_ms == tuple([20.0] * 15 + [30.0] * 15)
    assert validate_record(rec.to_dict(), "again").to_dict() == rec.to_dict()
    verdict = batch_verdict(rec.variant("int8"))
    assert (verdict.contended, verdict.unstable, verdict.throttled) == (True, True, False)
    assert batch_verdict(rec.variant("fp32")).ok and batch_verdict(rec.variant("fp32")).checked == ("contended",
                                                                                                  "unstable")
    text = _printed(rec, 120)
    row = next(line for line in text.splitlines() if line.lstrip().startswith("int8"))
    assert "ok @b8 CU" in row and "(" not in row.split("ok @b8 CU")[1] and "410.0" in row
    assert "int8's FPS@b8 CU (wait 45%, blocks 1.50x)" in " ".join(text.split())  # the block spread: 30 / 20
    fp32 = next(line for line in text.splitlines() if line.lstrip().startswith("fp32"))
    assert "400.0" in fp32 and "@b8" not in fp32
    old = validate_record(_record_with_batch(), "older")  # no samples, no wait: nothing judged, nothing marked
    assert batch_verdict(old.variant("int8")).checked == () and "@b8 C" not in _printed(old, 120)
    narrow = _printed(rec, 80)  # at 80 columns the variant names stay whole; the status wraps instead
    assert max(len(line.rstrip()) for line in narrow.splitlines()) <= 80
    assert any(line.split()[:1] == ["pruned50"] for line in narrow.splitlines())
    bad = _record_with_batch()
    bad["variants"][0]["timing"]["batch"]["cpu_wait_share"] = 1.5
    with pytest.raises(InputError, match="cpu_wait_share"):
        validate_record(bad, "bad")


def test_the_report_says_what_the_batch_pass_was_judged_on():
    from results.encoding import encode_floats
    from results.report import _telemetry_table
    from results.schema import validate_record

    raw = _record_with_batch()
    for v in raw["variants"]:
        if v.get("timing"):
            v["timing"]["batch"].update(samples_ms=encode_floats([20.0] * 30), cpu_wait_share=0.05)
            v["telemetry"] = {"process": {"cpu_wait_share": 0.05}}
    next(v for v in raw["variants"] if v["name"] == "int8")["timing"]["batch"]["cpu_wait_share"] = 0.45
    rec = validate_record(raw, "x")
    table = _telemetry_table(rec.variants)
    rows = {r[0]: r[1:] for r in table.rows}
    names = [v.name for v in rec.variants if v.ok]
    waits = rows["batch pass: CPU wait (% of ready time)"]  # one row, one number of decimals, as the batch-1 row
    assert waits[names.index("int8")] == "45.0" and waits[names.index("fp32")] == "5.0"
    assert rows["CPU wait (% of ready time)"][names.index("fp32")] == "5.00"
    assert rows["batch pass figures"][names.index("int8")] == "contended"
    assert rows["batch pass figures"][names.index("fp32")] == "ok"
