"""The ``bench`` command line: the only place that turns outcomes into exit statuses.

Each subcommand lives in its own module, which exposes two functions::

    def add_arguments(parser: argparse.ArgumentParser) -> None: ...
    def run(args: argparse.Namespace) -> int: ...

Modules must be cheap to import (heavy dependencies are imported inside ``run``).
Exit statuses: 0 success, 1 a regression found by ``bench compare`` (never anything else),
2 bad input (one line on stderr, never a traceback), 3 an internal error (a bug), 130 interrupted,
141 stdout closed early. See docs/reliability.md.
"""

from __future__ import annotations

import os
import signal
import sys

# harness/__init__.py already turned a Ctrl-C during the console script's imports into one line
# and status 130; this guard covers an importer that could not install that handler.
try:
    import argparse
    import errno
    import importlib

    from harness import __version__
    from common.errors import BenchError, expected
except KeyboardInterrupt:  # pragma: no cover - only when the early handler could not be installed
    sys.stderr.write("bench: interrupted\n")
    raise SystemExit(130) from None

# name -> (module, one-line help). Order is the order of ``bench --help``.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("harness.run_cmd", "benchmark every variant of a model on a device (the main job)"),
    "eval": ("harness.eval_cmd", "score a prediction file against ground truth (COCO, YOLO, VOC text)"),
    "data": ("harness.data.cli", "generate the embedded synthetic dataset and video"),
    "train": ("harness.reference.train", "train the reference models on the synthetic dataset (offline)"),
    "export": ("exporters.cli", "build one variant artifact (onnx/trt, fp32/fp16/int8/prunedNN/student)"),
    "devices": ("devices.cli", "list device profiles and whether each is usable here"),
    "smoke": ("harness.smoke_cmd", "on-device check: runtimes, telemetry and TensorRT engine builds"),
    "history": ("results.cli", "list archived releases and runs"),
    "compare": ("results.cli", "compare two releases or runs; exit 1 on a regression"),
    "report": ("results.cli", "write Markdown and an HTML page with plots for a run or release"),
    "fleet": ("harness.fleet_cmd", "join this machine to a Ray cluster as a bench device, or list a cluster's devices"),
}


class _OneLineParser(argparse.ArgumentParser):
    """Usage errors are one line (what was wrong, and where to look), exit status 2, like every bad input."""

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _load(module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (module == exc.name or module.startswith(exc.name + ".")):
            # the command is not part of this build
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    """Build the full argument parser, one subparser per available command."""
    parser = _OneLineParser(
        prog="bench",
        description="What each optimized form of a YOLO model costs and buys on an edge device.",
    )
    parser.add_argument("--version", action="version", version=f"bench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)
    for name, (module_name, help_text) in COMMANDS.items():
        module = _load(module_name)
        if module is None:
            continue
        adder = getattr(module, f"add_{name}_arguments", None) or module.add_arguments
        runner = getattr(module, f"run_{name}", None) or module.run
        p = sub.add_parser(name, help=help_text, description=help_text)
        adder(p)
        p.set_defaults(_run=runner)
    return parser


INTERNAL_ERROR = 3
"""Exit status of an unexpected exception (a bug): never 1, which means "regression found"."""

# What an OSError that reached main() says was expected, by errno (the rest: a usable file or folder).
_OS_EXPECTED = {
    errno.ENOSPC: "free space to write", errno.EDQUOT: "free space (quota) to write",
    errno.ENOTDIR: "a folder (a file is in the way)", errno.EISDIR: "a file (a folder is in the way)",
    errno.EACCES: "permission to read or write", errno.EPERM: "permission to read or write",
    errno.EROFS: "a writable file system", errno.ENOENT: "an existing file or folder",
    errno.EEXIST: "a name not already taken", errno.ENAMETOOLONG: "a shorter file name",
}


def os_error_line(exc: OSError) -> str:
    """The one line for an OSError no reader turned into an InputError (names the file).

    Example:
        >>> os_error_line(OSError(errno.ENOSPC, "No space left on device", "/mnt/small/out.json"))
        '/mnt/small/out.json: expected free space to write, got No space left on device (ENOSPC)'
    """
    what = _OS_EXPECTED.get(exc.errno, "a usable file or folder")
    got = exc.strerror or exc.__class__.__name__
    blocker = _file_in_the_way(exc.filename) if exc.errno in (errno.EEXIST, errno.ENOTDIR) else None
    if blocker is not None:  # makedirs over a file: name the file, not the folder it wanted
        return expected("a folder", "a file", blocker)
    if exc.errno in errno.errorcode:
        got += f" ({errno.errorcode[exc.errno]})"
    where = exc.filename
    if where is not None and exc.filename2 is not None:
        where = f"{where} -> {exc.filename2}"
    return expected(what, got, None if where is None else str(where))


def _file_in_the_way(name: object) -> str | None:
    """The nearest existing non-folder on ``name``'s path (itself or a parent), if any."""
    if not isinstance(name, (str, bytes, os.PathLike)):
        return None
    path = os.fsdecode(name)
    while path and not os.path.exists(path):
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent
    return path if path and not os.path.isdir(path) else None


# Functions Python calls where an exception is printed as "Exception ignored in ..." and dropped:
# a KeyboardInterrupt raised there would be lost (and print a traceback), e.g. the import system's
# module-lock weakref callback ``cb`` during the command's lazy imports.
_DROPS_EXCEPTIONS = frozenset({"cb", "__del__", "_remove", "remove", "_remove_dead_weakref"})


def _raise_interrupt(signum, frame):
    """SIGINT while a command runs: KeyboardInterrupt (so ``finally`` blocks clean up), delivered
    again at the next line when it lands in a callback that would swallow it."""
    if frame is not None and frame.f_code.co_name in _DROPS_EXCEPTIONS:
        signal.raise_signal(signal.SIGINT)  # handled again as soon as this callback has returned
        return
    raise KeyboardInterrupt


def _caused_by_interrupt(exc: BaseException) -> bool:
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _is_devnull(stream) -> bool:
    try:
        return os.path.samestat(os.fstat(stream.fileno()), os.stat(os.devnull))
    except (OSError, ValueError, AttributeError):
        return False


def _silence_stdout() -> None:
    """After a closed pipe (``bench compare | head``): send what is left to /dev/null, so the
    interpreter's final flush does not print a BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``bench`` console script.

    Exit statuses: 0 success, 1 only for a regression found by ``bench compare``, 2 bad input or an
    unusable file (one line on stderr), 3 an internal error (a bug: traceback, then one line),
    130 interrupted (Ctrl-C at any moment), 141 stdout closed early (``bench compare ... | head``).
    """
    previous = None
    try:
        previous = signal.getsignal(signal.SIGINT)
        signal.signal(signal.SIGINT, _raise_interrupt)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    stdout_was_devnull = _is_devnull(sys.stdout)
    try:
        status = _main(argv)
        sys.stdout.flush()
        return status
    except BaseException as exc:
        # from here a second Ctrl-C gets the console script's handler (one line, 130), not a
        # KeyboardInterrupt in the middle of printing the first outcome
        _restore_sigint(previous)
        return _status_for(exc, stdout_was_devnull=stdout_was_devnull)
    finally:
        _restore_sigint(previous)


def _restore_sigint(previous) -> None:
    if previous is not None:
        try:
            signal.signal(signal.SIGINT, previous)
        except (ValueError, TypeError):
            pass


def _status_for(exc: BaseException, *, stdout_was_devnull: bool) -> int:
    """The exit status (and the one line on stderr) for what ended a command; re-raises the rest."""
    if isinstance(exc, SystemExit):
        # rich answers a closed pipe by pointing stdout at /dev/null and raising SystemExit(1): that
        # 1 would read as "regression found", so it becomes the closed pipe's 141
        if exc.code == 1 and not stdout_was_devnull and _is_devnull(sys.stdout):
            return 141
        raise exc
    if isinstance(exc, BenchError):
        print(f"bench: error: {' '.join(str(exc).splitlines())}", file=sys.stderr)  # one line, always
        return 2
    if isinstance(exc, KeyboardInterrupt) or (isinstance(exc, Exception) and _caused_by_interrupt(exc)):
        # (Python wraps an interrupt in a RuntimeError inside __set_name__, for one)
        print("bench: interrupted", file=sys.stderr)
        return 130
    if isinstance(exc, BrokenPipeError):
        _silence_stdout()
        return 141
    if isinstance(exc, RecursionError):
        print("bench: error: expected input nested less deeply, got nesting too deep to read", file=sys.stderr)
        return 2
    if isinstance(exc, OSError):
        print(f"bench: error: {os_error_line(exc)}", file=sys.stderr)
        return 2
    if not isinstance(exc, Exception):
        raise exc  # GeneratorExit and the like: not an outcome of the command
    # A bug in bench, not the user's input: keep the traceback for the report, but never exit with
    # Python's 1, which means "regression found" to a release gate.
    import traceback

    traceback.print_exception(exc, file=sys.stderr)
    print(f"bench: internal error (a bug in bench, please report it with the lines above): "
          f"{exc.__class__.__name__}: {' '.join(str(exc).split())[:200]}", file=sys.stderr)
    return INTERNAL_ERROR


def _main(argv: list[str] | None) -> int:
    os.environ.setdefault("YOLO_OFFLINE", "true")
    os.environ.setdefault("YOLO_AUTOINSTALL", "false")
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_run", None) is None:
        parser.print_help()
        return 2
    return int(args._run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
