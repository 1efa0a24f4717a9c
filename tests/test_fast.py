import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision.transforms.functional as TF

from helpers.fast import (
    FastVideoDataset,
    VideoBatchTransform,
    clip_indices,
    collate_uint8,
    decode_frames,
)
from helpers.video import VideoError, write_video

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
FPS, FRAMES, HEIGHT, WIDTH = 25, 100, 64, 96
# 8 frames over 32 frames (1.28 s at 25 fps): a 4 s video holds 3 such windows
NUM_FRAMES, CLIP_SECONDS = 8, 32 / FPS


def ramp(frames: int = FRAMES) -> np.ndarray:
    """Flat grey frames whose brightness is twice the frame number: the brightness tells which frame it is."""
    return np.broadcast_to((2 * np.arange(frames, dtype=np.uint8))[:, None, None, None],
                           (frames, HEIGHT, WIDTH, 3)).copy()


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("fast")
    paths = [root / "a.avi", root / "b.avi"]
    for path in paths:
        write_video(path, ramp(), fps=FPS)
    return paths


def frame_numbers(clip: torch.Tensor) -> np.ndarray:
    """The frame number each frame of a ramp clip shows."""
    return clip.float().mean(dim=(1, 2, 3)).numpy() / 2


def test_train_items_are_uint8_clips_with_their_labels(videos):
    dataset = FastVideoDataset(videos, [3, 5], NUM_FRAMES, CLIP_SECONDS, train=True)
    assert len(dataset) == 2
    item = dataset[1]
    assert item["pixel_values"].shape == (NUM_FRAMES, HEIGHT, WIDTH, 3)
    assert item["pixel_values"].dtype == torch.uint8
    assert item["labels"] == 5


def test_eval_items_are_consecutive_windows_in_frame_order(videos):
    dataset = FastVideoDataset(videos[:1], [0], NUM_FRAMES, CLIP_SECONDS, train=False)
    assert len(dataset) == FRAMES // 32
    for k in range(len(dataset)):
        # windows after the first start past SEEK_AFTER_SECONDS: this checks the seek lands on the right frames
        expected = clip_indices(32 * k, 32, NUM_FRAMES)
        np.testing.assert_allclose(frame_numbers(dataset[k]["pixel_values"]), expected, atol=1.5)


def test_random_train_clips_keep_the_frame_order(videos):
    dataset = FastVideoDataset(videos[:1], [0], NUM_FRAMES, CLIP_SECONDS, train=True)
    torch.manual_seed(0)
    for _ in range(5):
        shown = frame_numbers(dataset[0]["pixel_values"])
        assert np.all(np.diff(shown) > 2), shown  # increasing, about 32 / 7 frames apart
        assert shown[-1] - shown[0] == pytest.approx(31, abs=1.5)


def test_decode_frames_repeats_and_clamps_indices(videos):
    frames = decode_frames(videos[0], [10, 10, 60, 500], FPS)
    np.testing.assert_allclose(frame_numbers(torch.from_numpy(frames)), [10, 10, 60, FRAMES - 1], atol=1.5)


def test_short_side_shrinks_in_uint8(videos):
    dataset = FastVideoDataset(videos[:1], [0], NUM_FRAMES, CLIP_SECONDS, train=True, short_side=32)
    assert dataset[0]["pixel_values"].shape == (NUM_FRAMES, 32, 48, 3)


def test_cache_gives_the_same_clips_and_collate_stacks_them(videos):
    plain = FastVideoDataset(videos, [0, 1], NUM_FRAMES, CLIP_SECONDS, train=False)
    cached = FastVideoDataset(videos, [0, 1], NUM_FRAMES, CLIP_SECONDS, train=False, cache_mb=10)
    for k in range(len(plain)):
        assert torch.equal(plain[k]["pixel_values"], cached[k]["pixel_values"])
    assert len(cached.cache) == 2
    training = FastVideoDataset(videos, [0, 1], NUM_FRAMES, CLIP_SECONDS, train=True)
    batch = collate_uint8([training[0], training[1]])
    assert batch["pixel_values"].shape == (2, NUM_FRAMES, HEIGHT, WIDTH, 3)
    assert batch["labels"].tolist() == [0, 1]


@pytest.mark.parametrize("content", [b"", b"this is not a video" * 100])
def test_undecodable_file_raises_an_error_naming_it(tmp_path, content):
    bad = tmp_path / "v_Broken_g01_c01.avi"
    bad.write_bytes(content)
    with pytest.raises(VideoError, match="v_Broken_g01_c01.avi"):
        FastVideoDataset([bad], [0], NUM_FRAMES, CLIP_SECONDS)


def random_frames(batch: int = 2, frames: int = 4, height: int = 48, width: int = 64) -> torch.Tensor:
    return torch.randint(0, 256, (batch, frames, height, width, 3), dtype=torch.uint8, generator=torch.Generator())


def test_eval_transform_equals_normalize_then_resize():
    frames = random_frames()
    out = VideoBatchTransform(MEAN, STD, 32).eval()(frames)
    assert out.shape == (2, 4, 3, 32, 32) and out.dtype == torch.float32
    # the guide's order, computed independently: /255, Normalize, torchvision's Resize
    video = frames.permute(0, 1, 4, 2, 3).float() / 255
    video = (video - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)
    expected = torch.stack([TF.resize(clip, [32, 32], antialias=True) for clip in video])
    # uint8 resampling on the CPU: at most about one grey level, 1 / 255 / 0.225 = 0.017 after normalizing
    torch.testing.assert_close(out, expected, atol=0.02, rtol=0)


def test_train_transform_without_scaling_is_normalize_and_flip():
    frames = random_frames(height=32, width=32)
    # short side 32 -> 32 and a 32x32 crop: only the normalization and the (certain) flip remain
    out = VideoBatchTransform(MEAN, STD, 32, hflip=1.0, scale=(32, 32))(frames, train=True)
    video = frames.permute(0, 1, 4, 2, 3).float() / 255
    expected = ((video - torch.tensor(MEAN).view(3, 1, 1)) / torch.tensor(STD).view(3, 1, 1)).flip(-1)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=0)


def test_train_transform_shape_and_range():
    transform = VideoBatchTransform(MEAN, STD, 32)
    assert transform.scale == (37, 46)  # the guide's 256-320 for 224, scaled
    out = transform.train()(random_frames())
    assert out.shape == (2, 4, 3, 32, 32) and out.is_contiguous()
    low = (0 - torch.tensor(MEAN)) / torch.tensor(STD)
    high = (1 - torch.tensor(MEAN)) / torch.tensor(STD)
    per_channel = out.transpose(0, 2).reshape(3, -1)
    assert torch.all(per_channel.min(1).values >= low - 1e-4) and torch.all(per_channel.max(1).values <= high + 1e-4)
    assert not torch.equal(out, transform.eval()(random_frames()))


def test_trainer_transforms_uint8_batches_by_model_mode(tmp_path):
    from transformers import TrainingArguments, VideoMAEConfig, VideoMAEForVideoClassification

    from helpers.train import VideoTrainer

    config = VideoMAEConfig(image_size=32, num_frames=4, patch_size=16, hidden_size=32, num_hidden_layers=1,
                            num_attention_heads=2, intermediate_size=64, num_labels=2)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none",
                             remove_unused_columns=False, max_steps=1, per_device_train_batch_size=2)
    dataset = [{"pixel_values": random_frames(1)[0], "labels": i % 2} for i in range(2)]
    trainer = VideoTrainer(model=VideoMAEForVideoClassification(config), args=args, train_dataset=dataset,
                           data_collator=collate_uint8, video_transform=VideoBatchTransform(MEAN, STD, 32))
    trainer.model.eval()
    inputs = trainer._prepare_inputs(collate_uint8(dataset))
    assert inputs["pixel_values"].shape == (2, 4, 3, 32, 32)
    assert torch.equal(inputs["pixel_values"], trainer.video_transform.eval()(collate_uint8(dataset)["pixel_values"]))
    assert trainer.train().global_step == 1


def test_benchmark_modules_import_and_the_data_benchmark_prints_a_ratio():
    import benchmarks.data
    import benchmarks.memory
    import benchmarks.train  # noqa: F401

    run = subprocess.run(
        [sys.executable, "-m", "benchmarks.data", "--files", "2", "--seconds", "3", "--clips", "8", "--workers", "0",
         "--warmup", "1"], capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stderr
    last = run.stdout.strip().splitlines()[-1]
    assert last.startswith("fast / guide:") and last.endswith("x"), run.stdout


def test_clips_of_different_sizes_travel_as_a_list_and_come_out_as_one_batch():
    examples = [{"pixel_values": random_frames(1, height=h, width=w)[0], "labels": i}
                for i, (h, w) in enumerate([(48, 64), (64, 48), (61, 97)])]
    batch = collate_uint8(examples)
    assert isinstance(batch["pixel_values"], list) and batch["labels"].tolist() == [0, 1, 2]
    transform = VideoBatchTransform(MEAN, STD, 32)
    for train in (True, False):
        out = transform(batch["pixel_values"], train=train)
        assert out.shape == (3, 4, 3, 32, 32)
    # one by one, the same as each clip alone
    alone = transform(examples[2]["pixel_values"].unsqueeze(0), train=False)
    torch.testing.assert_close(transform(batch["pixel_values"], train=False)[2:], alone)


def test_forked_loader_workers_decode_after_the_parent_did(tmp_path):
    # swscale keeps worker threads in its context: a context inherited through fork() would wait for them forever
    videos = []
    for i, (height, width) in enumerate([(240, 320), (61, 97), (320, 240)]):
        videos.append(tmp_path / f"v_{i}.avi")
        write_video(videos[-1], np.random.default_rng(i).integers(0, 255, (40, height, width, 3), dtype=np.uint8))
    dataset = FastVideoDataset(videos, [0, 1, 2], NUM_FRAMES, CLIP_SECONDS, train=False, short_side=120)
    for item in dataset:  # the parent decodes and converts first, every size
        assert item["pixel_values"].dtype == torch.uint8
    loader = torch.utils.data.DataLoader(dataset, batch_size=1, num_workers=2, timeout=60,
                                         multiprocessing_context="fork", collate_fn=collate_uint8)
    assert len(list(loader)) == len(dataset)
