"""What every build stage shares: the build context, the cached-stage runner, the common manifest fields.

A build of one variant is a chain of stages (checkpoint -> FP32 ONNX -> precision -> format), each
writing one artifact with its manifest beside it and cached on its own. The variant kinds in
:mod:`exporters.kinds` implement the stages; :func:`exporters.build.build_variant` runs the chain.

Example:
    >>> Stage.__name__
    'Stage'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from exporters.manifest import (
    MANIFEST_VERSION,
    Artifact,
    atomic_path,
    cache_key,
    manifest_path,
    reusable,
    sha256_file,
    tool_versions,
    write_json_atomic,
)
from exporters.source import SourceModel

__all__ = ["Progress", "Stage", "batch_label", "common_fields"]

Progress = Callable[[str, int, "int | None"], None]


@dataclass
class Stage:
    """One build in progress: the validated inputs, the options of its kinds, and what their checks prepared.

    Attributes:
        src: the validated source model.
        spec: the variant being built (:class:`exporters.spec.VariantSpec`).
        dir: the source's cache folder, ``<cache>/<source stem>-<sha256[:12]>``.
        imgsz: the square input side.
        data_yaml: the dataset YAML (calibration, fine-tuning), or None.
        calib_images: INT8 calibration image count.
        options: kind name -> that kind's frozen options (:func:`exporters.kinds.options_from`).
        kinds: role (``model``, ``precision``, ``format``) -> the :class:`exporters.kinds.Kind` of this variant.
        prepared: what a kind's ``prepare`` computed for its ``build`` (by kind name).
    """

    src: SourceModel
    spec: Any
    dir: Path
    imgsz: int
    data_yaml: Path | None
    calib_images: int
    options: Mapping[str, Any]
    kinds: Mapping[str, Any]
    progress_fn: Progress | None = None
    prepared: dict[str, Any] = field(default_factory=dict)
    batch: int = 1  # the static batch of the exported graph (bench run --batch N's throughput artifact)

    @property
    def size(self) -> str:
        """The input size as artifact names carry it: ``"320"``, or ``"320-b8"`` for a static batch of 8."""
        return str(self.imgsz) if self.batch == 1 else f"{self.imgsz}-b{self.batch}"

    def progress(self, stage: str, done: int, total: int | None) -> None:
        """Report progress to the caller's callback, if any (bench prints nothing itself).

        A batch-N build's stages are labelled apart (``export onnx b8 (cached)``): ``bench run --batch N``
        builds both artifacts, and the batch-1 one reports the same stages.
        """
        if self.progress_fn is not None:
            self.progress_fn(batch_label(stage, self.batch), done, total)

    def cached(self, final: Path, key_inputs: dict, build: Callable[[Path], dict], stage: str) -> Artifact:
        """Reuse ``final`` if its manifest matches ``key_inputs``, else build it atomically and write the manifest."""
        key = cache_key(key_inputs)
        manifest = reusable(final, key)
        if manifest is not None:
            self.progress(f"{stage} (cached)", 1, 1)
            return Artifact(final, manifest, reused=True)
        self.progress(stage, 0, 1)
        start = time.monotonic()
        with atomic_path(final) as tmp:
            fields = build(tmp)
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "cache_key": key,
            "artifact": {
                "file": final.name,
                "format": final.suffix.lstrip("."),
                "sha256": sha256_file(final),
                "size_bytes": final.stat().st_size,
            },
            "imgsz": self.imgsz,
            "tools": tool_versions(),
            **fields,
            "key_inputs": key_inputs,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "build_seconds": round(time.monotonic() - start, 2),
        }
        write_json_atomic(manifest_path(final), manifest)
        self.progress(stage, 1, 1)
        return Artifact(final, manifest)


def batch_label(stage: str, batch: int) -> str:
    """A stage's progress label for a build of static batch ``batch`` (unchanged for batch 1).

    Example:
        >>> batch_label("export onnx (cached)", 8), batch_label("calibrate", 8), batch_label("calibrate", 1)
        ('export onnx b8 (cached)', 'calibrate b8', 'calibrate')
    """
    if batch == 1:
        return stage
    base, cached = (stage[: -len(" (cached)")], " (cached)") if stage.endswith(" (cached)") else (stage, "")
    return f"{base} b{batch}{cached}"


def common_fields(stage: Stage, spec: Any, base: SourceModel, parent: Artifact | None) -> dict:
    """The manifest fields every stage writes: variant, source, class names, parent and inherited sections."""
    fields = {
        "variant": spec.to_dict(),
        "source": stage.src.to_dict(),
        "names": {str(i): n for i, n in enumerate(base.names)},
    }
    if base is not stage.src:
        fields["model"] = base.to_dict()
    if parent is not None:
        fields["parent"] = {"file": parent.path.name, "sha256": parent.manifest["artifact"]["sha256"]}
        for key in ("params", "gflops", "pruning"):
            if key in parent.manifest:
                fields[key] = parent.manifest[key]
    return fields
