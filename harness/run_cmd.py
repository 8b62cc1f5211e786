"""``bench run``: benchmark every variant of a model on a device, score it, archive the record.

With no arguments it runs the embedded default offline: the shipped reference YOLO11n, the
synthetic val split (generated on first use), the device this machine is, and the variants
fp32, fp16, int8, pruned30 (and student when a distilled student is shipped).

With a student row, the student's teacher is scored too, at FP32, as a row named ``teacher`` (same
exporter, worker, frames and settings), so the student's mAP drop against the teacher's FP32 and its
speed against the teacher are measured in the same run, beside its drop against the same-size plain
model's FP32 (the run's own ``fp32`` row, when the run's model has the student's architecture).

Each variant runs in its own process (:mod:`harness.worker`) with a timeout, so a crash in an
exporter or a runtime cannot take the run down: it becomes a ``failed`` row with its error tail.
Scoring happens here, after all workers, because drops and agreement need the FP32 detections.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

from common.errors import InputError, expected
from harness.options import MAX_THREADS_PER_CPU, RunOptions

DEFAULT_VARIANTS = ("fp32", "fp16", "int8", "pruned30")
REFERENCE_VARIANT = "fp32"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    src = parser.add_argument_group("what to benchmark")
    src.add_argument("--device", default="auto", help="device profile, 'jetson' (the detected one) or 'auto' (default)")
    src.add_argument("--model", type=Path, help="Ultralytics .pt (YOLO11/YOLO12) or exported .onnx "
                                                "(default: the shipped reference yolo11n)")
    src.add_argument("--variants", default=None,
                     help="comma-separated variant names: fp32, fp16, int8, bf16, prunedNN[-fp16|-int8|-bf16], "
                          "student[-fp16|-int8|-bf16] (bf16: OpenVINO on a CPU with native BF16); NAME+RUNTIME runs "
                          f"a row on another runtime (default: {','.join(DEFAULT_VARIANTS)}[,student], and bf16 "
                          "after fp16 where the run is on OpenVINO)")
    from exporters.spec import FORMATS

    src.add_argument("--format", type=str.lower, choices=FORMATS, default=None,
                     help="artifact format: onnx (ONNX Runtime), openvino (the variants' OpenVINO artifacts, run by "
                          "OpenVINO) or trt (TensorRT engines); default: the format of the device's runtime")
    src.add_argument("--runtime", default=None, help="onnxruntime, openvino or tensorrt instead of the profile's first "
                                                     "available runtime; a row NAME+RUNTIME in --variants (int8+onnxruntime) runs there")
    src.add_argument("--force", action="store_true", help="run variants whose precision the device does not run fast")
    src.add_argument("--student", type=Path, help="distilled student .pt for the student variants (default: the shipped "
                                                  "<reference>-student.pt); adds 'student' to the default variants")
    src.add_argument("--teacher", type=Path, help="the student's teacher .pt, scored at FP32 as the 'teacher' row (default: "
                                                  "the teacher named in the student's JSON, from the shipped models)")
    src.add_argument("--control", type=Path, help="the pruned rows' like-for-like control .pt, scored at FP32 as the "
                                                  "'fp32+ftE' row (default: <model>-ftE.pt beside the model)")
    data = parser.add_argument_group("what to score on (default: the synthetic val split)")
    data.add_argument("--data", type=Path, help="Ultralytics data.yaml (scored on --split)")
    data.add_argument("--split", default="val")
    data.add_argument("--coco", type=Path, help="COCO annotations JSON (with --images)")
    data.add_argument("--images", type=Path, help="image folder (with --coco, or alone: no ground truth)")
    data.add_argument("--video", type=Path, help="video file, scored frame by frame")
    data.add_argument("--gt", type=Path, help="ground truth CSV for --video (frame,track_id,x,y,w,h,class)")
    data.add_argument("--limit", type=int, help="score only the first N images / frames")
    score = parser.add_argument_group("scoring")
    score.add_argument("--conf", type=float, default=0.001, help="confidence for mAP (default 0.001)")
    score.add_argument("--iou", type=float, default=0.7, help="NMS IoU (default 0.7)")
    score.add_argument("--max-det", type=int, default=300)
    score.add_argument("--operating-conf", type=float, default=0.25,
                       help="confidence for avg IoU, precision/recall and agreement (default 0.25)")
    score.add_argument("--bootstrap", type=int, default=200, help="bootstrap resamples for the ΔmAP CI (0: none)")
    timing = parser.add_argument_group("timing")
    timing.add_argument("--threads", type=int, help="inference threads, 1 to 4 x the CPU count (default: the "
                                                    "runtime's default)")
    timing.add_argument("--imgsz", type=int, default=None,
                        help="network input side for every variant, a multiple of 32 in 32..2048 (default: the "
                             "model's training size)")
    timing.add_argument("--batch", type=int, default=1,
                        help="also measure throughput at N frames per call (1..256; default 1: single stream only)")
    timing.add_argument("--min-iters", type=int, default=100, help="timed iterations at least (default 100)")
    timing.add_argument("--min-seconds", type=float, default=3.0, help="timed seconds at least (default 3)")
    timing.add_argument("--warmup-max-s", type=float, default=10.0)
    timing.add_argument("--timeout", type=float, default=1800.0, help="seconds per variant before it is killed")
    timing.add_argument("--calib-images", type=int, default=200, help="INT8 calibration images from the train split")
    timing.add_argument("--calib-data", type=Path,
                        help="data.yaml whose TRAIN split calibrates INT8 (default: --data, or the synthetic "
                             "dataset for the shipped reference models)")
    out = parser.add_argument_group("output")
    out.add_argument("--release", default="dev", help="release name the record is archived under (default: dev)")
    out.add_argument("--archive", type=Path, help="archive root (default: $BENCH_ARCHIVE or ./bench-archive)")
    out.add_argument("--no-archive", action="store_true", help="do not write the record")
    out.add_argument("--out", type=Path, help="folder for per-frame CSVs, plots and the spot-check gallery")
    out.add_argument("--annotate", action="store_true", help="with --video: also write annotated videos")
    out.add_argument("--json", action="store_true", help="print the record as JSON on stdout instead of the table")
    from exporters.kinds import add_arguments as add_kind_arguments

    add_kind_arguments(parser, skip=("student_source",))  # --finetune-epochs, --calib-method, ...; --student is ours
    out.add_argument("--max-drop", type=float, default=1.0, help="accuracy budget of the answer line: mAP50-95 points (upper end of the 95%% CI; default 1.0)")
    from harness.fleet_run import add_fleet_arguments  # cheap: no Ray at import

    add_fleet_arguments(parser)


def _check_args(args: RunOptions) -> None:
    """Option checks, before anything is resolved or built (the filesystem and the model: :mod:`harness.preflight`)."""
    for name in ("conf", "iou", "operating_conf"):
        value = getattr(args, name)
        if not 0.0 <= value <= 1.0:
            raise InputError(expected("a value in [0, 1]", value, f"--{name.replace('_', '-')}"))
    for name in ("max_det", "min_iters", "calib_images"):
        if getattr(args, name) < 1:
            raise InputError(expected("a positive integer", getattr(args, name), f"--{name.replace('_', '-')}"))
    from exporters.kinds import REGISTRY, options_from

    for kind in REGISTRY:  # the variant kinds' options, each checked by its kind, before anything is built
        options_from(args.variant_options, kind)
    if args.limit is not None and args.limit < 1:
        raise InputError(expected("a positive integer", args.limit, "--limit"))
    check_size_options(args)
    check_format_runtime(args)
    max_threads = MAX_THREADS_PER_CPU * (os.cpu_count() or 1)
    if args.threads is not None and not 1 <= args.threads <= max_threads:
        raise InputError(expected(f"a thread count in 1..{max_threads} ({MAX_THREADS_PER_CPU} x the {os.cpu_count() or 1} "
                                  "CPUs)", args.threads, "--threads"))
    if not math.isfinite(args.timeout) or args.timeout <= 0:
        raise InputError(expected("seconds > 0", args.timeout, "--timeout"))
    for name in ("min_seconds", "warmup_max_s"):
        value = getattr(args, name)
        if not math.isfinite(value) or value < 0:
            raise InputError(expected("seconds >= 0", value, f"--{name.replace('_', '-')}"))
    if args.bootstrap < 0:
        raise InputError(expected("0 or more resamples", args.bootstrap, "--bootstrap"))
    sources = [n for n in ("data", "coco", "video") if getattr(args, n) is not None]
    if len(sources) > 1:
        raise InputError(expected("one of --data, --coco/--images, --video", " and ".join(f"--{s}" for s in sources), "arguments"))
    if args.gt is not None and args.video is None:
        raise InputError(expected("--gt together with --video", "--gt alone", "arguments"))
    if args.coco is not None and args.images is None:
        raise InputError(expected("--images with the image folder of --coco", "no --images", "arguments"))
    if args.calib_data is not None and not args.calib_data.is_file():
        raise InputError(expected("an existing data.yaml", "no such file", str(args.calib_data)))
    if args.model is not None and args.model.suffix.lower() not in (".pt", ".onnx"):
        raise InputError(expected("a .pt or .onnx model", args.model.name, "--model"))
    if args.model is not None and not args.model.is_file():
        raise InputError(expected("an existing model file", "a folder" if args.model.is_dir() else "no such file", str(args.model)))
    for name in ("student", "teacher", "control"):
        path = getattr(args, name)
        if path is not None and path.suffix.lower() != ".pt":
            raise InputError(expected(f"a {name} .pt checkpoint", path.name, f"--{name}"))
        if path is not None and not path.is_file():
            raise InputError(expected(f"an existing {name} .pt file", "a folder" if path.is_dir() else "no such file",
                                      str(path)))


def check_format_runtime(opts: RunOptions) -> None:
    """``--format`` and ``--runtime`` together must agree: the runtime's own format (the one it builds and loads).

    Raises:
        InputError: one line, e.g. ``--format onnx`` with ``--runtime openvino``.

    Example:
        >>> check_format_runtime(RunOptions(format="openvino", runtime="openvino"))
        >>> check_format_runtime(RunOptions(format="onnx", runtime="openvino"))
        Traceback (most recent call last):
        ...
        common.errors.InputError: --format: expected openvino (the format --runtime openvino runs) or no --format, got 'onnx'
    """
    if opts.format is None or opts.runtime is None:
        return
    from devices.runtimes import runtime_info

    own = runtime_info(opts.runtime, where="--runtime").build_format
    if own != opts.format:
        raise InputError(expected(f"{own} (the format --runtime {opts.runtime} runs) or no --format", repr(opts.format),
                                  "--format"))


def check_size_options(opts: RunOptions) -> None:
    """``--imgsz`` (a multiple of 32 in 32..2048) and ``--batch`` (1..256; above 1 needs a .pt model).

    Raises:
        InputError: one line naming the option.

    Example:
        >>> check_size_options(RunOptions(imgsz=416, batch=8))
        >>> check_size_options(RunOptions(imgsz=100))
        Traceback (most recent call last):
        ...
        common.errors.InputError: --imgsz: expected a multiple of 32 in 32..2048, got 100
    """
    from devices.job import MAX_BATCH
    from exporters.build import IMGSZ_MAX, IMGSZ_MIN

    if opts.imgsz is not None and (not IMGSZ_MIN <= opts.imgsz <= IMGSZ_MAX or opts.imgsz % 32):
        raise InputError(expected(f"a multiple of 32 in {IMGSZ_MIN}..{IMGSZ_MAX}", opts.imgsz, "--imgsz"))
    if not 1 <= opts.batch <= MAX_BATCH:
        raise InputError(expected(f"a batch in 1..{MAX_BATCH}", opts.batch, "--batch"))
    if opts.batch > 1 and opts.model is not None and opts.model.suffix.lower() == ".onnx":
        raise InputError(expected("a .pt model for --batch above 1 (an ONNX's batch is fixed when it is exported)",
                                  opts.model.name, "--batch"))


def run(args: argparse.Namespace) -> int:
    from harness import runloop

    opts = RunOptions.from_namespace(args)  # argparse stops here
    _check_args(opts)
    from harness.fleet_run import run_if_cluster  # --cluster: the fleet (Ray is imported only then)

    if (code := run_if_cluster(opts, args, argv=["bench", *sys.argv[1:]])) is not None:
        return code
    with runloop.exit_on_sigterm():
        record, archived_at, outputs = runloop.run_benchmark(opts, argv=["bench", *sys.argv[1:]])
    if args.json:
        import json

        print(json.dumps(record.to_dict(), indent=2))
    else:
        from results.render import print_run

        print_run(record, archived_at=archived_at, max_drop=args.max_drop)
        for line in outputs:
            print(line)
    return 0
