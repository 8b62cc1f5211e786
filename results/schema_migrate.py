"""Record format versions and the migration of older records up to :data:`SCHEMA_VERSION`.

The versions are listed in :mod:`results.schema` (which re-exports every name here); each bump adds
one step to :data:`MIGRATIONS` and a frozen example in ``tests/results/data/``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

from common.errors import InputError, expected
from results.schema_check import _show

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "migrate"]

SCHEMA_VERSION = 2


def _v1_to_v2(obj: dict) -> dict:
    """Version 2 only adds optional variant keys (``source_model``, ``vs_models``): nothing to convert."""
    obj["schema_version"] = 2
    return obj


MIGRATIONS: dict[int, Callable[[dict], dict]] = {1: _v1_to_v2}
"""``{v: f}``: ``f`` turns a version-``v`` record (a dict) into a version ``v + 1`` one.
Add an entry (and a frozen example in ``tests/results/data/``) for each bump."""


def migrate(obj: dict, where: str) -> dict:
    """Bring a record dict of any readable version up to :data:`SCHEMA_VERSION`.

    Raises:
        InputError: the version is missing, newer than this bench, or has no migration.
    """
    version = obj.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise InputError(expected("an integer schema_version", _show(version), f"{where} at schema_version"))
    if version > SCHEMA_VERSION:
        raise InputError(expected(
            f"schema_version <= {SCHEMA_VERSION} (this bench's newest)",
            f"{version}; the record was written by a newer bench: upgrade with "
            "'pip install -U edge-bench' to read it", f"{where} at schema_version"))
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise InputError(expected(
                f"a schema_version bench can migrate (1..{SCHEMA_VERSION})", version, f"{where} at schema_version"))
        obj = step(copy.deepcopy(obj))
        if obj.get("schema_version") != version + 1:
            raise InputError(expected(f"migration {version}->{version + 1} to set schema_version {version + 1}",
                                      _show(obj.get("schema_version")), where))
        version += 1
    return obj
