"""The per-frame pipeline, per-scope timing and pipelined throughput."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from common.errors import InputError
from harness.pipeline.postprocess import Detections
from harness.pipeline.runner import Pipeline, pipelined_throughput, time_pipeline

from .conftest import smooth_images


class OneBoxSession:
    """A stand-in runtime: one box at the centre of the input, class 1; records its inputs."""

    def __init__(self, *, input_dtype=np.float32, input_shape=(1, 3, 64, 96)):
        self.input_dtype = input_dtype
        self.input_shape = input_shape
        self.seen: list[np.ndarray] = []

    def run(self, x):
        self.seen.append(x)
        h, w = x.shape[2:]
        out = np.zeros((1, 6, 200), np.float32)
        out[0, :, 0] = [w / 2, h / 2, 16, 8, 0.1, 0.9]
        return [out]


def test_pipeline_end_to_end_with_input_size_from_the_session():
    session = OneBoxSession(input_dtype=np.float16)
    pipe = Pipeline(session, nc=2)
    assert pipe.imgsz == (64, 96)
    det = pipe(np.zeros((128, 96, 3), np.uint8))  # scaled by 0.5, padded 24 px left and right
    assert session.seen[0].shape == (1, 3, 64, 96) and session.seen[0].dtype == np.float16
    assert det.classes.tolist() == [1]
    np.testing.assert_allclose(det.boxes, [[32.0, 56.0, 64.0, 72.0]])


@pytest.mark.parametrize(
    ("session", "kwargs", "fragment"),
    [
        (OneBoxSession(input_shape=(1, 3, "h", "w")), {}, "model input: expected a fixed input shape"),
        (OneBoxSession(), {"imgsz": 16}, "imgsz: expected an input size of at least 32 pixels"),
        (OneBoxSession(), {"nc": 0}, "nc: expected a positive class count"),
        (OneBoxSession(), {"conf": -1}, "conf: expected"),
        (OneBoxSession(), {"max_det": 1.5}, "max_det: expected a positive integer"),
    ],
)
def test_pipeline_settings_are_checked_once(session, kwargs, fragment):
    with pytest.raises(InputError, match=None) as err:
        Pipeline(session, **kwargs)
    assert fragment in str(err.value)


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class ScriptedPipeline:
    """Each stage advances a fake clock by a fixed amount (1 ms, 8 ms, 2 ms) and logs the frame."""

    def __init__(self, clock: FakeTime):
        self.clock = clock
        self.frames: list[int] = []

    def preprocess(self, frame):
        self.clock.now += 0.001
        self.frames.append(frame)
        return frame, None

    def infer(self, x):
        self.clock.now += 0.008
        return x

    def postprocess(self, out, info):
        self.clock.now += 0.002
        return out


def test_scopes_are_timed_separately_on_the_timed_frames():
    clock = FakeTime()
    pipe = ScriptedPipeline(clock)
    t = time_pipeline(pipe, [10, 11, 12], pipelined=False, clock=clock, warmup_min=0, stable_window=2,
                      min_iters=7, min_seconds=0)
    assert t.end_to_end.warmup_iterations == 4 and t.end_to_end.n == 7
    assert pipe.frames == [10, 11, 12] * 3 + [10, 11]  # frames cycled in order through warm-up and timing
    assert (t.preprocess.p50, t.inference.p50, t.postprocess.p50) == pytest.approx((1.0, 8.0, 2.0))
    assert t.end_to_end.latency.p50 == pytest.approx(11.0)
    assert t.preprocess.n == t.inference.n == t.postprocess.n == 7 and len(t.inference_samples_ms) == 7
    assert t.fps == pytest.approx(1000 / 11) and t.pipelined_fps is None
    d = t.to_dict()
    assert d["inference"]["p50_ms"] == pytest.approx(8.0) and d["extra"]["frames"] == 3 and d["pipelined_fps"] is None
    assert set(d) == {"preprocess", "inference", "postprocess", "end_to_end", "fps", "pipelined_fps",
                      "timed_seconds", "warmup_iterations", "extra"}


def test_timing_block_is_a_valid_record_timing(tmp_path):
    """The block drops into a v1 record and passes the record validator, samples included."""
    import json
    from pathlib import Path

    from results.encoding import decode_floats
    from results.schema import validate_record

    clock = FakeTime()
    t = time_pipeline(ScriptedPipeline(clock), [1, 2], pipelined=False, clock=clock, warmup_min=0,
                      stable_window=2, min_iters=5, min_seconds=0)
    example = Path(__file__).resolve().parents[1] / "results" / "data" / "record_v1.json"
    if not example.exists():
        pytest.skip(f"{example} not present in this checkout")
    record = json.loads(example.read_text())
    from results.record import timing_entry

    block = timing_entry({"inference": t.inference_samples_ms, "end_to_end": t.end_to_end.samples_ms}, fps=t.fps)
    record["variants"][0]["timing"] = json.loads(json.dumps({**t.to_dict(), **block}))
    parsed = validate_record(record, "test record").variants[0].timing
    assert parsed.stage("inference").p50_ms == pytest.approx(8.0) and parsed.fps == pytest.approx(1000 / 11)
    assert decode_floats(record["variants"][0]["timing"]["inference_samples_ms"], "x") == pytest.approx((8.0,) * 5)


def test_no_frames_is_an_input_error():
    with pytest.raises(InputError, match="timing frames: expected at least one frame"):
        time_pipeline(ScriptedPipeline(FakeTime()), [], clock=FakeTime())
    with pytest.raises(InputError, match="pipelined run: expected at least one frame"):
        pipelined_throughput([], lambda f: (f, None), lambda x: x, lambda o, c: o)


def test_pipelined_results_come_out_in_frame_order():
    rng = np.random.default_rng(0)
    jitter = rng.uniform(0, 0.002, (3, 40))
    results = []

    def pre(i):
        time.sleep(jitter[0, i])
        return i * 2, i

    def infer(x):
        time.sleep(jitter[1, x // 2])
        return x + 1

    def post(out, ctx):
        time.sleep(jitter[2, ctx])
        return out, ctx

    pipelined_throughput(range(40), pre, infer, post, on_result=lambda i, r: results.append((i, r)))
    assert results == [(i, (2 * i + 1, i)) for i in range(40)]


def test_stages_overlap():
    """Inference of frame 0 only finishes once frame 1 is being preprocessed, and inference of
    frame 1 only once frame 0 is being postprocessed: a sequential loop would time out here."""
    pre_started = [threading.Event() for _ in range(3)]
    post_started = [threading.Event() for _ in range(3)]

    def pre(i):
        pre_started[i].set()
        return i, i

    def infer(i):
        if i == 0:
            assert pre_started[1].wait(5), "frame 1 was not preprocessed during inference of frame 0"
        if i == 1:
            assert post_started[0].wait(5), "frame 0 was not postprocessed during inference of frame 1"
        return i

    def post(out, ctx):
        post_started[ctx].set()
        return out

    pipelined_throughput(range(3), pre, infer, post)


def test_pipelined_fps_is_frames_over_the_window():
    lock = threading.Lock()
    ticks = iter(range(1000))

    def clock():  # one tick per reading: start, then one reading per finished frame
        with lock:
            return float(next(ticks))

    fps = pipelined_throughput(range(8), lambda f: (f, None), lambda x: x, lambda o, c: o, clock=clock)
    assert fps == pytest.approx(8 / 8)


@pytest.mark.parametrize("stage", ["pre", "infer", "post"])
def test_a_failing_stage_stops_the_pipeline_and_raises(stage):
    before = threading.active_count()

    def maybe_fail(name, i):
        if name == stage and i == 5:
            raise RuntimeError(f"{name} broke on frame {i}")

    def pre(i):
        maybe_fail("pre", i)
        return i, i

    def infer(i):
        maybe_fail("infer", i)
        return i

    def post(out, ctx):
        maybe_fail("post", ctx)
        return out

    with pytest.raises(RuntimeError, match=f"{stage} broke on frame 5"):
        pipelined_throughput(range(1000), pre, infer, post, queue_size=1)
    assert threading.active_count() == before


class OrtSession:
    def __init__(self, path):
        import onnxruntime as ort

        self._s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        inp = self._s.get_inputs()[0]
        self._name, self.input_shape, self.input_dtype = inp.name, inp.shape, np.float32

    def run(self, x):
        return self._s.run(None, {self._name: x})


@pytest.mark.slow
def test_real_model_pipelined_detections_equal_sequential(random_onnx):
    pipe = Pipeline(OrtSession(random_onnx), nc=80)
    frames = smooth_images(21, 4)
    expected = [pipe(f) for f in frames]
    got: list[Detections] = []
    pipelined_throughput(frames, pipe.preprocess, pipe.infer, pipe.postprocess, on_result=lambda i, d: got.append(d))
    assert sum(len(d) for d in expected) > 0
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a.boxes, b.boxes)
        np.testing.assert_array_equal(a.classes, b.classes)
    t = time_pipeline(pipe, frames, warmup_min=0, warmup_max_iters=3, min_iters=8, min_seconds=0)
    assert t.end_to_end.n == 8 and t.pipelined_fps > 0 and t.inference.p50 > 0
