"""The scoring core agrees with Ultralytics' own validation on the shipped model (issue: embedded default).

Ultralytics' ``model.val()`` reports mAP50-95 from its own AP (interpolated precision envelope
integrated with ``np.trapz`` over 101 points); ``bench eval`` is the COCO protocol (101-point
step sampling), so the two may differ slightly. Both score the very same predictions here:
Ultralytics writes them to ``predictions.json`` and ``bench eval`` reads that file.
"""

import json

import pytest

from harness.cli import main
from harness.metrics import STAT_NAMES


@pytest.mark.slow
def test_bench_eval_matches_ultralytics_val(tmp_path, capsys):
    from ultralytics import YOLO

    from harness.data.synth import write_dataset
    from harness.data.yolo import load_yolo_dataset
    from harness.reference import reference_model

    ref = reference_model()
    write_dataset(tmp_path / "d", seed=0, n_train=0, n_val=60)  # the first 60 images of the val split
    data_yaml = tmp_path / "d" / "data.yaml"
    metrics = YOLO(str(ref.weights)).val(data=str(data_yaml), imgsz=ref.imgsz, batch=16, conf=0.001, iou=0.7,
                                         save_json=True, plots=False, device="cpu", verbose=False,
                                         project=str(tmp_path / "val"), name="v")
    preds = tmp_path / "val" / "v" / "predictions.json"
    ds = load_yolo_dataset(data_yaml)
    gt = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": n} for i, n in enumerate(ds.names)]}
    for it in ds.items:
        gt["images"].append({"id": it.path.stem, "width": it.width, "height": it.height})
        for b, c in zip(it.boxes, it.classes):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            gt["annotations"].append({"id": len(gt["annotations"]) + 1, "image_id": it.path.stem, "category_id": int(c) + 1,
                                      "bbox": [float(b[0]), float(b[1]), w, h], "area": w * h, "iscrowd": 0})
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(gt))
    capsys.readouterr()
    assert main(["eval", "--gt", str(gt_path), "--pred", str(preds), "--json"]) == 0
    ours = json.loads(capsys.readouterr().out)
    map_ours = ours["coco"][STAT_NAMES[0]]
    assert metrics.box.map > 0.3  # a trained model, not an empty benchmark
    assert map_ours == pytest.approx(metrics.box.map, abs=0.01)
