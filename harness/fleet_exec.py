"""The fleet run's loop: each device's rows as Ray tasks, one at a time per device, all devices at once.

:func:`drive` submits a device's next row when its previous one answered, waits for a busy device
(a progress line every 15 s) or fails its rows after ``--queue-timeout``, says every 15 s what each row
in flight is doing on its device (the stage the device reported to the run's board,
:mod:`harness.fleet_progress`, e.g. ``fleet: orin: int8 building engine (95 s)``), watches that each device's
node is alive (a device whose node dies or leaves fails its remaining rows and is marked lost: its
record is not archived), and cancels the remote tasks on any exit (Ctrl-C, SIGTERM). Results come back
as :class:`harness.worker.Outcome` objects, as a local run's do. Used by :mod:`harness.fleet_run`.
"""

from __future__ import annotations

import io
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Mapping

POLL_S = 1.0
BUSY_NOTE_EVERY_S = 15.0


def _say(text: str) -> None:
    print(f"fleet: {text}", file=sys.stderr, flush=True)


@dataclass
class Lane:
    """One device's rows during the run (mutable bookkeeping of the fleet run, never a seam)."""

    device: Any  # harness.fleet.FleetDevice
    resolved: Any
    plan: list
    controls: tuple = ()  # the pruned rows' controls (harness.control.ControlSetup), for the device's record
    todo: list = field(default_factory=list)  # (row, job, build)
    outcomes: dict = field(default_factory=dict)
    inflight: tuple | None = None  # (ref, row, build, started)
    lost: str | None = None  # why the device is gone: its record is not archived
    submitted: bool = False
    waiting_since: float | None = None
    noted: float = 0.0  # when the last busy or in-flight note was printed
    told_no_sink: bool = False  # the 'does not report its stages' line was printed

    def fail_rest(self, reason: str) -> None:
        from harness.worker import Outcome

        for row, _, _ in self.todo:
            self.outcomes[row.name] = Outcome(status="failed", reason=reason)
        self.todo = []


def _split_detections(blob: bytes, n_frames: int) -> tuple:
    import numpy as np

    from harness.worker import FrameDets

    with np.load(io.BytesIO(blob)) as z:
        frame, boxes, scores, classes = z["frame"], z["boxes"], z["scores"], z["classes"]
    bounds = np.searchsorted(frame, np.arange(n_frames + 1))
    return tuple(FrameDets(boxes[a:b], scores[a:b], classes[a:b]) for a, b in zip(bounds[:-1], bounds[1:]))


def _outcome(reply: Mapping, device: str, manifest: Mapping | None):
    from devices.job import WorkerResult
    from harness.worker import Outcome, timing_block

    if not reply.get("ok"):
        return Outcome(status="failed", reason=f"on device {device}: {reply.get('error')}",
                       error_tail=reply.get("stderr_tail") or None)
    result = WorkerResult.from_json(reply["result"], where=f"device {device} result")
    return Outcome(status="ok", manifest=dict(manifest or {}) or None, timing=timing_block(result.timing),
                   telemetry=result.telemetry,
                   runtime=result.runtime, versions=result.versions,
                   detections=_split_detections(reply["detections"], result.n_frames))


def drive(lanes: list, shipped: dict, frames_ref, profiles: dict, opts, fopts) -> None:
    """Submit each device's rows one after the other, all devices at once; collect, watch, cancel on Ctrl-C.

    The run's progress board (:func:`harness.fleet_progress.open_board`) is killed on every exit.
    """
    from devices import agent
    from harness import fleet, fleet_progress
    from harness.worker import Outcome

    ray = fleet.ray_module()
    remote = ray.remote(agent.execute)
    board = fleet_progress.open_board(ray, say=_say) if any(lane.todo for lane in lanes) else None
    try:
        while any(lane.todo or lane.inflight for lane in lanes):
            now = time.monotonic()
            if board is not None:
                board.poll()
            for lane in lanes:
                _note_stage(lane, board, now)
            for lane in lanes:
                name = lane.device.name
                if lane.inflight is not None or not lane.todo:
                    continue
                if not fleet.is_alive(name):
                    lane.lost = f"device {name} left the cluster before its rows ran"
                    lane.fail_rest(lane.lost)
                    continue
                if not lane.submitted and _busy(ray, name):
                    lane.waiting_since = lane.waiting_since or now
                    waited = now - lane.waiting_since
                    if fopts.queue_timeout is not None and waited >= fopts.queue_timeout:
                        lane.lost = (f"device {name} stayed busy for {fopts.queue_timeout:g} s (--queue-timeout): "
                                     "another benchmark holds it")
                        lane.fail_rest(lane.lost)
                    elif now - lane.noted >= BUSY_NOTE_EVERY_S:
                        lane.noted = now
                        _say(f"waiting for device {name}: busy with another benchmark ({waited:.0f} s)")
                    continue
                row, job, build = lane.todo.pop(0)
                got = shipped[build]
                if isinstance(got, str):
                    lane.outcomes[row.name] = Outcome(status="failed", reason=got)
                    continue
                art_ref, ref, manifest = got
                job = job.with_artifact(ref)
                task = remote.options(resources={fleet.device_resource(name): 1}, num_cpus=0, max_retries=0,
                                      name=f"bench {row.name} on {name}")
                extra = _sink(lane, board, row.name)
                obj = task.remote(job.to_json(), art_ref, frames_ref, profile_json=profiles[lane.device.profile],
                                  python=lane.device.python, timeout=opts.timeout, **extra)
                lane.inflight, lane.submitted, lane.noted = (obj, row, manifest, now), True, now
                _say(f"{name}: {row.name} running")
            refs = [lane.inflight[0] for lane in lanes if lane.inflight is not None]
            ready = ray.wait(refs, num_returns=len(refs), timeout=POLL_S)[0] if refs else []
            if not refs:
                time.sleep(min(POLL_S, 0.2))
            for lane in lanes:
                if lane.inflight is not None:
                    _collect(ray, lane, ready, opts)
    except BaseException:
        for lane in lanes:
            if lane.inflight is not None:
                ray.cancel(lane.inflight[0], force=True)
        raise
    finally:
        if board is not None:
            board.close()


def _sink(lane: Lane, board, row: str) -> dict:
    """``{"progress": sink}`` for the task when the board lives and the device's agent takes a sink, else ``{}``
    (an agent older than the sink would refuse the argument: it runs as before, without stages)."""
    from harness import fleet_progress

    if board is None or not board.alive:
        return {}
    if not fleet_progress.accepts_sink(lane.device.agent or {}):
        if not lane.told_no_sink:
            lane.told_no_sink = True
            _say(f"device {lane.device.name}'s agent does not report its stages (it joined with an older bench): "
                 "only the time since its row started is shown")
        return {}
    sink = board.sink(lane.device.name, row)
    return {} if sink is None else {"progress": sink}


def _note_stage(lane: Lane, board, now: float) -> None:
    """Every BUSY_NOTE_EVERY_S while a row is in flight: what its device last said it is doing, or ``running``."""
    if lane.inflight is None or now - lane.noted < BUSY_NOTE_EVERY_S:
        return
    lane.noted = now
    _, row, _, started = lane.inflight
    stage = (board.stage(lane.device.name, row.name) if board is not None else None) or "running"
    _say(f"{lane.device.name}: {row.name} {stage} ({now - started:.0f} s)")


def _busy(ray, name: str) -> bool:
    from harness import fleet

    return ray.available_resources().get(fleet.device_resource(name), 0.0) < 1.0


def _collect(ray, lane: Lane, ready: list, opts) -> None:
    from harness import fleet
    from harness.worker import Outcome

    obj, row, manifest, started = lane.inflight
    name = lane.device.name
    if obj in ready:
        lane.inflight = None
        try:
            reply = ray.get(obj)
        except ray.exceptions.RayError as exc:
            if not isinstance(exc, ray.exceptions.NodeDiedError) and fleet.is_alive(name):
                lane.outcomes[row.name] = Outcome(status="failed", reason=f"on device {name}: the task failed "
                                                                          f"({exc.__class__.__name__})")
                return
            lane.lost = f"device {name} left the cluster mid-run ({exc.__class__.__name__})"
            lane.outcomes[row.name] = Outcome(status="failed", reason=lane.lost)
            lane.fail_rest(lane.lost)
            return
        lane.outcomes[row.name] = _outcome(reply, name, manifest)
        o = lane.outcomes[row.name]
        _say(f"{name}: {row.name} {o.status}" + (f" ({o.reason})" if o.reason else ""))
        return
    if not fleet.is_alive(name):
        ray.cancel(obj, force=True)
        lane.inflight = None
        lane.lost = f"device {name} left the cluster mid-run (its node died)"
        lane.outcomes[row.name] = Outcome(status="failed", reason=lane.lost)
        lane.fail_rest(lane.lost)
    elif time.monotonic() - started > opts.timeout + 120:  # the device's own timeout did not answer
        ray.cancel(obj, force=True)
        lane.inflight = None
        lane.outcomes[row.name] = Outcome(status="failed", reason=f"on device {name}: no answer after "
                                                                  f"{opts.timeout + 120:g} s; cancelled")
