"""bench's version: the one place it is defined (``bench --version``, records, manifests)."""

__version__ = "0.1.0"
