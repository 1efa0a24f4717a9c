"""Does self-supervised pretraining pay? Fine-tuning a VideoMAE pretrained on the built-in videos (without their
labels) against training the same model from scratch, with the same steps and the same labelled videos, on the
full labelled set and on a small one (a few groups per class). Per-video test accuracy, 5 clips x 3 crops.

Run ``python -m benchmarks.pretrain`` (``--help`` for the knobs; about 15 minutes on 2 cores with the defaults).
Everything it writes goes under ``$TUTORIAL_DATA`` (the dataset, the checkpoints) and ``--output-dir``; set
``TUTORIAL_DATA`` to keep it out of the project's data/. The four runs share one seed, one dataset and one test
split: the small labelled set is the first groups of every class of the full training split (hard links), with the
same val and test videos. The pretrained and the scratch runs start from the same random weights
(``helpers.model.scratch_checkpoint``): they differ by the pretraining only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time
from pathlib import Path

import torch

from benchmarks.common import device_line, versions
from helpers.config import DATA_DIR, get_preset, validate
from helpers.data import get_dataset, list_videos, parse_name
from helpers.pretrain import MASK_RATIO, pretrain
from helpers.synthetic import MARKER


def small_labelled_set(root: Path, groups: int, dest: Path) -> Path:
    """``dest`` holding the first ``groups`` groups of every class of ``root``'s train split and all of its val and
    test videos (hard links, so the same files), marked complete so that ``get_dataset`` takes it as it is."""
    if (dest / MARKER).is_file():
        return dest
    videos = list_videos(root)
    first = {}
    for path in videos["train"]:
        label, group, _ = parse_name(path)
        first.setdefault(label, set()).add(group)
    keep = {label: sorted(found)[:groups] for label, found in first.items()}
    chosen = [p for p in videos["train"] if parse_name(p)[1] in keep[parse_name(p)[0]]]
    chosen += videos["val"] + videos["test"]
    written = []
    for path in chosen:
        relative = path.relative_to(root)
        (dest / relative).parent.mkdir(parents=True, exist_ok=True)
        if not (dest / relative).exists():
            os.link(path, dest / relative)
        written.append(relative.as_posix())
    (dest / MARKER).write_text(f"{len(written)} videos\n" + "".join(f"{name}\n" for name in written))
    return dest


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--min-seconds", type=float, default=2.2, help="length of the built-in videos")
    parser.add_argument("--max-seconds", type=float, default=3.2)
    parser.add_argument("--steps", type=int, default=400, help="pretraining steps")
    parser.add_argument("--batch-size", type=int, default=32, help="pretraining clips per step")
    parser.add_argument("--lr", type=float, default=1e-3, help="pretraining learning rate")
    parser.add_argument("--mask-ratio", type=float, default=MASK_RATIO)
    parser.add_argument("--norm-pix-loss", type=int, default=1, help="1: VideoMAE's per-patch normalized target")
    parser.add_argument("--small-groups", type=int, default=1, help="groups per class of the small labelled set")
    parser.add_argument("--small-epochs", type=int, default=None, help="epochs on the small set (default: the "
                        "preset's, times full/small videos, so both sets get the same number of steps)")
    parser.add_argument("--finetune-lr", type=float, default=None, help="default: the preset's learning rate")
    parser.add_argument("--pipeline", default=None, help="fine-tuning input pipeline (default: the preset's)")
    parser.add_argument("--runs", default="pretrained-small,scratch-small,pretrained-full,scratch-full",
                        help="which of the four fine-tuning runs, comma-separated")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--output-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "pretrain-bench")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    os.environ.setdefault("TQDM_DISABLE", "1")

    from helpers.train import run_training  # after TQDM_DISABLE

    preset = get_preset(args.preset, min_seconds=args.min_seconds, max_seconds=args.max_seconds)
    if args.finetune_lr:
        preset = dataclasses.replace(preset, learning_rate=args.finetune_lr)
    if args.pipeline:
        preset = dataclasses.replace(preset, pipeline=args.pipeline)
    print(f"Machine: {device_line()}; {versions()}; torch threads {torch.get_num_threads()}")
    root = get_dataset(preset)
    small_root = small_labelled_set(root, args.small_groups,
                                    DATA_DIR / f"synthetic-{preset.name}-small{args.small_groups}")
    unlabelled = list_videos(root)["train"]
    labelled = {"full": len(unlabelled), "small": len(list_videos(small_root)["train"])}
    small_epochs = args.small_epochs or preset.num_epochs * labelled["full"] // labelled["small"]
    presets = {
        "full": preset,
        "small": validate(dataclasses.replace(preset, name=f"{preset.name}-small{args.small_groups}",
                                              train_groups=args.small_groups, num_epochs=small_epochs)),
    }

    folder = DATA_DIR / "checkpoints" / (
        f"bench-mae{round(args.mask_ratio * 100)}-npl{args.norm_pix_loss}-{args.steps}x{args.batch_size}-"
        f"lr{args.lr:g}-{preset.min_seconds:g}-{preset.max_seconds:g}s-w{preset.hidden_size}x{preset.num_layers}")
    started = time.perf_counter()
    losses = pretrain(preset, unlabelled, args.steps, folder, batch_size=args.batch_size, learning_rate=args.lr,
                      mask_ratio=args.mask_ratio, norm_pix_loss=bool(args.norm_pix_loss))
    pretrain_seconds = time.perf_counter() - started
    tail = max(1, len(losses) // 10)
    loss_line = (f"pretraining loss: first {losses[0]:.4f}, mean of the last {tail} steps "
                 f"{sum(losses[-tail:]) / tail:.4f} ({len(losses)} steps, {pretrain_seconds:.0f} s this call)")
    print(loss_line)

    results = {}
    for run in [r.strip() for r in args.runs.split(",") if r.strip()]:
        start, size = run.split("-")
        run_preset = dataclasses.replace(presets[size], model=str(folder) if start == "pretrained" else "scratch")
        began = time.perf_counter()
        metrics = run_training(run_preset, args.output_dir / folder.name / run, overwrite=True)
        results[run] = {"accuracy": metrics["test accuracy per video"], "videos": metrics["test videos"],
                        "seconds": round(time.perf_counter() - began)}
        print(f"{run}: {results[run]}", flush=True)

    print()
    print(f"Settings: preset {preset.name}, videos {preset.min_seconds:g}-{preset.max_seconds:g} s, pretraining "
          f"{args.steps} steps x {args.batch_size} clips on {len(unlabelled)} unlabelled videos, lr {args.lr:g}, "
          f"mask ratio {args.mask_ratio}, norm_pix_loss {bool(args.norm_pix_loss)}; fine-tuning lr "
          f"{preset.learning_rate:g}, batch {preset.batch_size}, full set {labelled['full']} videos x "
          f"{preset.num_epochs} epochs, small set {labelled['small']} videos x {small_epochs} epochs")
    print(loss_line)
    print("| labelled set | pretrained | scratch | gain |")
    print("| --- | --- | --- | --- |")
    for size in ("small", "full"):
        pre, scr = results.get(f"pretrained-{size}"), results.get(f"scratch-{size}")
        cells = [f"{r['accuracy']:.3f} ({r['videos']} videos, {r['seconds']} s)" if r else "-" for r in (pre, scr)]
        gain = f"{100 * (pre['accuracy'] - scr['accuracy']):+.1f} points" if pre and scr else "-"
        print(f"| {size} ({labelled[size]} videos) | {cells[0]} | {cells[1]} | {gain} |")
    (args.output_dir / folder.name).mkdir(parents=True, exist_ok=True)
    (args.output_dir / folder.name / "results.json").write_text(json.dumps(
        {"args": {k: str(v) for k, v in vars(args).items()}, "losses": losses, "results": results}, indent=1))


if __name__ == "__main__":
    main()
