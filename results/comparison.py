"""What a comparison of two runs found: the marks and the per-metric, per-variant and per-run results.

The data model of :mod:`results.compare` (which builds it and re-exports every name here); nothing
is judged or printed in this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import Enum

from results.schema import Record
from results.stats import BLOCKS, DEFAULT_FACTOR
from results.validity import Validity

__all__ = ["ACCURACY", "DEFAULT_ALPHA", "SPEED", "Comparison", "Mark", "MetricChange", "RunInfo", "Thresholds",
           "VariantComparison"]

DEFAULT_ALPHA = 0.01
"""Significance level of the Mann-Whitney U test on block values."""


class Mark(str, Enum):
    """The verdict on one metric or one variant."""

    WORSE = "worse"
    BETTER = "better"
    LOAD = "load differed"
    NOISY = "too noisy"
    UNSURE = "not significant"
    SMALL = "small"
    SAME = "same"
    NEW_FAILURE = "new failure"
    FIXED = "fixed"
    NOT_COMPARABLE = "not comparable"
    FAILED = "failed"
    SKIPPED = "skipped"
    ADDED = "added"
    REMOVED = "removed"

    @property
    def symbol(self) -> str:
        """asv-style one-character mark: ``+`` worse, ``-`` better, ``!`` new failure, ..."""
        return {"worse": "+", "better": "-", "not significant": "~", "too noisy": "~", "load differed": "?",
                "new failure": "!", "fixed": "*", "not comparable": "x"}.get(self.value, " ")

    @property
    def unresolved(self) -> bool:
        """A change beyond the threshold that the evidence could not confirm."""
        return self in (Mark.LOAD, Mark.NOISY, Mark.UNSURE)

    @property
    def is_regression(self) -> bool:
        return self in (Mark.WORSE, Mark.NEW_FAILURE)

    @property
    def judged(self) -> bool:
        """A verdict worth words: a change beyond the threshold and significant, or a status change
        (new failure, fixed, added, ...); the rest (small, same, not significant, too noisy, load
        differed) is shown as a compact ``~``."""
        return self not in (Mark.LOAD, Mark.NOISY, Mark.UNSURE, Mark.SMALL, Mark.SAME)


@dataclass(frozen=True)
class Thresholds:
    """What counts as a change."""

    factor: float = DEFAULT_FACTOR
    map_threshold: float = 0.5
    iou_threshold: float = 0.01
    alpha: float = DEFAULT_ALPHA
    blocks: int = BLOCKS


@dataclass(frozen=True)
class MetricChange:
    """One metric of one variant in both runs.

    ``change`` is the ratio candidate/base for speed metrics and the difference
    candidate - base for accuracy (mAP in points, IoU as a fraction); ``threshold`` is
    what it was judged against (the factor, or the points / IoU threshold).

    For speed: ``p_value`` is the Mann-Whitney U test on the block values (None when no
    test could be made), ``blocks`` the number of block values on each side, ``spread_*``
    each run's 90th over 10th percentile block value, ``test`` what was tested, in words.
    """

    metric: str
    base: float | None
    candidate: float | None
    change: float | None
    p_value: float | None
    mark: Mark
    note: str | None = None
    threshold: float | None = None
    test: str | None = None
    blocks: tuple[int, int] | None = None
    spread_base: float | None = None
    spread_candidate: float | None = None


@dataclass(frozen=True)
class VariantComparison:
    name: str
    mark: Mark
    base_status: str | None
    candidate_status: str | None
    metrics: tuple[MetricChange, ...] = ()
    note: str | None = None
    cpu_wait_base: float | None = None
    cpu_wait_candidate: float | None = None
    validity_base: Validity | None = None
    validity_candidate: Validity | None = None
    """Each side's row verdict (:func:`results.validity.verdict`, the run table's marks)."""

    def metric(self, name: str) -> MetricChange | None:
        return next((m for m in self.metrics if m.metric == name), None)


@dataclass(frozen=True)
class RunInfo:
    release: str
    run_id: str
    device: str
    model: str
    sha256: str
    created_utc: str

    @classmethod
    def of(cls, record: Record) -> RunInfo:
        return cls(record.release, record.run_id, record.device.profile, record.model.name,
                   record.model.sha256, record.created_utc)


@dataclass(frozen=True)
class Comparison:
    """The result of :func:`results.compare.compare`: per-variant verdicts and what else differs."""

    base: RunInfo
    candidate: RunInfo
    comparable: bool
    reason: str | None
    notes: tuple[str, ...]
    variants: tuple[VariantComparison, ...]
    thresholds: Thresholds
    same_data: bool = True
    """Both runs scored the same data (:func:`results.baseline.same_data`); else accuracy is not compared."""

    @property
    def regressions(self) -> tuple[VariantComparison, ...]:
        """Variants that got worse or newly fail (empty when not comparable)."""
        return tuple(v for v in self.variants if v.mark.is_regression)

    def to_dict(self) -> dict:
        """JSON-ready form (marks as their names)."""
        out = asdict(self)
        for v in out["variants"]:
            v["mark"] = Mark(v["mark"]).value
            for m in v["metrics"]:
                m["mark"] = m["verdict"] = Mark(m["mark"]).value
                if m["metric"] in SPEED:
                    m["ratio"], m["factor"] = m["change"], self.thresholds.factor
                    m["alpha"] = self.thresholds.alpha
        out["regressions"] = [v.name for v in self.regressions]
        return out


SPEED = ("fps", "p50_ms", "p99_ms")
ACCURACY = ("map50_95", "avg_iou")
