"""Fine-tune a pruned model with Ultralytics' trainer, and save a checkpoint that reloads anywhere.

``Model.train`` rebuilds the network from its YAML, which would silently undo the pruning, so
fine-tuning goes through :class:`PrunedDetectionTrainer`, a ``DetectionTrainer`` whose ``get_model``
returns the pruned module itself. The result is a normal Ultralytics checkpoint (``YOLO(path)``
loads it in a fresh process, as long as ``exporters.splitfree`` is importable) carrying a
``bench_pruning`` record on the model: ratio, params/MACs before and after, fine-tuning settings,
and the per-epoch val curve (``val_curve``).

With ``val_curve=True`` (``python -m exporters.prune_cli``, which ships models with their JSON),
Ultralytics validates on the val split after every epoch, only so that the record shows how the
accuracy evolved; ``bench run``'s own on-the-fly builds skip it (one val pass per epoch saved) and
validate the last epoch only. Either way the val split never selects the model: the LAST epoch's EMA is kept,
never Ultralytics' ``best.pt``, early stopping is off, and the final re-validation of ``best.pt`` is
skipped, so the record's ``val_metrics`` are the kept model's.

Example:
    >>> info = prune_and_finetune(Path("yolo11n.pt"), 0.3, out=Path("yolo11n-pruned30.pt"),
    ...                           data_yaml=Path("data.yaml"), epochs=30)  # doctest: +SKIP
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from common.errors import BenchError, InputError, expected, require, warn

from exporters.manifest import atomic_path, sha256_file
from exporters.training_record import read_val_curve, teacher_record

__all__ = ["finetune", "prune_and_finetune", "save_checkpoint"]

Progress = Callable[[str, int, "int | None"], None]


def _trainer_class():
    from ultralytics.models.yolo.detect import DetectionTrainer

    class PrunedDetectionTrainer(DetectionTrainer):
        """A DetectionTrainer that trains the module it is given instead of rebuilding it from YAML."""

        pruned_model = None

        def get_model(self, cfg=None, weights=None, verbose=True):  # noqa: ARG002 - signature of the parent
            if self.pruned_model is None:
                raise BenchError("PrunedDetectionTrainer needs .pruned_model set before train()")
            return self.pruned_model

        def final_eval(self):
            """Skip Ultralytics' final validation of ``best.pt``: the last epoch is kept, and ``self.metrics``
            stay those of the last epoch's validation (the kept model's), not of a val-selected epoch."""

    return PrunedDetectionTrainer


def _check_classes(model, data_yaml: Path) -> None:
    import yaml

    try:
        data = yaml.safe_load(Path(data_yaml).read_text())
    except FileNotFoundError:
        raise InputError(expected("an existing dataset YAML", "no such file", str(data_yaml))) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(expected("a readable dataset YAML", type(exc).__name__, str(data_yaml))) from None
    names = data.get("names") if isinstance(data, dict) else None
    if not names:
        raise InputError(expected("a 'names' entry", "none", str(data_yaml)))
    nc = len(names)
    model_nc = len(getattr(model, "names", {}) or {}) or getattr(model, "nc", None)
    if model_nc is not None and nc != model_nc:
        raise InputError(expected(f"a dataset with the model's {model_nc} classes", f"{nc} classes", str(data_yaml)))


def finetune(
    model,
    *,
    data_yaml: Path,
    epochs: int,
    imgsz: int,
    batch: int = 16,
    device: str = "cpu",
    workers: int = 0,
    source: Path | None = None,
    teacher: Path | None = None,
    dis: float | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
    val_curve: bool = False,
):
    """Train an already built (e.g. pruned) detection model for ``epochs`` on ``data_yaml``.

    Args:
        model: the module to train (kept as is, never rebuilt from YAML).
        data_yaml: Ultralytics dataset YAML. Trained on ``train``; the ``val`` split (the one bench
            scores) is evaluated after the last epoch (and, with ``val_curve``, after every epoch, for
            the record only): the LAST epoch's EMA is kept, never ``best.pt``, and early stopping is
            off, so it never selects the model.
        epochs: number of epochs, >= 1.
        imgsz: training input size.
        batch: batch size.
        device: ``"cpu"``, ``"0"``, ...
        workers: dataloader workers.
        source: the original ``.pt`` (recorded in the training args).
        teacher: a ``.pt`` to distill from (Ultralytics' feature distillation, ``distill_model``);
            for a pruned model, its own unpruned source is the natural teacher.
        dis: the distillation loss weight (Ultralytics ``dis``; its default, 6.0, when None); with ``teacher``.
        threads: torch CPU threads (Ultralytics sets ``cores - 1`` when its trainer picks the device:
            one thread on a 2-core machine). Speed only: the record does not depend on it.
        progress: optional ``callable("finetune", epoch_done, epochs)``.
        val_curve: validate after every epoch and record the curve (else the last epoch only; the
            record's ``val_curve`` is then None).

    Returns:
        ``(trained_model, record)``: the last-epoch EMA model (FP32, eval) and a dict for ``bench_pruning["finetune"]``,
        with ``val_metrics`` (the last epoch's validation) and ``val_curve`` (``[{"epoch", "map50_95",
        "map50"}]`` from the trainer's ``results.csv``, as in ``bench train``'s JSON).
    """
    torch = require("torch", extra="export")
    if epochs < 1:
        raise InputError(expected("at least one fine-tuning epoch", epochs, "epochs"))
    _check_classes(model, data_yaml)
    from exporters.source import quiet_ultralytics

    trainer_cls = _trainer_class()
    with tempfile.TemporaryDirectory(prefix="bench-finetune-") as tmp:
        overrides = {
            "model": str(source) if source else None,
            "data": str(data_yaml),
            "epochs": epochs,
            "imgsz": imgsz,
            "batch": batch,
            "device": device,
            "workers": workers,
            "amp": False,  # the AMP check downloads a model
            "plots": False,
            "project": tmp,
            "name": "finetune",
            "exist_ok": True,
            "verbose": False,
            "val": bool(val_curve),  # per-epoch val for the record's curve only; the last epoch is validated anyway
            "patience": 0,  # no early stopping: the val split must not decide when training ends
        }
        if teacher is not None:
            overrides["distill_model"] = str(teacher)
            if dis is not None:
                overrides["dis"] = float(dis)
        with quiet_ultralytics():
            trainer = trainer_cls(overrides=overrides)
            trainer.pruned_model = model.float().train()
            if threads is not None:  # after every device selection, which resets them
                for event in ("on_pretrain_routine_start", "on_train_epoch_start"):
                    trainer.add_callback(event, lambda t: torch.set_num_threads(threads))
            if progress is not None:
                trainer.add_callback("on_train_epoch_end", lambda t: progress("finetune", t.epoch + 1, epochs))
            trainer.train()
        used_dis = None
        if teacher is not None:  # the weight the trainer used: the given one, else Ultralytics' default
            from ultralytics.cfg import DEFAULT_CFG_DICT

            used_dis = float(dis if dis is not None else DEFAULT_CFG_DICT.get("dis", 6.0))
        last = Path(trainer.last)
        if not last.is_file():
            raise BenchError("fine-tuning finished without writing a checkpoint")
        ckpt = torch.load(last, map_location="cpu", weights_only=False)
        trained = ckpt.get("ema") or ckpt.get("model")
        trained = getattr(trained, "student_model", trained).float().eval()  # unwrap a distillation wrapper
        metrics = {k: round(float(v), 5) for k, v in (getattr(trainer, "metrics", None) or {}).items()
                   if isinstance(v, (int, float))}
        curve = (read_val_curve(Path(getattr(trainer, "csv", Path(tmp) / "finetune" / "results.csv")))
                 if val_curve else None)
    record = {
        "epochs": epochs,
        "data_yaml": str(Path(data_yaml).resolve()),
        "imgsz": imgsz,
        "batch": batch,
        "checkpoint": "last epoch (EMA)",
        "distilled_from": Path(teacher).name if teacher is not None else None,
        **({"dis": used_dis} if teacher is not None else {}),
        "val_metrics": metrics,
        "val_curve": curve,
    }
    return trained, record


def save_checkpoint(model, out: Path, *, train_args: dict | None = None) -> None:
    """Save ``model`` as an Ultralytics-style checkpoint (FP16 weights), atomically.

    ``YOLO(out)`` and :func:`exporters.source.load_pytorch` load it back in a fresh process.
    """
    import copy

    torch = require("torch", extra="export")
    import ultralytics

    half = copy.deepcopy(model).half()
    for param in half.parameters():
        param.requires_grad_(False)
    ckpt = {
        "model": half,
        "ema": None,
        "train_args": train_args or {},
        "date": datetime.now(timezone.utc).isoformat(),
        "version": ultralytics.__version__,
    }
    with atomic_path(Path(out)) as tmp:
        torch.save(ckpt, tmp)


def finetune_control(
    source: Path,
    *,
    out: Path,
    data_yaml: Path,
    epochs: int,
    imgsz: int | None = None,
    batch: int = 16,
    device: str = "cpu",
    teacher: Path | None = None,
    dis: float | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
    val_curve: bool = False,
) -> dict:
    """Fine-tune the UNPRUNED source exactly as :func:`prune_and_finetune` fine-tunes a pruned one.

    The like-for-like control of a pruned variant: the same trainer, data, input size, batch and
    epochs, only without the pruning, so that ``pruned`` vs ``control`` is the pruning's cost and not
    the extra training's gain. The record is saved on the model as ``bench_control``.

    With ``teacher`` (and its loss weight ``dis``) the same fine-tune also distills from that larger
    model: a student derived from the source, whose like-for-like control is this function without
    a teacher (same epochs and settings), so that student vs control is the distillation's own effect.

    Returns:
        The record saved on the model: ``bench_control`` (no teacher) or ``bench_student`` (with one):
        ``{"kind", "source_sha256", "source_file", "family", "arch", "names", "finetune": {...}}``, and for a
        student ``"teacher"``: :func:`exporters.training_record.teacher_record`'s record (file name, SHA-256,
        arch, parameters, the teacher's own val from its JSON).
    """
    from exporters.source import inspect_source, load_pytorch

    src = inspect_source(Path(source))
    if src.kind != "pt":
        raise InputError(expected("a PyTorch .pt source", Path(source).suffix, str(source)))
    if src.pruning:
        raise InputError(expected("an unpruned source model", "a checkpoint that is already pruned", str(source)))
    taught = _teacher_facts(Path(teacher), src) if teacher is not None else None
    model, ckpt = load_pytorch(Path(source))
    imgsz = imgsz or src.imgsz or 640
    trained, ft = finetune(model, data_yaml=Path(data_yaml), epochs=epochs, imgsz=imgsz, batch=batch,
                           device=device, source=Path(source), teacher=teacher, dis=dis, threads=threads,
                           progress=progress, val_curve=val_curve)
    record = {"kind": "distilled fine-tune (student)" if taught else "fine-tune control (no pruning)",
              "source_sha256": sha256_file(Path(source)), "source_file": Path(source).name, "family": src.family,
              "arch": src.arch, "names": list(src.names), "finetune": ft}
    if taught:
        record["teacher"] = taught
        trained.bench_student = record
    else:
        trained.bench_control = record
    save_checkpoint(trained, Path(out), train_args=dict(ckpt.get("train_args") or {}))
    return record


def _teacher_facts(path: Path, student) -> dict:
    """The teacher of a distilled fine-tune, checked before any training (an unpruned ``.pt`` with the
    student's classes and at least its parameters; a warning when not clearly larger), as the student's
    record keeps it: :func:`exporters.training_record.teacher_record`, the same as ``bench train``'s."""
    from exporters.source import inspect_source

    if not path.is_file():
        raise InputError(expected("an existing teacher .pt", "no such file", str(path)))
    t = inspect_source(path)
    if t.kind != "pt" or t.pruning:
        raise InputError(expected("an unpruned PyTorch .pt teacher", "a pruned checkpoint" if t.pruning else t.kind,
                                  str(path)))
    info, caveat = teacher_record(path, t, names=student.names, names_of="the student's",
                                  student_params=student.params, student_label="student")
    if caveat:
        warn(caveat)
    return info


def prune_and_finetune(
    source: Path,
    ratio: float,
    *,
    out: Path,
    data_yaml: Path | None,
    epochs: int,
    imgsz: int | None = None,
    batch: int = 16,
    device: str = "cpu",
    round_to: int = 8,
    distill: bool = False,
    dis: float | None = None,
    threads: int | None = None,
    progress: Progress | None = None,
    val_curve: bool = False,
) -> dict:
    """Prune a source checkpoint, fine-tune it, and save the pruned checkpoint to ``out``.

    Args:
        source: the Ultralytics ``.pt``.
        ratio: fraction of channels removed (0.05..0.9).
        out: the pruned ``.pt`` to write (atomically; nothing is left on failure).
        data_yaml: dataset for fine-tuning; required when ``epochs > 0``.
        epochs: fine-tuning epochs; 0 saves the pruned model untrained (its accuracy is poor).
        imgsz: training and MAC-counting input size (default: the source's training size, else 640).
        batch: batch size.
        device: training device.
        round_to: kept channel counts are multiples of this.
        distill: also distill from the unpruned source (Ultralytics ``distill_model``); measured
            ~4x slower per epoch on CPU, so off by default.
        progress: optional ``callable(stage, done, total)``.
        val_curve: validate after every fine-tuning epoch and record the curve (:func:`finetune`).

    Returns:
        The ``bench_pruning`` record saved on the model.
    """
    from exporters.prune import check_ratio, prune_model
    from exporters.source import inspect_source, load_pytorch

    check_ratio(ratio)
    src = inspect_source(Path(source))
    if src.kind != "pt":
        raise InputError(expected("a PyTorch .pt source for pruning", Path(source).suffix, str(source)))
    if src.pruning:
        raise InputError(expected("an unpruned source model", "a checkpoint that is already pruned", str(source)))
    if epochs < 0:
        raise InputError(expected("a non-negative number of epochs", epochs, "--epochs"))
    if epochs > 0 and data_yaml is None:
        raise InputError(expected("a dataset YAML (--data) to fine-tune on", "none", "--data"))
    model, ckpt = load_pytorch(Path(source))
    if data_yaml is not None:
        _check_classes(model, Path(data_yaml))
    imgsz = imgsz or src.imgsz or 640
    if progress is not None:
        progress("prune", 0, 1)
    pruned = prune_model(model, ratio, round_to=round_to, example_imgsz=imgsz)
    if progress is not None:
        progress("prune", 1, 1)
    record = dict(pruned.bench_pruning)
    record["source_sha256"] = sha256_file(Path(source))
    record["source_file"] = Path(source).name
    if epochs > 0:
        pruned, record["finetune"] = finetune(
            pruned, data_yaml=Path(data_yaml), epochs=epochs, imgsz=imgsz, batch=batch, device=device,
            source=Path(source), teacher=Path(source) if distill else None, dis=dis, threads=threads, progress=progress,
            val_curve=val_curve,
        )
    else:
        record["finetune"] = {"epochs": 0}
    pruned.bench_pruning = record
    save_checkpoint(pruned, Path(out), train_args=dict(ckpt.get("train_args") or {}))
    return record
