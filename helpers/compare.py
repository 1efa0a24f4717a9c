"""Did pretraining pay? Notebook 04's last section: fine-tune notebook 03's checkpoint and random weights on a small
labelled set, several seeds each, scoring the test videos along the way (04_train).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PrinterCallback, TrainerCallback, VideoMAEForVideoClassification, VideoMAEImageProcessor
from transformers.utils import logging as hf_logging

from helpers.config import Preset
from helpers.data import labelled_videos, video_table
from helpers.evaluation import video_views, view_probabilities
from helpers.fast import FastVideoDataset, VideoBatchTransform, collate_uint8
from helpers.model import _quiet_progress
from helpers.pretrain import CACHE_MB, base_checkpoint, pretrain_preset
from helpers.train import VideoTrainer, training_arguments
from helpers.transforms import frame_size, scale_range


def first_groups(root: Path, split: str, label2id: dict[str, int], groups: int = 1) -> tuple[list[Path], list[int]]:
    """The videos of the first ``groups`` groups of every class in ``split``, and their labels: a small labelled
    set cut from the full one (whole groups, so no scene is split)."""
    paths, labels = labelled_videos(root, split, label2id)
    group_of = {row.path: row.group for row in video_table(root)}
    names: dict[int, set[str]] = {}
    for path, label in zip(paths, labels, strict=True):
        names.setdefault(label, set()).add(group_of[path])
    keep = {label: set(sorted(found)[:groups]) for label, found in names.items()}
    chosen = [(p, y) for p, y in zip(paths, labels, strict=True) if group_of[p] in keep[y]]
    return [p for p, _ in chosen], [y for _, y in chosen]


def test_views(processor: VideoMAEImageProcessor, paths: list[Path], preset: Preset,
               num_crops: int | None = None) -> list[torch.Tensor]:
    """Every test video's views (``video_views``: the preset's clips, ``num_crops`` crops), decoded once so that
    each point of a curve only runs the model."""
    return [video_views(processor, path, preset, preset.eval_clips, num_crops or preset.eval_crops,
                        frame_size(processor)) for path in paths]


def finetune_curve(preset: Preset, checkpoint: str, train: tuple[list[Path], list[int]],
                   test: tuple[list[Path], list[int]], id2label: dict[int, str], steps: int, points: int,
                   output_dir: Path, desc: str = "fine-tuning", num_crops: int | None = None,
                   views: list[torch.Tensor] | None = None) -> list[tuple[int, float]]:
    """Fine-tune ``checkpoint`` on ``train`` (paths, labels) for ``steps`` steps as the script does with the fast
    pipeline; return [(step, per-video test accuracy)] at ``points`` evenly spaced steps. ``views``: the test
    videos' ``test_views``, if the caller has them already."""
    preset = dataclasses.replace(preset, pipeline="fast")
    processor = VideoMAEImageProcessor.from_pretrained(checkpoint)
    torch.manual_seed(preset.seed)  # the same new head on both starts
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the load report: notebook 04 explained it
    try:
        with _quiet_progress():
            model = VideoMAEForVideoClassification.from_pretrained(
                checkpoint, label2id={v: k for k, v in id2label.items()}, id2label=id2label,
                ignore_mismatched_sizes=True)
    finally:
        hf_logging.set_verbosity(verbosity)
    dataset = FastVideoDataset(*train, preset.num_frames, preset.clip_duration, train=True,
                               short_side=scale_range(frame_size(processor))[1], cache_mb=CACHE_MB)
    if views is None:
        views = test_views(processor, test[0], preset, num_crops)
    at = sorted({max(1, round(steps * (k + 1) / points)) for k in range(points)})
    curve: list[tuple[int, float]] = []
    bar = tqdm(total=steps, desc=desc, unit="step")

    class Measure(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            bar.update(state.global_step - bar.n)
            if state.global_step in at:
                model.eval()
                accuracy = float((view_probabilities(model, views).argmax(1) == np.array(test[1])).mean())
                curve.append((state.global_step, accuracy))
                bar.set_postfix(accuracy=f"{accuracy:.3f}")
                model.train()

    args = training_arguments(preset, output_dir, len(train[0]), eval_strategy="no", save_strategy="no",
                              max_steps=steps, logging_strategy="no", dataloader_num_workers=0,
                              disable_tqdm=True, push_to_hub=False)
    trainer = VideoTrainer(model=model, args=args, train_dataset=dataset, data_collator=collate_uint8,
                           processing_class=processor, callbacks=[Measure()],
                           video_transform=VideoBatchTransform.from_processor(processor, hflip=preset.hflip))
    trainer.remove_callback(PrinterCallback)  # the bar says enough
    trainer.train()
    bar.close()
    return curve


def compare_starts(preset: Preset, root: Path, label2id: dict[str, int], output_dir: Path) -> dict:
    """``finetune_curve`` from notebook 03's checkpoint and from random weights, each at its own learning rate, on
    the first ``compare_groups`` groups of every class, once per seed: {start: [[(step, accuracy), ...] per seed]};
    empty when the preset has no comparison. Each point scores one view per clip, the whole frame: the forward pass
    is most of an evaluation's time."""
    if not preset.compare_steps or preset.model not in ("pretrained", "scratch"):
        print(f"No comparison on preset {preset.name!r} (compare_steps {preset.compare_steps}, model {preset.model}): "
              "it compares the checkpoint of notebook 03 with random weights.")
        return {}
    id2label = {i: name for name, i in label2id.items()}
    train = first_groups(root, "train", label2id, preset.compare_groups)
    test = labelled_videos(root, "test", label2id)
    seeds = [preset.seed + k for k in range(preset.compare_seeds)]
    starts = {"pretrained (notebook 03)": (pretrain_preset(preset)[0], preset.compare_lr_pretrained),
              "random weights": (base_checkpoint(preset, pretraining=True), preset.compare_lr_scratch)}
    print(f"{len(train[0])} labelled training videos ({preset.compare_groups} group(s) per class), "
          f"{len(test[0])} test videos ({preset.eval_clips} clips x 1 view each); {preset.compare_steps} steps from "
          f"each start, seeds {seeds}; learning rates: "
          + ", ".join(f"{name} {rate:g}" for name, (_, rate) in starts.items()))
    curves = {}
    for name, (checkpoint, rate) in starts.items():
        views = test_views(VideoMAEImageProcessor.from_pretrained(checkpoint), test[0], preset, num_crops=1)
        curves[name] = [finetune_curve(dataclasses.replace(preset, learning_rate=rate, seed=seed), checkpoint, train,
                                       test, id2label, preset.compare_steps, points=3,
                                       output_dir=Path(output_dir) / f"{name.split()[0]}-{seed}",
                                       desc=f"{name}, seed {seed}", num_crops=1, views=views)
                        for seed in seeds]
    return curves
