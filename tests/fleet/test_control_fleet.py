"""The fleet run adds the pruned rows' like-for-like control per device, as a local run does (harness/control.py
through harness/fleet_run.plan_lane): the ``fp32+ft20`` row in each device's plan, ``vs_models.control`` and the
control row's ``source_model`` in each device's record. No cluster: the devices are as they joined (fakes of
:class:`harness.fleet.FleetDevice`), the checkpoints are read by a fake reader, the outcomes are made here."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from common.errors import InputError
from common.hashing import file_sha256
from harness.fleet import FleetDevice
from harness.fleet_exec import Lane
from harness.fleet_run import _record, plan_lane, remote_device
from harness.options import RunOptions
from harness.worker import Outcome
from results.record import timing_entry
from harness.evaluation import Scored
from tests.harness.test_control import DATA, FT, shipped_trio

ORT = {"onnxruntime": {"available": True, "providers": ["CPUExecutionProvider"]}}


def _device(name: str, runtime: dict) -> FleetDevice:
    return FleetDevice(name=name, profile="cpu", runtime=runtime, python="/usr/bin/python3",
                       agent={"runtimes": {**ORT, "openvino": {"available": True, "providers": ["CPU"]}},
                              "python": "3.11.9"}, node_ip="10.0.0.7")


DEVICES = (_device("a", {"runtime": "onnxruntime", "providers": ["CPUExecutionProvider"]}),
           _device("b", {"runtime": "openvino", "providers": []}))


@pytest.fixture
def shipped(tmp_path):
    trio = shipped_trio(tmp_path)  # the local run's fixture: the same files, the same control record
    return trio.files, trio.model, trio.control


@pytest.mark.parametrize("dev", DEVICES, ids=lambda d: d.runtime["runtime"])
def test_each_devices_plan_has_the_control_row_after_the_pruned_rows(shipped, dev):
    files, model, control = shipped
    opts = RunOptions(variants="fp32,int8,pruned30,pruned30-int8")
    resolved = remote_device(dev)
    plan, controls = plan_lane(opts, model, DATA, resolved, None, read=files.read)
    assert [r.name for r in plan] == ["fp32", "int8", "pruned30", "pruned30-int8", "fp32+ft20"]
    row, fp32 = plan[-1], plan[0]
    assert row.source == control and row.reason is None and row.spec == fp32.spec  # run like fp32 on this device
    (c,) = controls
    assert c.path == control and c.pruned_rows == ("pruned30", "pruned30-int8")


def test_without_a_control_the_fleet_plan_has_no_extra_row_and_says_how_to_make_one(shipped):
    files, model, control = shipped
    control.unlink()
    plan, (c,) = plan_lane(RunOptions(variants="fp32,pruned30"), model, DATA, remote_device(DEVICES[0]), None,
                           read=files.read)
    assert [r.name for r in plan] == ["fp32", "pruned30"]
    assert c.path is None and "no yolo11n-ft20.pt beside yolo11n.pt" in c.reason and "--control" in c.command


def test_a_bad_control_argument_is_one_line_in_the_fleet_too(shipped, tmp_path):
    files, model, _ = shipped
    other = files.add("other.pt", control={"source_sha256": "f" * 64, "finetune": dict(FT)})
    with pytest.raises(InputError, match="--control: expected the like-for-like control of pruned30"):
        plan_lane(RunOptions(variants="fp32,pruned30", control=other), model, DATA, remote_device(DEVICES[0]),
                  None, read=files.read)


def _ok(fps: float) -> Outcome:
    e2e = np.full(20, 1000.0 / fps)
    parts = {"preprocess": e2e * 0.1, "inference": e2e * 0.8, "postprocess": e2e * 0.1, "end_to_end": e2e}
    return Outcome(status="ok", timing=timing_entry(parts, fps=fps, warmup_iterations=3, timed_seconds=1.0))


def _scored(map50_95: float) -> Scored:
    accuracy = {"map50_95": map50_95, "map50": map50_95 + 0.2, "precision": 0.7, "recall": 0.6, "f1": 0.65,
                "avg_iou_per_frame": 0.8, "mean_tp_iou": 0.82, "coco_stats": [map50_95, map50_95 + 0.2] + [0.3] * 10,
                "per_class_ap": {"circle": map50_95}}
    return Scored(accuracy, None, None, None, None, None, None)


def test_each_devices_record_carries_the_control_row_and_the_pruned_rows_comparison(shipped):
    files, model, control = shipped
    opts = RunOptions(variants="fp32,pruned30", bootstrap=0)
    for dev in DEVICES:
        resolved = remote_device(dev)
        plan, controls = plan_lane(opts, model, DATA, resolved, None, read=files.read)
        lane = Lane(device=dev, resolved=resolved, plan=plan, controls=controls)
        lane.outcomes = {"fp32": _ok(50.0), "pruned30": _ok(75.0), "fp32+ft20": _ok(50.0)}
        scored = {"fp32": _scored(0.66), "pruned30": _scored(0.69), "fp32+ft20": _scored(0.71)}
        data = replace(DATA, truth=((), ()))  # ground truth: the record carries accuracy
        record = _record(opts, ["bench", "run"], lane, model, data, None, scored).to_dict()
        by = {v["name"]: v for v in record["variants"]}
        assert list(by) == ["fp32", "pruned30", "fp32+ft20"]
        assert by["fp32+ft20"]["source_model"]["role"] == "control"
        assert by["fp32+ft20"]["source_model"]["sha256"] == file_sha256(control)
        vs = by["pruned30"]["vs_models"]["control"]
        assert vs["reference"] == "fp32+ft20" and vs["label"] == "vs control"
        assert vs["map_drop_points"] == pytest.approx(2.0) and vs["fps_ratio"] == pytest.approx(1.5)
        assert record["extra"]["fleet"]["device"] == dev.name
