"""``bench run --batch N`` builds two artifacts per row: the batch-N one's progress stages are labelled apart
(``export onnx b4 (cached)``), so the progress lines never show the same label twice for one row."""

from __future__ import annotations

import doctest

from exporters import stage
from tests.exporters.conftest import IMGSZ


def _labels(yolo11_pt, cache, **kw) -> list[str]:
    from exporters.build import build_variant

    seen: list[str] = []
    build_variant(yolo11_pt, "fp32", cache_dir=cache, imgsz=IMGSZ, progress=lambda s, d, t: seen.append(s), **kw)
    return seen


def test_the_batch_artifacts_stages_are_labelled_with_their_batch(yolo11_pt, session_cache, fp32_artifact):
    single = _labels(yolo11_pt, session_cache)
    assert single == ["export onnx (cached)"]  # fp32_artifact built it: cached, no batch in the label
    built = _labels(yolo11_pt, session_cache, batch=3)  # a batch no other test builds: built here, then cached
    assert built[0] == "export onnx b3" and set(built) == {"export onnx b3"}
    again = _labels(yolo11_pt, session_cache, batch=3)
    assert again == ["export onnx b3 (cached)"]
    assert not set(again) & set(single)


def test_batch_label_examples():
    failures, tried = doctest.testmod(stage, optionflags=doctest.ELLIPSIS)
    assert tried > 0 and failures == 0
    assert stage.batch_label("quantize int8 (openvino, nncf) (cached)", 2) == "quantize int8 (openvino, nncf) b2 (cached)"
