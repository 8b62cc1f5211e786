"""Runtimes behind one small interface: load an artifact, run a batch, return outputs.

Every session has the same surface, so the timing loop and the pipeline never branch on it::

    session = open_runtime("model.onnx", profile=load_profile("cpu"), threads=2)
    session.input_name, session.input_shape, session.input_dtype
    outputs = session.run(x)          # list of numpy arrays, in the model's output order
    session.describe()                # runtime, version, providers actually used, threads, ...
    session.last_split_ms             # TensorRT: {"h2d_ms", "compute_ms", "d2h_ms"} of the last run
    session.close()

``.onnx`` opens in ONNX Runtime with the profile's providers in order; ``.engine`` / ``.plan`` /
``.trt`` open in TensorRT. Heavy imports happen inside :func:`open_runtime`.

Example:
    >>> probe_runtimes()["onnxruntime"].available
    True
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

from common.errors import InputError, expected

__all__ = [
    "ENGINE_SUFFIXES",
    "RuntimeFailure",
    "RuntimeStatus",
    "Session",
    "import_cudart",
    "open_runtime",
    "probe_runtimes",
]

ENGINE_SUFFIXES = (".engine", ".plan", ".trt")


from devices.runtimes.base import RuntimeFailure, RuntimeStatus, Session, import_cudart  # noqa: E402


def probe_runtimes() -> dict[str, RuntimeStatus]:
    """Which runtimes are importable here (imports them; call it once, not per frame).

    Returns:
        ``{"onnxruntime": RuntimeStatus, "tensorrt": RuntimeStatus}``.
    """
    from common.errors import MissingDependency

    out: dict[str, RuntimeStatus] = {}
    try:
        import onnxruntime as ort

        out["onnxruntime"] = RuntimeStatus(
            "onnxruntime", True, ort.__version__, tuple(ort.get_available_providers()), "importable"
        )
    except ImportError as exc:
        out["onnxruntime"] = RuntimeStatus("onnxruntime", False, reason=f"onnxruntime not importable ({exc})")
    try:
        import tensorrt as trt
    except ImportError as exc:
        out["tensorrt"] = RuntimeStatus("tensorrt", False, reason=f"tensorrt not importable ({exc})")
        return out
    version = getattr(trt, "__version__", None)
    try:
        import_cudart()
    except MissingDependency as exc:
        out["tensorrt"] = RuntimeStatus("tensorrt", False, version, reason=f"tensorrt {version} importable but {exc}")
        return out
    major_minor = tuple(int(x) for x in (version or "0.0").split(".")[:2])
    if major_minor < (8, 5):
        out["tensorrt"] = RuntimeStatus(
            "tensorrt", False, version,
            reason=f"tensorrt {version} is older than 8.5 (the runner needs execute_async_v3)",
        )
        return out
    out["tensorrt"] = RuntimeStatus("tensorrt", True, version, reason="importable")
    return out


def open_runtime(
    artifact_path: str | os.PathLike,
    *,
    profile: Any,
    threads: int | None = None,
    providers: Sequence[str] | None = None,
) -> Session:
    """Open an artifact in the runtime its kind and the device profile call for.

    Args:
        artifact_path: an ``.onnx`` model or a TensorRT engine (``.engine``/``.plan``/``.trt``).
        profile: the :class:`devices.profiles.DeviceProfile` to run on.
        threads: CPU threads for ONNX Runtime's intra-op pool (None: ONNX Runtime's default).
        providers: ONNX Runtime providers to use instead of the profile's (must be available).

    Returns:
        A :class:`Session`.

    Raises:
        InputError: missing file, unknown suffix, or a runtime the profile does not list.
        MissingDependency: the runtime is not installed.
        RuntimeFailure: the runtime rejected the artifact or the device failed.
    """
    path = Path(artifact_path)
    if not path.is_file():
        raise InputError(expected("an existing model artifact", "no such file", str(path)))
    if threads is not None and (not isinstance(threads, int) or threads < 1):
        raise InputError(expected("a thread count >= 1", threads, "threads"))
    suffix = path.suffix.lower()
    listed = {r.runtime for r in profile.runtimes}
    if suffix == ".onnx":
        if "onnxruntime" not in listed:
            raise InputError(expected(f"a runtime listed by profile {profile.name}", "onnxruntime", str(path)))
        from devices.runtimes.onnxrt import OrtSession

        return OrtSession(path, profile=profile, threads=threads, providers=providers)
    if suffix in ENGINE_SUFFIXES:
        if "tensorrt" not in listed:
            raise InputError(expected(f"a runtime listed by profile {profile.name}", "tensorrt (engine file)", str(path)))
        from devices.runtimes.tensorrt import TensorRTSession

        return TensorRTSession(path)
    raise InputError(expected(f"a .onnx model or a TensorRT engine ({', '.join(ENGINE_SUFFIXES)})", suffix or "no suffix", str(path)))
