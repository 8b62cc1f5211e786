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

from common.errors import InputError, expected
from results.baseline import describe_data
from results.baseline import same_data as _same_data
from results.compare_speed import _batch, _cpu_wait, _speed, _throttled
from results.comparison import (ACCURACY, DEFAULT_ALPHA, SPEED, Comparison, Mark, MetricChange, RunInfo, Thresholds,
                                VariantComparison)
from results.schema import Record, Variant
from results.stats import BLOCKS, DEFAULT_FACTOR, MIN_BLOCKS
from results.validity import verdict

__all__ = ["DEFAULT_ALPHA", "DEFAULT_FACTOR", "Comparison", "Mark", "MetricChange", "RunInfo", "Thresholds",
           "VariantComparison", "compare"]


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
