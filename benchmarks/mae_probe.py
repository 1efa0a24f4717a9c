"""What the pretraining loss of the cpu preset is made of, and whether VideoMAE's decoder can learn in that budget.

Two probes, minutes each on a 2-core machine; neither writes a checkpoint:

``python -m benchmarks.mae_probe patches [--steps 300] [--learning-rate LR] [--decoder-width 64] [--mask-ratio 0.9]``
    Pretrains the cpu preset's small VideoMAE as ``helpers.pretrain`` does (its random start, the same clips, masks,
    optimizer and schedule, ``pretraining_optimizer``; ``--decoder-width`` other than the preset's draws a new
    decoder), and prints every 50 steps the mean loss over the hidden patches split in two: *edge* patches, whose
    pixels vary by more than ``EDGE_LEVELS`` grey levels (standard deviation, 0-255: the bar's outline and tip) and
    *flat* ones (the background and the inside of the bar), with the edge patches' share. A model that predicts
    nothing scores 1 on both.
    ``TUTORIAL_DATA`` and ``VC_*`` choose the videos, as everywhere.

``python -m benchmarks.mae_probe fixed [--steps 300] [--learning-rate LR] [--decoder-width 64]``
    The easiest target there is: every clip is the same still wave pattern, so each hidden patch follows from its
    position alone. It prints the loss every 50 steps: how fast the decoder learns a function of position, which it
    only knows through VideoMAE's fixed sinusoidal position code, ``decoder-width`` numbers per token.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

EDGE_LEVELS = 15  # grey levels (0-255): a patch whose pixels vary more than this holds part of the bar's outline
LOG_EVERY = 50


def new_model(preset, decoder_width: int | None):
    """The preset's random start for pretraining; with ``decoder_width``, the same encoder and a new decoder that
    wide (as VideoMAE's, one layer; torch.manual_seed(0))."""
    from transformers import VideoMAEConfig, VideoMAEForPreTraining

    from helpers.model import _quiet_progress, scratch_checkpoint

    start = scratch_checkpoint(preset)
    with _quiet_progress():
        model = VideoMAEForPreTraining.from_pretrained(start)
    if decoder_width and decoder_width != model.config.decoder_hidden_size:
        config = VideoMAEConfig.from_pretrained(start, decoder_hidden_size=decoder_width,
                                                decoder_num_attention_heads=max(1, decoder_width // 64),
                                                decoder_intermediate_size=2 * decoder_width)
        torch.manual_seed(0)
        wider = VideoMAEForPreTraining(config)
        wider.videomae.load_state_dict(model.videomae.state_dict())
        model = wider
    return start, model.train()


def normalized_patches(frames: torch.Tensor, patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(clips, T, 3, H, W) frames in [0, 1] to VideoMAE's ``norm_pix_loss`` targets, (clips, tokens, 2 * p * p * 3),
    and every token's standard deviation in grey levels (mean over the channels), (clips, tokens)."""
    from helpers.config import TUBELET_SIZE
    from helpers.pretrain import _patches

    cut = torch.stack([_patches(clip.permute(0, 2, 3, 1), patch_size, TUBELET_SIZE) for clip in frames])
    spread = cut.std(dim=2).mean(dim=-1) * 255
    target = (cut - cut.mean(dim=2, keepdim=True)) / (cut.var(dim=2, unbiased=True, keepdim=True).sqrt() + 1e-6)
    return target.flatten(2), spread


def train(model, optimizer, scheduler, batches, steps: int, report) -> None:
    """``steps`` pretraining steps on ``batches(step) -> (pixel_values, frames in [0, 1], mask)``; ``report(step,
    rows)`` every ``LOG_EVERY`` steps with one (loss, edge loss, flat loss, edge share) row per step."""
    rows = []
    for step in range(steps):
        pixel_values, frames, mask = batches(step)
        outputs = model(pixel_values=pixel_values, bool_masked_pos=mask)
        target, spread = normalized_patches(frames, model.config.patch_size)
        per_patch = ((outputs.logits.detach().flatten(0, 1) - target[mask]) ** 2).mean(dim=-1)
        edge = spread[mask] > EDGE_LEVELS
        rows.append((outputs.loss.item(), per_patch[edge].mean().item() if edge.any() else float("nan"),
                     per_patch[~edge].mean().item(), edge.float().mean().item()))
        outputs.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        if (step + 1) % LOG_EVERY == 0:
            report(step + 1, rows[-LOG_EVERY:])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("probe", choices=["patches", "fixed"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--learning-rate", type=float, default=None, help="default: the preset's pretraining rate")
    parser.add_argument("--decoder-width", type=int, default=None, help="default: the preset's decoder")
    parser.add_argument("--mask-ratio", type=float, default=None, help="default: the preset's")
    args = parser.parse_args(argv)

    from transformers import VideoMAEImageProcessor
    from transformers.utils.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

    from benchmarks.common import describe_file, device_line, versions
    from helpers.config import TUBELET_SIZE, get_preset
    from helpers.pretrain import pretraining_optimizer, tube_mask

    preset = get_preset("cpu")
    print(json.dumps({"machine": device_line(), "versions": versions()}), flush=True)
    ratio = args.mask_ratio or preset.mask_ratio
    learning_rate = args.learning_rate or preset.pretrain_learning_rate
    start, model = new_model(preset, args.decoder_width)
    optimizer, scheduler = pretraining_optimizer(model, learning_rate, 0.05, 0.1, args.steps)  # pretrain()'s defaults
    size, frames_per_clip, batch = preset.image_size, preset.num_frames, preset.pretrain_batch_size
    # the loss unnormalizes pixel_values with ImageNet's mean and std (VideoMAEForPreTraining's code)
    mean = torch.tensor(IMAGENET_DEFAULT_MEAN).view(1, 1, 3, 1, 1)
    std = torch.tensor(IMAGENET_DEFAULT_STD).view(1, 1, 3, 1, 1)

    if args.probe == "patches":
        from helpers.fast import FastVideoDataset, VideoBatchTransform
        from helpers.pretrain import CACHE_MB, pretraining_batch, unlabelled_videos
        from helpers.transforms import frame_size, scale_range

        processor = VideoMAEImageProcessor.from_pretrained(start)
        transform = VideoBatchTransform.from_processor(processor, hflip=preset.hflip)
        paths = unlabelled_videos(preset)
        print(json.dumps({"videos": len(paths), "first, as read back": describe_file(paths[0])}), flush=True)
        dataset = FastVideoDataset(paths, [0] * len(paths), frames_per_clip, preset.clip_duration, train=True,
                                   short_side=scale_range(frame_size(processor))[1], cache_mb=CACHE_MB)

        def batches(step):
            pixel_values, mask = pretraining_batch(preset, dataset, transform, step, batch, ratio)  # pretrain()'s
            return pixel_values, pixel_values * std + mean, mask
    else:
        y, x = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32),
                              indexing="ij")
        still = (0.5 + 0.25 * torch.sin(x / 3.0 + y / 5.0)).expand(3, size, size)  # one still wave pattern
        frames = still.expand(batch, frames_per_clip, 3, size, size).contiguous()

        def batches(step):
            torch.manual_seed(step)
            mask = tube_mask(batch, frames_per_clip, size, size, preset.patch_size, TUBELET_SIZE, ratio)
            return (frames - mean) / std, frames, mask

    began = time.time()
    width = model.config.decoder_hidden_size

    def report(step, rows):
        loss, edge, flat, share = (None if np.isnan(x) else round(float(x), 3)
                                   for x in np.nanmean(np.array(rows), axis=0))  # None: no patch of that kind
        print(json.dumps({"probe": args.probe, "decoder_width": width, "learning_rate": learning_rate,
                          "mask_ratio": ratio, "step": step, "loss": loss, "edge": edge, "flat": flat,
                          "edge_share": share, "seconds": round(time.time() - began)}), flush=True)

    train(model, optimizer, scheduler, batches, args.steps, report)


if __name__ == "__main__":
    main()
