"""Every example in the metrics and result-format docstrings runs and prints what it says."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "harness.metrics", "harness.metrics.accumulate", "harness.metrics.boxes", "harness.metrics.coco",
    "harness.metrics.coco_io", "harness.metrics.coco_match", "harness.metrics.instance", "harness.metrics.iou",
    "harness.metrics.localization", "harness.metrics.masks", "harness.metrics.matching", "harness.metrics.records", "harness.metrics.segm",
    "harness.metrics.voc", "results.format", "results.render_notes", "common.atomic", "exporters.training_record",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS | doctest.IGNORE_EXCEPTION_DETAIL)
    assert result.failed == 0 and result.attempted > 0
