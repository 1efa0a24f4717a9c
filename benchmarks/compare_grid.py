"""Notebook 04's "did pretraining pay?", done carefully: each start (notebook 03's checkpoint, random weights) gets
its learning rate from a small grid, chosen on the *validation* videos, over several seeds.

Run ``python -m benchmarks.compare_grid [--rates 1e-4 3e-4 1e-3] [--seeds 42 43 44] [--steps N] [--points K]``
(about 20 minutes on a 2-core machine for the defaults). Each run is ``helpers.compare.finetune_curve`` on the first
``compare_groups`` groups of every class of the cpu preset (``VC_*`` variables apply), scored per video on the
validation split at ``--points`` evenly spaced steps. It prints one line per run, then per start and rate the mean
and spread over seeds at every point, and the rate with the best final mean: the values to put in the preset's
``compare_lr_pretrained`` and ``compare_lr_scratch``.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import describe_file, device_line, versions
from helpers.compare import finetune_curve, first_groups
from helpers.config import get_preset
from helpers.data import class_names, get_dataset, label_maps, labelled_videos
from helpers.pretrain import base_checkpoint, pretrain_preset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--rates", type=float, nargs="+", default=[1e-4, 3e-4, 1e-3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[42, 43, 44])
    parser.add_argument("--steps", type=int, default=None,
                        help="fine-tuning steps; default: the preset's compare_steps")
    parser.add_argument("--points", type=int, default=5)
    options = parser.parse_args()

    preset = get_preset(options.preset)
    steps = options.steps or preset.compare_steps
    root = get_dataset(preset)
    label2id, id2label = label_maps(class_names(root))
    train = first_groups(root, "train", label2id, preset.compare_groups)
    val = labelled_videos(root, "val", label2id)
    print(f"machine: {device_line()}; {versions()}", flush=True)
    print(f"videos: {root}; the first training video, as read back: {describe_file(train[0][0])}", flush=True)
    starts = {"pretrained": pretrain_preset(preset)[0], "random": base_checkpoint(preset, pretraining=True)}
    print(f"{len(train[0])} labelled training videos, {len(val[0])} validation videos, {steps} steps, "
          f"rates {options.rates}, seeds {options.seeds}", flush=True)
    results: dict[tuple[str, float], list[list[tuple[int, float]]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, checkpoint in starts.items():
            for rate in options.rates:
                for seed in options.seeds:
                    start = time.perf_counter()
                    curve = finetune_curve(dataclasses.replace(preset, learning_rate=rate, seed=seed), checkpoint,
                                           train, val, id2label, steps, points=options.points,
                                           output_dir=Path(scratch) / f"{name}-{rate}-{seed}", desc=name, num_crops=1)
                    results.setdefault((name, rate), []).append(curve)
                    print(f"{name:10s} lr {rate:g} seed {seed}: {curve}  {time.perf_counter() - start:.0f} s",
                          flush=True)
    print("\nmean (spread) of val accuracy per video over seeds, at each point")
    best: dict[str, tuple[float, float]] = {}
    for (name, rate), curves in results.items():
        accuracies = np.array([[accuracy for _, accuracy in curve] for curve in curves])
        steps_at = [step for step, _ in curves[0]]
        cells = "  ".join(f"{s}: {m:.3f} ({sd:.3f})"
                          for s, m, sd in zip(steps_at, accuracies.mean(0), accuracies.std(0), strict=True))
        print(f"{name:10s} lr {rate:g}  {cells}")
        if name not in best or accuracies[:, -1].mean() > best[name][1]:
            best[name] = (rate, accuracies[:, -1].mean())
    for name, (rate, accuracy) in best.items():
        print(f"best rate for {name}: {rate:g} (final val accuracy {accuracy:.3f})")


if __name__ == "__main__":
    main()
