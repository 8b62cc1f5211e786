"""``bench history``, ``bench compare`` and ``bench report``.

The archive is ``--archive DIR``, else ``$BENCH_ARCHIVE``, else ``./bench-archive``.
Unreadable record files are reported by name on stderr and skipped, never fatal.

Exit statuses of ``bench compare``: 0 no regression, 1 at least one regression
(named on the last line), 2 bad input or nothing comparable (different device
profile or model SHA-256).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path

from common.errors import InputError, expected

__all__ = ["add_compare_arguments", "add_history_arguments", "add_report_arguments",
           "run_compare", "run_history", "run_report"]


def _archive_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--archive", metavar="DIR",
                        help="archive root (default: $BENCH_ARCHIVE, else ./bench-archive)")


def _filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", metavar="PROFILE", help="only runs on this device profile")
    parser.add_argument("--model", metavar="NAME", help="only runs of this model name")


def _open_archive(args):
    from results.archive import Archive, default_root

    return Archive(default_root(args.archive))


def _console():
    from results.render import make_console

    return make_console()


def _warn_unreadable(refs: Iterable, stream=None) -> list[dict]:
    stream = stream or sys.stderr
    skipped = []
    for ref in refs:
        if not ref.ok:
            print(f"bench: skipped unreadable record: {ref.problem}", file=stream)
            skipped.append({"path": str(ref.path), "problem": ref.problem})
    return skipped


def _warn_release(archive, ref: str, args) -> list[dict]:
    """Report the unreadable records of release ``ref`` (if it names a release directory)."""
    from results.schema import RELEASE_RE

    if not RELEASE_RE.match(ref) or ".." in ref or not archive.root.joinpath(ref).is_dir():
        return []
    return _warn_unreadable(archive.runs(release=ref, device=args.device, model=args.model))


# ------------------------------------------------------------------ history

def add_history_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``bench history``."""
    parser.add_argument("run", nargs="?", metavar="RUN|RELEASE",
                        help="show the run table of this run id, release (its newest run per device and model) or "
                             "record file, as bench run printed it")
    _archive_option(parser)
    parser.add_argument("--release", help="only this release")
    _filters(parser)
    parser.add_argument("--max-drop", type=float, default=1.0, metavar="POINTS",
                        help="with RUN: the answer line's accuracy budget (default %(default)s)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")


def run_history(args: argparse.Namespace) -> int:
    """List archived releases and runs, oldest first; with RUN, print its run table."""
    archive = _open_archive(args)
    if getattr(args, "run", None):
        return _show_runs(archive, args)
    refs = archive.runs(release=args.release, device=args.device, model=args.model)
    good = [r for r in refs if r.ok]
    skipped = _warn_unreadable(refs)
    stale = archive.stale_temp_files()
    if args.json:
        runs = [{"release": r.release, "run_id": r.run_id, "created_utc": r.created_utc, "device": r.device,
                 "model": r.model, "path": str(r.path),
                 "variants": {s: sum(v.status == s for v in r.record.variants) for s in ("ok", "skipped", "failed")}}
                for r in good]
        print(json.dumps({"archive": str(archive.root), "runs": runs, "unreadable": skipped,
                          "stale_temp_files": [str(p) for p in stale]}, indent=1))
        return 0
    from results.tables import history_table

    console = _console()
    if not good:
        console.print(f"no readable runs in {archive.root}" + _scope(args))
    else:
        console.print(history_table(good))
    if stale:
        print(f"bench: {len(stale)} temp file(s) from interrupted writes (safe to delete): "
              + ", ".join(str(p) for p in stale[:5]), file=sys.stderr)
    return 0


def _show_runs(archive, args) -> int:
    """``bench history RUN``: the run table of each run named, by the one renderer (:mod:`results.render`)."""
    if not args.max_drop >= 0:
        raise InputError(expected("a budget >= 0 mAP50-95 points", args.max_drop, "--max-drop"))
    _warn_release(archive, args.run, args)
    refs = archive.resolve(args.run, device=args.device, model=args.model)
    if args.json:
        print(json.dumps([r.record.to_dict() for r in refs], indent=1))
        return 0
    from results.render import print_run

    console = _console()
    for i, ref in enumerate(refs):
        if i:
            console.print()
        print_run(ref.record, console=console, archived_at=str(ref.path), max_drop=args.max_drop)
    return 0


def _scope(args) -> str:
    parts = [f"{k} {getattr(args, k)}" for k in ("release", "device", "model") if getattr(args, k, None)]
    return f" ({', '.join(parts)})" if parts else ""


# ------------------------------------------------------------------ compare

def add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``bench compare``."""
    from results.compare import DEFAULT_ALPHA, DEFAULT_FACTOR
    from results.stats import BLOCKS

    parser.add_argument("base", metavar="BASE", help="release name (its newest run on the candidate's data), run id or "
                                                     "record file (taken as given) to compare against")
    parser.add_argument("candidate", metavar="CANDIDATE", help="release name, run id or record file to judge")
    _archive_option(parser)
    _filters(parser)
    parser.add_argument("--factor", type=float, default=DEFAULT_FACTOR,
                        help="speed change that matters, as a ratio (default %(default)s = 10%%); a change "
                             "is a regression only when beyond it and significant")
    parser.add_argument("--map-threshold", type=float, default=0.5,
                        help="mAP50-95 change that matters, in points (default 0.5)")
    parser.add_argument("--iou-threshold", type=float, default=0.01,
                        help="average-IoU change that matters (default 0.01)")
    parser.add_argument("--alpha", type=float, default=DEFAULT_ALPHA,
                        help="significance level of the Mann-Whitney U test on the runs' time-block "
                             "values (default %(default)s)")
    parser.add_argument("--blocks", type=int, default=BLOCKS,
                        help="time-contiguous blocks each run's timed samples are cut into for the test "
                             "(default %(default)s)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")


def pair_runs(base_refs: list, cand_refs: list) -> tuple[list[tuple], list[str]]:
    """Pair runs by (device, model); a single run against a single run is paired as is."""
    if len(base_refs) == 1 and len(cand_refs) == 1:
        return [(base_refs[0], cand_refs[0])], []
    by_key = {(r.device, r.model): r for r in cand_refs}
    pairs, unpaired = [], []
    for b in base_refs:
        c = by_key.pop((b.device, b.model), None)
        if c is None:
            unpaired.append(f"{b.model} on {b.device} only in {b.release}")
        else:
            pairs.append((b, c))
    unpaired += [f"{c.model} on {c.device} only in {c.release}" for c in by_key.values()]
    return pairs, unpaired


def run_compare(args: argparse.Namespace) -> int:
    """Compare BASE with CANDIDATE; 1 on any regression, 2 when nothing is comparable.

    A release as BASE gives each candidate run the newest run of that release on the same device, model and
    data (:mod:`results.baseline`); a run id or record file as BASE is taken as given."""
    from results.baseline import is_release, pair_like_for_like
    from results.compare import compare

    archive = _open_archive(args)
    skipped = []
    for ref in dict.fromkeys((args.base, args.candidate)):  # report unreadable files even if nothing else is left
        skipped += _warn_release(archive, ref, args)
    base_refs = archive.resolve(args.base, device=args.device, model=args.model)
    cand_refs = archive.resolve(args.candidate, device=args.device, model=args.model)
    if is_release(args.base):  # like for like: each candidate run against the base release's newest run on its data
        pool = [r for r in archive.runs(release=args.base, device=args.device, model=args.model) if r.ok]
        pairs, unpaired = pair_like_for_like(pool, cand_refs, where=f"release {args.base}")
    else:  # a run id or record file: the user's explicit choice (a different-data comparison leaves accuracy out)
        pairs, unpaired = pair_runs(base_refs, cand_refs)
    if not pairs:
        where = f"bench compare {args.base} {args.candidate}"
        if any("like-for-like" in note for note in unpaired):  # said in full: which data each side scored
            raise InputError(f"{where}: {'; '.join(unpaired)}")
        raise InputError(expected("runs of the same device and model on both sides", "; ".join(unpaired), where))
    comparisons = [compare(b.record, c.record, factor=args.factor, map_threshold=args.map_threshold,
                           iou_threshold=args.iou_threshold, alpha=args.alpha, blocks=args.blocks)
                   for b, c in pairs]
    regressions = sum(len(c.regressions) for c in comparisons)
    status = 1 if regressions else (0 if any(c.comparable for c in comparisons) else 2)

    from results.tables import comparison_fit, rule_line, variant_notes, verdict_line

    verdict = verdict_line(comparisons)
    if args.json:
        print(json.dumps({"base": args.base, "candidate": args.candidate, "factor": args.factor,
                          "alpha": args.alpha, "blocks": args.blocks,
                          "comparisons": [c.to_dict() for c in comparisons], "unpaired": unpaired,
                          "unreadable": skipped, "regressions": regressions, "verdict": verdict,
                          "exit_status": status}, indent=1))
    else:
        console = _console()
        for c in comparisons:
            table, left_out = comparison_fit(c, console.width)
            console.print(table)
            if left_out:
                console.print(f"  left out to fit {console.width} columns: {', '.join(left_out)} (a wider terminal or "
                              "--json shows them)", style="dim", highlight=False)
            if not c.comparable:
                console.print(f"[magenta]not comparable:[/] {c.reason}")
            for note in variant_notes(c):
                console.print(f"  {note}", highlight=False)
            for note in c.notes:
                console.print(f"  also changed: {note}", style="dim", highlight=False)
            console.print(f"  {rule_line(c)}", style="dim", highlight=False)
            console.print()  # tables have no bottom edge: a blank line between comparisons
        for text in unpaired:
            console.print(f"  not compared: {text}", style="dim")
        console.print(verdict, style="bold red" if status == 1 else "bold", highlight=False)
    if status == 2:
        print(f"bench: error: nothing comparable: {'; '.join(c.reason for c in comparisons)}", file=sys.stderr)
    return status


# ------------------------------------------------------------------ report

def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``bench report``."""
    parser.add_argument("ref", metavar="RUN|RELEASE", help="run id, release name or record file")
    parser.add_argument("--out", required=True, metavar="DIR", help="directory for report.md, report.html, plots/")
    _archive_option(parser)
    _filters(parser)
    parser.add_argument("--max-drop", type=float, default=1.0, metavar="POINTS",
                        help="accuracy budget of the answer line: the fastest variant whose mAP50-95 drop is at most "
                             "this many points at the upper end of its 95%% CI (default %(default)s)")
    parser.add_argument("--against", metavar="RELEASE|RUN",
                        help="compare with this release (its newest run on the same data) or run (default: the newest "
                             "earlier run of another release on the same data; 'none' for no comparison)")
    parser.add_argument("--baseline", metavar="RUN",
                        help="compare with this run id or record file, as given (even on other data: accuracy is then "
                             "not compared)")


def run_report(args: argparse.Namespace) -> int:
    """Write the Markdown and HTML report (with plots) of a run or release."""
    from results.baseline import Baseline, is_release, pick_baseline
    from results.compare import compare
    from results.report import write_report

    if not args.max_drop >= 0:
        raise InputError(expected("a budget >= 0 mAP50-95 points", args.max_drop, "--max-drop"))
    archive = _open_archive(args)
    _warn_release(archive, args.ref, args)
    refs = archive.resolve(args.ref, device=args.device, model=args.model)
    explicit, pool = None, None
    if args.baseline and is_release(args.baseline):
        raise InputError(expected("a run id or record file", args.baseline, "--baseline"))
    against = args.against if args.against and args.against != "none" else None
    if args.baseline or (against is not None and not is_release(against)):  # a run named: taken as given
        explicit = archive.resolve(args.baseline or against)[0]
    elif against is not None:
        _warn_release(archive, against, args)
        archive.resolve(against, device=args.device, model=args.model)  # a release with no readable run: one line
        pool = [r for r in archive.runs(release=against, device=args.device, model=args.model) if r.ok]
    runs, notes = [], {}
    for ref in refs:
        record = ref.record
        if explicit is not None:
            picked = Baseline(explicit)
        elif args.against == "none":
            picked = Baseline(None)
        elif pool is not None:
            picked = pick_baseline(pool, record, where=f"release {against}")
        else:
            others = [r for r in archive.runs(device=record.device.profile, model=record.model.name)
                      if r.ok and r.release != record.release]
            picked = pick_baseline(others, record, where="earlier releases", before=True)
        if picked.note:
            notes[record.run_id] = picked.note
        runs.append((record, compare(picked.ref.record, record) if picked.ref is not None else None))
    try:
        files = write_report(runs, Path(args.out), max_drop=args.max_drop, notes=notes)
    except OSError as exc:
        raise InputError(expected("a writable output directory", f"{exc.__class__.__name__}: {exc}",
                                  f"--out {args.out}")) from exc
    print(f"wrote {files.markdown}, {files.html} and {len(files.images)} plot(s) in {files.html.parent}")
    return 0
