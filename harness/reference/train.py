"""``bench train``: train a reference model (or a distilled student) on the synthetic dataset, entirely offline.

The reference checkpoints shipped in ``harness/reference/models/`` start from::

    bench train --arch yolo11n --epochs 150 --threads 2
    bench train --arch yolo12n --epochs 100 --threads 2 --name yolo12n-e100   # then fine-tunes: 5 x 20 epochs, 1 x 60
    bench train --arch yolo11s --epochs 40 --threads 2

(each model's full retrain command is in its JSON and in docs/reference.md; the derived ones, the
students and the controls, come from ``python -m exporters.prune_cli``). A student can also be trained
on its own: ``bench train --arch yolo11n --epochs 40 --teacher T.pt``.

Each writes ``<name>.pt`` and ``<name>.json`` (SHA-256, training settings, achieved val metrics).
Ultralytics builds the network from the config that ships inside the package (``yolo11n.yaml``), so
nothing is downloaded; ``amp=False`` (the AMP check downloads a model) and ``plots=False`` (plots
download a font).

**Distillation** (``--teacher T.pt``) uses Ultralytics' own (``train(distill_model=T)``, 8.4.77+):
the teacher is loaded frozen (eval mode, no gradients) beside the student; the student's three neck
outputs that feed the Detect head are projected (1x1 conv, ReLU, 1x1 conv) to the teacher's widths
and pulled towards the teacher's with an L2 loss weighted by the teacher's class confidence per
anchor, times ``dis`` (Ultralytics' default 6.0, ``--dis`` sets it), on top of the usual detection
loss. The saved student is a plain ``DetectionModel``: no teacher, no projector. The teacher is
checked before any training (file, detection model, same classes as the data, larger than the
student), the student's JSON records the teacher and the plain model of the same architecture it
should be compared with, and whether both were trained with the same settings.

**Long trainings**: ``--workdir DIR`` keeps Ultralytics' run in ``DIR/train`` (``last.pt`` is written
after every epoch); ``--resume --workdir DIR`` continues an interrupted one, then finalizes it as
usual. Only the last epoch is shipped, never Ultralytics' val-selected ``best.pt``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from common.atomic import atomic_path, write_json_atomic
from common.errors import BenchError, InputError, expected, require, warn
from harness.reference import MODELS_DIR
from common.hashing import file_sha256 as sha256_file
from exporters.training_record import (  # noqa: F401 (re-exported)
    PLATEAU_POINTS, PLATEAU_WINDOW, plateau, plateau_line, read_val_curve, teacher_record,
    ultralytics_val)

ARCHES = ("yolo11n", "yolo11s", "yolo12n", "yolo12s")
META_VERSION = 1
PLAN_VERSION = 1
PLAN_FILE = "bench-train.json"  # in --workdir: what the training is, so --resume can finish it
DEFAULTS = {"arch": "yolo11n", "epochs": 40, "imgsz": 320, "batch": 16, "seed": 0}
COMPARED = ("epochs", "imgsz", "batch", "seed", "data")  # settings a like-for-like baseline must share
SYNTHETIC = "synthetic (bench data synth, seed 0)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--arch", help=f"architecture config shipped with ultralytics: {', '.join(ARCHES)} (default yolo11n)")
    parser.add_argument("--epochs", type=int, help="epochs (default 40)")
    parser.add_argument("--imgsz", type=int, help="training input size, a multiple of 32 (default 320)")
    parser.add_argument("--batch", type=int, help="batch size (default 16)")
    parser.add_argument("--seed", type=int, help="training seed (default 0; the dataset seed is 0)")
    parser.add_argument("--data", type=Path, help="data.yaml (default: the synthetic dataset, generated on first use)")
    parser.add_argument("--teacher", type=Path,
                        help="teacher .pt for knowledge distillation (ultralytics distill_model); must have the "
                             "data's classes and be larger than the student")
    parser.add_argument("--dis", type=float,
                        help="weight of the distillation loss, with --teacher (default: Ultralytics' dis, 6.0)")
    parser.add_argument("--name", help="output name (default: the arch, or <arch>-student with --teacher)")
    parser.add_argument("--out", type=Path, help="folder for <name>.pt and <name>.json (default: harness/reference/models)")
    parser.add_argument("--workers", type=int, default=2, help="dataloader workers (default 2)")
    parser.add_argument("--threads", type=int,
                        help="torch CPU threads for training (default: Ultralytics' choice, cores - 1, i.e. 1 on a "
                             "2-core machine)")
    parser.add_argument("--workdir", type=Path,
                        help="keep the training run in DIR/train (last.pt after every epoch) instead of a temporary "
                             "folder, so that an interrupted training can be resumed with --resume")
    parser.add_argument("--resume", action="store_true",
                        help="continue the interrupted training in --workdir from DIR/train/weights/last.pt, then "
                             "finalize it as usual (settings come from the interrupted training)")


# ----------------------------------------------------------------------------------- the plan

def run(args: argparse.Namespace) -> int:
    os.environ["YOLO_OFFLINE"] = "true"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    if args.workers < 0:
        raise InputError(expected("0 or more dataloader workers", args.workers, "--workers"))
    threads = getattr(args, "threads", None)
    if threads is not None and threads < 1:
        raise InputError(expected("1 or more threads", threads, "--threads"))
    plan, teacher_src = _resume_plan(args) if args.resume else _new_plan(args)
    teacher = baseline = None
    if plan["teacher"] is not None:
        teacher = check_teacher(Path(plan["teacher"]), names=plan["names"], data_yaml=Path(plan["data_yaml"]),
                                student_arch=plan["arch"], src=teacher_src)
        baseline = find_baseline(plan["arch"], Path(plan["out"]), _compared_settings(plan))
        _warn_about_baseline(baseline, plan["arch"], Path(plan["out"]))  # now, not hours later
    workdir = Path(plan["workdir"]) if plan["workdir"] else Path(tempfile.mkdtemp(prefix=f"bench-train-{plan['name']}-"))
    if not args.resume:
        workdir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(workdir / PLAN_FILE, plan)
    last, train_s, distillation = _train(plan, workdir, resume=args.resume, threads=threads)
    finalize(last, plan=plan, settings=_train_settings(plan, workdir), train_s=train_s, workdir=workdir,
             teacher=teacher, distillation=distillation, resumed=args.resume, baseline_before=baseline,
             threads=threads)
    return 0


def _new_plan(args: argparse.Namespace) -> tuple[dict, object | None]:
    """Validate the arguments of a new training (teacher first, before any data is generated).

    Returns ``(plan, teacher)``: the plan and the inspected teacher (``None`` without ``--teacher``).
    """
    values = {k: (getattr(args, k) if getattr(args, k) is not None else d) for k, d in DEFAULTS.items()}
    if values["arch"] not in ARCHES:
        raise InputError(expected(f"one of {', '.join(ARCHES)}", repr(values["arch"]), "--arch"))
    if values["epochs"] < 1:
        raise InputError(expected("at least 1 epoch", values["epochs"], "--epochs"))
    if values["batch"] < 1:
        raise InputError(expected("a batch of at least 1", values["batch"], "--batch"))
    if values["imgsz"] < 32 or values["imgsz"] % 32:
        raise InputError(expected("an input size that is a multiple of 32", values["imgsz"], "--imgsz"))
    if args.workdir is not None:
        if args.workdir.exists() and not args.workdir.is_dir():
            raise InputError(expected("a folder for the training run", "a file", str(args.workdir)))
        last = args.workdir / "train" / "weights" / "last.pt"
        if last.exists():
            raise InputError(expected("a --workdir without an earlier training (continue it with --resume, or choose "
                                      "another folder)", "an existing last.pt", str(last)))
    dis = args.dis
    if dis is not None and args.teacher is None:
        raise InputError(expected("--dis together with --teacher (it weights the distillation loss)",
                                  "--dis without --teacher", "--dis"))
    if dis is not None and not (dis > 0 and math.isfinite(dis)):
        raise InputError(expected("a distillation loss weight > 0", dis, "--dis"))
    teacher = None
    if args.teacher is not None:
        teacher = _check_teacher_file(args.teacher)  # a missing or broken teacher fails before the dataset is generated
    if args.data is None:
        from harness.data.synth import ensure_dataset

        data_yaml = ensure_dataset() / "data.yaml"
    elif not args.data.is_file():
        raise InputError(expected("an existing data.yaml", "a folder" if args.data.is_dir() else "no such file",
                                  str(args.data)))
    else:
        data_yaml = args.data.resolve()
    from harness.data.yolo import read_data_yaml

    names = list(read_data_yaml(data_yaml)["names"])
    out = args.out if args.out is not None else MODELS_DIR
    plan = {
        "plan_version": PLAN_VERSION,
        **values,
        "name": args.name or (f"{values['arch']}-student" if args.teacher else values["arch"]),
        "out": str(out.resolve()),
        "data": None if args.data is None else str(data_yaml),  # None: the synthetic default
        "data_yaml": str(data_yaml),
        "names": names,
        "teacher": None if args.teacher is None else str(args.teacher.resolve()),
        "dis": dis,  # None: Ultralytics' default
        "workers": args.workers,
        "workdir": None if args.workdir is None else str(args.workdir.resolve()),
    }
    return plan, teacher


def _resume_plan(args: argparse.Namespace) -> tuple[dict, object | None]:
    """The plan of the interrupted training in ``--workdir`` (explicit arguments must agree with it) and
    its inspected teacher, as :func:`_new_plan` returns them."""
    if args.workdir is None:
        raise InputError(expected("--workdir DIR holding the interrupted training", "--resume without --workdir",
                                  "--resume"))
    last = args.workdir / "train" / "weights" / "last.pt"
    if not last.is_file():
        raise InputError(expected("the last.pt of an interrupted training (bench train --workdir DIR)",
                                  "no such file", str(last)))
    path = args.workdir / PLAN_FILE
    try:
        plan = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(expected(f"the {PLAN_FILE} that bench train --workdir writes", "no such file",
                                  str(path))) from None
    except (OSError, ValueError) as exc:
        raise InputError(expected(f"a readable {PLAN_FILE}", type(exc).__name__, str(path))) from None
    if not isinstance(plan, dict) or plan.get("plan_version") != PLAN_VERSION:
        raise InputError(expected(f"plan_version {PLAN_VERSION}", repr(plan.get("plan_version") if isinstance(plan, dict)
                                                                       else plan), str(path)))
    given = {k: getattr(args, k) for k in ("arch", "epochs", "imgsz", "batch", "seed", "name", "dis")}
    given["teacher"] = None if args.teacher is None else str(args.teacher.resolve())
    given["data"] = None if args.data is None else str(args.data.resolve())
    for key, value in given.items():
        if value is not None and value != (was := plan.get(key)):
            recorded = f"no --{key} (the default)" if was is None else f"--{key} {was}"
            raise InputError(expected(f"{recorded} as recorded in {path} (--resume continues that "
                                      "training; leave the option out)", value, f"--{key}"))
    plan["workdir"] = str(args.workdir.resolve())
    plan["workers"] = args.workers
    if args.out is not None:
        plan["out"] = str(args.out.resolve())
    if not Path(plan["data_yaml"]).is_file():
        raise InputError(expected("the data.yaml the interrupted training used", "no such file", plan["data_yaml"]))
    teacher = None if plan["teacher"] is None else _check_teacher_file(Path(plan["teacher"]))
    return plan, teacher


def _train_settings(plan: dict, workdir: Path) -> dict:
    settings = dict(data=plan["data_yaml"], imgsz=plan["imgsz"], epochs=plan["epochs"], batch=plan["batch"],
                    seed=plan["seed"], workers=plan["workers"], device="cpu", amp=False, plots=False,
                    deterministic=True, cache="ram", project=str(workdir), name="train", exist_ok=True, verbose=False)
    if plan["teacher"] is not None:
        settings["distill_model"] = plan["teacher"]
        if plan.get("dis") is not None:  # a plan written before --dis has no key: Ultralytics' default
            settings["dis"] = plan["dis"]
    return settings


def _compared_settings(plan: dict) -> dict:
    """The student's values of :data:`COMPARED`, in the shape a model's JSON stores them."""
    return {"epochs": plan["epochs"], "imgsz": plan["imgsz"], "batch": plan["batch"], "seed": plan["seed"],
            "data": _data_block(plan)}


def _data_block(plan: dict) -> dict:
    synth = Path(plan["data_yaml"]).parent / "synth.json"
    return {"data_yaml": SYNTHETIC if plan["data"] is None else plan["data"],
            "synth": json.loads(synth.read_text()) if synth.is_file() else None}


# -------------------------------------------------------------------------------- the teacher

def _check_teacher_file(path: Path):
    """A teacher that exists and loads as a supported detection model; returns its ``SourceModel``."""
    if not path.is_file():
        raise InputError(expected("an existing teacher .pt file", "a folder" if path.is_dir() else "no such file",
                                  str(path)))
    if path.suffix.lower() != ".pt":
        raise InputError(expected("a teacher .pt checkpoint (distillation needs the PyTorch model)",
                                  path.suffix or "no suffix", str(path)))
    from exporters.source import inspect_source

    return inspect_source(path)  # corrupt, not a detection model, unsupported head: one line naming the file


def check_teacher(path: Path, *, names, data_yaml: Path, student_arch: str, src=None) -> dict:
    """Validate a distillation teacher before any training; return what the student's JSON records of it.

    ``src``: the teacher as :func:`_check_teacher_file` already inspected it (loaded once, not twice).
    The checks and the record are :func:`exporters.training_record.teacher_record`'s, shared with a
    student derived by ``python -m exporters.prune_cli --control --teacher``.

    Raises:
        InputError: missing or unreadable file, not a detection model, class names that differ from the
            data's, or a teacher smaller than the student.
    """
    src = src if src is not None else _check_teacher_file(path)
    info, caveat = teacher_record(path, src, names=names, names_of="the data's", names_where=str(data_yaml),
                                  student_params=_arch_params(student_arch, len(names)),
                                  student_label=f"{student_arch} student")
    if caveat:
        warn(caveat)
    return info


def _arch_params(arch: str, nc: int) -> int:
    """Parameters of ``arch`` built from its Ultralytics config with ``nc`` classes (offline, random weights)."""
    require("ultralytics", extra="export")
    from ultralytics.nn.tasks import DetectionModel

    from exporters.source import quiet_ultralytics

    with quiet_ultralytics():
        model = DetectionModel(f"{arch}.yaml", nc=nc, verbose=False)
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------------ the baseline

def find_baseline(arch: str, out: Path, student: dict) -> dict:
    """The plain (non-distilled) model of the student's architecture, as the student's JSON records it.

    Looks for ``<arch>.json`` in ``out``, then in the shipped models folder. ``student`` holds the
    student's values of :data:`COMPARED`; ``settings_identical`` says whether the baseline shares them.
    """
    candidates = list(dict.fromkeys([Path(out), MODELS_DIR]))
    path = next((p / f"{arch}.json" for p in candidates if (p / f"{arch}.json").is_file()), None)
    if path is None:
        return {"found": False, "name": arch,
                "reason": f"no {arch}.json in {' or '.join(str(p) for p in candidates)} (train the plain model with "
                          f"the same settings: bench train --arch {arch})"}
    where = _where(path, Path(out))
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        return {"found": False, "name": arch, "json": where, "reason": f"{path} is unreadable ({type(exc).__name__})"}
    if not isinstance(meta, dict) or meta.get("teacher"):
        return {"found": False, "name": arch, "json": where,
                "reason": f"{path} does not describe a plain (non-distilled) model"}
    train = meta.get("train") or {}
    theirs = {**{k: train.get(k) for k in COMPARED if k != "data"}, "data": meta.get("data")}
    differences = {k: {"baseline": theirs[k], "student": student[k]} for k in COMPARED if theirs[k] != student[k]}
    weights = path.with_suffix(".pt")
    return {
        "found": True,
        "name": meta.get("name", arch),
        "arch": meta.get("arch", arch),
        "json": where,
        "sha256": meta.get("sha256"),
        "weights_match_json": (sha256_file(weights) == meta.get("sha256")) if weights.is_file() else None,
        "val_map50_95": (meta.get("val") or {}).get("map50_95"),
        "train": train,
        "data": meta.get("data"),
        "compared_settings": list(COMPARED),
        "settings_identical": not differences,
        "differences": differences,
    }


def _where(path: Path, out: Path) -> str:
    """How the student's JSON names a file: by name when it lies beside the student, else its full path
    (so a shipped JSON names no folder of the machine that trained it)."""
    return path.name if path.parent.resolve() == out.resolve() else str(path)


def _warn_about_baseline(baseline: dict, arch: str, out: Path) -> None:
    if not baseline["found"]:
        warn(f"no plain {arch} baseline to compare the student with: {baseline['reason']}")
    elif not baseline["settings_identical"]:
        diffs = "; ".join(f"{k}: baseline {_brief(v['baseline'])} vs student {_brief(v['student'])}"
                          for k, v in baseline["differences"].items())
        warn(f"the student-vs-plain comparison is not like-for-like ({out / baseline['json']}): {diffs}")


def _brief(value) -> str:
    if isinstance(value, dict):
        value = value.get("data_yaml", value)
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


# ------------------------------------------------------------------------------- training

def _train(plan: dict, workdir: Path, *, resume: bool, threads: int | None = None) -> tuple[Path, float, dict | None]:
    """Train (or continue training) in ``workdir``; returns ``(last.pt, seconds, distillation facts)``.

    ``threads``: torch CPU threads. Ultralytics sets ``cores - 1`` when its trainer picks the device
    (one thread on a 2-core machine, leaving a core idle); the callback runs after that.
    """
    ultralytics = require("ultralytics", extra="export")
    torch = require("torch", extra="export")
    last = workdir / "train" / "weights" / "last.pt"
    if resume:
        try:
            ckpt = torch.load(last, map_location="cpu", weights_only=False)
        except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged file
            raise InputError(expected("a readable Ultralytics checkpoint", f"{type(exc).__name__}", str(last))) from None
        if not isinstance(ckpt, dict) or ckpt.get("optimizer") is None:  # ultralytics strips it when training ends
            print(f"{last}: the training already finished; finalizing it")
            return last, None, None
        del ckpt
        model = ultralytics.YOLO(str(last))
        settings = dict(resume=True, device="cpu", workers=plan["workers"], plots=False, cache="ram")
        if plan["teacher"] is not None:
            settings["distill_model"] = plan["teacher"]
    else:
        model = ultralytics.YOLO(f"{plan['arch']}.yaml")
        settings = _train_settings(plan, workdir)
    if threads is not None:
        for event in ("on_pretrain_routine_start", "on_train_epoch_start"):  # after every device selection
            model.add_callback(event, lambda trainer: torch.set_num_threads(threads))
    facts: dict = {}
    if plan["teacher"] is not None:
        _watch_distillation(model, facts)
    t0 = time.time()
    model.train(**settings)
    # The last epoch, not best.pt: best.pt is chosen by fitness on the val split, which is also the
    # split bench scores on, and a checkpoint selected on the scored images would flatter itself.
    if not last.is_file():
        raise BenchError(f"{last.parent}: expected a last.pt written by training, got none")
    if plan["teacher"] is not None and "student_layers" not in facts:
        raise BenchError(f"{plan['teacher']}: ultralytics did not distill (no DistillationModel was built); "
                         f"ultralytics {ultralytics.__version__} needs to be 8.4.77 or newer")
    return last, time.time() - t0, (facts or None)


def _state_digest(module) -> str:
    digest = hashlib.sha256()
    for key, value in module.state_dict().items():
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _watch_distillation(model, facts: dict) -> None:
    """Record, from inside the training, what Ultralytics' distillation did and that the teacher stayed frozen."""
    held = {}

    def start(trainer) -> None:
        from ultralytics.utils.torch_utils import unwrap_model

        wrapper = unwrap_model(trainer.model)
        teacher = getattr(wrapper, "teacher_model", None)
        if teacher is None:
            return
        held["teacher"], held["digest"] = teacher, _state_digest(teacher)
        facts.update(
            method="ultralytics DistillationModel (train(distill_model=TEACHER)): score-weighted L2 between the "
                   "projected student and the teacher features that feed the Detect head",
            student_layers=[int(i) for i in wrapper.feats_idx],
            teacher_layers=[int(i) for i in getattr(wrapper, "teacher_feats_idx", wrapper.feats_idx)],
            dis=float(wrapper.dis),
            projector_params=sum(p.numel() for p in wrapper.projector.parameters()),
            teacher_params=sum(p.numel() for p in teacher.parameters()),
            teacher_trainable_params=sum(p.numel() for p in teacher.parameters() if p.requires_grad),
            teacher_eval_mode=not teacher.training,
        )

    def end(trainer) -> None:  # noqa: ARG001 - callback signature
        if "teacher" in held:
            teacher = held.pop("teacher")
            facts["teacher_weights_unchanged"] = _state_digest(teacher) == held.pop("digest")
            facts["teacher_eval_mode"] = facts["teacher_eval_mode"] and not teacher.training
            facts["checked"] = "teacher weights and buffers hashed at the start and the end of this training session"

    model.add_callback("on_train_start", start)
    model.add_callback("on_train_end", end)


# ------------------------------------------------------------------------------- finalize

def _plain_checkpoint(last: Path, workdir: Path) -> Path:
    """``last`` if it already is a stripped plain model, else a stripped copy (the teacher-free student)."""
    torch = require("torch", extra="export")
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    model = ckpt.get("model") if isinstance(ckpt, dict) else None
    if (model is not None and ckpt.get("ema") is None and ckpt.get("optimizer") is None
            and not hasattr(model, "student_model")):
        return last
    from ultralytics.utils.torch_utils import strip_optimizer

    final = workdir / "final.pt"
    shutil.copyfile(last, final)
    strip_optimizer(str(final))  # keeps the EMA weights; unwraps a DistillationModel to its student
    return final


def checkpoint_contents(path: Path) -> dict:
    """What a finished checkpoint holds; refuses anything but a plain ``DetectionModel`` (no teacher, no projector).

    Raises:
        BenchError: the checkpoint still carries the distillation wrapper, the teacher or training state.
    """
    torch = require("torch", extra="export")
    from ultralytics.nn.tasks import DetectionModel

    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    model = ckpt.get("model") if isinstance(ckpt, dict) else None
    keys = list(model.state_dict()) if model is not None else []
    foreign = [k for k in keys if k.split(".")[0] in ("teacher_model", "student_model", "projector")]
    if type(model) is not DetectionModel or foreign or ckpt.get("ema") is not None or hasattr(model, "teacher_model"):
        raise BenchError(f"{path}: expected a plain DetectionModel student checkpoint, got "
                         f"{type(model).__name__} with {len(foreign)} teacher/projector tensors")
    return {"class": "DetectionModel", "params": sum(p.numel() for p in model.parameters()),
            "teacher_included": False, "projector_included": False, "training_state_included": False}


def val_curve(workdir: Path) -> list[dict]:
    """The per-epoch val mAP50-95 and mAP50 Ultralytics logged in ``workdir/train/results.csv`` (see
    :func:`exporters.training_record.read_val_curve`); empty when the training logged none."""
    return read_val_curve(Path(workdir) / "train" / "results.csv")


def _earlier_environment(meta_path: Path, sha256: str) -> dict:
    """``train_seconds``/``torch_threads``/``resumed`` of an earlier JSON that describes the same weights, else {}."""
    try:
        earlier = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(earlier, dict) or earlier.get("sha256") != sha256:
        return {}
    env = earlier.get("environment") or {}
    return {k: env[k] for k in ("train_seconds", "torch_threads", "resumed") if k in env}


def finalize(last: Path, *, plan: dict, settings: dict, train_s: float | None, workdir: Path, teacher: dict | None = None,
             distillation: dict | None = None, resumed: bool = False, baseline_before: dict | None = None,
             threads: int | None = None) -> Path:
    """Validate the final checkpoint, copy it into the output folder and write its JSON beside it.

    Both files are prepared under temporary names first, then renamed into place one after the other.
    The plain baseline is looked up again (it may have been trained meanwhile) and warned about only
    if it changed since ``baseline_before``, the one warned about when training started.
    """
    ultralytics = require("ultralytics", extra="export")
    torch = require("torch", extra="export")
    final = _plain_checkpoint(last, workdir)
    contents = checkpoint_contents(final)
    trained = ultralytics.YOLO(str(final))
    val = ultralytics_val(trained, data_yaml=plan["data_yaml"], imgsz=plan["imgsz"], device="cpu", project=workdir)
    out = Path(plan["out"])
    out.mkdir(parents=True, exist_ok=True)
    name = plan["name"]
    dest = out / f"{name}.pt"
    meta = {
        "meta_version": META_VERSION,
        "name": name,
        "arch": plan["arch"],
        "family": plan["arch"][:-1],
        "sha256": None,  # of the copy written below
        "size_bytes": None,
        "imgsz": plan["imgsz"],
        "classes": [trained.names[i] for i in sorted(trained.names)],
        "teacher": teacher,
        "data": _data_block(plan),
        "train": {k: v for k, v in settings.items() if k not in ("project", "name", "exist_ok", "verbose", "data")},
        "checkpoint": "the last epoch (not selected on the val split)",
        "contents": contents,
        "val_curve": val_curve(workdir),
        "plateau": plateau(val_curve(workdir)),
        "val": val,
        "environment": {"ultralytics": ultralytics.__version__, "torch": torch.__version__,
                        "python": platform.python_version(), "machine": platform.machine(),
                        "train_seconds": round(train_s, 1) if train_s is not None else None, "resumed": resumed,
                        "torch_threads": threads if threads is not None else "ultralytics default (cores - 1)"},
    }
    if teacher is not None:
        meta["train"]["distill_model"] = teacher["path"]  # the name, not this machine's path
        meta["distillation"] = distillation
        meta["baseline"] = find_baseline(plan["arch"], out, _compared_settings(plan))
        if meta["baseline"] != baseline_before:
            _warn_about_baseline(meta["baseline"], plan["arch"], out)
    meta_path = dest.with_suffix(".json")
    if train_s is None:  # finalizing a finished training again: keep what the first finalize measured
        meta["environment"].update(_earlier_environment(meta_path, sha256_file(final)))
    # the checkpoint is renamed into place first, then its JSON; a failure leaves neither temporary behind
    with atomic_path(meta_path) as tmp_json, atomic_path(dest) as tmp_pt:
        shutil.copyfile(final, tmp_pt)
        meta.update(sha256=sha256_file(tmp_pt), size_bytes=tmp_pt.stat().st_size)
        tmp_json.write_text(json.dumps(meta, indent=2) + "\n")
    print(f"{name}: mAP50-95 {meta['val']['map50_95']:.4f}, mAP50 {meta['val']['map50']:.4f} "
          f"after {plan['epochs']} epochs" + (f" in {train_s / 60:.1f} min" if train_s is not None else "")
          + f" -> {dest}")
    print(plateau_line(name, meta.get("plateau"), epochs=plan["epochs"]))
    return dest


