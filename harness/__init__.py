"""bench's app (CLI, options, plan, run loop, worker management) and its libraries (metrics, pipeline, data)."""

from common.version import __version__

__all__ = ["__version__"]
