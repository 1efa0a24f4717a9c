"""A fast training input pipeline with the guide's transforms: decode little, move uint8, augment in batches.

Introduced in 06_fast_pipeline. Loader workers decode only the frames a clip needs and hand over uint8 clips; the
guide's scale, crop, flip and normalization run once per batch on the device (``VideoBatchTransform``).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from helpers.transforms import frame_size, scale_range
from helpers.video import MAX_FPS, VideoError, frame_rate, no_frames, open_video, quarter_turns, scaled_size, to_rgb

SEEK_AFTER_SECONDS = 1.0  # seek only when a clip starts this far in: before, decoding from the start is as quick


def probe(path: Path) -> tuple[int, float, int, int]:
    """(frames, fps, height, width) of ``path`` from its header and its first frame (upright sizes), counted at
    ``MAX_FPS`` at most, so that a 10,000-fps file's clips take what a 30-fps one's take."""
    with open_video(path) as (container, stream):
        first = next(container.decode(stream), None)
        turns = quarter_turns(first) if first is not None else 0
        fps = frame_rate(stream, path)
        frames = stream.frames
        if not frames and stream.duration and fps:
            frames = round(float(stream.duration * stream.time_base) * fps)
        if not frames and container.duration and fps:
            frames = round(container.duration / av.time_base * fps)
        height, width = stream.codec_context.height, stream.codec_context.width
        if turns % 2:
            height, width = width, height
    if not frames or not height:
        raise VideoError(f"{path}: the header gives no frame count or size (truncated?). Copy it again.")
    if fps > MAX_FPS:
        frames, fps = max(1, round(frames * MAX_FPS / fps)), float(MAX_FPS)
    return int(frames), fps, height, width


def decode_frames(path: Path, indices: list[int], fps: float, size: tuple[int, int] | None = None,
                  seek: bool = True) -> np.ndarray:
    """Decode the frames at ``indices`` (any order, repeats allowed) to (T, H, W, 3) uint8 RGB: seek to the keyframe
    before the first, stop after the last, convert (and resize to ``size``, (height, width)) only the frames kept."""
    first = min(indices)
    pending = sorted(set(indices))
    kept: dict[int, np.ndarray] = {}
    frame = None
    height, width = size or (None, None)
    with open_video(path) as (container, stream):
        start, time_base = stream.start_time or 0, float(stream.time_base)
        seek = seek and first / fps >= SEEK_AFTER_SECONDS
        if seek:
            container.seek(start + int(first / fps / stream.time_base), stream=stream, backward=True)
        index = -1
        for frame in container.decode(stream):
            # after a seek the frame number comes from the timestamp; without one, count
            index = round((frame.pts - start) * time_base * fps) if frame.pts is not None else index + 1
            if seek and index > first:
                # the seek landed past the clip (a bad index in the file): decode from the start instead
                return decode_frames(path, indices, fps, size, seek=False)
            seek = False
            if pending and pending[0] <= index:
                # a frame missing from the stream is stood in for by the next one
                array = to_rgb(frame, height, width)
                while pending and pending[0] <= index:
                    kept[pending.pop(0)] = array
            if not pending:
                break
        if seek:
            # the seek found no frame at all (short MPEG-TS files with one keyframe): decode from the start instead
            return decode_frames(path, indices, fps, size, seek=False)
        if pending and frame is not None:
            # frames past the end (the header over-reported the length) repeat the last one
            array = to_rgb(frame, height, width)
            kept.update(dict.fromkeys(pending, array))
    if frame is None:
        raise no_frames(path)
    return np.stack([kept[i] for i in indices])


def clip_indices(start: int, window: int, num_frames: int) -> list[int]:
    """``num_frames`` frame numbers spread uniformly over ``window`` frames from ``start``, as the guide's
    ``UniformTemporalSubsample`` picks them (linspace, then truncation)."""
    return (start + torch.linspace(0, window - 1, num_frames).long()).tolist()


class FastVideoDataset(torch.utils.data.Dataset):
    """(video path, label) pairs to {"pixel_values": uint8 (T, H, W, 3), "labels": int}, decoding only what a clip
    needs. Training: a random window per video (the guide's "random" sampler); evaluation: every consecutive window
    ("uniform"). ``short_side``: larger frames shrunk while decoded; ``cache_mb``: decoded videos kept per worker."""

    def __init__(self, paths: list[Path], labels: list[int], num_frames: int, clip_duration: float,
                 train: bool = True, short_side: int | None = None, cache_mb: float = 0,
                 shuffle_frames: bool = False):
        if len(paths) != len(labels):
            raise ValueError(f"{len(paths)} paths but {len(labels)} labels")
        self.paths, self.labels = [Path(p) for p in paths], list(labels)
        self.num_frames, self.clip_duration, self.train = num_frames, clip_duration, train
        self.short_side, self.shuffle_frames = short_side, shuffle_frames
        self.cache_bytes, self.cache = cache_mb * 2**20, OrderedDict()
        self.info = [probe(p) for p in self.paths]  # the headers only: quick
        # (video, first frame of the window): one per video when training, every window when evaluating
        self.items = [(v, 0) for v in range(len(self.paths))] if train else [
            (v, k * self.window(v)) for v in range(len(self.paths))
            for k in range(max(1, self.info[v][0] // self.window(v)))
        ]

    def window(self, video: int) -> int:
        """Frames of one clip window in ``video`` (at least one)."""
        return max(1, round(self.clip_duration * self.info[video][1]))

    def __len__(self) -> int:
        return len(self.items)

    @property
    def num_videos(self) -> int:
        """Videos in the dataset (PyTorchVideo's datasets have the same attribute)."""
        return len(self.paths)

    def __getitem__(self, item: int) -> dict:
        video, start = self.items[item]
        frames, fps, height, width = self.info[video]
        # a video shorter than the window: the window is the whole video, as PyTorchVideo does
        window = min(self.window(video), frames)
        if self.train:  # torch's RNG, seeded per worker
            start = int(torch.randint(0, max(0, frames - self.window(video)) + 1, (1,)))
        indices = clip_indices(start, window, self.num_frames)
        if self.shuffle_frames:
            indices = [indices[i] for i in torch.randperm(len(indices)).tolist()]
        size = scaled_size(height, width, self.short_side)
        size = None if size == (height, width) else size
        if self.cache_bytes:
            whole = self.cached(video, frames, fps, size)
            clip = whole[np.minimum(indices, len(whole) - 1)]
        else:
            clip = decode_frames(self.paths[video], indices, fps, size)
        return {"pixel_values": torch.from_numpy(np.ascontiguousarray(clip)), "labels": self.labels[video]}

    def cached(self, video: int, frames: int, fps: float, size) -> np.ndarray:
        """All frames of ``video``, decoded once per worker while they fit in ``cache_mb``."""
        if video in self.cache:
            self.cache.move_to_end(video)
            return self.cache[video]
        whole = decode_frames(self.paths[video], list(range(frames)), fps, size)
        if whole.nbytes <= self.cache_bytes:
            self.cache[video] = whole
            while sum(v.nbytes for v in self.cache.values()) > self.cache_bytes:
                self.cache.popitem(last=False)
        return whole


def collate_uint8(examples: list[dict]) -> dict:
    """Stack uint8 clips into (B, T, H, W, 3) ``pixel_values``; clips of different frame sizes (videos of several
    sizes in one folder) stay a list of (T, H, W, 3) tensors, which ``VideoBatchTransform`` brings to one size."""
    clips = [example["pixel_values"] for example in examples]
    same_size = len({clip.shape for clip in clips}) == 1
    # labels first: the Trainer counts a batch's examples with the first tensor it finds
    return {"labels": torch.tensor([example["labels"] for example in examples]),
            "pixel_values": torch.stack(clips) if same_size else clips}


class VideoBatchTransform(torch.nn.Module):
    """The guide's transforms on a uint8 (B, T, H, W, 3) batch, on its device: float (B, T, 3, size, size).

    Training: random short side scale in ``scale``, random crop, flip with probability ``hflip``, drawn per clip;
    evaluation: an antialiased resize. Normalizing commutes with bilinear resampling, so it runs last, on fewer
    pixels; on the CPU the resampling runs on uint8 (torch's faster kernel), on a GPU in float32."""

    def __init__(self, mean: list[float], std: list[float], size: int, hflip: float = 0.5,
                 scale: tuple[int, int] | None = None):
        super().__init__()
        self.size, self.hflip = size, hflip
        self.scale = scale or scale_range(size)
        std_ = torch.tensor(std, dtype=torch.float32).view(1, 1, 3, 1, 1)
        # (x / 255 - mean) / std as one multiply-subtract
        self.register_buffer("gain", 1 / (255 * std_), persistent=False)
        self.register_buffer("shift", torch.tensor(mean).view(1, 1, 3, 1, 1) / std_, persistent=False)

    @classmethod
    def from_processor(cls, image_processor, hflip: float = 0.5) -> VideoBatchTransform:
        """Mean, std and size from the image processor, as ``helpers.transforms.build_transforms`` reads them."""
        return cls(image_processor.image_mean, image_processor.image_std, frame_size(image_processor), hflip)

    def forward(self, frames: torch.Tensor | list[torch.Tensor], train: bool | None = None) -> torch.Tensor:
        if isinstance(frames, (list, tuple)):  # clips of different sizes: one at a time, then stacked
            return torch.cat([self(clip.unsqueeze(0), train) for clip in frames])
        if frames.dtype != torch.uint8 or frames.dim() != 5 or frames.shape[-1] != 3:
            raise ValueError(f"expected uint8 (B, T, H, W, 3) frames, got {frames.dtype} {tuple(frames.shape)}")
        train = self.training if train is None else train
        # (B, T, 3, H, W) as a view: channels-last memory, the layout torch's fast uint8 resize wants
        video = frames.permute(0, 1, 4, 2, 3)
        if video.device.type != "cpu":
            video = video.float()
        out = self.augment(video) if train else self.resize(video)
        out = out.to(self.gain.device, torch.float32, memory_format=torch.contiguous_format)
        return out.mul_(self.gain).sub_(self.shift)

    def resize(self, video: torch.Tensor) -> torch.Tensor:
        """Every frame to size x size at once."""
        b, t, c, h, w = video.shape
        out = F.interpolate(video.reshape(b * t, c, h, w), size=(self.size, self.size), mode="bilinear",
                            align_corners=False, antialias=True)
        return out.reshape(b, t, c, self.size, self.size)

    def augment(self, video: torch.Tensor) -> torch.Tensor:
        """Per clip: random short side scale, random crop, random flip (sizes differ, so one resize per clip)."""
        clips = []
        for clip in video:
            h, w = clip.shape[-2:]
            side = int(torch.randint(self.scale[0], self.scale[1] + 1, (1,)))
            # PyTorchVideo's short_side_scale: the short side becomes `side`, the other keeps the aspect (floored)
            new_h, new_w = (int(math.floor(h / w * side)), side) if w < h else (side, int(math.floor(w / h * side)))
            scaled = F.interpolate(clip, size=(new_h, new_w), mode="bilinear", align_corners=False)
            if new_h < self.size or new_w < self.size:
                raise ValueError(f"a {new_h}x{new_w} clip cannot be cropped to {self.size}: raise the scale range")
            top = int(torch.randint(0, new_h - self.size + 1, (1,)))
            left = int(torch.randint(0, new_w - self.size + 1, (1,)))
            crop = scaled[..., top:top + self.size, left:left + self.size]
            if torch.rand(1).item() < self.hflip:
                crop = crop.flip(-1)
            clips.append(crop)
        return torch.stack(clips)
