"""Compare two runs variant by variant; find regressions (data only, no printing).

Speed (FPS, inference p50 and p99) is judged the way a careful benchmark tool does on a
shared machine, where other processes steal the CPU in bursts lasting seconds:

* **Practical factor** (``factor``, default 1.10 as in ``asv compare``): a change smaller
  than 10 % is never a regression. ``change`` is candidate / base of the whole-run value.
* **Significance on time blocks**: each run's timed samples, in the order they were
  measured, are cut into :data:`~results.stats.BLOCKS` contiguous blocks and each block is
  summarised by the metric itself (its FPS, its median, its p99). The two runs' block
  values are compared with the exact two-sided Mann-Whitney U test (p < ``alpha``, default
  0.01). Raw samples are not tested: thousands of correlated samples make any shift
  "significant". A burst of contention moves a few blocks and weakens the evidence.
* **Noise**: a run whose own block values spread (90th over 10th percentile) by more than
  the factor cannot resolve a change of that size; such a change is marked *too noisy*.
* **Tail**: a p99 change is judged only when both runs timed at least
  :data:`~results.stats.P99_MIN_SAMPLES` frames; with fewer, a block's p99 is its slowest frame.
* **Load**: when both runs recorded how long their threads waited for a CPU
  (``telemetry.process.cpu_wait_share``) and waiting alone explains a slowdown
  (1 - w_base) / (1 - w_candidate) beyond the factor, an FPS or p50 change is judged on
  what is left after dividing that out, against the factor squared (the allowance is an
  estimate); a p99 change is not judged. Otherwise it is *load differed*: the machine was
  busier, not the variant slower.

Marks per speed metric: ``worse``/``better`` (beyond the factor and significant, not
explained by load), ``too noisy`` and ``not significant`` (beyond the factor, not
significant), ``load differed``, ``small`` (significant but within the factor: reported,
never gating), ``same``. Without time-ordered samples (none stored, or stored sorted)
the factor alone decides, and the metric says so: an unknown significance never hides a
slowdown. A record written before samples were marked as being in measurement order is
taken in stored order, and the metric says that too.

Accuracy (mAP50-95, average IoU per frame): worse or better when the change is beyond
``map_threshold`` points or ``iou_threshold``; the same model on the same data scores
the same every time, so there is no sampling test. Accuracy is not compared when the two
runs used different data.

Throughput at batch N (``batch_fps``, ``bench run --batch N``): compared only when both rows measured
it at the same N; shown with its ratio, never a regression (no samples are stored to test it).

Throttling: when either run's row was throttled (:func:`results.validity.verdict`: a clock fell
or sat under 75 % of its maximum, or the device reported throttling), a speed change beyond the
factor is *load differed*, not worse or better: the device changed, not necessarily the variant.

Per variant: ``new failure`` (ran before, fails now) and ``worse`` are regressions;
``fixed``, ``added``, ``removed``, ``skipped`` and ``failed`` are reported but do not
gate. Two runs on different device profiles or of models with different SHA-256 are
``not comparable`` as a whole.

Example:
    >>> from results.archive import load_record                       # doctest: +SKIP
    >>> c = compare(load_record("a.json"), load_record("b.json"))     # doctest: +SKIP
    >>> [v.name for v in c.regressions]                               # doctest: +SKIP
    ['int8']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from enum import Enum

from common.errors import InputError, expected
from results.schema import SAMPLES_ORDER, Record, Variant
from results.stats import (
    BLOCKS,
    DEFAULT_FACTOR,
    MIN_BLOCKS,
    P99_MIN_SAMPLES,
    block_values,
    is_sorted,
    mann_whitney_p,
    spread,
)
from results.baseline import describe_data
from results.baseline import same_data as _same_data
from results.validity import Validity, verdict

__all__ = ["DEFAULT_ALPHA", "DEFAULT_FACTOR", "Comparison", "Mark", "MetricChange", "RunInfo", "Thresholds",
           "VariantComparison", "compare"]

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
    """The result of :func:`compare`: per-variant verdicts and what else differs."""

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


def compare(base: Record, candidate: Record, *, factor: float = DEFAULT_FACTOR, map_threshold: float = 0.5,
            iou_threshold: float = 0.01, alpha: float = DEFAULT_ALPHA, blocks: int = BLOCKS) -> Comparison:
    """Compare a candidate run against a base run.

    Args:
        base: the earlier (reference) run.
        candidate: the run under judgement.
        factor: practical threshold for speed, >= 1 (1.10 = 10 %).
        map_threshold: mAP50-95 change, in points, beyond which accuracy changed.
        iou_threshold: average-IoU change (fraction) beyond which box quality changed.
        alpha: significance level of the Mann-Whitney U test on block values.
        blocks: time-contiguous blocks per run for the test (fewer for short runs).

    Returns:
        The :class:`Comparison`; nothing is printed and nothing exits.

    Raises:
        InputError: a threshold is out of range.
    """
    if not factor >= 1.0:
        raise InputError(expected("a factor >= 1 (1.10 = 10 % slower)", factor, "--factor"))
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < MIN_BLOCKS:
        raise InputError(expected(f"a whole number of blocks >= {MIN_BLOCKS}", blocks, "--blocks"))
    if not map_threshold >= 0:
        raise InputError(expected("a mAP threshold >= 0 points", map_threshold, "--map-threshold"))
    if not iou_threshold >= 0:
        raise InputError(expected("an IoU threshold >= 0", iou_threshold, "--iou-threshold"))
    if not 0 < alpha < 1:
        raise InputError(expected("alpha in (0, 1)", alpha, "--alpha"))
    limits = Thresholds(factor, map_threshold, iou_threshold, alpha, blocks)

    reasons = []
    if base.device.profile != candidate.device.profile:
        reasons.append(f"device profile differs ({base.device.profile} vs {candidate.device.profile})")
    if base.model.sha256 != candidate.model.sha256:
        reasons.append(f"model SHA-256 differs ({base.model.sha256[:12]} vs {candidate.model.sha256[:12]})")
    comparable = not reasons
    same_data = _same_data(base, candidate)

    names = [v.name for v in base.variants] + [v.name for v in candidate.variants
                                               if base.variant(v.name) is None]
    rows = tuple(_variant(base.variant(n), candidate.variant(n), n, limits, comparable=comparable,
                          same_data=same_data) for n in names)
    return Comparison(RunInfo.of(base), RunInfo.of(candidate), comparable, "; ".join(reasons) or None,
                      tuple(_context_notes(base, candidate, same_data)), rows, limits, same_data)


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

    wait = (_cpu_wait(b), _cpu_wait(c))
    validity = (verdict(b, factor=limits.factor), verdict(c, factor=limits.factor))
    metrics = tuple(_throttled(_speed(b, c, m, limits, judge=comparable, wait=wait), validity) for m in SPEED) + tuple(
        _accuracy(b, c, m, limits, judge=comparable and same_data) for m in ACCURACY) + _batch(b, c, limits)
    if not comparable:
        return VariantComparison(name, Mark.NOT_COMPARABLE, "ok", "ok", metrics, None, *wait, *validity)
    marks = {m.mark for m in metrics}
    for mark in (Mark.WORSE, Mark.BETTER, Mark.LOAD, Mark.NOISY, Mark.UNSURE, Mark.SMALL):
        if mark in marks:
            return VariantComparison(name, mark, "ok", "ok", metrics, None, *wait, *validity)
    if Mark.SAME not in marks:  # nothing was measured in both runs: no claim either way
        return VariantComparison(name, Mark.NOT_COMPARABLE, "ok", "ok", metrics, "nothing measured in both runs",
                                 *wait, *validity)
    return VariantComparison(name, Mark.SAME, "ok", "ok", metrics, None, *wait, *validity)


def _batch(b: Variant, c: Variant, limits: Thresholds) -> tuple[MetricChange, ...]:
    """``batch_fps`` (images per second at batch N) when both rows measured it at the same N, else nothing.

    Shown, never gating: the batch pass stores no samples to test, so a change beyond the factor is
    ``not significant`` (the factor alone cannot make a regression), within it ``same``.
    """
    bb = b.timing.batch if b.timing else None
    bc = c.timing.batch if c.timing else None
    if bb is None or bc is None or bb.batch != bc.batch or not bb.images_per_s or not bc.images_per_s:
        return ()
    ratio = bc.images_per_s / bb.images_per_s
    beyond = ratio > limits.factor or ratio < 1 / limits.factor
    note = (f"images per second at batch {bb.batch}: no samples stored for a significance test, so it is shown but "
            "never gates") if beyond else None
    return (MetricChange("batch_fps", bb.images_per_s, bc.images_per_s, ratio, None,
                         Mark.UNSURE if beyond else Mark.SAME, note, limits.factor),)


def _throttled(m: MetricChange, validity: tuple[Validity, Validity]) -> MetricChange:
    """A speed verdict is not given when either run's row was throttled: the device's clocks changed,
    not necessarily the variant (the same verdict the run table marks ``T``)."""
    sides = [side for side, v in zip(("base", "candidate"), validity) if v.throttled]
    if not sides or m.mark not in (Mark.WORSE, Mark.BETTER):
        return m
    why = "; ".join(r for v in validity if v.throttled for r in v.reasons if r.startswith("throttled"))
    note = f"clocks throttled in the {' and '.join(sides)} run ({why})"
    return replace(m, mark=Mark.LOAD, note="; ".join(x for x in (note, m.note) if x))


_STATISTIC = {"fps": "fps", "p50_ms": "median", "p99_ms": "p99"}
_STAT_WORDS = {"fps": "block FPS", "median": "block medians", "p99": "block p99s"}


def _cpu_wait(v: Variant) -> float | None:
    """The share of runnable time the variant's process waited for a CPU in its timed window."""
    process = (v.telemetry or {}).get("process") or {}
    share = process.get("cpu_wait_share")
    return float(share) if isinstance(share, (int, float)) and not isinstance(share, bool) and 0 <= share < 1 else None


def _ordered(samples, order: str | None, side: str) -> tuple[tuple | None, str | None]:
    """The samples if their time order can be trusted, and what to say about it."""
    if not samples:
        return None, f"no raw samples in the {side} run"
    if order == SAMPLES_ORDER:
        return samples, None
    if is_sorted(samples):
        return None, f"{side} samples are stored sorted (time order lost)"
    return samples, f"{side} record does not say its samples are in measurement order (older record): taken as stored"


def _speed(b: Variant, c: Variant, metric: str, limits: Thresholds, *, judge: bool,
           wait: tuple[float | None, float | None] = (None, None)) -> MetricChange:
    tb, tc = b.timing, c.timing
    notes = []
    if metric == "fps":
        vb, vc = (tb.fps if tb else None), (tc.fps if tc else None)
        higher_is_better = True
        if tb and tc and tb.end_to_end_samples_ms and tc.end_to_end_samples_ms:
            sb, sc, kind = tb.end_to_end_samples_ms, tc.end_to_end_samples_ms, "end-to-end"
        else:
            sb, sc, kind = (tb.inference_samples_ms if tb else None), (tc.inference_samples_ms if tc else None), \
                "inference"
            if sb and sc:
                notes.append("FPS tested on inference samples (no end-to-end samples in both runs)")
    else:
        key = "p50_ms" if metric == "p50_ms" else "p99_ms"
        stage_b = tb.stage("inference") if tb else None
        stage_c = tc.stage("inference") if tc else None
        vb, vc = (getattr(stage_b, key) if stage_b else None), (getattr(stage_c, key) if stage_c else None)
        higher_is_better = False
        sb, sc, kind = (tb.inference_samples_ms if tb else None), (tc.inference_samples_ms if tc else None), "inference"
    if vb is None or vc is None or vb <= 0:
        missing = "base" if vb is None else "candidate" if vc is None else "base (zero)"
        return MetricChange(metric, vb, vc, None, None, Mark.NOT_COMPARABLE, f"not measured in {missing}",
                            threshold=limits.factor)
    ratio = vc / vb

    # significance: Mann-Whitney U on the block values of time-ordered samples
    statistic = _STATISTIC[metric]
    sb, note_b = _ordered(sb, tb.samples_order if tb else None, "base")
    sc, note_c = _ordered(sc, tc.samples_order if tc else None, "candidate")
    sides = ((sb, note_b), (sc, note_c))
    notes += [n for kept, n in sides if kept is not None and n]  # kept, with a caveat
    blocks_b = block_values(sb, statistic, limits.blocks) if sb else []
    blocks_c = block_values(sc, statistic, limits.blocks) if sc else []
    spread_b, spread_c = spread(blocks_b), spread(blocks_c)
    p = test = None
    if blocks_b and blocks_c:
        p = mann_whitney_p(blocks_b, blocks_c, exact=True)
        test = (f"Mann-Whitney U on {len(blocks_b)} vs {len(blocks_c)} {_STAT_WORDS[statistic]} of the "
                f"{kind} samples")
    else:
        why = [n for kept, n in sides if kept is None and n]  # why a side has no usable samples
        if not why:
            why = [f"too few samples to cut into {MIN_BLOCKS} blocks"]
        notes.append(f"no significance test ({'; '.join(why)}): factor alone decides")
    sizes = (len(blocks_b), len(blocks_c)) if p is not None else None

    def change(mark: Mark, *extra: str) -> MetricChange:
        return MetricChange(metric, vb, vc, ratio, p, mark, "; ".join([*extra, *notes]) or None, limits.factor,
                            test, sizes, spread_b, spread_c)

    if not judge:
        return change(Mark.NOT_COMPARABLE)
    slowdown = 1 / ratio if higher_is_better else ratio  # > 1: the candidate is slower
    slower, faster = slowdown > limits.factor, slowdown < 1 / limits.factor
    significant = p is not None and p < limits.alpha
    if not (slower or faster):
        return change(Mark.SMALL, f"significant (p={p:.2g}) but within the factor {limits.factor:g}") \
            if significant and ratio != 1 else change(Mark.SAME)
    if metric == "p99_ms" and sb and sc and min(len(sb), len(sc)) < P99_MIN_SAMPLES:
        return change(Mark.UNSURE, f"p99 not judged: {min(len(sb), len(sc))} timed samples in a run, a p99 "
                                   f"test needs {P99_MIN_SAMPLES} (raise bench run --min-iters/--min-seconds)")
    # a run whose own blocks moved by more than the factor cannot resolve a change of that size,
    # and a change within what a run did on its own within seconds is no evidence between runs
    noisy = [(side, x) for side, x in (("base", spread_b), ("candidate", spread_c))
             if x is not None and x > limits.factor]
    floor = max((x for _, x in noisy), default=limits.factor)
    spreads = " and ".join(f"the {side} run's {_STAT_WORDS[statistic]} spread {x:.2f}x" for side, x in noisy)
    spreads += " (90th / 10th percentile of its blocks)" if noisy else ""
    if p is not None and not significant:
        if noisy:
            return change(Mark.NOISY, f"{spreads}, more than the factor {limits.factor:g}; the change is not "
                                      f"significant (p={p:.2g})")
        return change(Mark.UNSURE, f"beyond the factor but not significant (p={p:.2g} >= {limits.alpha:g})")
    if noisy and max(slowdown, 1 / slowdown) <= floor:
        return change(Mark.NOISY, f"{spreads}: the {max(slowdown, 1 / slowdown):.2f}x change is within what a "
                                  f"run moved by on its own" + (f" (p={p:.2g})" if p is not None else ""))
    # beyond the factor and the noise, and significant (or untestable): does the machine's load explain it?
    w_b, w_c = wait
    if w_b is not None and w_c is not None:
        explained = (1 - w_b) / (1 - w_c)  # the slowdown waiting for a CPU alone would cause
        if explained > limits.factor or explained < 1 / limits.factor:
            adjusted = slowdown / explained
            loaded = (f"threads waited for a CPU {100 * w_c:.0f}% of the time in the candidate run vs "
                      f"{100 * w_b:.0f}% in the base (alone a {explained:.2f}x slowdown)")
            # Waiting stretches typical latencies roughly in proportion, so what is left after
            # allowing for it is judged, against the factor squared because the allowance is
            # itself an estimate; tails (p99) stretch far more, so they are not judged at all.
            margin = limits.factor ** 2
            if metric != "p99_ms" and ((slower and adjusted > margin) or (faster and adjusted < 1 / margin)):
                return change(Mark.WORSE if slower else Mark.BETTER,
                              f"{max(adjusted, 1 / adjusted):.2f}x beyond what load explains: {loaded}")
            return change(Mark.LOAD, f"machine load differed: {loaded}")
    else:
        unknown = " and ".join(side for side, w in (("base", w_b), ("candidate", w_c)) if w is None)
        return change(Mark.WORSE if slower else Mark.BETTER,
                      f"CPU wait not recorded in the {unknown} run: a busier machine could not be ruled out")
    return change(Mark.WORSE if slower else Mark.BETTER)


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
        return MetricChange(metric, vb, vc, delta, None, Mark.NOT_COMPARABLE, "different data or run",
                            threshold=threshold)
    mark = Mark.WORSE if delta < -threshold else Mark.BETTER if delta > threshold else Mark.SAME
    return MetricChange(metric, vb, vc, delta, None, mark, threshold=threshold)


def _accuracy_value(v: Variant, metric: str) -> float | None:
    if v.accuracy is None:
        return None
    return v.accuracy.map50_95 if metric == "map50_95" else v.accuracy.avg_iou_per_frame


def _context_notes(base: Record, cand: Record, same_data: bool) -> list[str]:
    """What else changed between the runs (settings, runtimes, hardware, data, harness)."""
    notes = []
    if not same_data:
        notes.append(f"data differs: {describe_data(base)} vs {describe_data(cand)} (not like for like: "
                     "accuracy not compared)")
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
