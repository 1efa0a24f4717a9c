"""Per-video evaluation, the VideoMAE protocol: several clips x several crops per video, scores averaged.

Introduced in 04_train (test accuracy per video) and used in 05_inference.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from helpers.config import Preset
from helpers.transforms import ShortSideScale
from helpers.video import KEEP_SHORT_SIDE, read_frames, video_info


def clip_frame_indices(total_frames: int, fps: float, preset: Preset, num_clips: int) -> list[list[int]]:
    """Frame indices of up to ``num_clips`` uniformly spaced clips of ``preset.num_frames`` frames over
    ``preset.clip_duration`` seconds; clips that would start on the same frame are taken once (a short video)."""
    span = max(1, min(total_frames, round(preset.clip_duration * fps)))
    starts = dict.fromkeys(np.linspace(0, total_frames - span, num_clips).round().astype(int).tolist())
    return [np.linspace(s, s + span - 1, preset.num_frames).round().astype(int).tolist() for s in starts]


def spatial_views(clip: torch.Tensor, size: int, num_crops: int) -> list[torch.Tensor]:
    """1 crop: the whole frame resized to a square (as the val transform). 3 crops: short side to ``size``,
    then left/centre/right (or top/middle/bottom) squares."""
    if num_crops == 1:
        return [torch.nn.functional.interpolate(clip, size=(size, size), mode="bilinear", align_corners=False)]
    scaled = ShortSideScale(size)(clip)
    height, width = scaled.shape[-2:]
    if width >= height:
        offsets = np.linspace(0, width - size, num_crops).round().astype(int)
        return [scaled[..., :size, o:o + size] for o in offsets]
    offsets = np.linspace(0, height - size, num_crops).round().astype(int)
    return [scaled[..., o:o + size, :size] for o in offsets]


def video_views(image_processor, path: Path, preset: Preset, num_clips: int, num_crops: int, size: int,
                shuffle_frames: bool = False) -> torch.Tensor:
    """One video's views, (clips x crops, frames, 3, size, size), normalized as the image processor does;
    ``shuffle_frames``: each clip's frames in a random order (notebook 04's control run)."""
    info = video_info(path)
    indices = clip_frame_indices(info["frames"], info["fps"], preset, num_clips)
    wanted = sorted({i for clip in indices for i in clip})  # clips may overlap: decode each frame once
    # large frames (4K) shrunk as they are decoded, to what the views need: memory stays bounded
    frames = read_frames(path, wanted, short_side=max(size, KEEP_SHORT_SIDE))
    position = {index: row for row, index in enumerate(wanted)}
    mean = torch.tensor(image_processor.image_mean).view(3, 1, 1, 1)
    std = torch.tensor(image_processor.image_std).view(3, 1, 1, 1)
    views = []
    rng = np.random.default_rng(preset.seed)
    for clip_indices in indices:
        if shuffle_frames:
            clip_indices = list(rng.permutation(clip_indices))
        clip = torch.from_numpy(frames[[position[i] for i in clip_indices]]).permute(3, 0, 1, 2).float()
        clip = (clip / 255.0 - mean) / std  # (C, T, H, W), as PyTorchVideo gives it
        views += spatial_views(clip, size, num_crops)
    return torch.stack([v.permute(1, 0, 2, 3) for v in views])


@torch.no_grad()
def view_probabilities(model, views: list[torch.Tensor], batch_views: int = 40) -> np.ndarray:
    """Class probabilities per video, the softmax of its views averaged; up to ``batch_views`` views (or one
    video's) go through the model at once."""
    probabilities, start = [], 0
    while start < len(views):
        stop = start + 1
        while stop < len(views) and sum(len(v) for v in views[start:stop + 1]) <= batch_views:
            stop += 1
        chunk = views[start:stop]
        pixel_values = torch.cat(chunk).to(model.device, model.dtype)
        scores = model(pixel_values=pixel_values).logits.float().softmax(-1).cpu()
        probabilities += [video.mean(0).numpy() for video in scores.split([len(v) for v in chunk])]
        start = stop
    return np.stack(probabilities)


def video_scores(model, image_processor, path: Path, preset: Preset, num_clips: int, num_crops: int,
                 shuffle_frames: bool = False) -> tuple[np.ndarray, int]:
    """Class probabilities of one video, the softmax of every clip x crop averaged, and how many clips it had."""
    views = video_views(image_processor, path, preset, num_clips, num_crops, model.config.image_size, shuffle_frames)
    return view_probabilities(model, [views])[0], len(views) // num_crops


def evaluate_videos(model, image_processor, paths: list[Path], labels: list[int], preset: Preset,
                    num_clips: int | None = None, num_crops: int | None = None, shuffle_frames: bool = False,
                    progress: bool = True) -> dict:
    """Per-video accuracy over ``paths``; returns accuracy, probabilities, predictions, counts and ``views``, the
    clips x crops each video was scored on, in words."""
    num_clips = num_clips or preset.eval_clips
    num_crops = num_crops or preset.eval_crops
    model.eval()
    scores, clips = [], []
    # progress=True leaves the bar to tqdm's defaults, so that $TQDM_DISABLE=1 turns it off
    for path in tqdm(paths, desc=f"test videos ({num_clips} clips x {num_crops} crops)", unit="video",
                     **({} if progress else {"disable": True})):
        video, count = video_scores(model, image_processor, path, preset, num_clips, num_crops, shuffle_frames)
        scores.append(video)
        clips.append(count)
    probs = np.stack(scores)
    predictions = probs.argmax(1)
    result = {
        "accuracy": float((predictions == np.array(labels)).mean()),
        "probabilities": probs, "predictions": predictions, "labels": np.array(labels),
        "num_videos": len(paths), "num_clips": num_clips, "num_crops": num_crops, "clips_per_video": clips,
    }
    return result | {"views": views(result)}


def views(result: dict) -> str:
    """The clips x crops each video of an ``evaluate_videos`` result was scored on, e.g. ``"5 x 3"``, and how many
    videos were too short for that many distinct clips."""
    asked, crops, clips = result["num_clips"], result["num_crops"], result["clips_per_video"]
    short = sum(count < asked for count in clips)
    if not short:
        return f"{asked} x {crops}"
    fewest, most = min(clips), max(clips)
    had = str(fewest) if fewest == most else f"{fewest} to {most}"
    return (f"{had} x {crops} ({asked} x {crops} asked: {short} of {len(clips)} videos are too short for {asked} "
            "distinct clips)")
