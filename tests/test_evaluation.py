"""The per-video evaluation scores the distinct clips a video has: a video shorter than one clip is one clip, not
the same clip five times, and the counts it reports say so."""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from transformers import VideoMAEImageProcessor

from helpers.config import get_preset
from helpers.evaluation import clip_frame_indices, evaluate_videos, views
from helpers.video import write_video


class CountViews(torch.nn.Module):
    """A stand-in model for ``evaluate_videos``: records how many views each video sent, scores two classes."""

    def __init__(self, image_size: int):
        super().__init__()
        self.config, self.views = SimpleNamespace(image_size=image_size), []
        self.device, self.dtype = torch.device("cpu"), torch.float32

    def forward(self, pixel_values):
        self.views.append(len(pixel_values))
        return SimpleNamespace(logits=torch.zeros(len(pixel_values), 2))


def test_a_video_shorter_than_one_clip_is_one_clip_and_a_long_one_has_all_it_was_asked():
    preset = get_preset("smoke")
    span = round(preset.clip_duration * 25)
    assert clip_frame_indices(span - 5, 25, preset, 5) == [np.linspace(0, span - 6, preset.num_frames).round()
                                                           .astype(int).tolist()]
    assert len(clip_frame_indices(span + 2, 25, preset, 5)) == 3  # only 3 distinct first frames: 0, 1, 2
    long = clip_frame_indices(4 * span, 25, preset, 5)
    assert len(long) == 5 and long[0][0] == 0 and long[-1][-1] == 4 * span - 1


def test_the_evaluation_reports_the_clips_each_video_had(tmp_path):
    preset = get_preset("smoke")
    rng = np.random.default_rng(0)
    paths = []
    for name, frames in (("short", 10), ("long", 100)):
        paths.append(tmp_path / f"{name}.avi")
        write_video(paths[-1], rng.integers(0, 255, (frames, 48, 64, 3), np.uint8), fps=25)
    processor = VideoMAEImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    model = CountViews(32)
    result = evaluate_videos(model, processor, paths, [0, 1], preset, num_clips=5, num_crops=3, progress=False)
    assert model.views == [3, 15] and result["clips_per_video"] == [1, 5]
    assert result["views"] == views(result) == ("1 to 5 x 3 (5 x 3 asked: 1 of 2 videos are too short for 5 "
                                                "distinct clips)")
    result = evaluate_videos(model, processor, paths[1:], [1], preset, num_clips=5, num_crops=3, progress=False)
    assert result["views"] == "5 x 3"


def test_tqdm_disable_turns_off_the_test_videos_bar(tmp_path):
    """``TQDM_DISABLE=1`` (which tqdm reads as a default, so an explicit ``disable=False`` overrides it) hides the
    bar of the script's per-video evaluation, as it hides every other bar."""
    import os
    import subprocess
    import sys

    path = tmp_path / "clip.avi"
    write_video(path, np.zeros((20, 48, 64, 3), np.uint8), fps=25)
    script = f"""
import sys
sys.path.insert(0, {str(Path(__file__).parent)!r})
from test_evaluation import CountViews, evaluate_videos, get_preset, VideoMAEImageProcessor
processor = VideoMAEImageProcessor(size={{"shortest_edge": 32}}, crop_size={{"height": 32, "width": 32}})
evaluate_videos(CountViews(32), processor, [{str(path)!r}], [0], get_preset("smoke"), num_clips=1, num_crops=1)
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "TQDM_DISABLE": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "test videos" not in run.stderr


def test_scoring_several_videos_per_forward_pass_gives_each_video_its_own_scores(tmp_path):
    """Notebook 04's comparison scores the test videos' views in batches that mix videos
    (``view_probabilities``): each video must get the mean of its own views, as when it is scored alone."""
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    from helpers.evaluation import video_scores, video_views, view_probabilities

    preset = get_preset("smoke")
    rng = np.random.default_rng(1)
    paths = []
    for k, frames in enumerate((10, 100, 40, 100, 12)):  # 1 to 5 clips each
        paths.append(tmp_path / f"video{k}.avi")
        write_video(paths[-1], rng.integers(0, 255, (frames, 48, 64, 3), np.uint8), fps=25)
    processor = VideoMAEImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    torch.manual_seed(0)
    model = VideoMAEForVideoClassification(VideoMAEConfig(
        image_size=32, patch_size=16, num_frames=preset.num_frames, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64, num_labels=3)).eval()
    alone = np.stack([video_scores(model, processor, path, preset, 5, 3)[0] for path in paths])
    views_of = [video_views(processor, path, preset, 5, 3, 32) for path in paths]
    assert len({len(v) for v in views_of}) >= 2  # videos of different view counts share batches
    for batch_views in (1, 16, 40, 1000):
        together = view_probabilities(model, views_of, batch_views=batch_views)
        assert together.shape == alone.shape
        np.testing.assert_allclose(together, alone, atol=1e-6)
    assert not np.allclose(alone[0], alone[1])  # the videos do differ: a mix-up would show
