"""Compare two runs variant by variant; find regressions (data only, no printing).

Speed (FPS, inference p50 and p99): a change is *worse* or *better* only when it
is both statistically significant (two-sided Mann-Whitney U on the raw latency
samples, p < alpha) and beyond the practical factor (e.g. 1.05 = 5 % slower).
When only one of the two holds the mark is ``~`` (asv's convention). FPS is
tested on the end-to-end samples when both runs stored them, else on the
inference samples. If either run stored no samples the factor alone decides
(and the metric says so): an unknown significance never hides a slowdown.

Accuracy (mAP50-95, average IoU per frame): worse or better when the change is
beyond ``map_threshold`` points or ``iou_threshold``; these are the same data
scored the same way, so there is no sampling test. Accuracy is not compared
when the two runs used different data.

Per variant: ``new failure`` (ran before, fails now) and ``worse`` are
regressions; ``fixed``, ``added``, ``removed``, ``skipped`` and ``failed`` are
reported but do not gate. Two runs on different device profiles or of models
with different SHA-256 are ``not comparable`` as a whole.

Example:
    >>> from results.archive import load_record                       # doctest: +SKIP
    >>> c = compare(load_record("a.json"), load_record("b.json"))     # doctest: +SKIP
    >>> [v.name for v in c.regressions]                               # doctest: +SKIP
    ['int8']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import Enum

from harness.errors import InputError, expected
from results.schema import Record, Variant
from results.stats import mann_whitney_p

__all__ = ["Comparison", "Mark", "MetricChange", "RunInfo", "Thresholds", "VariantComparison", "compare"]


class Mark(str, Enum):
    """The verdict on one metric or one variant."""

    WORSE = "worse"
    BETTER = "better"
    UNSURE = "~"
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
        return {"worse": "+", "better": "-", "~": "~", "same": " ", "new failure": "!", "fixed": "*",
                "not comparable": "x"}.get(self.value, " ")

    @property
    def is_regression(self) -> bool:
        return self in (Mark.WORSE, Mark.NEW_FAILURE)


@dataclass(frozen=True)
class Thresholds:
    """What counts as a change."""

    factor: float = 1.05
    map_threshold: float = 0.5
    iou_threshold: float = 0.01
    alpha: float = 0.05


@dataclass(frozen=True)
class MetricChange:
    """One metric of one variant in both runs.

    ``change`` is the ratio candidate/base for speed metrics and the difference
    candidate - base for accuracy (mAP in points, IoU as a fraction).
    """

    metric: str
    base: float | None
    candidate: float | None
    change: float | None
    p_value: float | None
    mark: Mark
    note: str | None = None


@dataclass(frozen=True)
class VariantComparison:
    name: str
    mark: Mark
    base_status: str | None
    candidate_status: str | None
    metrics: tuple[MetricChange, ...] = ()
    note: str | None = None

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
    """The result of :func:`compare`: per-variant verdicts and what else differs."""

    base: RunInfo
    candidate: RunInfo
    comparable: bool
    reason: str | None
    notes: tuple[str, ...]
    variants: tuple[VariantComparison, ...]
    thresholds: Thresholds

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
                m["mark"] = Mark(m["mark"]).value
        out["regressions"] = [v.name for v in self.regressions]
        return out


SPEED = ("fps", "p50_ms", "p99_ms")
ACCURACY = ("map50_95", "avg_iou")


def compare(base: Record, candidate: Record, *, factor: float = 1.05, map_threshold: float = 0.5,
            iou_threshold: float = 0.01, alpha: float = 0.05) -> Comparison:
    """Compare a candidate run against a base run.

    Args:
        base: the earlier (reference) run.
        candidate: the run under judgement.
        factor: practical threshold for speed, > 1 (1.05 = 5 %).
        map_threshold: mAP50-95 change, in points, beyond which accuracy changed.
        iou_threshold: average-IoU change (fraction) beyond which box quality changed.
        alpha: significance level of the Mann-Whitney U test.

    Returns:
        The :class:`Comparison`; nothing is printed and nothing exits.

    Raises:
        InputError: a threshold is out of range.
    """
    if not factor >= 1.0:
        raise InputError(expected("a factor >= 1 (1.05 = 5 % slower)", factor, "--factor"))
    if not map_threshold >= 0:
        raise InputError(expected("a mAP threshold >= 0 points", map_threshold, "--map-threshold"))
    if not iou_threshold >= 0:
        raise InputError(expected("an IoU threshold >= 0", iou_threshold, "--iou-threshold"))
    if not 0 < alpha < 1:
        raise InputError(expected("alpha in (0, 1)", alpha, "--alpha"))
    limits = Thresholds(factor, map_threshold, iou_threshold, alpha)

    reasons = []
    if base.device.profile != candidate.device.profile:
        reasons.append(f"device profile differs ({base.device.profile} vs {candidate.device.profile})")
    if base.model.sha256 != candidate.model.sha256:
        reasons.append(f"model SHA-256 differs ({base.model.sha256[:12]} vs {candidate.model.sha256[:12]})")
    comparable = not reasons
    same_data = (base.data.kind, base.data.source, base.data.count) == (
        candidate.data.kind, candidate.data.source, candidate.data.count)

    names = [v.name for v in base.variants] + [v.name for v in candidate.variants
                                               if base.variant(v.name) is None]
    rows = tuple(_variant(base.variant(n), candidate.variant(n), n, limits, comparable=comparable,
                          same_data=same_data) for n in names)
    return Comparison(RunInfo.of(base), RunInfo.of(candidate), comparable, "; ".join(reasons) or None,
                      tuple(_context_notes(base, candidate, same_data)), rows, limits)


def _variant(b: Variant | None, c: Variant | None, name: str, limits: Thresholds, *,
             comparable: bool, same_data: bool) -> VariantComparison:
    if c is None:
        return VariantComparison(name, Mark.REMOVED, b.status, None, note="not in the candidate run")
    if b is None:
        return VariantComparison(name, Mark.ADDED, None, c.status, note="not in the base run")
    statuses = (b.status, c.status)
    if statuses != ("ok", "ok"):
        if c.status == "failed" and b.status != "failed":
            mark, note = Mark.NEW_FAILURE, c.reason
        elif c.status == "ok":
            mark, note = (Mark.FIXED, f"was failed: {b.reason}") if b.status == "failed" else (
                Mark.ADDED, f"was skipped: {b.reason}")
        elif c.status == "skipped":
            mark, note = Mark.SKIPPED, c.reason
        else:
            mark, note = Mark.FAILED, c.reason
        if not comparable:
            mark = Mark.NOT_COMPARABLE
        return VariantComparison(name, mark, b.status, c.status, note=note)

    metrics = tuple(_speed(b, c, m, limits, judge=comparable) for m in SPEED) + tuple(
        _accuracy(b, c, m, limits, judge=comparable and same_data) for m in ACCURACY)
    if not comparable:
        return VariantComparison(name, Mark.NOT_COMPARABLE, "ok", "ok", metrics)
    marks = {m.mark for m in metrics}
    for mark in (Mark.WORSE, Mark.BETTER, Mark.UNSURE):
        if mark in marks:
            return VariantComparison(name, mark, "ok", "ok", metrics)
    if Mark.SAME not in marks:  # nothing was measured in both runs: no claim either way
        return VariantComparison(name, Mark.NOT_COMPARABLE, "ok", "ok", metrics, "nothing measured in both runs")
    return VariantComparison(name, Mark.SAME, "ok", "ok", metrics)


def _speed(b: Variant, c: Variant, metric: str, limits: Thresholds, *, judge: bool) -> MetricChange:
    tb, tc = b.timing, c.timing
    if metric == "fps":
        vb, vc = (tb.fps if tb else None), (tc.fps if tc else None)
        higher_is_better = True
        if tb and tc and tb.end_to_end_samples_ms and tc.end_to_end_samples_ms:
            sb, sc = tb.end_to_end_samples_ms, tc.end_to_end_samples_ms
        else:
            sb, sc = (tb.inference_samples_ms if tb else None), (tc.inference_samples_ms if tc else None)
    else:
        key = "p50_ms" if metric == "p50_ms" else "p99_ms"
        stage_b = tb.stage("inference") if tb else None
        stage_c = tc.stage("inference") if tc else None
        vb, vc = (getattr(stage_b, key) if stage_b else None), (getattr(stage_c, key) if stage_c else None)
        higher_is_better = False
        sb, sc = (tb.inference_samples_ms if tb else None), (tc.inference_samples_ms if tc else None)
    if vb is None or vc is None or vb <= 0:
        missing = "base" if vb is None else "candidate" if vc is None else "base (zero)"
        return MetricChange(metric, vb, vc, None, None, Mark.NOT_COMPARABLE, f"not measured in {missing}")
    ratio = vc / vb
    p = mann_whitney_p(sb, sc) if sb and sc else None
    note = None if p is not None else "no raw samples to test: factor alone decides"
    if not judge:
        return MetricChange(metric, vb, vc, ratio, p, Mark.NOT_COMPARABLE, note)
    slower = ratio < 1 / limits.factor if higher_is_better else ratio > limits.factor
    faster = ratio > limits.factor if higher_is_better else ratio < 1 / limits.factor
    significant = p is None or p < limits.alpha
    if (slower or faster) and significant:
        mark = Mark.WORSE if slower else Mark.BETTER
    elif slower or faster or (p is not None and p < limits.alpha):
        mark = Mark.UNSURE
    else:
        mark = Mark.SAME
    return MetricChange(metric, vb, vc, ratio, p, mark, note)


def _accuracy(b: Variant, c: Variant, metric: str, limits: Thresholds, *, judge: bool) -> MetricChange:
    vb = _accuracy_value(b, metric)
    vc = _accuracy_value(c, metric)
    if vb is None or vc is None:
        missing = "base" if vb is None else "candidate"
        return MetricChange(metric, vb, vc, None, None, Mark.NOT_COMPARABLE, f"not measured in {missing}")
    if metric == "map50_95":
        delta, threshold = (vc - vb) * 100, limits.map_threshold
    else:
        delta, threshold = vc - vb, limits.iou_threshold
    if not judge:
        return MetricChange(metric, vb, vc, delta, None, Mark.NOT_COMPARABLE, "different data or run")
    mark = Mark.WORSE if delta < -threshold else Mark.BETTER if delta > threshold else Mark.SAME
    return MetricChange(metric, vb, vc, delta, None, mark)


def _accuracy_value(v: Variant, metric: str) -> float | None:
    if v.accuracy is None:
        return None
    return v.accuracy.map50_95 if metric == "map50_95" else v.accuracy.avg_iou_per_frame


def _context_notes(base: Record, cand: Record, same_data: bool) -> list[str]:
    """What else changed between the runs (settings, runtimes, hardware, data, harness)."""
    notes = []
    if not same_data:
        notes.append(f"data differs: {base.data.count} {base.data.kind} from {base.data.source} vs "
                     f"{cand.data.count} {cand.data.kind} from {cand.data.source} (accuracy not compared)")
    for label, a, b in (("settings", base.settings, cand.settings),
                        ("runtime", base.runtime_versions, cand.runtime_versions),
                        ("hardware", base.device.hardware, cand.device.hardware)):
        notes.extend(f"{label} {k}: {_short(a.get(k))} -> {_short(b.get(k))}" for k in _changed(a, b))
    if (base.harness.version, base.harness.git_commit) != (cand.harness.version, cand.harness.git_commit):
        notes.append(f"harness: {base.harness.version} ({(base.harness.git_commit or '?')[:10]}) -> "
                     f"{cand.harness.version} ({(cand.harness.git_commit or '?')[:10]})")
    return notes


def _changed(a: Mapping, b: Mapping) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def _short(value) -> str:
    text = "absent" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."
