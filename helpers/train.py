"""Fine-tuning VideoMAE with the Trainer: the model, the datasets, the arguments, and a script.

Introduced in 03_train. The notebook and ``python -m helpers.train`` run this same code.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import evaluate
import numpy as np
import torch
import transformers
from transformers import Trainer, TrainingArguments

from helpers.config import Preset, get_preset
from helpers.data import class_names, get_dataset, label_maps
from helpers.model import build_model, loader_workers, pick_device
from helpers.transforms import build_transforms

METRIC_DIR = Path(__file__).parent / "metrics" / "accuracy"


def make_datasets(preset: Preset, root: Path, image_processor, shuffle_frames: bool = False) -> dict:
    """PyTorchVideo ``Ucf101`` datasets for train, val and test, as in the guide."""
    from pytorchvideo.data import Ucf101, make_clip_sampler

    train_transform, val_transform = build_transforms(
        image_processor, preset.num_frames, preset.hflip, shuffle_frames=shuffle_frames,
    )
    datasets = {
        "train": Ucf101(
            data_path=str(Path(root) / "train"),
            clip_sampler=make_clip_sampler("random", preset.clip_duration),
            decode_audio=False, transform=train_transform,
        ),
    }
    for split in ("val", "test"):
        datasets[split] = Ucf101(
            data_path=str(Path(root) / split),
            clip_sampler=make_clip_sampler("uniform", preset.clip_duration),
            decode_audio=False, transform=val_transform,
        )
    return datasets


def collate_fn(examples: list[dict]) -> dict[str, torch.Tensor]:
    """Stack clips into the model's (batch, frames, channels, height, width) ``pixel_values``."""
    # PyTorchVideo gives (channels, frames, height, width); VideoMAE wants frames first
    pixel_values = torch.stack([example["video"].permute(1, 0, 2, 3) for example in examples])
    labels = torch.tensor([example["label"] for example in examples])
    return {"pixel_values": pixel_values, "labels": labels}


def load_accuracy():
    """The accuracy metric through ``evaluate``, from the project's own module: no network needed."""
    return evaluate.load(str(METRIC_DIR))


def make_compute_metrics():
    """``compute_metrics`` for the Trainer: argmax of the logits, then accuracy."""
    metric = load_accuracy()

    def compute_metrics(eval_pred):
        predictions = np.argmax(eval_pred.predictions, axis=1)
        return metric.compute(predictions=predictions, references=eval_pred.label_ids)

    return compute_metrics


def training_arguments(preset: Preset, output_dir: Path, num_train_videos: int, **overrides) -> TrainingArguments:
    """The guide's ``TrainingArguments`` in transformers 5's names."""
    device = pick_device()
    steps_per_epoch = max(1, num_train_videos // preset.batch_size)
    values = dict(
        output_dir=str(output_dir),
        # the datasets yield dicts with "video"; the model takes "pixel_values": keep every column
        remove_unused_columns=False,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=2,
        learning_rate=preset.learning_rate,
        weight_decay=preset.weight_decay,
        per_device_train_batch_size=preset.batch_size,
        per_device_eval_batch_size=preset.batch_size,
        warmup_steps=preset.warmup,  # a float below 1 is a ratio of all steps
        logging_steps=max(1, min(10, steps_per_epoch // 2)),
        load_best_model_at_end=True,
        metric_for_best_model="accuracy",
        # the PyTorchVideo datasets have no length: say how many steps make the run
        max_steps=steps_per_epoch * preset.num_epochs,
        seed=preset.seed,
        data_seed=preset.seed,
        dataloader_num_workers=loader_workers(preset),
        bf16=device == "cuda" and torch.cuda.is_bf16_supported(),
        use_cpu=device == "cpu",
        report_to="none",
        push_to_hub=preset.push_to_hub,
        hub_model_id=preset.hub_model_id or None,
    )
    values.update(overrides)
    return TrainingArguments(**values)


def make_trainer(preset: Preset, root: Path, output_dir: Path, shuffle_frames: bool = False):
    """Everything the Trainer needs, built from the preset: returns (trainer, datasets)."""
    classes = class_names(root)
    label2id, id2label = label_maps(classes)
    model, processor = build_model(preset, label2id, id2label)
    datasets = make_datasets(preset, root, processor, shuffle_frames=shuffle_frames)
    args = training_arguments(preset, output_dir, datasets["train"].num_videos)
    trainer = Trainer(
        model=model, args=args,
        train_dataset=datasets["train"], eval_dataset=datasets["val"],
        processing_class=processor,  # saved beside the model, so pipeline() finds it
        compute_metrics=make_compute_metrics(), data_collator=collate_fn,
    )
    return trainer, datasets


def versions() -> dict[str, str]:
    """Versions of the packages that shape a run, for the model card."""
    import pytorchvideo

    return {"python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "pytorchvideo": pytorchvideo.__version__,
            "evaluate": evaluate.__version__}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fine-tune VideoMAE as in notebook 03.")
    parser.add_argument("--preset", default=None, help="smoke, cpu or full (default: $PRESET or cpu)")
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument("--shuffle-frames", action="store_true", help="control run: frames in random order")
    args = parser.parse_args(argv)
    preset = get_preset(args.preset)
    root = get_dataset(preset)
    output_dir = args.output_dir or preset.output_dir / "script"
    trainer, datasets = make_trainer(preset, root, output_dir, shuffle_frames=args.shuffle_frames)
    trainer.train()
    metrics = trainer.evaluate(datasets["test"], metric_key_prefix="test")
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()
