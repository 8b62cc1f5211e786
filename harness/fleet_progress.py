"""What each device is doing while a fleet row runs: a tiny Ray actor per run, fed by the devices.

:func:`open_board` starts the run's board (a Ray actor without CPUs, on the host's node where Ray can):
it holds ``{device: (row, stage, updated_at)}``. Each fleet task gets a :class:`StageSink` for its device
and row, which :func:`devices.agent.execute` calls with the worker's latest stage (at most about once a
second); the host's loop (:mod:`harness.fleet_exec`) reads the board without blocking
(:meth:`Board.poll`) and prints the stage of each row in flight every 15 s. The board only ever informs:
if it cannot be started or dies, the run goes on without stages (one line says so), and
:meth:`Board.close` kills it at the end of the run, on Ctrl-C and on failure. Ray crosses the nodes,
so no file is shared between host and device.

Example:
    >>> class FakeBoard:  # what StageSink calls: the actor's ``report`` method
    ...     class report:
    ...         calls = []
    ...         @classmethod
    ...         def remote(cls, *args): cls.calls.append(args[:3])
    >>> StageSink(FakeBoard, "orin", "int8")("building engine")
    >>> FakeBoard.report.calls
    [('orin', 'int8', 'building engine')]
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping

__all__ = ["Board", "StageSink", "accepts_sink", "open_board"]


def accepts_sink(agent: Mapping[str, Any]) -> bool:
    """Whether a device's agent (as :func:`devices.agent.describe` reported it when the device joined) takes
    ``execute(..., progress=...)``: agents older than the sink lack ``progress_sink`` and would refuse it."""
    version = agent.get("progress_sink")
    return isinstance(version, int) and not isinstance(version, bool) and version >= 1


class StageSink:
    """The progress sink one fleet task carries to its device: ``sink(stage)`` reports the stage to the board.

    Picklable (the board's actor handle, two names); called on the device, where a failure to report is
    swallowed by :func:`devices.agent.execute`'s forwarding.
    """

    def __init__(self, board: Any, device: str, row: str) -> None:
        self.board, self.device, self.row = board, device, row

    def __call__(self, stage: str) -> None:
        self.board.report.remote(self.device, self.row, str(stage)[:80], time.time())


class _BoardActor:
    """The actor's body: the latest stage each device reported, with its row and when (device clock)."""

    def __init__(self) -> None:
        self.stages: dict = {}

    def report(self, device: str, row: str, stage: str, at: float) -> None:
        self.stages[device] = (row, stage, at)

    def snapshot(self) -> dict:
        return dict(self.stages)


class Board:
    """The host's side of the run's board: non-blocking reads of the stages, and the actor's end.

    Mutable bookkeeping of the run's loop, never a seam. ``stages`` is the last snapshot read:
    ``{device: (row, stage, updated_at)}``.
    """

    def __init__(self, ray: Any, actor: Any, *, say: Callable[[str], None]) -> None:
        self._ray, self._actor, self._say = ray, actor, say
        self._pending = None
        self.stages: dict = {}

    @property
    def alive(self) -> bool:
        return self._actor is not None

    def sink(self, device: str, row: str) -> StageSink | None:
        """The sink for ``row`` on ``device`` (None once the board is gone)."""
        return StageSink(self._actor, device, row) if self._actor is not None else None

    def stage(self, device: str, row: str) -> str | None:
        """What ``device`` last said about ``row`` (None: nothing yet, or it was about an earlier row)."""
        got = self.stages.get(device)
        return got[1] if got is not None and got[0] == row else None

    def poll(self) -> None:
        """Take the snapshot asked for last time if it has come, and ask for the next one; never blocks."""
        if self._actor is None:
            return
        ray = self._ray
        try:
            if self._pending is not None:
                if not ray.wait([self._pending], timeout=0)[0]:
                    return
                got = ray.get(self._pending)
                if isinstance(got, dict):
                    self.stages = got
            self._pending = self._actor.snapshot.remote()
        except ray.exceptions.RayError as exc:
            self._say(f"the devices' progress is no longer shown: the run's progress board failed "
                      f"({exc.__class__.__name__})")
            self.close()

    def close(self) -> None:
        """Kill the board's actor (idempotent). Ray failing to kill it (e.g. the cluster already gone) is ignored:
        the actor dies with this driver anyway, and the board is display only. Anything else is a bug and raises."""
        actor, self._actor, self._pending = self._actor, None, None
        if actor is None or not self._ray.is_initialized():  # ray.kill would start a new Ray to kill it
            return
        try:
            self._ray.kill(actor, no_restart=True)
        except self._ray.exceptions.RayError:
            pass


def open_board(ray: Any, *, say: Callable[[str], None]) -> Board | None:
    """Start the run's board on this driver's node (soft: elsewhere if Ray must); None, after one line, if it
    cannot be started. The actor is not detached: it also dies with this driver."""
    try:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=True)
        actor = ray.remote(_BoardActor).options(num_cpus=0, max_restarts=0, scheduling_strategy=here).remote()
    except Exception as exc:  # noqa: BLE001 - display only: whatever stops it, the run goes on without it
        first = (str(exc).strip().splitlines() or [""])[0][:120]
        say(f"the devices' progress will not be shown: its board could not be started "
            f"({exc.__class__.__name__}{': ' + first if first else ''})")
        return None
    return Board(ray, actor, say=say)
