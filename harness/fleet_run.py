"""``bench run --cluster ADDRESS --on A,B``: one benchmark, run on several fleet devices through Ray.

The host does everything but the measurement: it resolves model and data, plans each device's rows from
the profile the device joined with (with the pruned rows' control row, as a local run:
:func:`plan_lane`), builds the artifacts (exporters, cached as for a local run), decodes the frames
once, and puts artifacts and frames into Ray's object store. Each row is one Ray task pinned to its
device (resource ``bench-device:NAME``, so one benchmark at a time runs there) that runs
:func:`devices.agent.execute`: the device's worker interpreter measures the typed
:class:`devices.job.Job` and sends back the :class:`devices.job.WorkerResult` and the detections. The
host scores them exactly as a local run does (same frames, same scorer: the accuracy columns of a device
equal a local run's with the same preprocessing) and archives one record per device, under the device's
profile. Then one cross-device table (:mod:`harness.fleet_table`).

Faults: a device whose node dies or leaves mid-run fails its remaining rows with the reason and its
record is NOT archived (nothing partial); the other devices go on. A device busy with another
benchmark is waited for with a progress line, or its rows fail after ``--queue-timeout``. Ctrl-C
cancels the remote tasks (the worker dies with its task). A plain ``bench run`` never imports this
module's Ray code: ``add_fleet_arguments`` is cheap and Ray is imported inside the functions.

TensorRT rows ship the ONNX their engine is built from; the device builds the engine with its own
TensorRT (cached there) and measures it (:mod:`harness.fleet_trt`). Artifacts of several files (an
OpenVINO IR's ``.xml`` + ``.bin``) travel whole.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import sys
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Mapping

from common.errors import BenchError, InputError, expected



def add_fleet_arguments(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("fleet (devices joined with: bench fleet join ADDRESS --name NAME)")
    g.add_argument("--cluster", metavar="ADDRESS", help="the Ray cluster's head, HOST:PORT: run on its devices")
    g.add_argument("--on", metavar="NAME[,NAME]", help="with --cluster: the devices to run on (bench fleet nodes lists them)")
    g.add_argument("--queue-timeout", type=float, metavar="S",
                   help="with --cluster: seconds to wait for a busy device before its rows fail (default: wait)")


@dataclass(frozen=True)
class FleetOptions:
    """Where a fleet run goes: the cluster's address, the device names, the wait for a busy device."""

    cluster: str
    on: tuple[str, ...]
    queue_timeout: float | None = None

    @classmethod
    def from_namespace(cls, ns: Any) -> FleetOptions:
        """Validated from parsed arguments.

        Raises:
            InputError: ``--on`` missing or with a bad name, a repeated name, a negative ``--queue-timeout``,
                or ``--device`` given (each device's profile is the one it joined with).
        """
        from harness.fleet import check_name

        if not getattr(ns, "on", None):
            raise InputError(expected("--on NAME[,NAME] with --cluster (bench fleet nodes ADDRESS lists them)",
                                      "no --on", "arguments"))
        names = tuple(check_name(n.strip(), "--on") for n in ns.on.split(",") if n.strip())
        if len(set(names)) != len(names):
            raise InputError(expected("each device once", ns.on, "--on"))
        qt = getattr(ns, "queue_timeout", None)
        if qt is not None and not qt >= 0:
            raise InputError(expected("seconds >= 0", qt, "--queue-timeout"))
        if getattr(ns, "device", "auto") != "auto":
            raise InputError(expected("no --device with --cluster (each device runs the profile it joined with)",
                                      f"--device {ns.device}", "arguments"))
        return cls(cluster=ns.cluster, on=names, queue_timeout=qt)


@dataclass(frozen=True)
class _Providers:
    """What :func:`harness.plan.make_task` reads of a runtime's status: its available providers."""

    providers: tuple[str, ...] = ()


@dataclass(frozen=True)
class RemoteHardware:
    """A fleet device's hardware as it described itself when it joined (the record's ``device.hardware``)."""

    runtimes: Mapping[str, _Providers]
    info: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return dict(self.info)


def remote_device(dev) -> Any:
    """A :class:`devices.resolve.ResolvedDevice` for a fleet device: its profile and runtime entry as joined."""
    from devices.profiles import load_profile
    from devices.resolve import ResolvedDevice

    profile = load_profile(dev.profile)
    name, providers = dev.runtime.get("runtime"), list(dev.runtime.get("providers") or [])
    same = [e for e in profile.runtimes if e.runtime == name]
    if not same:
        raise InputError(expected(f"a runtime of profile {profile.name}", name, f"device {dev.name}"))
    entry = next((e for e in same if list(e.providers) == providers), same[0])
    rts = {n: _Providers(tuple(r.get("providers") or ())) for n, r in (dev.agent.get("runtimes") or {}).items()
           if r.get("available")}
    info = {"fleet": {"device": dev.name, "node_ip": dev.node_ip, "python": dev.agent.get("python"),
                      "executable": dev.python, "preprocess": dev.agent.get("preprocess"),
                      "machine": dev.agent.get("machine")},
            **dict(dev.hardware or {})}
    return ResolvedDevice(requested=f"fleet:{dev.name}", profile=profile, hardware=RemoteHardware(rts, info),
                          runtime=entry)


def _say(text: str) -> None:
    print(f"fleet: {text}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _quiet():
    """The exporters' tools print (quantization histograms...): as in a local run's worker, not on the terminal."""
    import tempfile

    with tempfile.TemporaryFile("w+") as fh, contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
        yield


def run_if_cluster(opts, ns: argparse.Namespace, *, argv: list[str]) -> int | None:
    """The hook of ``bench run``: with ``--cluster`` run on the fleet and return the exit status, else None.

    Raises:
        InputError: ``--on`` or ``--queue-timeout`` without ``--cluster``.
    """
    if getattr(ns, "cluster", None) is None:
        given = [f"--{n.replace('_', '-')}" for n in ("on", "queue_timeout") if getattr(ns, n, None) is not None]
        if given:
            raise InputError(expected("--cluster ADDRESS with " + " and ".join(given), "no --cluster", "arguments"))
        return None
    from harness.runloop import exit_on_sigterm

    with exit_on_sigterm():
        return run_fleet(opts, ns, argv=argv)


def run_fleet(opts, ns: argparse.Namespace, *, argv: list[str]) -> int:
    """``bench run --cluster``: run, score, archive one record per device, print the tables; exit status."""
    from harness.fleet_table import print_fleet

    fopts = FleetOptions.from_namespace(ns)
    results = run_on_cluster(opts, fopts, argv=argv)
    print_fleet(results, json_out=opts.json, max_drop=getattr(ns, "max_drop", None))
    return 0


def run_on_cluster(opts, fopts: FleetOptions, *, argv: list[str]) -> list[dict]:
    """The fleet run; returns per device ``{"device", "record", "archived", "lost"}`` in ``--on`` order."""
    from devices import agent
    from harness import fleet, fleet_trt, runloop
    from harness.fleet_exec import Lane, drive
    from harness.control import read_checkpoint
    from harness.plan import load_data, make_task, resolve_model
    from harness.preflight import check_model_shape
    from harness.student import resolve_student, wants_student
    from harness.worker import Outcome, build_artifact

    archive_root = runloop.preflight(opts)
    fleet.connect(fopts.cluster)
    known = {d.name: d for d in fleet.list_devices()}
    missing = [n for n in fopts.on if n not in known]
    if missing:
        raise InputError(expected(f"devices joined to the cluster ({', '.join(known) or 'none: bench fleet join'})",
                                  ", ".join(missing), "--on"))
    model = resolve_model(opts)
    check_model_shape(model)
    data = load_data(opts, model)
    student = resolve_student(opts, model) if wants_student(opts, model) else None

    read = functools.lru_cache(maxsize=None)(read_checkpoint)  # each checkpoint loaded once for all devices
    lanes, builds, frames_root = [], {}, None
    for name in fopts.on:
        dev = known[name]
        resolved = remote_device(dev)
        plan, controls = plan_lane(opts, model, data, resolved, student, read=read)
        lane = Lane(device=dev, resolved=resolved, plan=plan, controls=controls)
        for row in plan:
            trt = row.spec.fmt == "trt"
            reason = row.reason
            if reason is None and trt:
                reason = fleet_trt.skip_reason(row.spec, resolved.profile, dev.agent or {}, opts.variant_options)
            if reason is not None:
                lane.outcomes[row.name] = Outcome.skipped(row.spec, reason)
            else:
                build, job, frames_root = make_task(opts, model, data, resolved, row, student)
                if trt:  # the host ships the engine's ONNX; the device builds the engine
                    job = replace(job, engine=fleet_trt.engine_build(row.spec, opts.variant_options))
                key = json.dumps(asdict(build), sort_keys=True, default=str)  # one build for every device
                lane.todo.append((row, job, key))
                builds.setdefault(key, build)
        lanes.append(lane)

    ray = fleet.ray_module()
    shipped: dict = {}  # build key -> (artifact ref, ArtifactRef, manifest) or the failure reason
    for key, build in builds.items():
        trt = build.format == "trt"  # the ONNX its engine is built from: the device builds the engine
        make = fleet_trt.build_source if trt else build_artifact
        _say(f"building {build.variant} ({'the ONNX of its TensorRT engine' if trt else build.format})")
        try:
            with _quiet():
                art = make(build, progress=None)
        except BenchError as exc:
            shipped[key] = f"build failed: {exc}"
            continue
        from devices.job import ArtifactRef

        meta = art.manifest["artifact"]
        ref = ArtifactRef(Path(art.path).name, meta["sha256"], meta["format"])
        files = {p.name: p.read_bytes() for p in _artifact_files(Path(art.path))}
        if opts.batch > 1:  # --batch N: the batch-N artifact travels beside the batch-1 one (devices.worker)
            try:
                with _quiet():
                    bart = make(build, progress=None, batch=opts.batch)
            except BenchError as exc:
                shipped[key] = f"build failed (batch {opts.batch}): {exc}"
                continue
            files.update({p.name: p.read_bytes() for p in _artifact_files(Path(bart.path))})
            bref = ArtifactRef(Path(bart.path).name, bart.manifest["artifact"]["sha256"], bart.manifest["artifact"]["format"])
            for lane in lanes:
                lane.todo = [(r, replace(j, batch_artifact=bref) if k == key else j, k) for r, j, k in lane.todo]
        shipped[key] = (ray.put(files), ref, art.manifest)
    for lane in lanes:  # an engine's source is the ONNX shipped for its row
        lane.todo = [(r, fleet_trt.with_source(j, shipped[k]), k) for r, j, k in lane.todo]
    frames_ref = None
    if any(lane.todo for lane in lanes):
        from devices.worker import frame_reader

        first_job = next(job for lane in lanes for _, job, _ in lane.todo)
        _say(f"decoding {data.count} frames and shipping them")
        frames = list(frame_reader(first_job, frames_root)(None))  # decoded here: the device needs no codec
        frames_ref = ray.put(agent.save_frames_bytes(frames))
        del frames
    profiles = {lane.device.profile: _profile_json(lane.device.profile) for lane in lanes}
    drive(lanes, shipped, frames_ref, profiles, opts, fopts)

    from harness.evaluation import score_variants

    out = []
    for lane in lanes:
        scored = score_variants(data, lane.outcomes, reference=runloop.REFERENCE, operating_conf=opts.operating_conf,
                                bootstrap=opts.bootstrap)
        record = _record(opts, argv, lane, model, data, student, scored)
        archived = None
        if archive_root is not None and lane.lost is None:
            archived = str(runloop._save(archive_root, record))
        out.append({"device": lane.device.name, "record": record, "archived": archived, "lost": lane.lost})
    return out


def plan_lane(opts, model, data, resolved, student, *, read=None) -> tuple[list, tuple]:
    """A device's rows as a local run plans them: :func:`harness.plan.plan_variants` for the profile it joined
    with, then the pruned rows' like-for-like control (:mod:`harness.control`): its ``fp32+ftE`` row and the
    setups that give each pruned row its ``vs_models.control`` in the device's record.

    Args:
        read: reads a checkpoint (default :func:`harness.control.read_checkpoint`; the fleet run passes a
            memoized one so several devices load each ``.pt`` once, tests pass a fake).

    Returns:
        ``(plan, controls)``: the plan with the control rows, and the :class:`harness.control.ControlSetup` s.

    Raises:
        InputError: a ``--control`` that is not the pruned rows' like-for-like control (as a local run).
    """
    from harness.control import read_checkpoint, resolve_controls, with_control_rows
    from harness.plan import plan_variants

    plan = plan_variants(opts, model, resolved, student)
    controls = resolve_controls(opts, model, data, plan, student=student, read=read or read_checkpoint)
    return with_control_rows(plan, controls), controls


COMPANIONS = {".xml": (".bin",)}  # files an artifact needs beside it: an OpenVINO IR's weights


def _artifact_files(path: Path) -> list[Path]:
    """The artifact and the files beside it that belong to it (an OpenVINO IR's ``.bin``)."""
    return [path] + [path.with_suffix(s) for s in COMPANIONS.get(path.suffix, ()) if path.with_suffix(s).is_file()]


def _profile_json(name: str) -> str:
    """The device profile's document as JSON (a light device reads it without PyYAML)."""
    import yaml

    import devices.profiles as profiles

    path = Path(profiles.__file__).with_name(f"{name}.yaml")
    return json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")))


def _record(opts, argv: list[str], lane, model, data, student, scored):
    """The device's record, assembled by the local run's :func:`harness.runloop.build_record`."""
    from harness.runloop import build_record

    return build_record(opts, argv, lane.resolved, model, data, student, lane.plan, lane.outcomes, scored,
                        extra={"fleet": {"device": lane.device.name, "lost": lane.lost}}, controls=lane.controls)
