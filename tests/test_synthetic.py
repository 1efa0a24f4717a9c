from collections import Counter

import numpy as np
import pytest

from helpers.data import class_names, list_videos, parse_name
from helpers.synthetic import FPS, HEIGHT, WIDTH, generate, make_clip, plan
from helpers.video import read_frames, video_info


def test_layout_matches_ucf101(tiny_preset, tiny_dataset):
    videos = list_videos(tiny_dataset)
    rows = plan(tiny_preset)
    assert sum(len(v) for v in videos.values()) == len(rows)
    assert class_names(tiny_dataset) == sorted(["MoveRight", "MoveLeft", "MoveDown", "MoveUp"])
    for split, paths in videos.items():
        for path in paths:
            label, group, clip = parse_name(path)
            assert path.suffix == ".avi" and path.parent.name == label and path.parent.parent.name == split
    counts = Counter(path.parent.name for path in videos["train"])
    assert set(counts.values()) == {tiny_preset.train_groups * tiny_preset.clips_per_group}


def test_files_are_mpeg4_avi_160x120_at_25_fps_of_varied_length(tiny_dataset):
    infos = [video_info(p) for p in sorted(tiny_dataset.glob("*/*/*.avi"))]
    assert {(i["width"], i["height"]) for i in infos} == {(WIDTH, HEIGHT)} == {(160, 120)}
    assert {round(i["fps"]) for i in infos} == {FPS}
    assert len({i["frames"] for i in infos}) > 3
    import av

    with av.open(str(next(tiny_dataset.glob("train/*/*.avi")))) as container:
        assert container.streams.video[0].codec_context.name == "mpeg4"


def test_groups_never_cross_splits_and_hold_several_clips(tiny_preset, tiny_dataset):
    videos = list_videos(tiny_dataset)
    split_of = {}
    for split, paths in videos.items():
        for path in paths:
            assert split_of.setdefault(parse_name(path)[:2], split) == split, f"{path}: its group is in two splits"
    per_group = {}
    for path in videos["train"]:
        label, group, _ = parse_name(path)
        per_group[(label, group)] = per_group.get((label, group), 0) + 1
    assert set(per_group.values()) == {tiny_preset.clips_per_group}


def test_generation_is_deterministic(tiny_preset, tiny_dataset, tmp_path):
    again = generate(tiny_preset, tmp_path / "again")
    first = sorted(tiny_dataset.glob("*/*/*.avi"))[:3]
    for path in first:
        other = again / path.relative_to(tiny_dataset)
        assert np.array_equal(read_frames(path), read_frames(other))


def test_twins_are_the_same_motion_reversed_in_time():
    forward = make_clip("Grow", 20, np.random.default_rng(5))
    backward = make_clip("Shrink", 20, np.random.default_rng(5))
    assert np.array_equal(forward[::-1], backward)
    assert not np.array_equal(forward, backward)


def test_an_existing_complete_dataset_is_reused(tiny_preset, tiny_dataset):
    marker = (tiny_dataset / ".complete").stat().st_mtime
    generate(tiny_preset, tiny_dataset)
    assert (tiny_dataset / ".complete").stat().st_mtime == marker


def test_a_dataset_made_with_other_settings_is_made_again_and_nothing_else_goes(tiny_preset, tmp_path):
    import dataclasses

    root = generate(dataclasses.replace(tiny_preset, min_seconds=0.5, max_seconds=0.6), tmp_path / "data")
    short = video_info(sorted(root.glob("train/*/*.avi"))[0])["seconds"]
    generate(tiny_preset, root)  # longer videos now: the old ones must not be reused
    longer = video_info(sorted(root.glob("train/*/*.avi"))[0])["seconds"]
    assert short <= 0.6 < tiny_preset.min_seconds <= longer
    (root / "train" / "MoveLeft" / "mine.mp4").write_bytes(b"a video of my own")
    with pytest.raises(FileExistsError, match="mine.mp4"):
        generate(dataclasses.replace(tiny_preset, min_seconds=0.5, max_seconds=0.6), root)
    assert (root / "train" / "MoveLeft" / "mine.mp4").exists()


def bar_x(frames: np.ndarray) -> np.ndarray:
    """The x of the bar's centre in every frame (the bar is light, the background dark)."""
    light = frames.astype(int).sum(-1) > 480
    columns = np.arange(frames.shape[2])
    return np.array([(light[i].sum(0) * columns).sum() / max(1, light[i].sum()) for i in range(len(frames))])


@pytest.mark.parametrize("seed", range(5))
def test_a_long_video_moves_one_way_as_fast_as_a_short_one(seed):
    """A long video (3 s here; the cpu preset's last 1.5-2 s, over a training clip): within a clip anywhere in one,
    the bar must travel about as far as in a whole short video, always the same way (it leaves the frame on one side and
    comes back on the other), and slowly enough that frames spread over the whole video (the pipeline's sampling,
    every ninth frame or so) cannot mistake the direction (under half a lap per step)."""
    long = make_clip("MoveRight", 75, np.random.default_rng(seed))
    x = bar_x(long)
    whole = long.astype(int).sum(-1) > 480
    # the whole bar in sight: its full area, not touching the left or right edge (where it wraps around)
    visible = (whole.sum((1, 2)) > 0.95 * whole.sum((1, 2)).max()) & ~whole[:, :, [0, -1]].any((1, 2))
    steps = np.diff(x)[visible[1:] & visible[:-1]]
    assert len(steps) > 20 and np.all(steps > 0)
    clip = 27  # frames of one training clip: 8 frames x sample rate 4 / 30 fps = 1.07 s at 25 fps
    assert np.median(steps) * clip > 0.3 * WIDTH
    assert np.median(steps) * 75 / 8 < 0.5 * WIDTH  # the frame wraps around: a lap is one width
    short = bar_x(make_clip("MoveRight", 20, np.random.default_rng(seed)))  # 0.8 s, the longest short video
    assert np.all(np.diff(short) > 0)  # one motion, in the frame, never wrapping
    assert short[-1] - short[0] > 0.3 * WIDTH
    left = bar_x(make_clip("MoveLeft", 75, np.random.default_rng(seed)))
    assert np.all(np.diff(left)[visible[::-1][1:] & visible[::-1][:-1]] < 0)


@pytest.mark.parametrize(("frames", "expected"), [
    (45, "28494c4ee17d9e9748d488c78251002a5dee2766f99113daff5795eec580d76f"),  # 1.8 s: the cpu preset's 1.5-2 s
    (18, "078e9159676508d641941f918ba8b6ba0010be921213cc378ffa9587d3cfe120"),  # 0.72 s: its earlier 0.64-0.8 s
])
def test_videos_are_the_ones_the_learning_figures_were_measured_on(frames, expected):
    """The cpu preset's videos (1.5-2 s of 160x120), and short ones, stay pixel for pixel what the figures in
    benchmarks/RESULTS.md were measured on. A new drawing changes the datasets' fingerprint (``plan_signature``), so
    they are remade, and the figures are measured again."""
    import hashlib

    digest = hashlib.sha256()
    for name in ["MoveRight", "Shrink", "RotateCounterclockwise", "MoveUp"]:
        digest.update(make_clip(name, frames, np.random.default_rng([0, 3])).tobytes())
    assert digest.hexdigest() == expected
