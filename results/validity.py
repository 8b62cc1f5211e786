"""Can a row's speed figures be believed? One verdict per variant, from what its record holds.

Three checks, each on what was measured in that variant's timed window (a check whose inputs
were not recorded says nothing, it does not pass or fail):

* **contended** -- the variant's threads waited for a CPU held by something else for more than
  :data:`CONTENDED_WAIT_SHARE` of the time they were ready to run (``telemetry.process.
  cpu_wait_share``, Linux schedstat). Waiting alone then stretches every latency by
  ``1 / (1 - 0.2) = 1.25x``, more than the compare factor squared (1.21): the row measured the
  machine's load as much as the variant.
* **throttled** -- the telemetry saw throttling (NVML clock-event reasons, a thermal trip, a clock
  that fell during the window: ``telemetry.throttled``), or a clock read during the window is under
  :data:`CLOCK_FLOOR` (75 %) of the highest value seen for it (NVBench's rule: it discards
  samples whose GPU clock falls under 75 % of its maximum). The clocks looked at are the GPU/EMC
  clocks at the start and end of the window (``clocks_before`` / ``clocks_after``, maximum from
  ``clocks_max`` when recorded) and each CPU core's frequency (``cpu_freq_mhz`` before / after /
  mean).
* **unstable** -- the variant's own time blocks disagree: the medians of the
  :data:`~results.stats.BLOCKS` time-contiguous blocks of its end-to-end samples (inference
  samples when no end-to-end ones were stored) spread (90th over 10th percentile) by more than
  the compare factor, the same rule :mod:`results.compare` calls *too noisy*.

:func:`verdict` is the one place this is decided: the run table (terminal and report) marks
the row with it and :func:`results.compare.compare` uses it.

Example:
    >>> from results.schema import Variant
    >>> v = Variant(name="fp32", format="onnx", precision="fp32", status="ok",
    ...             telemetry={"process": {"cpu_wait_share": 0.62}})
    >>> verdict(v).marks, verdict(v).contended
    ('C', True)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from results.schema import Variant
from results.stats import DEFAULT_FACTOR, block_values, spread

__all__ = ["CLOCK_FLOOR", "CONTENDED_WAIT_SHARE", "MARKS", "Validity", "batch_verdict", "verdict"]

CONTENDED_WAIT_SHARE = 0.20
"""A row whose threads waited for a CPU more than this share of their ready time is *contended*."""
CLOCK_FLOOR = 0.75
"""A clock under this fraction of its maximum during the timed window makes the row *throttled*."""
MARKS = {"contended": "C", "throttled": "T", "unstable": "U"}
"""The one-letter mark of each verdict in the run table's status column."""


@dataclass(frozen=True)
class Validity:
    """The verdict on one row's speed figures.

    Attributes:
        contended: the machine's load stretched its timings (see the module doc).
        throttled: a clock was throttled or fell during its timed window.
        unstable: its own time blocks spread beyond the compare factor.
        reasons: one sentence per verdict that holds, with the measured numbers.
        figures: the same numbers in a few words per verdict (``"wait 39%"``, ``"blocks 1.68x"``), for the
            run table's one line on its marked rows.
        checked: which checks had their inputs recorded (e.g. ``("contended", "unstable")``).
    """

    contended: bool = False
    throttled: bool = False
    unstable: bool = False
    reasons: tuple[str, ...] = ()
    checked: tuple[str, ...] = ()
    figures: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no check failed (including when nothing could be checked)."""
        return not (self.contended or self.throttled or self.unstable)

    @property
    def marks(self) -> str:
        """``"C"``, ``"T"``, ``"U"`` (or several, e.g. ``"CU"``) for what holds; ``""`` when none does."""
        return "".join(m for k, m in MARKS.items() if getattr(self, k))

    @property
    def words(self) -> str:
        """``"contended, unstable"``: what holds, in words (``""`` when none)."""
        return ", ".join(k for k in MARKS if getattr(self, k))


def _number(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) else None


def _wait(telemetry: Mapping) -> float | None:
    share = _number((telemetry.get("process") or {}).get("cpu_wait_share"))
    return share if share is not None and 0 <= share <= 1 else None


def _clock_checks(telemetry: Mapping) -> tuple[bool, list[str]]:
    """Whether any clock was read, and a sentence per clock under the floor."""
    found, low = False, []
    before, after = telemetry.get("clocks_before") or {}, telemetry.get("clocks_after") or {}
    top = telemetry.get("clocks_max") or {}
    for key in dict.fromkeys([*before, *after]):
        if key == "cpu_max_mhz":  # the fastest core: covered per core below
            continue
        seen = [x for x in (_number(before.get(key)), _number(after.get(key))) if x is not None]
        peak = max([*seen, *([_number(top.get(key))] if _number(top.get(key)) is not None else [])], default=None)
        if not seen or not peak or peak <= 0:
            continue
        found = True
        if min(seen) < CLOCK_FLOOR * peak:
            low.append(f"{key.removesuffix('_mhz')} clock {min(seen):g} MHz, under {CLOCK_FLOOR:.0%} of its "
                       f"{peak:g} MHz")
    freq = telemetry.get("cpu_freq_mhz") or {}
    per_core = [freq.get(k) or [] for k in ("before", "after", "mean")]
    for core in range(max((len(x) for x in per_core), default=0)):
        seen = [v for x in per_core if core < len(x) and (v := _number(x[core])) is not None]
        if not seen or max(seen) <= 0:
            continue
        found = True
        if min(seen) < CLOCK_FLOOR * max(seen):
            low.append(f"CPU core {core} at {min(seen):g} MHz, under {CLOCK_FLOOR:.0%} of its {max(seen):g} MHz")
    return found, low


def verdict(variant: Variant, *, factor: float = DEFAULT_FACTOR) -> Validity:
    """Judge one row's speed figures from its telemetry and its stored samples.

    Args:
        variant: a row of a validated record.
        factor: the compare factor: block spread beyond it is *unstable*.

    Returns:
        The :class:`Validity`; a row that did not run, or whose inputs were not recorded, is
        not marked.

    Example:
        >>> from results.schema import Timing, Variant
        >>> samples = (10.0,) * 30 + (14.0,) * 30
        >>> v = Variant(name="int8", format="onnx", precision="int8", status="ok",
        ...             timing=Timing(stages={}, end_to_end_samples_ms=samples))
        >>> verdict(v).unstable, verdict(v).reasons
        (True, ('its time blocks spread 1.40x (90th / 10th percentile of 10 block medians), beyond the factor 1.1',))
    """
    if not variant.ok:
        return Validity()
    telemetry = variant.telemetry or {}
    checked, reasons, figures = [], [], []
    contended = _contended(_wait(telemetry), checked, reasons, figures)
    throttled = False

    clocks_read, low = _clock_checks(telemetry)
    said = telemetry.get("throttled")
    if clocks_read or isinstance(said, bool):
        checked.append("throttled")
    if said is True or low:
        throttled = True
        why = "; ".join(dict.fromkeys([str(r) for r in telemetry.get("throttle_reasons") or ()] + low))
        reasons.append("throttled: " + (why or "the telemetry saw throttling"))
        figures.append(why or "throttling seen")

    timing = variant.timing
    unstable = _unstable(timing and (timing.end_to_end_samples_ms or timing.inference_samples_ms), factor,
                         checked, reasons, figures)
    return Validity(contended, throttled, unstable, tuple(reasons), tuple(checked), tuple(figures))


def batch_verdict(variant: Variant, *, factor: float = DEFAULT_FACTOR) -> Validity:
    """Judge a row's batch-N throughput pass (``timing.batch``, ``bench run --batch N``) the way
    :func:`verdict` judges its single stream: *contended* from the pass's own CPU wait, *unstable*
    from its calls' time blocks. The telemetry window is the single stream's, so clocks are not
    judged here (``checked`` never holds ``"throttled"``); a pass recorded without these inputs
    (older records) is not marked.

    Example:
        >>> from results.schema import BatchTiming, Timing, Variant
        >>> b = BatchTiming(batch=8, images_per_s=400.0, samples_ms=(20.0,) * 30, cpu_wait_share=0.3)
        >>> v = Variant(name="int8", format="onnx", precision="int8", status="ok", timing=Timing(stages={}, batch=b))
        >>> batch_verdict(v).marks, batch_verdict(v).checked
        ('C', ('contended', 'unstable'))
    """
    b = variant.timing.batch if variant.ok and variant.timing else None
    if b is None:
        return Validity()
    checked: list[str] = []
    reasons: list[str] = []
    figures: list[str] = []
    contended = _contended(b.cpu_wait_share, checked, reasons, figures)
    unstable = _unstable(b.samples_ms, factor, checked, reasons, figures)
    return Validity(contended, False, unstable, tuple(reasons), tuple(checked), tuple(figures))


def _contended(wait: float | None, checked: list, reasons: list, figures: list) -> bool:
    if wait is None:
        return False
    checked.append("contended")
    if wait <= CONTENDED_WAIT_SHARE:
        return False
    reasons.append(f"its threads waited for a CPU {wait:.0%} of the time they were ready to run "
                   f"(over {CONTENDED_WAIT_SHARE:.0%}: alone a {1 / (1 - wait):.2f}x slowdown)")
    figures.append(f"wait {wait:.0%}")
    return True


def _unstable(samples, factor: float, checked: list, reasons: list, figures: list) -> bool:
    blocks = block_values(samples, "median") if samples else []
    if not blocks:
        return False
    checked.append("unstable")
    x = spread(blocks)
    if x is None or x <= factor:
        return False
    reasons.append(f"its time blocks spread {x:.2f}x (90th / 10th percentile of {len(blocks)} block "
                   f"medians), beyond the factor {factor:g}")
    figures.append(f"blocks {x:.2f}x")
    return True
