"""Fine-tuning VideoMAE with the Trainer: the model, the datasets, the arguments, and a script.

Introduced in 03_train. The notebook and ``python -m helpers.train`` run this same code.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
from functools import partial
from pathlib import Path

import evaluate
import numpy as np
import torch
import transformers
from accelerate import PartialState
from transformers import Trainer, TrainingArguments

from helpers.config import Preset, describe, get_preset
from helpers.data import class_names, get_dataset, label_maps, list_videos
from helpers.evaluation import evaluate_videos
from helpers.model import build_model, loader_workers, pick_device
from helpers.transforms import build_transforms

METRIC_DIR = Path(__file__).parent / "metrics" / "accuracy"


class ShardedVideoSampler(torch.utils.data.Sampler):
    """Shuffled video order, split between training processes: each reads a distinct share of the videos.

    Every process draws the same permutation (same seed, same epoch) and keeps every world_size-th video from
    its rank on; the remainder is dropped so that all processes run the same number of steps. With one process it
    is a plain seeded shuffle. PyTorchVideo instantiates it with the list of videos, once per dataset.
    """

    def __init__(self, data_source, seed: int = 0):
        self.data_source, self.seed, self.epoch = data_source, seed, 0

    def rank_and_world(self) -> tuple[int, int]:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def __len__(self) -> int:
        return len(self.data_source) // self.rank_and_world()[1]

    def __iter__(self):
        rank, world = self.rank_and_world()
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        order = torch.randperm(len(self.data_source), generator=generator).tolist()
        return iter(order[rank: len(self) * world: world])


class VideoTrainer(Trainer):
    """The Trainer, except that with several processes the training videos are sharded by ShardedVideoSampler
    instead of every process decoding every video (accelerate's default for iterable datasets)."""

    def get_train_dataloader(self) -> torch.utils.data.DataLoader:
        if self.args.world_size == 1:
            return super().get_train_dataloader()
        return torch.utils.data.DataLoader(
            self.train_dataset, batch_size=self._train_batch_size, collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers, pin_memory=self.args.dataloader_pin_memory,
            persistent_workers=False,
        )


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
            video_sampler=partial(ShardedVideoSampler, seed=preset.seed),
            decode_audio=False, transform=train_transform,
        ),
    }
    for split in ("val", "test"):
        datasets[split] = Ucf101(
            data_path=str(Path(root) / split),
            clip_sampler=make_clip_sampler("uniform", preset.clip_duration),
            video_sampler=torch.utils.data.SequentialSampler,  # the same order in every process and run
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


def steps_per_epoch(num_videos: int, batch_size: int, workers: int, processes: int = 1) -> int:
    """Batches in one pass over the training videos: each process gets num_videos // processes of them, each
    loader worker a near-equal share of those, and every worker ends its share with its own, smaller batch."""
    per_process = num_videos // processes
    shares = max(1, workers)
    sizes = [per_process // shares + (1 if i < per_process % shares else 0) for i in range(shares)]
    return max(1, sum(math.ceil(size / batch_size) for size in sizes))


def training_arguments(preset: Preset, output_dir: Path, num_train_videos: int, **overrides) -> TrainingArguments:
    """The guide's ``TrainingArguments`` in transformers 5's names."""
    device = pick_device()
    workers = loader_workers(preset)
    epoch_steps = steps_per_epoch(num_train_videos, preset.batch_size, workers, int(os.environ.get("WORLD_SIZE", 1)))
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
        logging_steps=max(1, min(10, epoch_steps // 2)),
        # the guide's load_best_model_at_end=True is off: transformers 5.24's Trainer reloads the best checkpoint
        # without converting VideoMAE's q_bias/v_bias names and silently keeps the last epoch's biases;
        # load_best_checkpoint() below reloads it with from_pretrained, which converts them
        load_best_model_at_end=False,
        metric_for_best_model="accuracy",
        # the PyTorchVideo datasets have no length: say how many steps make the run
        max_steps=epoch_steps * preset.num_epochs,
        seed=preset.seed,
        data_seed=preset.seed,
        dataloader_num_workers=workers,
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
    trainer = VideoTrainer(
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


def load_best_checkpoint(trainer: Trainer) -> str | None:
    """Put the best checkpoint's weights (by validation accuracy) into ``trainer.model``; return its path."""
    best = trainer.state.best_model_checkpoint
    if best:
        trainer.model = type(trainer.model).from_pretrained(best).to(trainer.args.device)
    return best


def prepare_output_dir(path: Path, overwrite: bool = False, resume: bool = False) -> Path:
    """Refuse to train into a folder that holds an earlier run, unless asked to overwrite or resume."""
    path = Path(path)
    if path.exists() and any(path.iterdir()) and not (overwrite or resume):
        raise FileExistsError(
            f"{path} already holds a training run. Resume it (--resume, or RESUME=1 in the notebook), "
            "overwrite it (--overwrite, or OVERWRITE=1), or choose another folder (--output-dir)."
        )
    if overwrite and path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


def last_checkpoint(run_dir: Path) -> str | None:
    """The newest *complete* checkpoint in ``run_dir``, or None.

    The Trainer writes a checkpoint in place and its ``trainer_state.json`` last, so a process killed while saving
    leaves a folder without a readable state: such folders are skipped (transformers' get_last_checkpoint would
    pick them)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    steps = {p: re.fullmatch(r"checkpoint-(\d+)", p.name) for p in run_dir.iterdir() if p.is_dir()}
    for path in sorted((p for p, m in steps.items() if m), key=lambda p: int(steps[p][1]), reverse=True):
        try:
            json.loads((path / "trainer_state.json").read_text())
        except (OSError, ValueError):
            print(f"Skipping {path}: incomplete (the run stopped while writing it).")
            continue
        return str(path)
    return None


def labelled_videos(root: Path, split: str, label2id: dict[str, int]) -> tuple[list[Path], list[int]]:
    """The videos of one split with their class ids."""
    paths = list_videos(root)[split]
    return paths, [label2id[p.parent.name] for p in paths]


def save_model_folder(trainer: Trainer, model_dir: Path) -> Path:
    """Write the weights (safetensors), the config with the label maps and the image processor into one folder.

    Unlike ``trainer.save_model`` it leaves out ``training_args.bin``, a pickle that nothing here needs."""
    trainer.model.save_pretrained(model_dir)
    trainer.processing_class.save_pretrained(model_dir)
    return Path(model_dir)


def write_model_card(model_dir: Path, preset: Preset, metrics: dict) -> Path:
    """A README.md beside the weights: what the model is, what it was trained on, how well it does."""
    lines = [
        "---", "library_name: transformers", "pipeline_tag: video-classification", "tags: [videomae]", "---", "",
        f"# VideoMAE video classifier ({preset.name} preset)", "",
        "Trained with the video classification tutorial (notebook 03 or `python -m helpers.train`).", "",
        f"- {describe(preset)}",
        f"- Labels: {', '.join(json.loads((model_dir / 'config.json').read_text())['id2label'].values())}",
        f"- Training: {preset.num_epochs} epochs, batch {preset.batch_size}, learning rate {preset.learning_rate}, "
        f"seed {preset.seed}",
        "", "## Results", "", "| metric | value |", "| --- | --- |",
        *[f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()],
        "", "## Versions", "", *[f"- {k} {v}" for k, v in versions().items()], "",
        "## Use", "", "```python", "from transformers import pipeline",
        f'classifier = pipeline("video-classification", model="{model_dir.name}")',
        'classifier("video.mp4")', "```", "",
    ]
    card = model_dir / "README.md"
    card.write_text("\n".join(lines))
    return card


def run_training(preset: Preset, output_dir: Path, resume: bool = False, overwrite: bool = False,
                 shuffle_frames: bool = False) -> dict:
    """Train, evaluate on the test split (per clip and per video), save the model: what the script does."""
    state = PartialState()  # joins the process group when started by torchrun or accelerate launch
    with state.main_process_first():  # the main process generates or downloads; the others then reuse it
        root = get_dataset(preset)
        if state.is_main_process:
            prepare_output_dir(output_dir, overwrite=overwrite, resume=resume)
    trainer, datasets = make_trainer(preset, root, output_dir / "checkpoints", shuffle_frames=shuffle_frames)
    checkpoint = last_checkpoint(output_dir / "checkpoints") if resume else None
    if resume:
        print(f"Resuming from {checkpoint}" if checkpoint else "No checkpoint to resume from: starting afresh.")
    trainer.train(resume_from_checkpoint=checkpoint)
    print(f"Best checkpoint by validation accuracy: {load_best_checkpoint(trainer)}")
    metrics = {}
    per_clip = trainer.evaluate(datasets["test"], metric_key_prefix="test")
    metrics["test accuracy per clip"] = per_clip["test_accuracy"]
    if trainer.is_world_process_zero():
        model = trainer.model
        paths, labels = labelled_videos(root, "test", model.config.label2id)
        result = evaluate_videos(model, trainer.processing_class, paths, labels, preset,
                                 shuffle_frames=shuffle_frames)
        metrics["test accuracy per video"] = result["accuracy"]
        metrics["test videos"] = result["num_videos"]
        metrics["clips x crops per video"] = f"{result['num_clips']} x {result['num_crops']}"
        model_dir = output_dir / "model"
        save_model_folder(trainer, model_dir)
        write_model_card(model_dir, preset, metrics)
        print(json.dumps(metrics, indent=1))
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fine-tune VideoMAE as in notebook 03.")
    parser.add_argument("--preset", default=None, help="smoke, cpu or full (default: $PRESET or cpu)")
    parser.add_argument("--output-dir", type=Path, default=None, help="default: outputs/<preset>/script")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output-dir")
    parser.add_argument("--overwrite", action="store_true", help="delete an earlier run in --output-dir first")
    parser.add_argument("--shuffle-frames", action="store_true", help="control run: frames in random order")
    args = parser.parse_args(argv)
    try:
        preset = get_preset(args.preset)
        output_dir = args.output_dir or preset.output_dir / "script"
        run_training(preset, output_dir, resume=args.resume, overwrite=args.overwrite,
                     shuffle_frames=args.shuffle_frames)
    except (ValueError, FileExistsError, FileNotFoundError) as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
