"""The answer line: the fastest variant within an accuracy budget, with its speed-up over FP32.

A variant is within budget when the upper end of its mAP50-95 drop's 95% CI is at most the
budget (``--max-drop``, :data:`DEFAULT_MAX_DROP` points), so that noise cannot let a worse variant
in. FP32 (the reference) is within budget by definition; the distillation teacher and the pruned
rows' fine-tune control (other models) are not candidates. A pruned row with a measured control
(:mod:`harness.control`) is judged on its drop against the control, pruning's own cost, and the
line says so when it wins. The line carries the winner's validity marks (:mod:`results.validity`) and says
"no variant within budget" plainly. :mod:`results.render` prints it under the run table and
:mod:`results.report` at the top of the report.
"""

from __future__ import annotations

from results import format as fmt
from results.schema import Record, Variant, VsModel, VsReference
from results.stats import DEFAULT_FACTOR
from results.validity import verdict

__all__ = ["DEFAULT_MAX_DROP", "OTHER_MODELS", "answer", "budget_source", "drop_source", "reference_name"]

DEFAULT_MAX_DROP = 1.0
"""The accuracy budget of the answer line: mAP50-95 points, judged on the upper end of the drop's CI."""

OTHER_MODELS = ("teacher", "control")
"""``source_model`` roles of rows that are other models, never candidates of the answer line."""


def reference_name(record: Record) -> str | None:
    """The reference variant's name (the one the drops are against; ``fp32`` by default)."""
    names = [v.vs_reference.reference for v in record.variants if v.vs_reference is not None]
    return names[0] if names else ("fp32" if record.variant("fp32") else None)


def drop_source(v: Variant) -> VsReference | VsModel | None:
    """What the row's drop column is against: a student's same-size plain FP32, else the reference."""
    plain = v.vs_models.get("plain")
    return plain if plain is not None else v.vs_reference


def budget_source(v: Variant) -> VsReference | VsModel | None:
    """What the answer line judges the row on: a pruned row's drop against its measured fine-tune control
    (pruning's own cost), else its drop column (:func:`drop_source`)."""
    control = v.vs_models.get("control")
    return control if control is not None and control.reference is not None else drop_source(v)


def _budget_drop(v: Variant, reference: str | None) -> tuple[float | None, bool]:
    """The drop the budget is judged on (the upper end of the CI) and whether a CI was there."""
    if v.name == reference:
        return 0.0, True
    vs = budget_source(v)
    if vs is None or vs.map_drop_points is None or (isinstance(vs, VsModel) and vs.reference is None):
        return None, False
    if vs.map_drop_ci95 is not None:
        return vs.map_drop_ci95[1], True
    return vs.map_drop_points, False


def answer(record: Record, *, max_drop: float = DEFAULT_MAX_DROP, factor: float = DEFAULT_FACTOR) -> str:
    """The fastest variant within the accuracy budget, in one line (the table's last word).

    A variant is within budget when the upper end of its mAP50-95 drop's 95% CI is at most
    ``max_drop`` points (the point estimate when no CI was computed, said so). FP32 (the
    reference) is within budget by definition; the teacher and the fine-tune control (other models)
    are not candidates. A pruned row with a measured control is judged on its drop against it
    (:func:`budget_source`), and a winning one says so.

    Example:
        >>> import json, pathlib
        >>> from results.schema import validate_record
        >>> path = pathlib.Path(__file__).parents[1] / "tests/results/data/record_v2.json"
        >>> record = validate_record(json.loads(path.read_text()), "v2")
        >>> answer(record, max_drop=2.0)
        'answer (cpu, mAP50-95 drop <= 2 points at the upper end of its 95% CI): int8, 88.7 FPS, 1.98x fp32'
        >>> answer(record).endswith("fp32 itself (44.9 FPS): no variant within budget is faster")
        True
    """
    reference = reference_name(record)
    ref = record.variant(reference) if reference else None
    budget = f"mAP50-95 drop <= {max_drop:g} point{'s' if max_drop != 1 else ''} at the upper end of its 95% CI"
    head = f"answer ({record.device.profile}, {budget})"
    candidates = [v for v in record.variants if v.ok and v.timing and v.timing.fps is not None
                  and not (v.source_model and v.source_model.role in OTHER_MODELS)]
    judged = [(v, *_budget_drop(v, reference)) for v in candidates]
    if not any(d is not None for v, d, _ in judged if v.name != reference):
        why = "no ground truth" if not record.data.with_ground_truth else "no variant has a measured mAP drop"
        return f"{head}: cannot say, no accuracy drop was measured ({why})"
    within = [(v, d, ci) for v, d, ci in judged if d is not None and d <= max_drop]
    others = [x for x in within if x[0].name != reference]
    if not others:
        kept = f"; {reference} stays ({fmt.fps(ref.timing.fps)} FPS)" if ref and ref.ok and ref.timing else ""
        return f"{head}: no variant within budget{kept}"
    best, drop, with_ci = max(within, key=lambda x: x[0].timing.fps)
    validity = verdict(best, factor=factor)
    mark = f" [{validity.marks}: {validity.words}]" if validity.marks else ""
    if best.name == reference:
        return (f"{head}: {best.name} itself ({fmt.fps(best.timing.fps)} FPS){mark}: no variant within budget "
                "is faster")
    speed = ""
    if ref is not None and ref.ok and ref.timing and ref.timing.fps:
        speed = f", {best.timing.fps / ref.timing.fps:.2f}x {reference}"
    ci = "" if with_ci else f" (drop {drop:+.2f}, no CI computed)"
    control, against = best.vs_models.get("control"), ""
    if control is not None:  # a pruned winner: against its control, or said to have had more training
        against = (f" (judged on its drop vs {control.reference}, its fine-tune control)" if control.reference else
                   f" (judged vs {reference}, which had less training; no fine-tune control, see its note)")
    return f"{head}: {best.name}, {fmt.fps(best.timing.fps)} FPS{speed}{mark}{ci}{against}"
