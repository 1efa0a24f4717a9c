"""The guide's PyTorchVideo transform chains, for the training script.

Introduced in 02_preprocess_and_visualize, which writes the same chains in its cells and checks them against
``build_transforms``.
"""

from __future__ import annotations

import torch
from pytorchvideo.transforms import (
    ApplyTransformToKey,
    Normalize,
    RandomShortSideScale,
    ShortSideScale,  # noqa: F401  (re-exported for helpers.evaluation)
    UniformTemporalSubsample,
)
from torchvision.transforms import Compose, RandomCrop, RandomHorizontalFlip, Resize


def scale_to_unit(video: torch.Tensor) -> torch.Tensor:
    """uint8-range pixels to [0, 1] (a named function, not a lambda, so loader workers can pickle it)."""
    return video / 255.0


class ShuffleFrames(torch.nn.Module):
    """Put the frames of a (C, T, H, W) clip in a random order: the control run of notebook 04."""

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return video[:, torch.randperm(video.shape[1])]


def scale_range(size: int) -> tuple[int, int]:
    """The guide's random short side range (256, 320) for 224, scaled to other sizes."""
    return round(size * 256 / 224), round(size * 320 / 224)


def frame_size(image_processor) -> int:
    """The square side the model takes, from the image processor (``shortest_edge`` or ``height``)."""
    size = image_processor.size
    return size["shortest_edge"] if "shortest_edge" in size else size["height"]


def build_transforms(image_processor, num_frames: int, hflip: float = 0.5,
                     shuffle_frames: bool = False) -> tuple[Compose, Compose]:
    """The train and val/test transforms of the guide, driven by the image processor's mean, std and size."""
    mean, std = image_processor.image_mean, image_processor.image_std
    height = width = frame_size(image_processor)
    # the guide's two chains share their first steps; ShuffleFrames is the control run's addition
    common = [UniformTemporalSubsample(num_frames), *([ShuffleFrames()] if shuffle_frames else []), scale_to_unit,
              Normalize(mean, std)]
    low, high = scale_range(height)
    train = [RandomShortSideScale(min_size=low, max_size=high), RandomCrop((height, width)),
             RandomHorizontalFlip(p=hflip)]
    return (Compose([ApplyTransformToKey(key="video", transform=Compose([*common, *train]))]),
            Compose([ApplyTransformToKey(key="video", transform=Compose([*common, Resize((height, width))]))]))
