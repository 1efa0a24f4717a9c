import json
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from helpers.video import VideoError, read_frames, video_info
from helpers.viz import save_gif, side_by_side

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def test_gif_has_every_frame_at_the_right_size(tmp_path):
    frames = np.random.default_rng(0).integers(0, 255, (7, 20, 30, 3), dtype=np.uint8)
    path = save_gif(frames, tmp_path / "clip.gif", fps=5, scale=2)
    gif = iio.imread(path, index=None)
    assert gif.shape[:3] == (7, 40, 60)


def test_side_by_side_keeps_frame_count_and_adds_widths():
    a, b = np.zeros((5, 10, 12, 3), np.uint8), np.zeros((5, 10, 8, 3), np.uint8)
    assert side_by_side(a, b, gap=2).shape == (5, 10, 22, 3)


@pytest.mark.parametrize("content,message", [(b"", "empty"), (b"hello, not a video", "cannot be decoded")])
def test_unreadable_files_get_a_message_naming_them(tmp_path, content, message):
    path = tmp_path / "clip.avi"
    path.write_bytes(content)
    for read in (video_info, read_frames):
        with pytest.raises(VideoError, match=message) as err:
            read(path)
        assert str(path) in str(err.value)


def test_a_missing_video_is_named(tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        read_frames(tmp_path / "missing.avi")


def test_reading_chosen_frames_returns_them_in_order(tiny_dataset):
    path = next(tiny_dataset.glob("train/*/*.avi"))
    every = read_frames(path)
    some = read_frames(path, [5, 0, 5])
    assert np.array_equal(some, every[[5, 0, 5]])


def test_every_notebook_has_a_parameters_cell_reading_the_preset():
    for path in sorted(NOTEBOOKS.glob("*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tagged) == 1, path.name
        assert 'os.environ.get("PRESET"' in "".join(tagged[0]["source"]), path.name
