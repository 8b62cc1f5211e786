"""The shipped reference models: their FP32 ONNX export detects exactly what the PyTorch model detects.

Real weights and synthetic-dataset images (generated in memory), decoded and NMS'd by the harness's own
postprocess: every PyTorch detection has an ONNX detection of the same class with IoU >= 1 - 1e-3.
"""

from __future__ import annotations

import numpy as np
import pytest

from harness import reference

pytestmark = pytest.mark.slow
SHIPPED = ["yolo11n", "yolo11n-student", "yolo11s", "yolo11s-ft30", "yolo12n", "yolo12n-student"]  # yolo11s-ft30: the
# students' teacher, fine-tuned from yolo11s


def test_default_reference_model_is_shipped():
    assert reference.DEFAULT_MODEL in reference.available()
    assert set(SHIPPED) <= set(reference.available())  # each with its JSON


def test_each_shipped_json_judges_its_own_curve():
    """Every shipped model's ``plateau`` block is what today's criterion says of the ``val_curve`` beside it."""
    import json

    from exporters.training_record import plateau

    judged = 0
    for path in sorted(reference.MODELS_DIR.glob("*.json")):
        meta = json.loads(path.read_text())
        curve = meta.get("val_curve") or (meta.get("finetune") or {}).get("val_curve")
        if curve:
            assert meta["plateau"] == plateau(curve), path.name
            judged += 1
    assert judged >= 6


@pytest.mark.parametrize("name", ["yolo11n", "yolo12n"])
def test_each_reference_json_records_what_20_more_epochs_bought(name):
    """The direct convergence test, in the reference's JSON: its ``continuation`` block is what
    training_record.continuation says of its own val and its <name>-ft20 control's (the same model fine-tuned 20
    more epochs with the same settings), and that control lies beside it with the hash the block names."""
    import json

    from common.hashing import file_sha256
    from exporters.training_record import continuation

    meta = json.loads((reference.MODELS_DIR / f"{name}.json").read_text())
    control = json.loads((reference.MODELS_DIR / f"{name}-ft20.json").read_text())
    assert meta["continuation"] == continuation(meta, control)
    assert file_sha256(reference.MODELS_DIR / meta["continuation"]["model"]) == meta["continuation"]["sha256"]


def _student_of(plain: str):
    import argparse

    from harness import runloop

    args = argparse.Namespace(model=reference.MODELS_DIR / f"{plain}.pt", student=None, teacher=None, variants=None,
                              imgsz=None, batch=1)
    model = runloop.resolve_model(args)
    assert model.arch == plain and runloop.wants_student(args, model)
    setup = runloop.resolve_student(args, model)
    assert setup.path == reference.MODELS_DIR / f"{plain}-student.pt" and setup.arch == plain
    assert setup.teacher_reason is None and setup.plain_reason is None
    return args, model, setup


@pytest.mark.parametrize("plain, variants, pruned_rows", [
    ("yolo11n", "fp32,pruned30,student", ("pruned30",)),  # the default run: one control for pruned30 and the student
    ("yolo12n", "fp32,student", ()),
])
def test_each_shipped_student_is_derived_from_its_reference_with_its_control_beside_it(plain, variants, pruned_rows):
    """A shipped student is its reference fine-tuned 20 epochs while distilling from yolo11s-ft30.pt; the control
    of those 20 epochs (<plain>-ft20.pt, for YOLO11n also pruned30's) is found for its rows: one fp32+ft20 row."""
    from harness import plan as run_plan
    from harness.control import resolve_controls
    from harness.options import RunOptions

    _, model, setup = _student_of(plain)
    assert setup.teacher == reference.MODELS_DIR / "yolo11s-ft30.pt"
    assert setup.info["derived_from"]["sha256"] == model.sha256 and setup.info["finetune"]["epochs"] == 20
    assert "fine-tuned 20 more epochs while distilling" in setup.plain_note
    cpu = type("Cpu", (), {"skip_reason": staticmethod(lambda precision, fmt=None: None),
                           "runtime": type("R", (), {"runtime": "onnxruntime"})()})()
    opts = RunOptions(variants=variants)
    plan = run_plan.plan_variants(opts, model, cpu, setup)
    data = run_plan.ScoredData("images", "val", (), None, 0, None, model.names, None, None)
    (control,) = resolve_controls(opts, model, data, plan, student=setup)
    assert control.path == reference.MODELS_DIR / f"{plain}-ft20.pt" and control.reason is None
    assert control.pruned_rows == pruned_rows and control.student_rows == ("student",)


def _images(n: int = 4):
    from harness.data.synth import synth_image

    rng = np.random.default_rng(123)
    return [synth_image(rng)[0] for _ in range(n)]


@pytest.mark.parametrize("name", SHIPPED)
def test_fp32_onnx_detects_what_pytorch_detects(name, tmp_path):
    import onnxruntime as ort
    import torch

    from exporters.build import build_variant
    from exporters.source import load_pytorch
    from harness.pipeline.postprocess import postprocess
    from harness.pipeline.preprocess import preprocess
    from harness.scorer import agreement

    ref = reference.reference_model(name)
    art = build_variant(ref.weights, "fp32", cache_dir=tmp_path, imgsz=ref.imgsz)
    model, _ = load_pytorch(ref.weights)
    session = ort.InferenceSession(str(art.path), providers=["CPUExecutionProvider"])
    torch_dets, onnx_dets = [], []
    for image in _images():
        x, info = preprocess(image, ref.imgsz)
        with torch.no_grad():
            raw_torch = model(torch.from_numpy(x))[0].numpy()
        raw_onnx = session.run(None, {"images": x})[0]
        torch_dets.append(postprocess(raw_torch, info, conf=0.25))
        onnx_dets.append(postprocess(raw_onnx, info, conf=0.25))
    found = sum(len(d.scores) for d in torch_dets)
    assert found > 0, "the reference model should detect objects on synthetic images"
    strict = agreement(torch_dets, onnx_dets, conf=0.25, iou_threshold=1 - 1e-3)
    assert strict.recall == 1.0 and strict.n_reference == found
    assert sum(len(d.scores) for d in onnx_dets) == found
