"""Variant grammar: canonical names, properties, and one-line errors listing the valid forms."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exporters.spec import VALID_FORMS, VariantSpec, parse_variant
from common.errors import InputError


@pytest.mark.parametrize(
    ("text", "name", "kind", "precision", "ratio", "needs_pt"),
    [
        ("fp32", "fp32", "plain", "fp32", None, False),
        ("FP16", "fp16", "plain", "fp16", None, False),
        (" int8 ", "int8", "plain", "int8", None, False),
        ("pruned30", "pruned30", "pruned", "fp32", 0.3, True),
        ("pruned5-int8", "pruned5-int8", "pruned", "int8", 0.05, True),
        ("pruned90-fp16", "pruned90-fp16", "pruned", "fp16", 0.9, True),
        ("pruned030", "pruned30", "pruned", "fp32", 0.3, True),
        ("student", "student", "student", "fp32", None, True),
        ("student-int8", "student-int8", "student", "int8", None, True),
        ("Student-FP16", "student-fp16", "student", "fp16", None, True),
    ],
)
def test_valid_names(text, name, kind, precision, ratio, needs_pt):
    spec = parse_variant(text)
    assert (spec.name, spec.kind, spec.precision, spec.prune_ratio, spec.needs_pytorch) == (
        name, kind, precision, ratio, needs_pt)
    assert spec.fmt == "onnx"
    assert parse_variant(spec.name) == spec  # canonical names round-trip


def test_format():
    spec = parse_variant("pruned30-int8", fmt="TRT")
    assert spec.fmt == "trt"
    assert spec.base_name == "pruned30"
    assert spec.with_(precision="fp16").name == "pruned30-fp16"
    assert spec.to_dict() == {"name": "pruned30-int8", "format": "trt", "kind": "pruned",
                              "precision": "int8", "prune_ratio": 0.3}


def test_spec_is_frozen():
    spec = parse_variant("int8")
    with pytest.raises(AttributeError):
        spec.precision = "fp16"
    assert isinstance(spec, VariantSpec) and hash(spec) == hash(parse_variant("int8"))


@pytest.mark.parametrize("text", ["int4", "fp32-int8", "int8-fp16", "pruned", "prunedxx", "pruned30-fp32",
                                  "student-int4", "", "pruned30_int8", "distilled"])
def test_unknown_names_list_valid_forms(text):
    with pytest.raises(InputError) as err:
        parse_variant(text)
    message = str(err.value)
    assert "\n" not in message and message.startswith("variant: expected a variant name")
    assert VALID_FORMS in message


@pytest.mark.parametrize("text", ["pruned4", "pruned91", "pruned0", "pruned100", "pruned999-int8"])
def test_impossible_pruning_ratio(text):
    with pytest.raises(InputError, match="pruning percentage between 5 and 90"):
        parse_variant(text)


def test_unknown_format():
    with pytest.raises(InputError, match="--format: expected a format, one of onnx, trt.*, got 'tflite'"):
        parse_variant("fp32", fmt="tflite")


@given(st.integers(min_value=0, max_value=999), st.sampled_from(["", "-fp16", "-int8"]))
def test_pruned_range_property(percent, suffix):
    text = f"pruned{percent}{suffix}"
    if 5 <= percent <= 90:
        spec = parse_variant(text)
        assert spec.prune_percent == percent and spec.name == text
    else:
        with pytest.raises(InputError):
            parse_variant(text)
