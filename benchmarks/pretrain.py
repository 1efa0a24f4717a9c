"""Does self-supervised pretraining pay? Fine-tuning a VideoMAE pretrained on the built-in videos (without their
labels) against training the same model from scratch, with the same steps and the same labelled videos, on the
full labelled set and on a small one (one group per class). Per-video test accuracy, 5 clips x 3 crops.

Run ``python -m benchmarks.pretrain`` (``--help`` for the knobs). With the defaults it pretrains as the preset does
(the checkpoint of notebook 03, reused if it exists) and fine-tunes four times (minutes each on a 2-core machine);
``--runs`` picks some of the four, and a second call reuses the pretrained checkpoint. Everything it writes goes
under ``$TUTORIAL_DATA`` (the dataset, the checkpoints) and ``--output-dir``: set ``TUTORIAL_DATA`` to keep it out of
the project's data/.

What is compared, and how:
- One dataset, one seed, one test split (128 videos). The small labelled set is the first group of every class of
  the full training split (hard links to the same files), with the same val and test videos.
- Pretraining (``helpers.pretrain.pretrain``) sees the full training split's videos without their labels.
- Both arms start from the same random weights (``helpers.model.scratch_checkpoint``), so they differ by the
  pretraining only, and are fine-tuned the same way: the script's ``TrainingArguments`` (the preset's learning rate,
  batch, warmup, weight decay, seed) and its fast input pipeline, for the same number of steps on every labelled
  set: the preset's epochs over the full set (12 x 512 / 4 = 1536 steps), as many epochs as that takes on the
  small set. Unlike the script, there is no validation during training (on a small set it would cost more than the
  training): the last weights are tested.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import time
from pathlib import Path

import torch

from benchmarks.common import describe_file, device_line, versions
from helpers.config import DATA_DIR, Preset, get_preset, validate
from helpers.data import class_names, get_dataset, label_maps, labelled_videos, list_videos, parse_name
from helpers.pretrain import CACHE_MB, pretrain_preset
from helpers.synthetic import MARKER

SUBSET_MARKER = ".subset-of"  # in the small set's folder: the full dataset it was cut from

RUNS = ("pretrained-small", "scratch-small", "pretrained-full", "scratch-full")


def small_labelled_set(root: Path, groups: int, dest: Path) -> Path:
    """``dest`` holding the first ``groups`` groups of every class of ``root``'s train split and all of its val and
    test videos: hard links, so the very same files. Made again when ``root`` was generated again."""
    source = (root / MARKER).read_text().partition("\n")[0]  # the generator's plan fingerprint
    done = dest / SUBSET_MARKER
    if done.is_file() and done.read_text() == source:
        return dest
    shutil.rmtree(dest, ignore_errors=True)
    videos = list_videos(root)
    found: dict[str, set[int]] = {}
    for path in videos["train"]:
        label, group, _ = parse_name(path)
        found.setdefault(label, set()).add(group)
    keep = {label: set(sorted(numbers)[:groups]) for label, numbers in found.items()}
    chosen = [p for p in videos["train"] if parse_name(p)[1] in keep[parse_name(p)[0]]]
    for path in chosen + videos["val"] + videos["test"]:
        target = dest / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
    done.write_text(source)
    return dest


def finetune(preset: Preset, root: Path, output_dir: Path) -> dict:
    """Fine-tune ``preset.model`` on the videos in ``root`` as ``python -m helpers.train`` does with
    ``VC_PIPELINE=fast``, without validation during training; return the per-video test accuracy and the losses."""
    from helpers.evaluation import evaluate_videos
    from helpers.fast import VideoBatchTransform
    from helpers.train import (
        VideoTrainer,
        build_model,
        collate_uint8,
        make_fast_datasets,
        training_arguments,
    )

    label2id, id2label = label_maps(class_names(root))
    model, processor = build_model(preset, label2id, id2label, verbose=False)
    datasets = make_fast_datasets(preset, root, processor)
    # decode every training video once and keep it (about 1.1 GB for 512 videos): the training process does the
    # rest from memory, with no loader workers competing for the two cores
    datasets["train"].cache_bytes = CACHE_MB * 2**20
    args = training_arguments(preset, output_dir, datasets["train"].num_videos, eval_strategy="no",
                              save_strategy="no", logging_steps=16, dataloader_num_workers=0)
    trainer = VideoTrainer(model=model, args=args, train_dataset=datasets["train"], data_collator=collate_uint8,
                           processing_class=processor,
                           video_transform=VideoBatchTransform.from_processor(processor, hflip=preset.hflip))
    output = trainer.train()
    paths, labels = labelled_videos(root, "test", label2id)
    result = evaluate_videos(trainer.model, processor, paths, labels, preset)
    return {"accuracy": result["accuracy"], "videos": result["num_videos"], "steps": output.global_step,
            "losses": [(r["step"], r["loss"]) for r in trainer.state.log_history if "loss" in r]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--min-seconds", type=float, default=None, help="length of the built-in videos (default: "
                        "the preset's)")
    parser.add_argument("--max-seconds", type=float, default=None)
    parser.add_argument("--steps", type=int, default=None, help="pretraining steps (default: the preset's)")
    parser.add_argument("--batch-size", type=int, default=None, help="pretraining clips per step")
    parser.add_argument("--lr", type=float, default=None, help="pretraining learning rate")
    parser.add_argument("--mask-ratio", type=float, default=None)
    parser.add_argument("--small-groups", type=int, default=1, help="groups per class of the small labelled set")
    parser.add_argument("--finetune-steps", type=int, default=None, help="fine-tuning steps on every labelled set "
                        "(default: the preset's epochs over the full set)")
    parser.add_argument("--finetune-lr", type=float, default=None, help="default: the preset's learning rate")
    parser.add_argument("--runs", default=",".join(RUNS), help="which of the four fine-tuning runs, comma-separated")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--output-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "pretrain-bench")
    args = parser.parse_args(argv)
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    if set(runs) - set(RUNS):
        parser.error(f"--runs: choose from {', '.join(RUNS)}")
    if args.threads:
        torch.set_num_threads(args.threads)

    preset = get_preset(args.preset, min_seconds=args.min_seconds, max_seconds=args.max_seconds, pipeline="fast",
                        learning_rate=args.finetune_lr, pretrain_steps=args.steps, pretrain_batch_size=args.batch_size,
                        pretrain_learning_rate=args.lr, mask_ratio=args.mask_ratio, model="pretrained")
    print(f"Machine: {device_line()}; {versions()}; torch threads {torch.get_num_threads()}", flush=True)
    root = get_dataset(preset)
    small_name = f"{preset.name}-small{args.small_groups}"
    small_root = small_labelled_set(root, args.small_groups, DATA_DIR / f"synthetic-{small_name}")
    roots = {"full": root, "small": small_root}
    unlabelled = list_videos(root)["train"]
    counts = {"full": len(unlabelled), "small": len(list_videos(small_root)["train"])}
    print(f"Videos: {root}, {counts['full']} training videos; the first, as read back: "
          f"{describe_file(unlabelled[0])}", flush=True)
    steps = args.finetune_steps or preset.num_epochs * math.ceil(counts["full"] / preset.batch_size)
    # the small set's folder is not the generator's (get_dataset would make its own val and test videos)
    presets = {size: validate(dataclasses.replace(
        preset, num_epochs=max(1, round(steps / math.ceil(counts[size] / preset.batch_size))))) for size in counts}

    started = time.perf_counter()
    folder, losses = pretrain_preset(preset, unlabelled)
    folder = Path(folder)
    tail = max(1, len(losses) // 10)
    loss_line = (f"pretraining loss: {losses[0]:.4f} at the first step, {sum(losses[-tail:]) / tail:.4f} over the "
                 f"last {tail} steps ({len(losses)} steps; this call took {time.perf_counter() - started:.0f} s)")
    print(loss_line, flush=True)

    out = args.output_dir / folder.name
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "results.json"
    results = {}
    for run in runs:
        start, size = run.split("-")
        began = time.perf_counter()
        result = finetune(dataclasses.replace(presets[size], model=str(folder) if start == "pretrained" else "scratch"),
                          roots[size], out / run)
        # runs of other calls (--runs) stay in the file
        results = {**(json.loads(saved.read_text())["results"] if saved.is_file() else {}), **results}
        results[run] = {**result, "seconds": round(time.perf_counter() - began)}
        print(f"{run}: per-video test accuracy {result['accuracy']:.3f} ({result['videos']} videos, "
              f"{result['steps']} steps, {results[run]['seconds']} s)", flush=True)
        saved.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "pretraining_losses": losses,
                                     "results": results}, indent=1))

    print(f"\nSettings: preset {preset.name}, videos {preset.min_seconds:g}-{preset.max_seconds:g} s; pretraining "
          f"{preset.pretrain_steps} steps x {preset.pretrain_batch_size} clips on {counts['full']} unlabelled videos, "
          f"lr {preset.pretrain_learning_rate:g}, mask ratio {preset.mask_ratio}, norm_pix_loss True; fine-tuning "
          f"{steps} steps, batch {preset.batch_size}, lr {preset.learning_rate:g}, seed {preset.seed}")
    print(loss_line)
    results = json.loads(saved.read_text())["results"] if saved.is_file() else results
    print("| labelled set | pretrained | scratch | gain |\n| --- | --- | --- | --- |")
    for size in ("small", "full"):
        pre, scr = results.get(f"pretrained-{size}"), results.get(f"scratch-{size}")
        cells = [f"{r['accuracy']:.3f}" if r else "-" for r in (pre, scr)]
        gain = f"{100 * (pre['accuracy'] - scr['accuracy']):+.1f} points" if pre and scr else "-"
        label = f"{size}: {counts[size]} videos, {presets[size].num_epochs} epochs"
        print(f"| {label} | {cells[0]} | {cells[1]} | {gain} |")


if __name__ == "__main__":
    main()
