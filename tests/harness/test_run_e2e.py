"""`bench run` end to end on the shipped reference model (small settings: a few images, short timing)."""

import json

import pytest

from harness.cli import main
from results.archive import Archive

FAST = ["--limit", "12", "--min-iters", "5", "--min-seconds", "0.2", "--warmup-max-s", "0.5",
        "--calib-images", "16", "--bootstrap", "50"]


@pytest.fixture(scope="module")
def isolated_cache(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench-cache")
    mp = pytest.MonkeyPatch()
    mp.setenv("BENCH_CACHE", str(root))
    yield root
    mp.undo()


@pytest.mark.slow
def test_default_variants_end_to_end(tmp_path, capsys, isolated_cache):
    archive = tmp_path / "arch"
    out = tmp_path / "out"
    code = main(["run", *FAST, "--archive", str(archive), "--release", "t1", "--out", str(out), "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    record = json.loads(captured.out)
    by = {v["name"]: v for v in record["variants"]}
    assert [v["name"] for v in record["variants"]][0] == "fp32"
    for name in ("fp32", "int8", "pruned30"):
        v = by[name]
        assert v["status"] == "ok", (name, v["reason"], v["error_tail"])
        assert v["timing"]["fps"] > 0 and v["timing"]["end_to_end"]["n"] >= 5
        assert 0.0 < v["accuracy"]["map50_95"] <= 1.0
        assert v["vs_reference"]["reference"] == "fp32"
        assert v["artifact"]["artifact"]["size_bytes"] > 0
    assert by["fp32"]["vs_reference"]["map_drop_points"] == 0.0
    assert by["fp32"]["vs_reference"]["agreement_mean_iou"] == pytest.approx(1.0)
    lo, hi = by["int8"]["vs_reference"]["map_drop_ci95"]
    assert lo <= by["int8"]["vs_reference"]["map_drop_points"] <= hi
    # The CPU profile does not run FP16 fast: skipped, with the reason, and nothing measured.
    assert by["fp16"]["status"] == "skipped" and "fp16" in by["fp16"]["reason"]
    assert by["fp16"]["timing"] is None and by["fp16"]["accuracy"] is None
    # The shipped distilled student and, after it, its teacher (the shipped YOLO11s) at FP32.
    bf16 = ["bf16"] if record["device"]["hardware"]["runtime"]["runtime"] == "openvino" else []  # OpenVINO's default adds it
    assert [v["name"] for v in record["variants"]] == ["fp32", "fp16", *bf16, "int8", "pruned30", "fp32+ft20", "student",
                                                       "teacher"]
    # pruned30 had 20 fine-tune epochs more than fp32: the shipped control (yolo11n-ft20.pt) is scored beside it
    # and pruned30 carries its drop against that equally trained FP32.
    control = by["pruned30"]["vs_models"]["control"]
    assert control["reference"] == "fp32+ft20" and by["fp32+ft20"]["status"] == "ok"
    lo, hi = control["map_drop_ci95"]
    assert lo <= control["map_drop_points"] <= hi
    student, teacher = by["student"], by["teacher"]
    assert student["status"] == "ok" and teacher["status"] == "ok", (student["reason"], teacher["reason"])
    assert student["source_model"]["name"] == "yolo11n-student" and teacher["source_model"]["arch"] == "yolo11s"
    assert teacher["accuracy"]["map50_95"] is not None  # (the 40-epoch teacher no longer beats the 80-epoch fp32)
    assert teacher["timing"]["fps"] > 0 and student["timing"]["fps"] > 0
    vs = student["vs_models"]
    assert vs["plain"]["reference"] == "fp32" and vs["teacher"]["reference"] == "teacher"
    for role in ("plain", "teacher"):
        lo, hi = vs[role]["map_drop_ci95"]
        assert lo <= vs[role]["map_drop_points"] <= hi
    # The teacher is roughly 3.6x the student's weights.
    assert teacher["artifact"]["artifact"]["size_bytes"] > 3 * student["artifact"]["artifact"]["size_bytes"]
    # Power is not measurable here: absent, never 0.
    assert "power" not in (by["fp32"]["telemetry"] or {})
    # The archived record is the printed one.
    runs = Archive(archive).runs()
    assert len(runs) == 1 and runs[0].ok
    assert json.loads(runs[0].path.read_text()) == record
    # Spot-check files.
    assert (out / "fp32-frames.csv").read_text().splitlines()[0] == "frame_id,iou,n_gt,n_pred,tp,fp,fn"
    assert len((out / "fp32-frames.csv").read_text().splitlines()) == 13
    assert (out / "frame-iou.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    n_fp = min(6, len(by["fp32"]["localization"]["top_false_positives"]))
    assert len(list((out / "gallery").glob("fp32-fp*.png"))) == n_fp
    assert len(list((out / "gallery").glob("fp32-worst-*.png"))) == 6
    # Comparing the run with itself finds no regression.
    assert main(["compare", str(runs[0].path), str(runs[0].path)]) == 0


@pytest.mark.slow
def test_video_with_ground_truth(tmp_path, capsys, isolated_cache):
    from harness.data.video import write_synth_video

    video, gt = write_synth_video(tmp_path / "v", n_frames=12)
    out = tmp_path / "out"
    code = main(["run", *FAST, "--variants", "fp32", "--video", str(video), "--gt", str(gt), "--no-archive",
                 "--out", str(out), "--annotate", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    record = json.loads(captured.out)
    assert record["data"]["kind"] == "video" and record["data"]["count"] == 12
    v = record["variants"][0]
    assert v["status"] == "ok" and v["accuracy"]["avg_iou_per_frame"] is not None
    assert v["per_frame_iou"]["n"] == 12
    assert len((out / "fp32-frames.csv").read_text().splitlines()) == 13
    assert (out / "fp32-annotated.mp4").stat().st_size > 0


@pytest.mark.slow
def test_images_without_ground_truth_scores_agreement_only(tmp_path, capsys, isolated_cache):
    from harness.data.synth import write_dataset

    write_dataset(tmp_path / "d", n_train=0, n_val=4)
    code = main(["run", *FAST, "--variants", "fp32", "--images", str(tmp_path / "d" / "images" / "val"),
                 "--no-archive", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    v = json.loads(captured.out)["variants"][0]
    assert v["status"] == "ok" and v["accuracy"] is None
    assert v["vs_reference"]["agreement_mean_iou"] == pytest.approx(1.0)
