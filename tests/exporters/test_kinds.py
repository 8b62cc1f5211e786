"""The variant-kind registry: roles, options declared once, CLI flags from the registry, one mapping validated."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import pytest

from common.errors import InputError
from exporters import kinds
from exporters.build import build_variant
from exporters.kinds.pruned import PrunedOptions
from exporters.spec import FORMATS, PRECISIONS, parse_variant


def test_every_name_the_grammar_accepts_has_a_kind_of_the_right_role():
    for precision in PRECISIONS:
        assert kinds.get_kind(precision).role == "precision"
    for fmt in FORMATS:
        assert kinds.get_kind(fmt).role == "format"
    for name in ("fp32", "pruned30-int8", "student-fp16"):
        for fmt in FORMATS:
            roles = kinds.kinds_of(parse_variant(name, fmt=fmt))
            assert list(roles) == ["model", "precision", "format"] and roles["format"].name == fmt
    assert {k.name for k in kinds.kinds_of_role("model")} >= {"plain", "pruned", "student"}
    for kind in kinds.REGISTRY.values():
        assert kind.role in kinds.ROLES and kind.build is not None
        if kind.options is not None:
            assert dataclasses.is_dataclass(kind.options) and kind.options.__dataclass_params__.frozen
            assert all("option" in f.metadata for f in dataclasses.fields(kind.options))


def test_device_profiles_classify_every_precision_kind():
    """A new precision kind must also be fast or slow (with a reason) on every device: devices.profiles.PRECISIONS."""
    from devices.profiles import PRECISIONS as PROFILE_PRECISIONS

    assert set(PROFILE_PRECISIONS) == {k.name for k in kinds.kinds_of_role("precision")}


def test_option_names_are_unique_across_kinds():
    declared = [f.name for k in kinds.REGISTRY.values() if k.options for f in dataclasses.fields(k.options)]
    assert len(declared) == len(set(declared)) and set(declared) == set(kinds.option_names())


def test_options_from_a_mapping_a_namespace_or_nothing():
    assert kinds.options_from(None, "pruned") == PrunedOptions()
    opts = kinds.options_from({"finetune_epochs": 3, "pruned_source": "a/b.pt", "calib_method": "minmax"}, "pruned")
    assert opts.finetune_epochs == 3 and opts.pruned_source == Path("a/b.pt")  # JSON strings become paths
    ns = argparse.Namespace(trt_int8_mode="calibrator", workspace_mib=64, unrelated=1)
    assert kinds.options_from(ns, "trt").trt_int8_mode == "calibrator"
    assert kinds.options_from({}, "fp16") is None  # a kind without options


@pytest.mark.parametrize(("kind", "values", "message"), [
    ("pruned", {"finetune_epochs": -1}, "--finetune-epochs: expected an epoch count >= 0, got -1"),
    ("pruned", {"finetune_epochs": "3"}, "--finetune-epochs: expected a value of type int, got '3'"),
    ("pruned", {"finetune_epochs": True}, "--finetune-epochs: expected a value of type int, got True"),
    ("pruned", {"finetune_batch": None}, "--finetune-batch: expected a value (a batch size >= 1), got none"),
    ("int8", {"calib_method": "kl"}, "--calib-method: expected one of minmax, entropy, percentile, got 'kl'"),
    ("trt", {"sparse_weights": "yes"}, "--sparse: expected true or false, got 'yes'"),
    ("student", {"student_source": 3}, "--student: expected a file path, got 3"),
])
def test_bad_option_values_are_one_line_naming_the_flag(kind, values, message):
    with pytest.raises(InputError) as info:
        kinds.options_from(values, kind)
    assert str(info.value) == message


def test_an_unknown_option_name_is_refused_before_any_work(tmp_path):
    with pytest.raises(InputError, match=r"options: expected variant options, any of .*finetune_epochs.*, got 'finetune_epoch'"):
        build_variant(tmp_path / "missing.pt", "pruned30", imgsz=64, options={"finetune_epoch": 3})
    with pytest.raises(InputError, match="expected variant options: a mapping or kind options dataclasses, got int"):
        build_variant(tmp_path / "missing.pt", "fp32", imgsz=64, options=3)


def test_cli_flags_come_from_the_registry_and_round_trip_as_one_mapping():
    parser = argparse.ArgumentParser()
    kinds.add_arguments(parser, skip=("student_source",))
    flags = {s for a in parser._actions for s in a.option_strings}
    assert {"--finetune-epochs", "--epochs", "--pruned", "--calib-method", "--trt-int8", "--sparse"} <= flags
    assert "--student" not in flags  # skipped: the command declares its own
    args = parser.parse_args(["--epochs", "2", "--pruned", "p.pt", "--sparse"])
    mapping = kinds.options_mapping(args)
    assert mapping["finetune_epochs"] == 2 and mapping["pruned_source"] == "p.pt" and mapping["sparse_weights"] is True
    assert kinds.options_from(mapping, "pruned") == PrunedOptions(pruned_source=Path("p.pt"), finetune_epochs=2)
    defaults = kinds.options_mapping(parser.parse_args([]))
    assert kinds.options_from(defaults, "trt") == kinds.options_from(None, "trt")


def test_options_dataclasses_are_accepted_directly(tmp_path):
    # PrunedOptions for an fp32 variant: options of kinds the variant does not use are ignored
    with pytest.raises(InputError, match="missing.pt"):
        build_variant(tmp_path / "missing.pt", "fp32", imgsz=64, options=PrunedOptions(finetune_epochs=1))


@pytest.mark.parametrize("typed", ["Entropy", "ENTROPY", " entropy "])
def test_a_closed_set_option_takes_any_case_and_keeps_the_canonical_spelling(typed):
    parser = argparse.ArgumentParser()
    kinds.add_arguments(parser)
    mapping = kinds.options_mapping(parser.parse_args(["--calib-method", typed, "--trt-int8", "Calibrator"]))
    assert (mapping["calib_method"], mapping["trt_int8_mode"]) == ("entropy", "calibrator")  # stored canonical
    assert kinds.options_from({"calib_method": typed}, "int8").calib_method == "entropy"  # the JSON path too
    from harness.options import RunOptions

    opts = RunOptions.from_namespace(parser.parse_args(["--calib-method", typed]))
    assert opts.variant_options["calib_method"] == "entropy"  # what bench run hands the worker and the cache key
    with pytest.raises(InputError, match="--calib-method: expected one of minmax, entropy, percentile, got 'Entropie'"):
        kinds.options_from({"calib_method": "Entropie"}, "int8")


def test_buildable_pairs_precision_and_format_kinds():
    assert kinds.buildable("bf16", "openvino") and not kinds.buildable("bf16", "onnx") and not kinds.buildable("bf16", "trt")
    assert not kinds.buildable("fp16", "openvino") and kinds.buildable("fp16", "onnx")
    assert all(kinds.buildable(p, "onnx") for p in ("fp32", "fp16", "int8"))
