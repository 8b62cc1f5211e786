"""Float arrays inside a record: raw latency samples and per-frame IoU.

Two encodings, both plain JSON objects::

    {"encoding": "list", "n": 3, "data": [4.21, 4.19, 4.3]}
    {"encoding": "f4-zlib-b64", "n": 5000, "data": "eJzt..."}

``f4-zlib-b64`` is the values as little-endian float32, zlib-compressed, then
base64 (ASCII). Arrays that may have gaps (per-frame IoU: a frame without ground
truth has none) are written with ``allow_missing=True``: a gap is ``null`` in a
list and NaN in float32, and decodes to None. float32 keeps ~7 significant digits: 12.345678 ms survives as
12.34568 ms, far below the resolution of any clock we time with. ``n`` is the
number of values and is checked on decode, so a truncated payload is an error,
never a shorter array.

Standard library only (the validator must load records without numpy).

Example:
    >>> enc = encode_floats([1.5, 2.25, 3.0], encoding="f4-zlib-b64")
    >>> decode_floats(enc, "example")
    (1.5, 2.25, 3.0)
"""

from __future__ import annotations

import array
import base64
import binascii
import math
import sys
import zlib
from collections.abc import Iterable, Mapping

from common.errors import InputError, expected

__all__ = ["ENCODINGS", "LIST_LIMIT", "decode_floats", "encode_floats"]

ENCODINGS = ("list", "f4-zlib-b64")
LIST_LIMIT = 64
"""``encoding="auto"`` writes a plain list up to this many values, compressed above."""


def encode_floats(values: Iterable[float | None], *, encoding: str = "auto", allow_missing: bool = False) -> dict:
    """Encode finite floats for a record.

    Args:
        values: the numbers (any iterable of real numbers, e.g. a numpy array).
        encoding: ``"list"``, ``"f4-zlib-b64"`` or ``"auto"`` (list up to
            :data:`LIST_LIMIT` values, compressed above).
        allow_missing: accept None and NaN as "no value here" (gaps keep their position).

    Returns:
        ``{"encoding": ..., "n": ..., "data": ...}``.

    Raises:
        InputError: a value is not a finite number, or the encoding is unknown.

    Example:
        >>> encode_floats([0.5, 0.75])
        {'encoding': 'list', 'n': 2, 'data': [0.5, 0.75]}
    """
    floats: list = []
    for i, v in enumerate(values):
        v = None if v is None else float(v)
        if v is None or math.isnan(v):
            if not allow_missing:
                raise InputError(expected("finite numbers", v, f"value {i} of the array to encode"))
            v = None
        elif not math.isfinite(v):
            raise InputError(expected("finite numbers or gaps", v, f"value {i} of the array to encode"))
        floats.append(v)
    if encoding == "auto":
        encoding = "list" if len(floats) <= LIST_LIMIT else "f4-zlib-b64"
    if encoding == "list":
        return {"encoding": "list", "n": len(floats), "data": floats}
    if encoding == "f4-zlib-b64":
        packed = array.array("f", [math.nan if v is None else v for v in floats])
        if sys.byteorder != "little":
            packed.byteswap()
        payload = base64.b64encode(zlib.compress(packed.tobytes(), 6)).decode("ascii")
        return {"encoding": "f4-zlib-b64", "n": len(floats), "data": payload}
    raise InputError(expected(f"an encoding in {ENCODINGS + ('auto',)}", repr(encoding), "encode_floats"))


def decode_floats(obj: object, where: str, *, allow_missing: bool = False) -> tuple[float | None, ...]:
    """Decode an encoded array, checking every value is a finite number.

    Args:
        obj: the JSON object written by :func:`encode_floats`.
        where: where it was found, for error messages (file and JSON path).
        allow_missing: accept gaps (null / NaN), returned as None.

    Returns:
        The values as a tuple of floats (and None for gaps).

    Raises:
        InputError: the object is malformed, truncated, or holds a non-finite value.

    Example:
        >>> decode_floats({"encoding": "list", "n": 1, "data": [2.0]}, "x.json at per_frame_iou")
        (2.0,)
    """
    if not isinstance(obj, Mapping):
        raise InputError(expected('an encoded array {"encoding", "n", "data"}', type(obj).__name__, where))
    encoding = obj.get("encoding")
    n = obj.get("n")
    data = obj.get("data")
    if encoding not in ENCODINGS:
        raise InputError(expected(f"encoding one of {ENCODINGS}", repr(encoding), f"{where}.encoding"))
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 0):
        raise InputError(expected("a count n >= 0", repr(n), f"{where}.n"))
    if encoding == "list":
        if not isinstance(data, list):
            raise InputError(expected("a JSON list of numbers", type(data).__name__, f"{where}.data"))
        values = []
        for i, v in enumerate(data):
            if v is None and allow_missing:
                values.append(None)
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
                raise InputError(expected("a finite number", repr(v), f"{where}.data[{i}]"))
            values.append(float(v))
    else:
        if not isinstance(data, str):
            raise InputError(expected("a base64 string", type(data).__name__, f"{where}.data"))
        try:
            raw = zlib.decompress(base64.b64decode(data.encode("ascii"), validate=True))
        except (binascii.Error, zlib.error, UnicodeEncodeError) as exc:
            raise InputError(expected("base64 of zlib-compressed float32", f"undecodable data ({exc})", f"{where}.data")) from exc
        if len(raw) % 4:
            raise InputError(expected("a whole number of float32 values", f"{len(raw)} bytes", f"{where}.data"))
        packed = array.array("f")
        packed.frombytes(raw)
        if sys.byteorder != "little":
            packed.byteswap()
        values = list(packed)
        for i, v in enumerate(values):
            if math.isnan(v) and allow_missing:
                values[i] = None
            elif not math.isfinite(v):
                raise InputError(expected("finite numbers", v, f"{where}.data value {i}"))
    if n is not None and n != len(values):
        raise InputError(expected(f"{n} values (n)", f"{len(values)}", f"{where}.data"))
    return tuple(values)
