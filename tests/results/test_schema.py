"""The record format: frozen examples, validation messages, migration, immutability."""

from __future__ import annotations

import copy
import dataclasses
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from common.errors import InputError
from results import schema
from results.archive import load_record
from results.encoding import decode_floats, encode_floats
from results.record import new_record, stage_summary, timing_entry, variant_entry
from results.schema import SCHEMA_VERSION, validate_record

from .conftest import DATA, make_record


def _example() -> dict:
    return json.loads((DATA / f"record_v{SCHEMA_VERSION}.json").read_text())


def test_every_schema_version_has_a_frozen_example_that_loads():
    for version in range(1, SCHEMA_VERSION + 1):
        record = load_record(DATA / f"record_v{version}.json")
        assert record.schema_version == SCHEMA_VERSION


def test_frozen_v1_example_content():
    record = load_record(DATA / "record_v1.json")
    assert record.release == "v1.0" and record.device.profile == "cpu" and record.model.name == "yolo11n"
    assert [v.name for v in record.variants] == ["fp32", "int8", "pruned50", "fp16", "trt-fp16"]
    assert [v.status for v in record.variants] == ["ok", "ok", "ok", "failed", "skipped"]
    fp32 = record.variant("fp32")
    samples = fp32.timing.inference_samples_ms
    assert len(samples) == 400 == fp32.timing.stage("inference").n
    assert np.percentile(samples, 50) == pytest.approx(fp32.timing.stage("inference").p50_ms, rel=1e-5)
    assert len(fp32.per_frame_iou) == 60 and fp32.per_frame_iou[0] is None  # no ground truth in frame 0
    assert all(0 <= x <= 1 for x in fp32.per_frame_iou if x is not None)
    assert record.variant("int8").vs_reference.map_drop_ci95[0] < record.variant("int8").vs_reference.map_drop_ci95[1]
    assert record.variant("trt-fp16").timing is None and "TensorRT" in record.variant("trt-fp16").reason
    assert record.created.year == 2026


def test_round_trip_and_immutability():
    raw = _example()
    record = validate_record(copy.deepcopy(raw), "example")
    assert record.to_dict() == raw
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.release = "v2"
    with pytest.raises(TypeError):
        record.settings["threads"] = 8
    with pytest.raises(TypeError):
        record.device.hardware["cores"] = 99


def test_newer_schema_is_refused_with_the_next_step():
    raw = _example()
    raw["schema_version"] = SCHEMA_VERSION + 1
    with pytest.raises(InputError, match=r"rec\.json at schema_version: .*pip install -U edge-bench"):
        validate_record(raw, "rec.json")


def test_older_schema_without_migration_is_refused():
    raw = _example()
    raw["schema_version"] = 0
    with pytest.raises(InputError, match="schema_version bench can migrate"):
        validate_record(raw, "old.json")


def test_older_schema_is_migrated_explicitly(monkeypatch):
    # the migration chain runs each registered step in order
    def v0_to_v1(obj):
        obj["schema_version"] = 1
        obj["release"] = obj.pop("tag")
        return obj

    monkeypatch.setitem(schema.MIGRATIONS, 0, v0_to_v1)
    raw = _example()
    raw["schema_version"] = 0
    raw["tag"] = raw.pop("release")
    record = validate_record(raw, "old.json")
    assert record.release == "v1.0" and record.schema_version == SCHEMA_VERSION
    assert "tag" in raw  # the caller's dict is not modified


BAD = [
    (lambda r: r["variants"][1]["timing"]["inference"].update(p50_ms=-1.0),
     "at variants[1].timing.inference.p50_ms: expected a number > 0"),
    (lambda r: r["variants"][0]["timing"]["inference"].update(p50_ms=1e6),
     "at variants[0].timing.inference: expected p50_ms <= p90_ms"),
    (lambda r: r["variants"][0].update(speed=3), "at variants[0]: expected only the keys"),
    (lambda r: r["variants"][4].update(reason=None), "at variants[4].reason: expected a non-empty string"),
    (lambda r: r["variants"][1].update(name="fp32"), "at variants[1].name: expected unique variant names"),
    (lambda r: r["model"].update(sha256="xyz"), "at model.sha256: expected a SHA-256"),
    (lambda r: r.update(release="../etc"), "at release: expected a release name"),
    (lambda r: r.update(release="v1..2"), "at release: expected a release name"),
    (lambda r: r["data"].update(with_ground_truth=False), "at variants[0].accuracy: expected null accuracy"),
    (lambda r: r["variants"][1]["vs_reference"].update(reference="fp64"), "reference: expected the name of a variant"),
    (lambda r: r["variants"][1]["vs_reference"].update(map_drop_ci95=[2.0, 1.0]), "map_drop_ci95: expected low <= high"),
    (lambda r: r["variants"][0]["accuracy"].update(map50_95=52.0), "accuracy.map50_95: expected a number in [0, 1]"),
    (lambda r: r["variants"][0]["timing"]["inference_samples_ms"].update(n=3), "inference_samples_ms.data: expected 3 values"),
    (lambda r: r["variants"][0]["timing"]["inference_samples_ms"].update(data="!!!"), "expected base64"),
    (lambda r: r["variants"][0]["per_frame_iou"]["data"].__setitem__(0, 1.5), "per_frame_iou: expected IoU values in"),
    (lambda r: r.update(created_utc="2026-11-21T23:30:00+02:00"), "at created_utc: expected an ISO 8601 UTC"),
    (lambda r: r.update(run_id="latest"), "at run_id: expected a run id"),
    (lambda r: r.pop("model"), "ex.json: expected a key 'model'"),
    (lambda r: r.update(variants={}), "at variants: expected a list of variants"),
]


@pytest.mark.parametrize("mutate, message", BAD)
def test_invalid_records_name_the_file_and_json_path(mutate, message):
    raw = _example()
    mutate(raw)
    with pytest.raises(InputError) as info:
        validate_record(raw, "ex.json")
    assert message in str(info.value)
    assert str(info.value).startswith("ex.json")
    assert "\n" not in str(info.value)


def test_nan_and_truncated_json_are_reported_with_the_file(tmp_path):
    text = (DATA / "record_v1.json").read_text()
    nan = tmp_path / "nan.json"
    nan.write_text(text.replace('"fps": ', '"fps": NaN, "x": ', 1))
    with pytest.raises(InputError, match="nan.json: expected finite numbers"):
        load_record(nan)
    cut = tmp_path / "cut.json"
    cut.write_text(text[: len(text) // 2])
    with pytest.raises(InputError, match=r"cut.json line \d+ column \d+: expected a complete JSON record"):
        load_record(cut)


def test_extra_is_allowed_everywhere_for_unversioned_fields():
    raw = _example()
    raw["extra"] = {"ci_job": 17}
    raw["variants"][0]["extra"] = {"note": "warm cache"}
    assert validate_record(raw, "ex.json").raw["extra"]["ci_job"] == 17


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=1e4, allow_nan=False, width=32), max_size=300),
       st.sampled_from(["list", "f4-zlib-b64", "auto"]))
def test_float_arrays_round_trip(values, encoding):
    encoded = json.loads(json.dumps(encode_floats(values, encoding=encoding)))
    assert decode_floats(encoded, "t") == tuple(values)


def test_encoding_refuses_non_finite_and_truncation():
    with pytest.raises(InputError, match="finite"):
        encode_floats([1.0, float("inf")])
    enc = encode_floats(np.arange(100.0), encoding="f4-zlib-b64")
    enc["data"] = enc["data"][:-8]
    with pytest.raises(InputError, match="t.data: expected base64"):
        decode_floats(enc, "t")


def test_stage_summary_matches_numpy():
    rng = np.random.default_rng(1)
    x = rng.gamma(4, 2, size=1001)
    s = stage_summary(x)
    assert s["n"] == 1001
    for key, q in (("p50_ms", 50), ("p90_ms", 90), ("p95_ms", 95), ("p99_ms", 99)):
        assert s[key] == pytest.approx(np.percentile(x, q))
    assert s["std_ms"] == pytest.approx(np.std(x, ddof=1)) and s["max_ms"] == pytest.approx(x.max())
    assert stage_summary([]) is None
    assert stage_summary([3.0])["std_ms"] is None
    with pytest.raises(InputError, match="latencies >= 0"):
        stage_summary([1.0, -2.0])


def test_timing_entry_omits_unmeasured_stages_and_keeps_samples():
    t = timing_entry({"inference": [5.0] * 10}, fps=None)
    assert "preprocess" not in t and t["fps"] is None
    assert decode_floats(t["inference_samples_ms"], "t") == (5.0,) * 10
    assert "inference_samples_ms" not in timing_entry({"inference": [5.0]}, keep_samples=False)
    with pytest.raises(InputError, match="stages among"):
        timing_entry({"infer": [1.0]})


def test_timing_entry_stores_the_batch_pass_with_its_samples_encoded_like_the_stages():
    raw = {"batch": 4, "images_per_s": 200.0, "n": 3, "samples_ms": [20.0, 19.0, 21.0], "cpu_wait_share": 0.1}
    t = timing_entry({"inference": [5.0] * 10}, batch=raw)
    assert decode_floats(t["batch"]["samples_ms"], "t") == (20.0, 19.0, 21.0)  # call order kept
    assert {k: v for k, v in t["batch"].items() if k != "samples_ms"} == {k: v for k, v in raw.items()
                                                                          if k != "samples_ms"}
    assert raw["samples_ms"] == [20.0, 19.0, 21.0]  # the worker's dict is not changed
    assert "samples_ms" not in timing_entry({"inference": [5.0]}, keep_samples=False, batch=raw)["batch"]
    older = {"batch": 4, "images_per_s": 200.0}  # an older worker: no samples, no wait
    assert timing_entry({"inference": [5.0]}, batch=older)["batch"] == older and "batch" not in timing_entry(
        {"inference": [5.0]})


def test_stored_samples_keep_the_order_they_were_measured_in_and_say_so():
    measured = [5.0, 9.0, 4.0, 7.5, 6.0, 12.0, 3.0] * 20  # call order, deliberately unsorted
    t = timing_entry({"inference": measured, "end_to_end": [x + 1 for x in measured]})
    assert t["extra"] == {"samples_order": "call"}
    record = make_record()
    record["variants"][0]["timing"] = t
    timing = validate_record(record, "r").variants[0].timing
    assert timing.samples_order == "call"
    assert list(timing.inference_samples_ms) == measured  # not sorted, not subsampled
    assert list(timing.end_to_end_samples_ms) == [x + 1 for x in measured]
    # a record written before the marker existed says nothing about the order
    old = json.loads((DATA / "record_v1.json").read_text())
    assert all(v.timing is None or v.timing.samples_order is None for v in validate_record(old, "old").variants)
    assert "extra" not in timing_entry({"inference": [5.0] * 10}, keep_samples=False)


def test_new_record_validates_before_returning():
    with pytest.raises(InputError, match="new record at release"):
        make_record(release="v1/2")
    with pytest.raises(InputError, match=r"variants\[0\].status"):
        new_record(release="v1", command=["bench"], device="cpu", hardware={}, runtime_versions={},
                   model={"path": "m.pt", "sha256": "0" * 64, "name": "m"},
                   data={"kind": "images", "source": "x", "count": 1, "with_ground_truth": False},
                   variants=[variant_entry(name="a", format="onnx", precision="fp32", status="done")],
                   harness={"version": "0.1.0", "git_commit": None})


def test_per_frame_iou_keeps_gaps_for_frames_without_ground_truth():
    ious = np.array([0.8, np.nan, 0.7] * 30)  # what the scorer returns: NaN where a frame has no GT
    for encoding in ("list", "f4-zlib-b64"):
        enc = json.loads(json.dumps(encode_floats(ious, encoding=encoding, allow_missing=True)))
        back = decode_floats(enc, "t", allow_missing=True)
        assert back[1] is None and back[0] == pytest.approx(0.8) and len(back) == 90
        with pytest.raises(InputError):
            decode_floats(enc, "t")  # latency arrays never have gaps
    raw = make_record()
    raw["variants"][0] = variant_entry(**{**{k: raw["variants"][0][k] for k in ("name", "format", "precision")},
                                          "per_frame_iou": ious})
    record = validate_record(raw, "gaps")
    assert record.variants[0].per_frame_iou[1] is None


def test_builders_store_numpy_values_as_plain_json_and_nan_as_null():
    raw = make_record()
    raw["variants"][0] = variant_entry(
        name="fp32", format="onnx", precision="fp32",
        accuracy={"map50_95": np.float32(0.5), "precision": float("nan"), "per_class_ap": {"box": np.float64(0.4)}},
        telemetry={"power_w": np.array([1.5, 2.5]), "samples": np.int64(12)})
    record = validate_record(json.loads(json.dumps(raw)), "np")
    assert record.variants[0].accuracy.precision is None
    assert record.variants[0].accuracy.map50_95 == pytest.approx(0.5)
    assert record.variants[0].telemetry["power_w"] == (1.5, 2.5)
    bad = make_record()
    bad["variants"][0]["telemetry"] = {"power_w": float("inf")}
    with pytest.raises(InputError, match=r"variants\[0\].telemetry.power_w: expected a finite number"):
        validate_record(bad, "x")
    bad["variants"][0]["telemetry"] = {"when": object()}
    with pytest.raises(InputError, match="plain JSON values"):
        validate_record(bad, "x")


def test_model_entry_hashes_the_file_and_orders_class_names(tmp_path):
    import hashlib

    from results.record import model_entry

    weights = tmp_path / "yolo11n.pt"
    weights.write_bytes(b"weights" * 1000)
    entry = model_entry(weights, family="yolo11", imgsz=320, classes={1: "ring", 0: "circle"})
    assert entry["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert entry["name"] == "yolo11n" and entry["classes"] == ["circle", "ring"]
