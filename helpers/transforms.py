"""The guide's PyTorchVideo transform chains, made to import on current torchvision.

Introduced in 02_preprocess_and_visualize, which writes the same chains in its cells and checks that they give the
same output as ``build_transforms`` (what the training script uses). pytorchvideo 0.1.5 (its newest release) imports
``torchvision.transforms.functional_tensor``, which torchvision removed in 0.17; the module
lives on as ``torchvision.transforms._functional_tensor``. Importing this module first
registers the old name, so the guide's code runs unchanged.
"""

from __future__ import annotations

import sys
import warnings

import torch
import torchvision.transforms._functional_tensor as _functional_tensor

sys.modules.setdefault("torchvision.transforms.functional_tensor", _functional_tensor)

# pytorchvideo decorates a class with torch.jit.script_method, which torch deprecates: a FutureWarning at import
# that a learner cannot act on
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*torch.jit.script_method.*", category=FutureWarning)
    from pytorchvideo.transforms import (  # noqa: E402
        ApplyTransformToKey,
        Normalize,
        RandomShortSideScale,
        ShortSideScale,  # noqa: F401  (re-exported for helpers.evaluation)
        UniformTemporalSubsample,
    )
from torchvision.transforms import Compose, RandomCrop, RandomHorizontalFlip, Resize  # noqa: E402


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
    control = [ShuffleFrames()] if shuffle_frames else []
    low, high = scale_range(height)
    train = Compose([
        ApplyTransformToKey(
            key="video",
            transform=Compose([
                UniformTemporalSubsample(num_frames),
                *control,
                scale_to_unit,
                Normalize(mean, std),
                RandomShortSideScale(min_size=low, max_size=high),
                RandomCrop((height, width)),
                RandomHorizontalFlip(p=hflip),
            ]),
        ),
    ])
    val = Compose([
        ApplyTransformToKey(
            key="video",
            transform=Compose([
                UniformTemporalSubsample(num_frames),
                *control,
                scale_to_unit,
                Normalize(mean, std),
                Resize((height, width)),
            ]),
        ),
    ])
    return train, val
