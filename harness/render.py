"""The live progress display of ``bench run`` (progress bars on stderr).

The run table itself is rendered by :mod:`results.render` from the typed record.
"""

from __future__ import annotations


class _RunProgress:
    """Progress bars for a run: one task per variant stage (export, calibration, warm-up, timing, scoring)."""

    def __init__(self, progress):
        self._progress = progress
        self._tasks: dict[tuple[str, str], int] = {}

    def callback(self, variant: str):
        def update(event: dict) -> None:
            if self._progress is None:
                return
            stage = str(event.get("stage", "?"))
            key = (variant, stage)
            total, done = event.get("total"), event.get("done", 0)
            if key not in self._tasks:
                self._tasks[key] = self._progress.add_task(f"{variant}: {stage}", total=total)
            self._progress.update(self._tasks[key], completed=done, total=total)

        return update

    def __enter__(self):
        if self._progress is not None:
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)
        return False


def progress(*, quiet: bool = False) -> _RunProgress:
    """A context manager with progress bars on stderr (none when ``quiet``, e.g. with ``--json``)."""
    if quiet:
        return _RunProgress(None)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return _RunProgress(Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=Console(stderr=True), transient=True))
