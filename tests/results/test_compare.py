"""compare(): verdicts on synthetic records, asv-style marks, not-comparable runs."""

from __future__ import annotations

import json

import pytest

from harness.errors import InputError
from results.compare import Mark, compare
from results.record import timing_entry
from results.schema import validate_record
from results.stats import mann_whitney_p, pareto_front

from .conftest import make_record


def _rec(**kw):
    return validate_record(make_record(**kw), "test")


def test_a_rerun_of_the_same_setup_has_no_regression():
    c = compare(_rec(seed=1), _rec(seed=2, minutes=3))
    assert c.comparable and c.regressions == ()
    ok = [v for v in c.variants if v.base_status == "ok"]
    assert {v.name for v in ok} == {"fp32", "int8", "pruned50"}
    for v in ok:
        assert v.mark in (Mark.SAME, Mark.UNSURE)
        assert v.metric("p50_ms").change == pytest.approx(1.0, abs=0.02)
        assert v.metric("map50_95").mark is Mark.SAME
    assert next(v for v in c.variants if v.name == "trt-fp16").mark is Mark.SKIPPED


def test_thirty_percent_slower_variant_is_a_regression_named_by_name():
    c = compare(_rec(seed=1), _rec(seed=2, slow={"int8": 1.3}, threads=1))
    assert [v.name for v in c.regressions] == ["int8"]
    int8 = c.regressions[0]
    p50 = int8.metric("p50_ms")
    assert p50.mark is Mark.WORSE and p50.change == pytest.approx(1.3, rel=0.03) and p50.p_value < 1e-6
    assert int8.metric("fps").mark is Mark.WORSE and int8.metric("fps").change < 1 / 1.05
    assert "settings threads: 2 -> 1" in c.notes
    # the other direction is an improvement, not a regression
    back = compare(_rec(seed=2, slow={"int8": 1.3}), _rec(seed=1))
    assert back.regressions == () and next(v for v in back.variants if v.name == "int8").mark is Mark.BETTER


def test_different_model_or_device_is_not_comparable():
    c = compare(_rec(seed=1), _rec(seed=2, sha="cd" * 32, slow={"int8": 2.0}))
    assert not c.comparable and "model SHA-256 differs" in c.reason
    assert c.regressions == ()
    assert {v.mark for v in c.variants} == {Mark.NOT_COMPARABLE}
    d = compare(_rec(seed=1), _rec(seed=2, device="jetson"))
    assert not d.comparable and "device profile differs (cpu vs jetson)" in d.reason


def test_accuracy_drops_are_judged_against_the_threshold():
    base = make_record(seed=1)
    cand = make_record(seed=2)
    cand["variants"][1]["accuracy"]["map50_95"] -= 0.008  # 0.8 points
    cand["variants"][2]["accuracy"]["map50_95"] -= 0.003  # 0.3 points
    cand["variants"][0]["accuracy"]["avg_iou_per_frame"] -= 0.02
    c = compare(validate_record(base, "b"), validate_record(cand, "c"))
    marks = {v.name: v for v in c.variants}
    assert marks["int8"].metric("map50_95").mark is Mark.WORSE
    assert marks["int8"].metric("map50_95").change == pytest.approx(-0.8)
    assert marks["pruned50"].metric("map50_95").mark is Mark.SAME
    assert marks["fp32"].metric("avg_iou").mark is Mark.WORSE
    assert [v.name for v in c.regressions] == ["fp32", "int8"]
    lenient = compare(validate_record(base, "b"), validate_record(cand, "c"), map_threshold=1.0, iou_threshold=0.05)
    assert lenient.regressions == ()


def test_accuracy_on_different_data_is_not_judged():
    base = make_record(seed=1)
    cand = make_record(seed=2)
    cand["data"]["count"] = 30
    cand["variants"][1]["accuracy"]["map50_95"] = 0.1
    c = compare(validate_record(base, "b"), validate_record(cand, "c"))
    assert c.regressions == ()
    assert next(v for v in c.variants if v.name == "int8").metric("map50_95").mark is Mark.NOT_COMPARABLE
    assert any(n.startswith("data differs") for n in c.notes)


def test_status_changes():
    base = _rec(seed=1, failed=("pruned50",), skipped=("trt-fp16", "trt-int8"))
    cand = _rec(seed=2, failed=("int8",), skipped=("trt-fp16",))
    marks = {v.name: v.mark for v in compare(base, cand).variants}
    assert marks == {"fp32": marks["fp32"], "int8": Mark.NEW_FAILURE, "pruned50": Mark.FIXED,
                     "trt-fp16": Mark.SKIPPED, "trt-int8": Mark.REMOVED}
    assert [v.name for v in compare(base, cand).regressions] == ["int8"]


def test_beyond_factor_but_not_significant_is_unsure():
    # six samples each, very noisy: 10 % slower in the median, far from significant
    base = make_record(seed=1)
    cand = make_record(seed=2)
    base["variants"][0]["timing"] = timing_entry({"inference": [10, 20, 10, 20, 10, 20, 15]}, fps=60.0)
    cand["variants"][0]["timing"] = timing_entry({"inference": [11, 22, 11, 22, 11, 22, 16.5]}, fps=60.0)
    fp32 = compare(validate_record(base, "b"), validate_record(cand, "c")).variants[0]
    p50 = fp32.metric("p50_ms")
    assert p50.change == pytest.approx(1.1) and p50.p_value > 0.05 and p50.mark is Mark.UNSURE
    assert fp32.mark is Mark.UNSURE


def test_significant_but_within_factor_is_unsure():
    c = compare(_rec(seed=1), _rec(seed=2, slow={"fp32": 1.03}))
    p50 = c.variants[0].metric("p50_ms")
    assert p50.p_value < 0.05 and p50.change < 1.05 and p50.mark is Mark.UNSURE
    assert c.regressions == ()


def test_without_samples_the_factor_alone_decides():
    c = compare(_rec(seed=1, samples=False), _rec(seed=2, samples=False, slow={"fp32": 1.3}))
    p50 = c.variants[0].metric("p50_ms")
    assert p50.p_value is None and "factor alone" in p50.note and p50.mark is Mark.WORSE


def test_thresholds_are_validated_and_result_is_json_ready():
    a, b = _rec(seed=1), _rec(seed=2)
    for kwargs, where in (({"factor": 0.9}, "--factor"), ({"alpha": 0}, "--alpha"),
                          ({"map_threshold": -1}, "--map-threshold")):
        with pytest.raises(InputError, match=where):
            compare(a, b, **kwargs)
    doc = json.loads(json.dumps(compare(a, b).to_dict()))
    assert doc["regressions"] == [] and doc["variants"][0]["name"] == "fp32"
    assert doc["variants"][0]["metrics"][0]["metric"] == "fps"


def test_mann_whitney_and_pareto():
    assert mann_whitney_p([1.0] * 10, [1.0] * 10) == 1.0
    assert mann_whitney_p([1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]) is None
    assert mann_whitney_p(list(range(50)), [x + 100 for x in range(50)]) < 1e-10
    assert pareto_front([(0.5, 10.0), (0.5, 10.0), (0.4, 5.0)]) == [0, 1]
    assert pareto_front([]) == []


@pytest.mark.parametrize("seed", range(4))
def test_mann_whitney_matches_scipy(seed):
    import numpy as np
    from scipy.stats import mannwhitneyu

    rng = np.random.default_rng(seed)
    for trial in range(150):
        n1 = int(rng.integers(5, 9)) if trial % 3 == 0 else int(rng.integers(5, 60))
        n2 = int(rng.integers(5, 400))
        x = rng.gamma(4, 2, n1)
        y = rng.gamma(4, 2, n2) * rng.uniform(0.8, 1.25)
        if trial % 2:  # clock resolution makes ties common in real latencies
            x, y = np.round(x, 1), np.round(y, 1)
        assert mann_whitney_p(x, y) == pytest.approx(mannwhitneyu(x, y).pvalue, rel=1e-9, abs=1e-300)


def test_a_variant_with_nothing_measured_in_both_runs_makes_no_claim():
    base = make_record(seed=1)
    cand = make_record(seed=2)
    for r in (base, cand):
        r["variants"][0]["timing"] = None
    cand["variants"][0]["accuracy"] = None
    fp32 = compare(validate_record(base, "b"), validate_record(cand, "c")).variants[0]
    assert fp32.mark is Mark.NOT_COMPARABLE and fp32.note == "nothing measured in both runs"
    assert fp32.metric("fps").note == "not measured in base"
