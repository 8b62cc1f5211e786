"""Pre-flight checks of ``bench run``: everything checkable is checked before the first variant runs.

Measuring takes minutes; an input that can only fail (a cache path that is a file, an archive that
cannot be written, an ONNX whose input is not a multiple of 32, ``--out`` at a file) must fail before,
as one line and exit 2, not as a record of failed rows or a crash after the measurements.

The option checks (ranges, ``--timeout > 0``, ``--threads`` at most
:data:`harness.options.MAX_THREADS_PER_CPU` x the CPU count) are in :func:`harness.run_cmd._check_args`;
this module checks the filesystem and the model.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from pathlib import Path

from common.errors import InputError, expected

__all__ = ["check_cache", "check_model_shape", "check_out", "expected_anchors", "safe_name"]

STRIDES = (8, 16, 32)  # YOLO detect heads (YOLO11/YOLO12): one anchor per cell at each stride
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(name: str) -> str:
    """A name usable as a path component in the archive (letters, digits, ``. _ + -``).

    Accents are dropped (``modèle`` -> ``modele``), anything else becomes ``_``; the real name stays in
    the record (the model's path).

    Example:
        >>> safe_name("my model"), safe_name("modèle"), safe_name("yolo11n"), safe_name("ü..ß")
        ('my_model', 'modele', 'yolo11n', 'u_.')
    """
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    text = _UNSAFE.sub("_", ascii_name)
    while ".." in text:
        text = text.replace("..", "_.")
    text = text.lstrip("._+-")[:100]
    return text or "model"


def check_cache(root: Path | None = None) -> Path:
    """The cache's artifacts folder exists (it is created) and is writable.

    Raises:
        InputError: ``$BENCH_CACHE`` (or a folder in it) is a file, or it cannot be written.
    """
    from common.paths import artifacts_dir, cache_root

    where = "BENCH_CACHE" if os.environ.get("BENCH_CACHE") else "the cache folder"
    base = cache_root() if root is None else Path(root)
    folder = artifacts_dir(base)
    for p in (base, folder):
        if p.exists() and not p.is_dir():
            raise InputError(expected("a folder for the cache", f"{p} is a file", where))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".bench-write-check.", dir=folder)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise InputError(expected("a writable cache folder", f"{exc.__class__.__name__}: {exc.strerror or exc}",
                                  f"{where} {folder}")) from None
    return folder


def check_out(out: Path | None) -> None:
    """``--out`` is a folder or can be made one (nothing is created here).

    Raises:
        InputError: ``--out`` or one of its parents is a file.
    """
    if out is None:
        return
    probe = Path(out)
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        got = "a file" if probe == Path(out) else f"{probe} is a file"
        raise InputError(expected("a folder for the per-frame outputs", got, f"--out {out}"))


def expected_anchors(imgsz: int) -> int:
    """Anchors of a YOLO detect head at input side ``imgsz`` (8400 at 640).

    Example:
        >>> expected_anchors(640), expected_anchors(320)
        (8400, 2100)
    """
    return sum((imgsz // s) ** 2 for s in STRIDES)


def check_model_shape(model) -> None:
    """The model's input side is a multiple of 32 (>= 32); an ONNX's output is the YOLO detect shape for it.

    ``model`` is the run's :class:`harness.plan.ModelChoice`.

    Raises:
        InputError: the input side or the output shape cannot be a YOLO detection model's.
    """
    side = model.imgsz
    if side < 32 or side % 32:
        raise InputError(expected("a model input side that is a multiple of 32 and at least 32 (export the model "
                                  "at such an imgsz)", f"{side} px", str(model.path)))
    if model.kind != "onnx":
        return
    from common.errors import require

    onnx = require("onnx", extra="export")
    graph = onnx.load(str(model.path), load_external_data=False).graph
    dims = graph.output[0].type.tensor_type.shape.dim
    shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    want = [1, 4 + len(model.names), expected_anchors(side)]
    if len(shape) != 3 or any(s is not None and s != w for s, w in zip(shape, want)):
        got = "x".join("?" if s is None else str(s) for s in shape)
        raise InputError(expected(f"a detection output {'x'.join(map(str, want))} (4 box + {len(model.names)} classes, "
                                  f"anchors of a {side}-px input)", got, f"{model.path} output"))
