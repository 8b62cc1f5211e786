"""`bench run` bad input: one line on stderr, exit 2, nothing written."""

import pytest

from harness.cli import main


def _run(capsys, *argv):
    code = main(["run", *argv])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--model", "nope.pt"], "no such file"),
        (["--model", "model.txt"], "a .pt or .onnx model"),
        (["--conf", "1.5"], "--conf"),
        (["--limit", "0"], "--limit"),
        (["--gt", "x.csv"], "--gt together with --video"),
        (["--coco", "a.json"], "--images"),
        (["--data", "d.yaml", "--video", "v.mp4"], "one of --data"),
        (["--calib-data", "missing.yaml"], "missing.yaml"),
    ],
)
def test_argument_errors(tmp_path, capsys, monkeypatch, argv, needle):
    monkeypatch.chdir(tmp_path)
    code, err = _run(capsys, *argv, "--archive", str(tmp_path / "arch"))
    assert code == 2
    assert len(err) == 1 and err[0].startswith("bench: error:") and needle in err[0]
    assert not (tmp_path / "arch").exists()


def test_jetson_here_is_a_clear_error(tmp_path, capsys):
    code, err = _run(capsys, "--device", "jetson", "--archive", str(tmp_path / "arch"))
    assert code == 2 and len(err) == 1 and "jetson" in err[0].lower()
    assert not (tmp_path / "arch").exists()


def test_bad_release_name(tmp_path, capsys):
    code, err = _run(capsys, "--release", "../x", "--archive", str(tmp_path / "arch"))
    assert code == 2 and len(err) == 1 and "--release" in err[0]


def test_unreadable_video_and_broken_gt(tmp_path, capsys):
    from harness.data.video import write_synth_video

    video = tmp_path / "bad.mp4"
    video.write_bytes(b"\0" * 64)
    code, err = _run(capsys, "--video", str(video), "--no-archive")
    assert code == 2 and len(err) == 1 and "bad.mp4" in err[0]
    good, _ = write_synth_video(tmp_path / "v", n_frames=5)
    gt = tmp_path / "gt.csv"
    gt.write_text("1,1,2,2,5,5,0\n2,1,2,2,5\n")
    code, err = _run(capsys, "--video", str(good), "--gt", str(gt), "--no-archive")
    assert code == 2 and len(err) == 1 and f"{gt} line 2" in err[0]


def test_unknown_variant_lists_valid_ones(tmp_path, capsys):
    code, err = _run(capsys, "--variants", "fp32,int4", "--no-archive", "--limit", "1")
    assert code == 2 and len(err) == 1 and "int4" in err[0] and "pruned" in err[0]


def test_class_count_mismatch(tmp_path, capsys):
    from harness.data.synth import write_dataset

    write_dataset(tmp_path / "d", n_train=0, n_val=2)
    yaml = tmp_path / "d" / "data.yaml"
    yaml.write_text(yaml.read_text().replace("  5: cross\n", ""))  # 5 classes in the data, 6 in the model
    code, err = _run(capsys, "--data", str(yaml), "--no-archive")
    assert code == 2 and len(err) == 1 and "6 classes" in err[0] and str(yaml) in err[0]
