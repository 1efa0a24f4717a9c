"""The model and its image processor: a small VideoMAE from scratch or a pretrained checkpoint.

Introduced in 02_preprocess_and_visualize (the image processor) and 03_train (the model).
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import AutoConfig, VideoMAEConfig, VideoMAEForVideoClassification, VideoMAEImageProcessor

from helpers.config import Preset


def check_checkpoint(checkpoint: str) -> str:
    """Fail early, and clearly, on a local checkpoint folder that is not a saved model."""
    path = Path(checkpoint).expanduser()
    looks_local = checkpoint.startswith((".", "/", "~")) or path.exists()
    if looks_local and not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"{checkpoint} is not a model folder (no config.json). Point VC_MODEL at a folder written "
            "by save_pretrained, or at a Hub name such as MCG-NJU/videomae-base."
        )
    return checkpoint


def build_processor(preset: Preset) -> VideoMAEImageProcessor:
    """The image processor: its mean, std and size drive every transform of the series."""
    if preset.model == "scratch":
        size = preset.image_size
        return VideoMAEImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    return VideoMAEImageProcessor.from_pretrained(check_checkpoint(preset.model))


def pick_device() -> str:
    """"cuda", "mps" or "cpu": the fastest the machine has."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def loader_workers(preset: Preset) -> int:
    """DataLoader worker processes: the preset's number, or one per core up to 8."""
    if preset.num_workers >= 0:
        return preset.num_workers
    return min(8, os.cpu_count() or 1)


def head_message(checkpoint: str, label2id: dict[str, int]) -> str:
    """Say plainly what happens to the checkpoint's classification head with our labels."""
    config = AutoConfig.from_pretrained(checkpoint)
    theirs = sorted((getattr(config, "id2label", None) or {}).values())
    if theirs == sorted(label2id):
        return f"{checkpoint} already classifies our {len(label2id)} labels: its head is kept."
    if not theirs or all(name.startswith("LABEL_") for name in theirs):
        return f"{checkpoint} has no trained classification head: a new one for our {len(label2id)} labels is added."
    return (
        f"{checkpoint} was trained for {len(theirs)} other labels (e.g. {theirs[0]!r}); its head is replaced by a new, "
        f"untrained one for our {len(label2id)} labels, so it must be fine-tuned before use. To continue a run of "
        "your own instead, point VC_MODEL at that run's model folder, trained on the same classes."
    )


def build_model(preset: Preset, label2id: dict[str, int], id2label: dict[int, str]):
    """The model and its image processor: a small VideoMAE from scratch, or a checkpoint with a new head."""
    processor = build_processor(preset)
    if preset.model == "scratch":
        size = preset.image_size
        config = VideoMAEConfig(
            image_size=size, num_frames=preset.num_frames, patch_size=preset.patch_size, tubelet_size=2,
            hidden_size=preset.hidden_size, num_hidden_layers=preset.num_layers,
            num_attention_heads=preset.num_heads, intermediate_size=4 * preset.hidden_size,
            label2id=label2id, id2label=id2label, use_mean_pooling=True,
        )
        torch.manual_seed(preset.seed)
        return VideoMAEForVideoClassification(config), processor
    checkpoint = check_checkpoint(preset.model)
    print(head_message(checkpoint, label2id))
    model = VideoMAEForVideoClassification.from_pretrained(
        checkpoint, label2id=label2id, id2label=id2label,
        ignore_mismatched_sizes=True,  # the checkpoint's head has other labels: replace it
    )
    return model, processor


