"""``bench data synth`` and ``bench data video``: write the embedded default data to a folder."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="WHAT", required=True)
    s = sub.add_parser("synth", help="the synthetic detection dataset (Ultralytics layout)")
    s.add_argument("--out", type=Path, default=Path("synth-data"), help="output folder (default: ./synth-data)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--n-train", type=int, default=800)
    s.add_argument("--n-val", type=int, default=200)
    v = sub.add_parser("video", help="the synthetic video and its MOT-style ground-truth CSV")
    v.add_argument("--out", type=Path, default=Path("synth-video"), help="output folder (default: ./synth-video)")
    v.add_argument("--seed", type=int, default=0)
    v.add_argument("--frames", type=int, default=300)


def run(args: argparse.Namespace) -> int:
    from common.errors import InputError, expected

    if args.data_command == "synth":
        from harness.data.synth import write_dataset

        summary = write_dataset(args.out, seed=args.seed, n_train=args.n_train, n_val=args.n_val)
        counts = ", ".join(f"{k}: {v['images']} images / {v['boxes']} boxes" for k, v in summary["splits"].items())
        print(f"wrote {args.out / 'data.yaml'} ({counts})")
        return 0
    from harness.data.video import write_synth_video

    if args.frames < 1:
        raise InputError(expected("at least 1 frame", args.frames, "--frames"))
    video, gt = write_synth_video(args.out, seed=args.seed, n_frames=args.frames)
    print(f"wrote {video} and {gt} ({args.frames} frames)")
    return 0
