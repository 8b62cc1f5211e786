"""bench's app (CLI, options, plan, run loop, worker management) and its libraries (metrics, pipeline, data)."""

import _signal
import sys as _sys

try:  # builtin modules: nothing to find on disk before the guard below is in place
    import posix as _os
except ImportError:  # pragma: no cover - not POSIX
    import os as _os


def _interrupted_early(signum, frame):  # pragma: no cover - exercised through real signals
    """Ctrl-C before ``harness.cli.main`` takes over (the imports, interpreter exit): one line, 130."""
    try:
        _os.write(2, b"bench: interrupted\n")
    finally:
        _os._exit(130)


# The ``bench`` console script imports this package first: from here on a Ctrl-C is one line and
# status 130, never a KeyboardInterrupt traceback from the middle of an import (harness.cli.main
# switches to KeyboardInterrupt for the command itself). Other importers (tests, workers) keep theirs.
_argv0 = _sys.argv[0] if _sys.argv else ""
if _argv0 == "bench" or _argv0.endswith(("/bench", "harness/__main__.py")):
    try:
        _signal.signal(_signal.SIGINT, _interrupted_early)
    except ValueError:  # not the main thread
        pass

from common.version import __version__  # noqa: E402

__all__ = ["__version__"]
