"""The like-for-like control of a run's pruned rows and derived student: the run's model fine-tuned as long, plainly.

A ``prunedNN`` checkpoint is the run's model pruned and then fine-tuned E more epochs, so against the
``fp32`` row it had more training: its drop mixes pruning's cost with the extra training's effect. The
control is the same model fine-tuned the same E epochs with the same settings and no pruning
(``python -m exporters.prune_cli --control``, recorded on the model as ``bench_control``). When the
run finds it, the control's FP32 is scored as an extra row (``fp32+ft20``: same exporter, runtime,
frames and settings as ``fp32``) and every pruned row gets a ``vs_models["control"]`` entry: its mAP
drop with the paired-bootstrap CI and its FPS ratio against that row (``└ vs control`` in the
table; the answer line judges pruned rows on it). When it finds none, the entry says why and how to
make one, so the table says the pruned row had E more epochs than ``fp32``.

A student derived from the run's model the same way (``prune_cli --control --teacher T.pt``: the model
fine-tuned E epochs while distilling from T, recorded on it as ``bench_student``) had the same E extra
epochs, so its rows get the same ``vs_models["control"]`` entry against the same kind of control (the
model fine-tuned E epochs with the same settings and no teacher): that drop is distillation's own effect.

Discovery: ``--control C.pt``, else ``<model stem>-ft<E>.pt`` beside the run's model; accepted only
when its ``bench_control.source_sha256`` is the run's model and its fine-tune settings
(:data:`FINETUNE_KEYS`) equal the pruned checkpoint's. The pruned checkpoint is the one the pruned
kind uses (:mod:`exporters.kinds.pruned`): ``--pruned``, else ``<stem>-prunedNN.pt`` beside the model
when it was pruned from it by that ratio, else the one the run builds with its own fine-tune options.

Example:
    >>> label(20)
    'vs control'
    >>> row_name(20)
    'fp32+ft20'
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.errors import InputError, expected
from harness.options import RunOptions
from harness.plan import REFERENCE, ModelChoice, Row, ScoredData

__all__ = ["CONTROL", "FINETUNE_KEYS", "Checkpoint", "ControlSetup", "control_entries", "label",
           "read_checkpoint", "resolve_controls", "row_name", "with_control_rows"]

CONTROL = "control"
"""The ``vs_models`` key of a pruned row's comparison, and the ``source_model`` role of the control row."""

FINETUNE_KEYS = ("epochs", "imgsz", "batch", "data_yaml", "distilled_from")
"""The fine-tune settings a control must share with the pruned checkpoint (``finetune`` in both records)."""


def row_name(epochs: int) -> str:
    """The control row's name: the run's FP32 plus ``epochs`` fine-tune epochs."""
    return f"{REFERENCE}+ft{epochs}"


def label(epochs: int) -> str:
    """The pruned rows' sub-line label for the control comparison."""
    return "vs control"  # the row is named in the footnote (fp32+ftE); short enough not to wrap at 80 columns


@dataclass(frozen=True)
class Checkpoint:
    """What discovery needs to know about a ``.pt``: its hash, classes and bench's training records."""

    sha256: str
    names: tuple[str, ...]
    pruning: Mapping[str, Any] | None = None  # ``bench_pruning`` (exporters.prune / finetune)
    control: Mapping[str, Any] | None = None  # ``bench_control`` (exporters.finetune.finetune_control)
    student: Mapping[str, Any] | None = None  # ``bench_student`` (finetune_control with a teacher)


def read_checkpoint(path: Path) -> Checkpoint:
    """Load a ``.pt`` (PyTorch) and read its hash, classes and ``bench_pruning`` / ``bench_control`` /
    ``bench_student``.

    Raises:
        InputError: not a loadable Ultralytics detection checkpoint.
    """
    from common.hashing import file_sha256
    from exporters.source import load_pytorch

    model, _ = load_pytorch(Path(path))
    names = getattr(model, "names", None) or {}
    names = tuple(str(names[k]) for k in sorted(names)) if isinstance(names, dict) else tuple(map(str, names))
    return Checkpoint(file_sha256(Path(path)), names, getattr(model, "bench_pruning", None),
                      getattr(model, "bench_control", None), getattr(model, "bench_student", None))


Reader = Callable[[Path], Checkpoint]


@dataclass(frozen=True)
class ControlSetup:
    """The control of the pruned rows (and derived student rows) that share one set of fine-tune settings,
    found or not."""

    epochs: int
    finetune: Mapping[str, Any]  # the pruned checkpoint's fine-tune settings (FINETUNE_KEYS)
    pruned_rows: tuple[str, ...]
    path: Path | None = None  # the control .pt; None when none was found
    sha256: str | None = None
    reason: str | None = None  # why no control was found (path is None)
    command: str | None = None  # the one command that makes it
    student_rows: tuple[str, ...] = ()  # rows of a student fine-tuned from the run's model as long, with a teacher

    @property
    def rows(self) -> tuple[str, ...]:
        """Every row this control is the like-for-like comparison of: the pruned rows, then the student's."""
        return self.pruned_rows + self.student_rows

    @property
    def row(self) -> str:
        """The control row's name (``fp32+ft20``)."""
        return row_name(self.epochs)

    def source_model(self, model: ModelChoice) -> dict:
        """The record's ``source_model`` of the control row."""
        return {"role": CONTROL, "name": self.path.stem, "path": str(self.path), "sha256": self.sha256,
                "arch": model.arch, "family": model.family}


def _read_once(path: Path, read: Reader, seen: dict) -> Checkpoint | InputError:
    """``read(path)``, or the error it raised, read once per run (``seen`` keeps both)."""
    if path not in seen:
        try:
            seen[path] = read(path)
        except InputError as exc:
            seen[path] = exc
    return seen[path]


def _settings(finetune: Mapping | None) -> dict[str, Any] | None:
    if not isinstance(finetune, Mapping) or not isinstance(finetune.get("epochs"), int):
        return None
    return {k: finetune.get(k) for k in FINETUNE_KEYS}


def _pruned_finetune(opts: RunOptions, model: ModelChoice, data: ScoredData, spec, read: Reader,
                     seen: dict) -> dict[str, Any] | None:
    """The fine-tune settings of the pruned checkpoint a row will use, as :mod:`exporters.kinds.pruned` picks
    it; None when it is not from the run's model (that row fails on its own) or cannot be read."""
    from exporters.kinds import options_from

    def facts(path: Path) -> Checkpoint | None:
        found = _read_once(path, read, seen)
        return None if isinstance(found, InputError) else found

    options = options_from(opts.variant_options, "pruned")
    if options.pruned_source is not None:
        given = facts(Path(options.pruned_source))
        pruning = given.pruning if given is not None else None
        if not pruning or pruning.get("source_sha256") != model.sha256:
            return None
        return _settings(pruning.get("finetune"))
    beside = model.path.with_name(f"{model.path.stem}-pruned{spec.prune_percent}.pt")
    found = facts(beside) if beside.is_file() else None
    pruning = (found.pruning if found is not None else None) or {}
    if pruning.get("source_sha256") == model.sha256 and abs(pruning.get("ratio", -1) - spec.prune_ratio) < 1e-6:
        return _settings(pruning.get("finetune"))
    if model.kind != "pt" or options.finetune_epochs == 0:
        return None  # an ONNX model has no pruned rows; 0 epochs: no extra training to control
    from harness.plan import calibration_yaml

    calib = calibration_yaml(opts, model, data)  # what the pruned kind fine-tunes on (the train split)
    return {"epochs": options.finetune_epochs, "imgsz": model.imgsz, "batch": options.finetune_batch,
            "data_yaml": None if calib is None else str(Path(calib).resolve()), "distilled_from": None}


def _student_finetune(model: ModelChoice, student, read: Reader, seen: dict) -> dict[str, Any] | None:
    """The control settings of a student fine-tuned from the run's model (its ``bench_student``): its
    fine-tune settings with no teacher. None for a student trained on its own (``bench train``)."""
    path = getattr(student, "path", None)
    if path is None or model.kind != "pt":
        return None
    record = getattr(_read_once(path, read, seen), "student", None) or {}
    if record.get("source_sha256") != model.sha256:
        return None
    settings = _settings(record.get("finetune"))
    return None if settings is None else {**settings, "distilled_from": None}


def _command(model: ModelChoice, settings: Mapping[str, Any]) -> str:
    """``python -m exporters.prune_cli --control ...`` with the pruned checkpoint's settings."""
    out = model.path.with_name(f"{model.path.stem}-ft{settings['epochs']}.pt")
    parts = ["python", "-m", "exporters.prune_cli", "--control", "--model", str(model.path),
             "--data", str(settings.get("data_yaml") or "DATA.yaml"), "--epochs", str(settings["epochs"])]
    for key in ("imgsz", "batch"):
        if settings.get(key) is not None:
            parts += [f"--{key}", str(settings[key])]
    return shlex.join(parts + ["--out", str(out)])


def _check(path: Path, model: ModelChoice, settings: Mapping[str, Any], read: Reader,
           seen: dict) -> tuple[str | None, str | None]:
    """``(sha256, None)`` when ``path`` is the like-for-like control, else ``(None, why not)``."""
    if not path.is_file():
        return None, f"no {path.name} beside {model.path.name}"
    facts = _read_once(path, read, seen)
    if isinstance(facts, InputError):
        return None, f"{path.name} cannot be read ({facts})"
    if not facts.control:
        return None, f"{path.name} is not a fine-tune control (no bench_control record in it)"
    if tuple(facts.names) != tuple(model.names):
        return None, f"{path.name} has other classes than {model.path.name}"
    source = str(facts.control.get("source_sha256"))
    if source != model.sha256:
        return None, (f"{path.name} was fine-tuned from another model (sha256 {source[:12]}), not "
                      f"{model.path.name} (sha256 {model.sha256[:12]})")
    theirs = _settings(facts.control.get("finetune")) or {}
    differ = [f"{k} {theirs.get(k)} vs {settings[k]}" for k in FINETUNE_KEYS if theirs.get(k) != settings[k]]
    if differ:
        return None, f"{path.name} was fine-tuned with other settings ({', '.join(differ)})"
    return facts.sha256, None


def resolve_controls(opts: RunOptions, model: ModelChoice, data: ScoredData, plan: list[Row], *,
                     student=None, read: Reader = read_checkpoint) -> tuple[ControlSetup, ...]:
    """The controls of the run's pruned rows and derived student rows, one per set of fine-tune settings
    (E > 0 epochs), found or not.

    Args:
        opts: the run's options (``--control``, ``--pruned`` and the pruned kind's fine-tune options).
        model: the run's model.
        data: the scored data (its calibration YAML is what a pruned row built in the run fine-tunes on).
        plan: the rows from :func:`harness.plan.plan_variants`.
        student: the run's :class:`harness.student.StudentSetup` (None: no student rows); its rows join a
            control when the student was fine-tuned from the run's model (``bench_student``).
        read: reads a checkpoint (tests pass a fake; the default loads it with PyTorch).

    Raises:
        InputError: ``--control`` given while no pruned row was fine-tuned and no student was fine-tuned from
            the model, or a ``--control`` that is not their like-for-like control (the line says what differs).
    """
    seen: dict = {}
    groups: dict[tuple, tuple[list[str], list[str]]] = {}  # settings -> (pruned rows, student rows)
    student_settings = _student_finetune(model, student, read, seen) if student is not None else None
    for row in plan:
        if row.reason is not None or row.spec.kind not in ("pruned", "student"):
            continue
        if row.spec.kind == "pruned":
            settings = _pruned_finetune(opts, model, data, row.spec, read, seen)
        else:
            settings = student_settings
        if settings is not None and settings["epochs"] > 0:
            groups.setdefault(tuple(settings.items()), ([], []))[row.spec.kind == "student"].append(row.name)
    given = getattr(opts, "control", None)
    if given is not None and not groups:
        raise InputError(expected("a pruned variant fine-tuned after pruning (e.g. pruned30), or a student fine-tuned "
                                  "from the model, to compare with --control", "no such row in this run", "--control"))
    out = []
    for key, (pruned_rows, student_rows) in groups.items():
        rows = pruned_rows + student_rows
        settings = dict(key)
        epochs = settings["epochs"]
        path = Path(given) if given is not None else model.path.with_name(f"{model.path.stem}-ft{epochs}.pt")
        sha, why = _check(path, model, settings, read, seen)
        if why is not None and given is not None:
            raise InputError(expected(f"the like-for-like control of {', '.join(rows)} (the run's model fine-tuned "
                                      f"{epochs} epochs with the same settings, unpruned, no teacher)", why, "--control"))
        command = _command(model, settings)
        if settings.get("distilled_from"):
            command += f"  # prune_cli cannot distill a control: the pruned one was distilled from {settings['distilled_from']}"
        out.append(ControlSetup(epochs, settings, tuple(pruned_rows), None if why else path, sha, why, command,
                                tuple(student_rows)))
    return tuple(out)


def with_control_rows(plan: list[Row], controls: tuple[ControlSetup, ...]) -> list[Row]:
    """The plan with each found control's FP32 row (the ``fp32`` row's spec: same runtime and format)
    right after the last pruned row it controls, else right before the first student row it controls."""
    reference = next((r for r in plan if r.name == REFERENCE), None)
    out = list(plan)
    for c in controls:
        if c.path is None or reference is None or any(r.name == c.row for r in out):
            continue
        row = dataclasses.replace(reference, name=c.row, source=c.path, reason=None)
        if c.pruned_rows:
            out.insert(max(i for i, r in enumerate(out) if r.name in c.pruned_rows) + 1, row)
        else:
            out.insert(min(i for i, r in enumerate(out) if r.name in c.student_rows), row)
    return out


# what differs between the two kinds of controlled rows' notes: pruned rows (False) and derived students (True)
_PHRASES = {
    False: {"control": "unpruned", "fps": "pruned / control", "effect": "pruning's own cost",
            "extra": "fine-tuning after pruning", "mixes": "pruning's cost with the extra training's effect"},
    True: {"control": "without a teacher", "fps": "student / control",
           "effect": "distillation's own effect (negative: distillation helped)",
           "extra": "a fine-tune of the run's model while distilling",
           "mixes": "distillation's effect with the extra training's"},
}


def _note(c: ControlSetup, model: ModelChoice, rows: tuple[str, ...], student: bool) -> str:
    names, w = ", ".join(rows), _PHRASES[student]
    return (f"{names}: '└ {label(c.epochs)}' is against the {c.row} row ({c.path.name}: {model.path.name} fine-tuned "
            f"the same {c.epochs} epochs with the same settings, {w['control']}, at FP32): mAP drop [95% CI], % of the "
            f"control's mAP50-95 in %FP32, and FPS as {w['fps']}; that drop is {w['effect']}, and the answer line "
            f"judges {names} on it; the mAP drop column is against the {REFERENCE} row, which had {c.epochs} fewer "
            "epochs of training")


def _absent(c: ControlSetup, rows: tuple[str, ...], student: bool) -> str:
    names, w = ", ".join(rows), _PHRASES[student]
    return (f"{names} had {c.epochs} more epochs of training ({w['extra']}) than the {REFERENCE} row, so its mAP "
            f"drop mixes {w['mixes']}; no like-for-like control was found ({c.reason}); make one with: {c.command}")


def control_entries(controls: tuple[ControlSetup, ...], model: ModelChoice, plan: list[Row], outcomes: dict,
                    scored: dict, *, bootstrap: int, seed: int = 0) -> tuple[dict[str, dict], dict[str, dict]]:
    """The record's parts for the controls: ``({controlled row: {"control": vs_model}}, {control row: source_model})``.

    Each pruned or derived student row that ran gets its mAP drop (paired bootstrap CI) and FPS ratio
    against its control's row, or, without one, the reason (the row's footnote)."""
    from harness.evaluation import map_drop

    vs_models, sources = {}, {}
    for c in controls:
        if c.path is not None:
            sources[c.row] = c.source_model(model)
        for name in c.rows:
            student = name in c.student_rows
            rows = c.student_rows if student else c.pruned_rows
            o = outcomes.get(name)
            if o is None or o.status != "ok":
                continue
            vs = {"reference": None, "label": label(c.epochs), "reason": None, "note": None,
                  "model": None if c.path is None else {"name": c.path.stem, "sha256": c.sha256, "path": str(c.path)}}
            ref = outcomes.get(c.row)
            if c.path is None:
                vs["reason"] = _absent(c, rows, student)
            elif ref is None or ref.status != "ok":
                vs["reason"] = f"the {c.row} row did not run" + (f" ({ref.reason})" if ref and ref.reason else "")
            else:
                vs["reference"], vs["note"] = c.row, _note(c, model, rows, student)
                if c.row in scored and name in scored:
                    vs.update(map_drop(scored[c.row], scored[name], bootstrap=bootstrap, seed=seed))
                fps, ref_fps = (o.timing or {}).get("fps"), (ref.timing or {}).get("fps")
                vs["fps_ratio"] = fps / ref_fps if fps and ref_fps else None
            vs_models[name] = {CONTROL: vs}
    return vs_models, sources
