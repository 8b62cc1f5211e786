"""What every runtime shares: the session interface, the availability status, the failure type.

The runtimes (:mod:`devices.runtimes.onnxrt`, :mod:`devices.runtimes.tensorrt`, ...) import this
module, never the registry in :mod:`devices.runtimes` (which imports them lazily).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from common.errors import BenchError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["RuntimeFailure", "RuntimeStatus", "Session", "import_cudart"]


class RuntimeFailure(BenchError):
    """A runtime could not do what was asked on this device (CUDA error, engine rejected)."""


class Session(Protocol):
    """What every runtime session offers (see the module docstring)."""

    input_name: str
    input_shape: tuple[int | None, ...]
    input_dtype: np.dtype
    last_split_ms: dict[str, float] | None

    def run(self, x: np.ndarray) -> list[np.ndarray]: ...

    def describe(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class RuntimeStatus:
    """Whether a runtime is importable here, its version, and why not.

    Attributes:
        name: the runtime's registry name (:data:`devices.runtimes.REGISTRY`).
        available: importable with what it needs.
        version: its version, when importable.
        providers: ONNX Runtime's available execution providers.
        reason: why it is unavailable, or a short description when available.
        capabilities: what the runtime's device reports it runs natively (OpenVINO's CPU
            ``OPTIMIZATION_CAPABILITIES``: ``"BF16"``, ``"FP32"``, ...); empty where not probed.
    """

    name: str
    available: bool
    version: str | None = None
    providers: tuple[str, ...] = ()
    reason: str = ""
    capabilities: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out: dict[str, Any] = {"available": self.available}
        if self.version:
            out["version"] = self.version
        if self.providers:
            out["providers"] = list(self.providers)
        if self.capabilities:
            out["capabilities"] = list(self.capabilities)
        if not self.available:
            out["reason"] = self.reason
        return out


def import_cudart() -> Any:
    """The CUDA runtime bindings of cuda-python (``cuda.bindings.runtime`` or the older ``cuda.cudart``).

    Raises:
        MissingDependency: neither import works; the message names the pip command.
    """
    from common.errors import MissingDependency

    try:
        from cuda.bindings import runtime as cudart

        return cudart
    except ImportError as first:
        try:
            from cuda import cudart  # cuda-python < 12.6

            return cudart
        except ImportError:
            raise MissingDependency(
                f"the CUDA Python bindings are not importable ({first}); install them with: pip install cuda-python"
            ) from first
