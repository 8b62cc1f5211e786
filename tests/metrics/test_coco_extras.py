"""evaluate_coco's rec_thresholds, AP per IoU threshold and per-class AR, checked against pycocotools;
``bench eval --json`` carries the last two."""

from __future__ import annotations

import json

import numpy as np
import pytest

from common.errors import InputError
from harness.metrics import evaluate_coco

from .synth import pycocotools_stats, random_coco


@pytest.mark.parametrize("seed", [1, 7])
def test_rec_thresholds_match_pycocotools(seed):
    pytest.importorskip("pycocotools", reason="the reference implementation")
    gt, dt = random_coco(seed)
    rec = np.linspace(0.0, 1.0, 11)  # the 11-point interpolation
    ours = evaluate_coco(gt, dt, rec_thresholds=rec)
    assert ours.precision.shape[1] == 11
    from pycocotools.coco import COCO  # noqa: F401  (pycocotools_stats imports it)

    _, e = pycocotools_stats(gt, dt, evaluator=True)
    import contextlib
    import io

    e.params.recThrs = rec
    with contextlib.redirect_stdout(io.StringIO()):
        e.evaluate(), e.accumulate(), e.summarize()
    np.testing.assert_allclose(ours.stats, e.stats, atol=1e-9)
    assert abs(ours.stats[0] - evaluate_coco(gt, dt).stats[0]) > 0  # the argument is used, not ignored


def test_bad_rec_thresholds_are_one_line():
    gt, dt = random_coco(2)
    for bad in ([], [0.5, 0.2], [0.0, 1.5]):
        with pytest.raises(InputError, match="rec_thresholds"):
            evaluate_coco(gt, dt, rec_thresholds=bad)


@pytest.mark.parametrize("seed", [3, 4])
def test_ap_per_iou_and_per_class_ar_match_pycocotools(seed):
    pytest.importorskip("pycocotools", reason="the reference implementation")
    gt, dt = random_coco(seed)
    ours = evaluate_coco(gt, dt)
    _, e = pycocotools_stats(gt, dt, evaluator=True)
    p, r = e.eval["precision"], e.eval["recall"]  # (T, R, K, A, M), (T, K, A, M)
    per_iou = ours.ap_per_iou()
    assert list(per_iou) == [f"{t:.2f}" for t in e.params.iouThrs]
    for t, value in enumerate(per_iou.values()):
        s = p[t, :, :, 0, -1]
        assert value == pytest.approx(float(np.mean(s[s > -1])), abs=1e-12)
    assert np.mean(list(per_iou.values())) == pytest.approx(ours.stats[0], abs=1e-12)
    rows = ours.per_class()
    for k, row in enumerate(rows):
        s = r[:, k, 0, -1]
        if (s > -1).any():
            assert row.ar == pytest.approx(float(np.mean(s[s > -1])), abs=1e-12)
        else:
            assert np.isnan(row.ar)


def test_bench_eval_json_has_ap_per_iou_and_per_class_ar(capsys, tmp_path):
    from harness.cli import main

    gt, dt = random_coco(12, n_images=15)
    g, d = tmp_path / "gt.json", tmp_path / "preds.json"
    g.write_text(json.dumps(gt))
    d.write_text(json.dumps(dt))
    assert main(["eval", "--gt", str(g), "--pred", str(d), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    result = evaluate_coco(gt, dt)
    assert report["coco_ap_per_iou"] == result.ap_per_iou() and len(report["coco_ap_per_iou"]) == 10
    by_name = {row.name: row for row in result.per_class()}
    for row in report["per_class"]:
        expected = by_name[row["name"]].ar
        assert row["ar"] == (None if np.isnan(expected) else expected)
