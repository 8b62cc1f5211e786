"""The ground floor of bench: what every other package may use and nothing here imports back.

errors (one message template, the exit-2 error types), atomic writes, paths (the one cache root),
file hashing and the version. Modules here import only the standard library.
"""

from common.version import __version__

__all__ = ["__version__"]
