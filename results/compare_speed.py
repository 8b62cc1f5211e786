"""How one speed metric of one variant is judged between two runs (the rules: :mod:`results.compare`).

Block values of the time-ordered samples, the Mann-Whitney U test, the noise of each run, the
CPU wait that load explains, throttled clocks, and the batch-N throughput shown without a test.
"""

from __future__ import annotations

from dataclasses import replace

from results.comparison import Mark, MetricChange, Thresholds
from results.schema import SAMPLES_ORDER, Variant
from results.stats import MIN_BLOCKS, P99_MIN_SAMPLES, block_values, is_sorted, mann_whitney_p, spread
from results.validity import Validity, batch_verdict


def _batch(b: Variant, c: Variant, limits: Thresholds) -> tuple[MetricChange, ...]:
    """``batch_fps`` (images per second at batch N) when both rows measured it at the same N, else nothing.

    Shown, never gating (bench gates on the single stream; records before 2026-12-04 hold no batch
    samples to test): a change beyond the factor is ``not significant``, within it ``same``. The note
    says when either side's batch pass was contended or unstable (:func:`results.validity.batch_verdict`).
    """
    bb = b.timing.batch if b.timing else None
    bc = c.timing.batch if c.timing else None
    if bb is None or bc is None or bb.batch != bc.batch or not bb.images_per_s or not bc.images_per_s:
        return ()
    ratio = bc.images_per_s / bb.images_per_s
    beyond = ratio > limits.factor or ratio < 1 / limits.factor
    doubts = [f"the {side} run's batch pass was {v.words}" for side, v in
              (("base", batch_verdict(b, factor=limits.factor)), ("candidate", batch_verdict(c, factor=limits.factor)))
              if not v.ok]
    said = [f"images per second at batch {bb.batch}: shown, never gates"] if beyond else []
    note = "; ".join(said + doubts) or None
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
