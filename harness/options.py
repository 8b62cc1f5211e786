"""The options of ``bench run`` as one frozen object: argparse stops at the CLI (:mod:`harness.run_cmd`).

The plan (:mod:`harness.plan`), the student part (:mod:`harness.student`) and the run loop
(:mod:`harness.runloop`) take a :class:`RunOptions`, never an ``argparse.Namespace``. Defaults are the
CLI's, so a test or a script builds one with only what it changes.

Example:
    >>> opts = RunOptions(variants="fp32,int8", limit=10)
    >>> opts.variants, opts.limit, opts.conf, opts.no_archive
    ('fp32,int8', 10, 0.001, False)
    >>> import argparse
    >>> opts = RunOptions.from_namespace(argparse.Namespace(threads=2, command="run", finetune_epochs=3))
    >>> opts.threads, dict(opts.variant_options)
    (2, {'finetune_epochs': 3})
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RunOptions", "MAX_THREADS_PER_CPU"]

MAX_THREADS_PER_CPU = 4  # --threads is at most 4 x os.cpu_count(): more only makes runtimes hang (issue #16)


@dataclass(frozen=True)
class RunOptions:
    """Everything ``bench run`` was asked for (see ``bench run --help`` for each option)."""

    # what to benchmark
    device: str = "auto"
    model: Path | None = None
    variants: str | None = None  # comma-separated, as given (None: the default list)
    format: str | None = None
    runtime: str | None = None  # --runtime: this runtime instead of the profile's first available one
    force: bool = False
    student: Path | None = None
    teacher: Path | None = None
    control: Path | None = None  # --control: the pruned rows' like-for-like control (harness.control)
    # what to score on
    data: Path | None = None
    split: str = "val"
    coco: Path | None = None
    images: Path | None = None
    video: Path | None = None
    gt: Path | None = None
    limit: int | None = None
    imgsz: int | None = None  # --imgsz: the network input side for every row (None: the model's own)
    batch: int = 1  # --batch N: also measure throughput at N frames per call (1: single stream only)
    # scoring
    conf: float = 0.001
    iou: float = 0.7
    max_det: int = 300
    operating_conf: float = 0.25
    bootstrap: int = 200
    # timing and building
    threads: int | None = None
    min_iters: int = 100
    min_seconds: float = 3.0
    warmup_max_s: float = 10.0
    timeout: float = 1800.0
    calib_images: int = 200
    calib_data: Path | None = None
    variant_options: Mapping[str, Any] = field(default_factory=dict)  # the variant kinds' options, JSON-ready
    # output
    release: str = "dev"
    archive: Path | None = None
    no_archive: bool = False
    out: Path | None = None
    annotate: bool = False
    json: bool = False

    @classmethod
    def from_namespace(cls, ns: Any) -> RunOptions:
        """The options from a parsed namespace; attributes it lacks keep their defaults, others are ignored,
        except the variant kinds' options (:mod:`exporters.kinds`), which are gathered into ``variant_options``."""
        from exporters.kinds import options_mapping

        values = {f.name: getattr(ns, f.name) for f in dataclasses.fields(cls) if hasattr(ns, f.name)}
        values["variant_options"] = options_mapping(ns)
        return cls(**values)

    def replace(self, **changes: Any) -> RunOptions:
        """A copy with ``changes``."""
        return dataclasses.replace(self, **changes)
