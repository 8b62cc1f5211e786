"""Bootstrap confidence intervals for mAP@[.50:.95] and for the mAP drop between two variants.

Images are the unit of resampling: each resample draws ``n_images`` images with
replacement, and mAP is recomputed with every image counted as often as it was drawn
(:meth:`CocoResult.resample_map`, which re-accumulates the stored matches without matching
again). For a drop, both results are resampled with the *same* draws (a paired bootstrap),
so the interval reflects how much the difference depends on which images were used, not
the much larger image-to-image spread of mAP itself. The interval is the percentile
interval of the resampled statistic.

Example:
    >>> # ci = bootstrap_map_drop(fp32_result, int8_result, n_resamples=1000, seed=0)
    >>> # ci.low, ci.high  -> e.g. (0.004, 0.019): FP32 mAP minus INT8 mAP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from common.errors import InputError, expected
from harness.metrics.coco import CocoResult

__all__ = ["Interval", "bootstrap_map", "bootstrap_map_difference", "bootstrap_map_drop"]


@dataclass(frozen=True)
class Interval:
    """A point estimate with a bootstrap percentile interval.

    Attributes:
        estimate: the statistic on the full set of images.
        low: lower bound of the interval.
        high: upper bound.
        confidence: e.g. 0.95.
        n_resamples: resamples drawn (those where the statistic was undefined are dropped).
    """

    estimate: float
    low: float
    high: float
    confidence: float
    n_resamples: int


def _draws(n_images: int, n_resamples: int, seed: int):
    rng = np.random.default_rng(seed)
    for _ in range(n_resamples):
        yield np.bincount(rng.integers(0, n_images, n_images), minlength=n_images)


def _interval(estimate: float, values: list, confidence: float) -> Interval:
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return Interval(estimate, float("nan"), float("nan"), confidence, 0)
    tail = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(v, [tail, 1.0 - tail])
    return Interval(estimate, float(lo), float(hi), confidence, int(v.size))


def _check(n_resamples: int, confidence: float) -> None:
    if n_resamples < 1:
        raise InputError(expected("n_resamples >= 1", n_resamples, "n_resamples"))
    if not 0.0 < confidence < 1.0:
        raise InputError(expected("a confidence between 0 and 1", confidence, "confidence"))


def bootstrap_map(result: CocoResult, *, n_resamples: int = 1000, seed: int = 0, confidence: float = 0.95) -> Interval:
    """Percentile interval of mAP@[.50:.95] over image resamples.

    Args:
        result: an evaluated :class:`CocoResult`.
        n_resamples: number of resamples.
        seed: seed of the resampling (same seed, same interval).
        confidence: coverage of the interval.

    Returns:
        :class:`Interval` around ``result.stats[0]``.
    """
    _check(n_resamples, confidence)
    n = len(result.image_ids)
    values = [result.resample_map(w) for w in _draws(n, n_resamples, seed)]
    return _interval(float(result.stats[0]), values, confidence)


def bootstrap_map_drop(
    reference: CocoResult,
    candidate: CocoResult,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Interval:
    """Paired percentile interval of ``mAP(reference) - mAP(candidate)`` (a positive drop = worse).

    Args:
        reference: e.g. the FP32 variant's result.
        candidate: the optimized variant's result, on the same images.
        n_resamples: number of resamples.
        seed: seed of the resampling.
        confidence: coverage of the interval.

    Returns:
        :class:`Interval` around ``reference.stats[0] - candidate.stats[0]``.

    Raises:
        InputError: the two results were not computed on the same images.
    """
    _check(n_resamples, confidence)
    if reference.image_ids != candidate.image_ids:
        raise InputError(expected("two results on the same images", f"{len(reference.image_ids)} vs {len(candidate.image_ids)} images (or different ids)", "bootstrap_map_drop"))
    n = len(reference.image_ids)
    values = [reference.resample_map(w) - candidate.resample_map(w) for w in _draws(n, n_resamples, seed)]
    return _interval(float(reference.stats[0] - candidate.stats[0]), values, confidence)


def bootstrap_map_difference(
    gt: object,
    dt_reference: object,
    dt_candidate: object,
    *,
    n: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """``(low, high)`` of the paired interval of ``mAP(reference) - mAP(candidate)`` on one ground truth.

    A convenience over :func:`bootstrap_map_drop` for callers holding detections rather than
    results (each argument may also already be a :class:`CocoResult`, which skips re-evaluation).

    Args:
        gt: ground truth accepted by :func:`evaluate_coco` (ignored for arguments that are results).
        dt_reference: the reference variant's detections (or its result).
        dt_candidate: the other variant's detections (or its result).
        n: resamples.
        seed: resampling seed.
        confidence: coverage.
    """
    from harness.metrics.coco import evaluate_coco

    ref = dt_reference if isinstance(dt_reference, CocoResult) else evaluate_coco(gt, dt_reference)
    cand = dt_candidate if isinstance(dt_candidate, CocoResult) else evaluate_coco(gt, dt_candidate)
    ci = bootstrap_map_drop(ref, cand, n_resamples=n, seed=seed, confidence=confidence)
    return ci.low, ci.high
