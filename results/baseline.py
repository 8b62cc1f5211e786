"""Like-for-like baselines: which archived run a run is compared with (``bench compare``, ``bench report``).

Two runs are compared only when they were scored on the same data: the record's **data identity**
is its data kind, source, frame count and whether it had ground truth (and the data's hash, when the
record carries one). A newer run of the same model on other data (a video without ground truth, say)
is never taken as the baseline of an image run: mAP across different data means nothing. When no
run on the same data exists, the caller gets no baseline and a sentence saying so plainly; a
baseline the user names explicitly (a run id or record file) is used as given, its comparison then
says the data differs and leaves accuracy out.

Example:
    >>> from types import SimpleNamespace as NS
    >>> images = NS(kind="images", source="synth", count=200, with_ground_truth=True)
    >>> video = NS(kind="video", source="clip.mp4", count=300, with_ground_truth=False)
    >>> same_data(NS(data=images), NS(data=images)), same_data(NS(data=images), NS(data=video))
    (True, False)
    >>> describe_data(NS(data=video))
    '300 video frames from clip.mp4 without ground truth'
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from results.schema import RUN_ID_RE

__all__ = ["Baseline", "data_identity", "describe_data", "is_release", "pick_baseline", "pair_like_for_like",
           "same_data"]


def data_identity(record) -> tuple:
    """What makes two runs' data the same: kind, source, count, ground truth (and a hash where recorded)."""
    d = record.data
    digest = getattr(d, "sha256", None) or getattr(d, "hash", None)
    if digest:
        return ("hash", digest, bool(d.with_ground_truth))
    return (d.kind, d.source, d.count, bool(d.with_ground_truth))


def same_data(a, b) -> bool:
    """True when records ``a`` and ``b`` were scored on the same data (their :func:`data_identity`)."""
    return data_identity(a) == data_identity(b)


def describe_data(record) -> str:
    """The data of a record in words, e.g. ``'200 images from synth without ground truth'``."""
    d = record.data
    what = "images" if d.kind == "images" else "video frames"
    return f"{d.count} {what} from {d.source} {'with' if d.with_ground_truth else 'without'} ground truth"


def is_release(ref: str) -> bool:
    """True when a BASE/``--against`` argument names a release (not a run id, not a record file)."""
    path_like = ref.endswith(".json") or os.sep in ref or bool(os.altsep and os.altsep in ref)
    return not path_like and not RUN_ID_RE.match(ref)


@dataclass(frozen=True)
class Baseline:
    """The baseline picked for one run: ``ref`` (an archive ``RunRef``) or None with ``note`` saying why."""

    ref: object | None
    note: str | None = None


def pick_baseline(pool: Iterable, record, *, where: str, before: bool = False) -> Baseline:
    """The newest readable run in ``pool`` of the same device, model and data as ``record``.

    Args:
        pool: archive ``RunRef`` objects to choose from (any order).
        record: the run that needs a baseline (never its own baseline).
        where: the pool in words, for the note (e.g. ``"release v1"``, ``"earlier releases"``).
        before: only runs created before ``record``.

    Returns:
        The :class:`Baseline`; when none is like-for-like, ``ref`` is None and ``note`` says what there was.
    """
    device, model = record.device.profile, record.model.name
    runs = [r for r in pool if r.ok and r.run_id != record.run_id and r.record.device.profile == device
            and r.record.model.name == model and (not before or r.record.created < record.created)]
    like = sorted((r for r in runs if same_data(r.record, record)), key=lambda r: (r.record.created, r.run_id))
    if like:
        return Baseline(like[-1])
    if not runs:
        return Baseline(None, f"no baseline: no run of {model} on {device} in {where}")
    others = sorted({describe_data(r.record) for r in runs})
    return Baseline(None, f"no like-for-like baseline for {model} on {device}: this run scored "
                          f"{describe_data(record)}; {where} has only {'; '.join(others)} "
                          "(runs on different data are not compared; name a run id to compare anyway)")


def pair_like_for_like(base_pool: Sequence, cand_refs: Sequence, *, where: str) -> tuple[list[tuple], list[str]]:
    """Pair each candidate run with the newest base run of the same device, model and data.

    Returns:
        ``(pairs, notes)``: ``(base_ref, cand_ref)`` pairs, and a sentence per run left unpaired.
    """
    pairs, notes = [], []
    base_keys = {(b.device, b.model): b.release for b in base_pool if b.ok}
    for cand in cand_refs:
        if (cand.device, cand.model) not in base_keys:
            notes.append(f"{cand.model} on {cand.device} only in {cand.release}")
            continue
        picked = pick_baseline(base_pool, cand.record, where=where)
        if picked.ref is None:
            notes.append(picked.note)
        else:
            pairs.append((picked.ref, cand))
    cand_keys = {(c.device, c.model) for c in cand_refs}
    for key in sorted(set(base_keys) - cand_keys):
        notes.append(f"{key[1]} on {key[0]} only in {base_keys[key]}")
    return pairs, notes
