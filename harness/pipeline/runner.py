"""How the per-frame pipeline is timed: per scope, end to end, pipelined, and at batch N.

The pipeline itself (:class:`~harness.pipeline.pipeline.Pipeline`) lives in :mod:`harness.pipeline.pipeline`;
it is re-exported here.

Scopes, all on frames already decoded into memory (reading and decoding the image or video
file is *not* timed, for every variant alike):

* ``preprocess``: letterbox + BGR->RGB + HWC->CHW + scale to [0, 1] in the model's input dtype;
* ``inference``: ``session.run`` (for ONNX Runtime: host input to host output);
* ``postprocess``: decode + class-aware NMS + undo the letterbox;
* ``end_to_end``: one frame through all three, one after the other.
* ``batch`` (:func:`time_batch`, with ``--batch N``): N frames per call, the throughput scenario
  (MLPerf's Offline): preprocess of the N frames + one inference on the stacked ``N x 3 x H x W``
  input + postprocess of the N outputs, timed as one sample; images per second = N x calls / the
  timed window.

*Pipelined throughput* runs the three stages the way a deployed camera pipeline does: a thread
preprocesses frame *i+1* and another postprocesses frame *i-1* while frame *i* is in inference,
handing frames over through bounded queues. It reports frames per second over the whole run.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from common.errors import InputError, expected
from harness.pipeline.pipeline import Pipeline
from harness.pipeline.timing import Clock, LatencyStats, Progress, TimingResult, measure

__all__ = ["BatchTiming", "Pipeline", "PipelineTiming", "pipelined_throughput", "time_batch", "time_pipeline"]


@dataclass(frozen=True, eq=False)
class PipelineTiming:
    """Per-scope latencies of the same timed frames, end-to-end FPS and pipelined FPS.

    Attributes:
        preprocess: latency of the preprocess scope.
        inference: latency of the inference scope.
        postprocess: latency of the postprocess scope.
        end_to_end: the timed loop over whole frames (its samples, FPS and warm-up outcome).
        inference_samples_ms: raw inference samples (for significance tests between runs).
        pipelined_fps: throughput with the stages overlapped, ``None`` when not measured.
        frames: number of distinct frames cycled through.
    """

    preprocess: LatencyStats
    inference: LatencyStats
    postprocess: LatencyStats
    end_to_end: TimingResult
    inference_samples_ms: np.ndarray
    pipelined_fps: float | None
    frames: int

    @property
    def fps(self) -> float:
        """Sequential end-to-end frames per second over the timed window."""
        return self.end_to_end.fps

    def to_dict(self) -> dict:
        """The stage summaries and throughput in the record's ``timing`` form (without raw samples).

        The raw samples stay arrays here (:attr:`inference_samples_ms`, ``end_to_end.samples_ms``): the
        record's array encoding belongs to results/ (:func:`results.record.timing_entry`), which this
        library does not import.

        Returns:
            Stage summaries, ``fps``, ``pipelined_fps``, ``warmup_iterations``, ``timed_seconds``
            and, under ``extra``, the warm-up outcome and the number of distinct frames.
        """
        return {
            "preprocess": self.preprocess.to_dict(),
            "inference": self.inference.to_dict(),
            "postprocess": self.postprocess.to_dict(),
            "end_to_end": self.end_to_end.latency.to_dict(),
            "fps": self.end_to_end.fps,
            "pipelined_fps": self.pipelined_fps,
            "warmup_iterations": self.end_to_end.warmup_iterations,
            "timed_seconds": self.end_to_end.window_s,
            "extra": {
                "warmup_seconds": self.end_to_end.warmup_s,
                "warmup_stable": self.end_to_end.warmup_stable,
                "frames": self.frames,
            },
        }


@dataclass(frozen=True, eq=False)
class BatchTiming:
    """The throughput pass: ``batch`` frames per timed call (see the module docstring).

    Attributes:
        batch: frames per call.
        calls: the timed loop over whole batches (its samples are per-batch latencies).

    Example:
        >>> t = [0.0]
        >>> def tick():
        ...     t[0] += 0.040  # a fake clock: a batch of 8 takes 40 ms
        >>> bt = BatchTiming(8, measure(tick, min_iters=10, min_seconds=0, clock=lambda: t[0]))
        >>> round(bt.images_per_s, 3), round(bt.calls.latency.p50, 6)
        (200.0, 40.0)
    """

    batch: int
    calls: TimingResult

    @property
    def images_per_s(self) -> float:
        """Frames per second at this batch: ``batch`` x timed calls / the timed window."""
        return self.batch * self.calls.fps

    def to_dict(self) -> dict:
        """The record's ``timing.batch`` block (:mod:`results.schema`)."""
        lat = self.calls.latency
        return {"batch": self.batch, "images_per_s": self.images_per_s, "batch_p50_ms": lat.p50,
                "batch_p99_ms": lat.p99, "batch_mean_ms": lat.mean, "n": lat.n,
                "timed_seconds": self.calls.window_s, "warmup_iterations": self.calls.warmup_iterations}


def time_batch(
    pipeline: Pipeline,
    frames: Sequence[np.ndarray],
    *,
    batch: int,
    clock: Clock = time.perf_counter,
    progress: Progress | None = None,
    **timing_options,
) -> BatchTiming:
    """Time a batch-``batch`` pipeline on in-memory frames, ``batch`` frames per call.

    Frames are cycled in order (fewer distinct frames than ``batch`` repeat within a call). Each
    sample is one :meth:`Pipeline.run_batch`: the N preprocesses, the one inference and the N
    postprocesses; warm-up and the timed run follow :func:`measure` (``timing_options``).

    Raises:
        InputError: no frames, a batch below 1, or a timing setting out of range.
    """
    if len(frames) == 0:
        raise InputError(expected("at least one frame to time", "0 frames", "timing frames"))
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise InputError(expected("a batch of at least 1", batch, "batch"))
    source = itertools.cycle(frames)
    run = pipeline.run_batch

    def one_batch() -> None:
        run([next(source) for _ in range(batch)])

    return BatchTiming(int(batch), measure(one_batch, clock=clock, progress=progress, **timing_options))


def time_pipeline(
    pipeline: Pipeline,
    frames: Sequence[np.ndarray],
    *,
    pipelined: bool = True,
    clock: Clock = time.perf_counter,
    progress: Progress | None = None,
    **timing_options,
) -> PipelineTiming:
    """Time a pipeline on in-memory frames, scope by scope, then pipelined.

    Frames are cycled in order. Warm-up and the timed run follow :func:`measure` on the
    end-to-end call (``timing_options`` are its settings); the scope samples are those of the
    timed calls only. The pipelined run then processes as many frames as the timed run did.

    Args:
        pipeline: what to time (anything with ``preprocess``, ``infer``, ``postprocess``).
        frames: decoded BGR frames.
        pipelined: also measure pipelined throughput.
        clock: monotonic clock in seconds.
        progress: forwarded to :func:`measure` (phase ``"pipelined"`` is reported at the end).
        **timing_options: ``warmup_min``, ``warmup_max_iters``, ``warmup_max_s``,
            ``stable_window``, ``stable_tol``, ``min_iters``, ``min_seconds``.

    Returns:
        The :class:`PipelineTiming`.

    Raises:
        InputError: no frames, or a timing setting is out of range.
    """
    if len(frames) == 0:
        raise InputError(expected("at least one frame to time", "0 frames", "timing frames"))
    pre, infer, post = pipeline.preprocess, pipeline.infer, pipeline.postprocess
    scopes: tuple[list[float], list[float], list[float]] = ([], [], [])
    pre_s, inf_s, post_s = scopes
    source = itertools.cycle(frames)

    def one_frame() -> None:
        image = next(source)
        t0 = clock()
        x, info = pre(image)
        t1 = clock()
        out = infer(x)
        t2 = clock()
        post(out, info)
        t3 = clock()
        pre_s.append(t1 - t0)
        inf_s.append(t2 - t1)
        post_s.append(t3 - t2)

    result = measure(one_frame, clock=clock, progress=progress, **timing_options)
    skip = result.warmup_iterations
    inference_ms = np.asarray(inf_s[skip:], np.float64) * 1e3
    inference_ms.setflags(write=False)
    fps = None
    if pipelined:
        count = result.n
        fps = pipelined_throughput(itertools.islice(itertools.cycle(frames), count), pre, infer, post, clock=clock)
        if progress is not None:
            progress("pipelined", count, count / fps if fps else 0.0)
    return PipelineTiming(
        preprocess=LatencyStats.from_samples(np.asarray(pre_s[skip:]) * 1e3),
        inference=LatencyStats.from_samples(inference_ms),
        postprocess=LatencyStats.from_samples(np.asarray(post_s[skip:]) * 1e3),
        end_to_end=result,
        inference_samples_ms=inference_ms,
        pipelined_fps=fps,
        frames=len(frames),
    )


_DONE = object()
_POLL_S = 0.05


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=_POLL_S)
            return True
        except queue.Full:
            continue
    return False


def _get(q: queue.Queue, stop: threading.Event):
    while not stop.is_set():
        try:
            return q.get(timeout=_POLL_S)
        except queue.Empty:
            continue
    return _DONE


def pipelined_throughput(
    frames: Iterable,
    pre: Callable,
    infer: Callable,
    post: Callable,
    *,
    clock: Clock = time.perf_counter,
    queue_size: int = 2,
    on_result: Callable[[int, object], None] | None = None,
) -> float:
    """Frames per second with preprocess, inference and postprocess overlapped.

    ``pre(frame) -> (x, ctx)`` runs on a producer thread, ``infer(x) -> out`` on the calling
    thread, ``post(out, ctx) -> result`` on a consumer thread; stages hand over through bounded
    queues of ``queue_size``, so at most a few frames are in flight, and every stage sees frames
    in order. An exception in any stage stops the others and is re-raised here.

    Args:
        frames: the frames to process (consumed once).
        pre: preprocess stage.
        infer: inference stage.
        post: postprocess stage.
        clock: monotonic clock in seconds.
        queue_size: capacity of each hand-over queue.
        on_result: called on the consumer thread as ``on_result(index, result)``, in frame order.

    Returns:
        Frames per second from just before the first frame is read to just after the last
        postprocess finishes.

    Raises:
        InputError: no frames.

    Example:
        >>> seen = []
        >>> fps = pipelined_throughput(range(5), lambda f: (f, f), lambda x: x * 10,
        ...                            lambda out, ctx: out + ctx, on_result=lambda i, r: seen.append(r))
        >>> seen
        [0, 11, 22, 33, 44]
    """
    if queue_size < 1:
        raise InputError(expected("a queue size >= 1", queue_size, "queue_size"))
    to_infer: queue.Queue = queue.Queue(maxsize=queue_size)
    to_post: queue.Queue = queue.Queue(maxsize=queue_size)
    stop = threading.Event()
    errors: list[BaseException] = []
    done = {"count": 0, "end": None}

    def producer() -> None:
        try:
            for index, frame in enumerate(frames):
                if stop.is_set():
                    return
                x, ctx = pre(frame)
                if not _put(to_infer, (index, x, ctx), stop):
                    return
        except BaseException as exc:  # handed to the caller, which re-raises it
            errors.append(exc)
            stop.set()
        finally:
            _put(to_infer, _DONE, stop)

    def consumer() -> None:
        try:
            while True:
                item = _get(to_post, stop)
                if item is _DONE:
                    return
                index, out, ctx = item
                result = post(out, ctx)
                if on_result is not None:
                    on_result(index, result)
                done["count"] += 1
                done["end"] = clock()
        except BaseException as exc:  # handed to the caller, which re-raises it
            errors.append(exc)
            stop.set()

    start = clock()
    threads = [threading.Thread(target=producer, name="bench-pre", daemon=True),
               threading.Thread(target=consumer, name="bench-post", daemon=True)]
    for t in threads:
        t.start()
    try:
        while True:
            item = _get(to_infer, stop)
            if item is _DONE:
                break
            index, x, ctx = item
            if not _put(to_post, (index, infer(x), ctx), stop):
                break
        _put(to_post, _DONE, stop)
    except BaseException:
        stop.set()
        raise
    finally:
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    if done["count"] == 0:
        raise InputError(expected("at least one frame", "0 frames", "pipelined run"))
    window = done["end"] - start
    return done["count"] / window if window > 0 else float("inf")
