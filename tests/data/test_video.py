import numpy as np
import pytest

from harness.data.video import load_video, read_gt_csv, write_synth_video
from common.errors import InputError


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    out = tmp_path_factory.mktemp("video")
    return write_synth_video(out, seed=1, n_frames=40)


def test_reads_back_frame_for_frame(clip):
    video, gt = clip
    src = load_video(video, gt, n_classes=6)
    assert src.n_frames == 40
    frames = list(src.frames())
    assert len(frames) == 40 and frames[0].shape == (288, 384, 3)
    assert len(src.truth) == 40
    rows = [line for line in gt.read_text().splitlines()[1:] if line]
    assert sum(len(t.classes) for t in src.truth) == len(rows)
    # Every GT box lies inside the frame.
    for t in src.truth:
        assert np.all(t.boxes[:, :2] >= 0) and np.all(t.boxes[:, 2] <= 384 + 1e-6) and np.all(t.boxes[:, 3] <= 288 + 1e-6)


def test_objects_enter_and_leave(clip):
    video, gt = clip
    src = load_video(video, gt)
    counts = [len(t.classes) for t in src.truth]
    assert min(counts) < max(counts)


@pytest.mark.parametrize(
    "row, message",
    [
        ("1,1,10,10,5", "7 columns"),
        ("1,1,10,10,5,5,a", "integers"),
        ("1,1,10,10,-5,5,0", "positive w,h"),
        ("41,1,10,10,5,5,0", "frame number in 1..40"),
        ("0,1,10,10,5,5,0", "frame number"),
        ("1,1,10,10,5,5,9", "class index in 0..5"),
    ],
)
def test_broken_csv_rows(tmp_path, clip, row, message):
    video, _ = clip
    gt = tmp_path / "gt.csv"
    gt.write_text("frame,track_id,x,y,w,h,class\n1,1,1,1,4,4,0\n" + row + "\n")
    with pytest.raises(InputError, match=message) as err:
        load_video(video, gt, n_classes=6)
    assert f"{gt} line 3" in str(err.value)


def test_unreadable_video(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(InputError, match="bad.mp4"):
        load_video(bad)
    with pytest.raises(InputError, match="no such file"):
        load_video(tmp_path / "none.mp4")


def test_csv_without_frame_count(tmp_path):
    gt = tmp_path / "gt.csv"
    gt.write_text("3,1,1,1,4,4,0\n3,2,5,5,4,4,1\n")
    rows = read_gt_csv(gt)
    assert list(rows) == [3] and len(rows[3]) == 2
