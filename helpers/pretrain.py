"""Self-supervised pretraining of VideoMAE on unlabelled videos: tube masking, the reconstruction loss, the
checkpoint fine-tuning starts from, and reconstructions to look at.

Introduced in 03_pretrain, which writes the key lines (the mask, the model call, the loss) in its cells. VideoMAE's
recipe, shrunk to the offline presets: hide about 90 % of the tubelets with one random spatial mask repeated over
time (a hidden patch stays hidden in every frame, so it cannot be copied from the next one), encode the visible
ones, and let a small decoder predict the pixels of the hidden ones, each target patch normalized by its own mean
and standard deviation (``norm_pix_loss``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import VideoMAEForPreTraining, VideoMAEImageProcessor, get_cosine_schedule_with_warmup

from helpers.config import TUBELET_SIZE, Preset, data_path, shown
from helpers.fast import FastVideoDataset, VideoBatchTransform, collate_uint8
from helpers.model import _quiet_progress, check_model_folder, save_checkpoint, scratch_checkpoint
from helpers.runs import folder_lock
from helpers.transforms import frame_size, scale_range

MASK_RATIO = 0.9  # VideoMAE's tube masking ratio for video (images need less: 0.75 in MAE)
LOG_FILE = "pretraining_log.json"  # beside the weights: the settings and the loss of every step
STATE_FILE = "state.pt"  # in <folder>.partial: what a resumed run continues from
CACHE_MB = 4096  # decoded videos kept in memory: the cpu preset's 512 train videos take about 1.2 GB


def tube_mask(batch_size: int, frames: int, height: int, width: int, patch_size: int, tubelet_size: int,
              ratio: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """A (batch_size, seq_len) bool mask, True = hidden: per clip one random spatial mask of
    ``int(ratio * patches_per_frame)`` patches (the same count in every clip, as ``VideoMAEForPreTraining`` stacks
    them), repeated end to end: tokens go time first, so that makes a tube."""
    per_frame = (height // patch_size) * (width // patch_size)
    hidden = int(ratio * per_frame)
    if not 0 < hidden < per_frame:
        raise ValueError(f"a mask ratio of {ratio} hides {hidden} of {per_frame} patches per frame: use a ratio "
                         f"that hides some and keeps some, e.g. {MASK_RATIO}")
    order = torch.rand(batch_size, per_frame, generator=generator).argsort(dim=1)
    spatial = torch.zeros(batch_size, per_frame, dtype=torch.bool)
    spatial.scatter_(1, order[:, :hidden], True)
    return spatial.repeat(1, frames // tubelet_size)


def base_checkpoint(preset: Preset, pretraining: bool = False) -> str:
    """The checkpoint a preset starts from: its ``model``, a Hub name or a folder checked to fit its clips; for
    ``"scratch"`` random weights (``scratch_checkpoint``); for ``"pretrained"`` the checkpoint of ``pretrain_preset``
    (pretrained once: in notebook 03, or here if that was skipped) or, with ``pretraining``, the random weights
    that pretraining starts from."""
    if preset.model == "scratch" or (preset.model == "pretrained" and pretraining):
        return str(scratch_checkpoint(preset))
    if preset.model == "pretrained":
        return pretrain_preset(preset)[0]
    return str(check_model_folder(preset.model, preset, start=True))


def pretrain_preset(preset: Preset, paths: list[Path] | None = None) -> tuple[str, list[float]]:
    """Pretrain as the preset says, on ``paths`` (default ``unlabelled_videos``), once; return the checkpoint and the
    loss of every step. The offline presets' small VideoMAE is pretrained whether they fine-tune it
    (``"pretrained"``) or its random start (``"scratch"``); a preset that starts from a Hub checkpoint or a folder
    trains nothing: that checkpoint and no losses."""
    if preset.model not in ("pretrained", "scratch"):
        return base_checkpoint(preset), []
    preset = dataclasses.replace(preset, model="pretrained")
    paths = list(paths) if paths is not None else unlabelled_videos(preset, quiet=True)  # the caller reported them
    folder = pretrained_folder(preset, paths)
    return str(folder), pretrain(preset, paths, folder=folder, **preset_settings(preset))


def preset_settings(preset: Preset) -> dict:
    """The keyword arguments of ``pretrain`` that the preset sets (its ``pretrain_*`` fields and ``mask_ratio``)."""
    return {"steps": preset.pretrain_steps, "batch_size": preset.pretrain_batch_size,
            "learning_rate": preset.pretrain_learning_rate, "mask_ratio": preset.mask_ratio}


def pretrained_folder(preset: Preset, paths: list[Path]) -> Path:
    """Where the preset's pretrained checkpoint lives (under data/checkpoints/, or the learner's own folder where
    data/ is shared and read-only: ``data_path``): named after the model, the steps and a fingerprint of everything
    else, so a run with other settings or videos gets its own folder."""
    fingerprint = json.dumps(_fingerprint(preset, paths, **preset_settings(preset)), sort_keys=True)
    return data_path("checkpoints/" + (
        f"videomae-pretrained-{preset.image_size}px-{preset.num_frames}f-p{preset.patch_size}-"
        f"w{preset.hidden_size}x{preset.num_layers}h{preset.num_heads}-mask{round(preset.mask_ratio * 100)}-"
        f"{preset.pretrain_steps}steps-{hashlib.sha256(fingerprint.encode()).hexdigest()[:8]}"),
        lambda folder: (folder / LOG_FILE).is_file())


def unlabelled_videos(preset: Preset, quiet: bool = False) -> list[Path]:
    """The videos pretraining learns from: the training split of the preset's dataset, labels unread. ``quiet``:
    without ``get_dataset``'s report, for a caller that printed it already."""
    from helpers.data import get_dataset, list_videos

    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        root = get_dataset(preset)
    return list_videos(root)["train"]


def _fingerprint(preset: Preset, paths: list[Path], **settings) -> dict:
    """What makes two pretraining runs the same run: a resumed run must match the interrupted one."""
    # names and sizes: videos made again with other content (your files replaced) are new videos
    listing = sorted(f"{Path(p).name} {Path(p).stat().st_size}" for p in paths)
    videos = hashlib.sha256("\n".join(listing).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    model = {k: getattr(preset, k) for k in ("image_size", "num_frames", "patch_size", "hidden_size", "num_layers",
                                            "num_heads", "sample_rate", "fps", "hflip", "seed")}
    return {**settings, **model, "videos": len(paths), "video_names_sizes_sha256": videos}


def pretrain(preset: Preset, paths: list[Path], steps: int, folder: Path, batch_size: int = 32,
             learning_rate: float = 1e-3, mask_ratio: float = MASK_RATIO, warmup: float = 0.1,
             weight_decay: float = 0.05, norm_pix_loss: bool = True, save_every: int = 50) -> list[float]:
    """Pretrain the preset's VideoMAE on ``paths`` (no labels) for ``steps`` steps, from ``scratch_checkpoint``'s
    random weights so that pretrained and scratch runs differ by the pretraining only; save the checkpoint to
    ``folder`` and return the loss of every step. A finished folder with the same settings is reused; the state is
    saved to ``<folder>.partial`` every ``save_every`` steps, and a run called again after an interruption resumes
    there, ending with the same weights. Other settings than a folder's are refused (FileExistsError)."""
    if steps < 1 or batch_size < 1 or save_every < 1:
        raise ValueError(f"steps ({steps}), batch_size ({batch_size}) and save_every ({save_every}) must be 1 or more")
    if not paths:
        raise ValueError("no videos to pretrain on: pass the paths of the unlabelled videos")
    folder = Path(folder)
    settings = _fingerprint(preset, paths, steps=steps, batch_size=batch_size, learning_rate=learning_rate,
                            mask_ratio=mask_ratio, warmup=warmup, weight_decay=weight_decay,
                            norm_pix_loss=norm_pix_loss)
    # a finished checkpoint is only read: no lock, so many runs share it, in a folder they may not write (a shared
    # install prepared by a teacher, docs/teaching.md)
    if (folder / LOG_FILE).is_file():
        return _reuse(folder, settings, steps)
    with folder_lock(folder, "pretraining into"):
        if (folder / LOG_FILE).is_file():  # another process finished it while this one waited
            return _reuse(folder, settings, steps)
        return _pretrain(preset, paths, folder, settings, save_every)


def _reuse(folder: Path, settings: dict, steps: int) -> list[float]:
    """The losses of the finished checkpoint in ``folder``; FileExistsError if it was made with other settings."""
    log = json.loads((folder / LOG_FILE).read_text())
    if log["settings"] != settings:
        raise FileExistsError(_other_settings(folder, log["settings"], settings, "holds a checkpoint"))
    print(f"Reusing the pretrained checkpoint in {shown(folder)} ({steps} steps, made earlier).")
    return log["losses"]


def _other_settings(folder: Path, theirs: dict, ours: dict, what: str) -> str:
    changed = ", ".join(f"{k} {theirs.get(k)} instead of {ours.get(k)}" for k in ours if theirs.get(k) != ours.get(k))
    return (f"{folder} {what} pretrained with other settings ({changed}). Pass another folder, or delete "
            f"{folder} to pretrain again there.")


def pretraining_optimizer(model: torch.nn.Module, learning_rate: float, weight_decay: float, warmup: float,
                          steps: int) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """VideoMAE's optimizer and schedule: AdamW with beta2 0.95, no weight decay on biases and norms; a warm-up of
    ``warmup`` (a fraction of ``steps`` if below 1, else a number of steps), then a cosine decay to 0."""
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "position" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "position" not in n)]
    optimizer = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                                   {"params": no_decay, "weight_decay": 0.0}], lr=learning_rate, betas=(0.9, 0.95))
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, round(warmup * steps) if warmup < 1 else int(warmup), steps)
    return optimizer, scheduler


def _pretrain(preset: Preset, paths: list[Path], folder: Path, settings: dict, save_every: int) -> list[float]:
    """The training loop of ``pretrain``, inside its lock."""
    steps = settings["steps"]
    start = scratch_checkpoint(preset)
    processor = VideoMAEImageProcessor.from_pretrained(start)
    with _quiet_progress():
        model = VideoMAEForPreTraining.from_pretrained(start, norm_pix_loss=settings["norm_pix_loss"])
    model.train()
    transform = VideoBatchTransform.from_processor(processor, hflip=preset.hflip)
    dataset = FastVideoDataset(paths, [0] * len(paths), preset.num_frames, preset.clip_duration, train=True,
                               short_side=scale_range(frame_size(processor))[1], cache_mb=CACHE_MB)
    optimizer, scheduler = pretraining_optimizer(model, settings["learning_rate"], settings["weight_decay"],
                                                 settings["warmup"], steps)
    parts = {"model": model, "optimizer": optimizer, "scheduler": scheduler}
    partial = folder.with_name(folder.name + ".partial")
    losses = _resume(partial, settings, parts)
    partial.mkdir(parents=True, exist_ok=True)
    progress = tqdm(range(len(losses), steps), desc="pretraining", unit="step", initial=len(losses), total=steps)
    for step in progress:
        pixel_values, mask = pretraining_batch(preset, dataset, transform, step, settings["batch_size"],
                                               settings["mask_ratio"])
        loss = model(pixel_values=pixel_values, bool_masked_pos=mask).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        progress.set_postfix(loss=f"{losses[-1]:.3f}")
        if len(losses) % save_every == 0 and len(losses) < steps:  # atomically: a kill leaves the previous state
            state = {"settings": settings, "losses": losses, **{k: v.state_dict() for k, v in parts.items()}}
            torch.save(state, partial / (STATE_FILE + ".tmp"))
            os.replace(partial / (STATE_FILE + ".tmp"), partial / STATE_FILE)
    progress.close()
    # the finished checkpoint appears at once, complete, or not at all
    tmp = folder.with_name(folder.name + ".writing")
    shutil.rmtree(tmp, ignore_errors=True)
    save_checkpoint(model, processor, tmp)
    (tmp / LOG_FILE).write_text(json.dumps({"settings": settings, "losses": losses}))
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    shutil.rmtree(partial, ignore_errors=True)
    return losses


def _resume(partial: Path, settings: dict, parts: dict) -> list[float]:
    """The losses of the interrupted run in ``partial``, its state loaded into ``parts``; [] if there is none."""
    if not (partial / STATE_FILE).is_file():
        return []
    state = torch.load(partial / STATE_FILE, weights_only=False)
    if state["settings"] != settings:
        raise FileExistsError(_other_settings(partial, state["settings"], settings, "holds an interrupted run"))
    for name, part in parts.items():
        part.load_state_dict(state[name])
    print(f"Resuming the interrupted pretraining in {partial} at step {len(state['losses'])} of {settings['steps']}.")
    return state["losses"]


def pretraining_batch(preset: Preset, dataset: FastVideoDataset, transform: VideoBatchTransform, step: int,
                      batch_size: int, mask_ratio: float) -> tuple[torch.Tensor, torch.Tensor]:
    """The clips (normalized ``pixel_values``) and tube masks of step ``step``, all drawn from the preset's seed and
    the step number, so that a resumed run, or ``benchmarks.mae_probe``, sees exactly the same batches."""
    torch.manual_seed(preset.seed * 1_000_003 + step)
    batch = collate_uint8([dataset[i] for i in _batch_indices(step, batch_size, len(dataset), preset.seed)])
    pixel_values = transform(batch["pixel_values"], train=True)
    size = pixel_values.shape[-1]
    mask = tube_mask(len(pixel_values), preset.num_frames, size, size, preset.patch_size, TUBELET_SIZE, mask_ratio)
    return pixel_values, mask


def _batch_indices(step: int, batch_size: int, count: int, seed: int) -> list[int]:
    """The videos of one step: a fresh seeded shuffle of all ``count`` videos per epoch, read in order."""
    orders, indices = {}, []
    for position in range(step * batch_size, (step + 1) * batch_size):
        epoch, offset = divmod(position, count)
        if epoch not in orders:
            orders[epoch] = torch.randperm(count, generator=torch.Generator().manual_seed(seed * 7919 + epoch))
        indices.append(int(orders[epoch][offset]))
    return indices


def _patches(frames: torch.Tensor, patch_size: int, tubelet_size: int) -> torch.Tensor:
    """(T, H, W, C) to (tokens, tubelet_size * patch_size**2, C), tokens in VideoMAE's order."""
    t, h, w, c = frames.shape
    p, ts = patch_size, tubelet_size
    return frames.reshape(t // ts, ts, h // p, p, w // p, p, c).permute(0, 2, 4, 1, 3, 5, 6).reshape(-1, ts * p * p, c)


def _unpatch(patches: torch.Tensor, shape: tuple[int, int, int, int], patch_size: int,
             tubelet_size: int) -> torch.Tensor:
    """The inverse of ``_patches``: (tokens, tubelet_size * patch_size**2, C) to (T, H, W, C)."""
    t, h, w, c = shape
    p, ts = patch_size, tubelet_size
    return patches.reshape(t // ts, h // p, w // p, ts, p, p, c).permute(0, 3, 1, 4, 2, 5, 6).reshape(t, h, w, c)


@torch.no_grad()
def reconstruction_frames(model: VideoMAEForPreTraining, pixel_values: torch.Tensor, mask: torch.Tensor,
                          mean: list[float], std: list[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(original, masked input, reconstruction) of one normalized clip as uint8 (T, H, W, 3) frames, for a GIF:
    hidden patches grey in the input, predicted in the reconstruction. With ``norm_pix_loss`` a prediction has no
    brightness or contrast of its own, so it gets the original patch's, as the MAE papers show them."""
    clip = pixel_values.reshape(-1, *pixel_values.shape[-4:])[:1]
    mask = mask.reshape(1, -1).bool()
    p, ts = model.config.patch_size, model.config.tubelet_size
    was_training = model.training
    model.eval()
    predicted = model(pixel_values=clip.to(model.device, model.dtype), bool_masked_pos=mask.to(model.device))
    model.train(was_training)
    predicted = predicted.logits[0].float().cpu().reshape(-1, ts * p * p, 3)  # (hidden tokens, ts * p * p, C)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)
    original = (clip[0].float().cpu() * std_t + mean_t).permute(0, 2, 3, 1)  # (T, H, W, 3) in [0, 1]
    patches = _patches(original, p, ts)
    hidden = mask[0].cpu()
    if model.config.norm_pix_loss:  # the loss's own statistics: unbiased variance, epsilon 1e-6
        target = patches[hidden]
        predicted = predicted * (target.var(dim=1, unbiased=True, keepdim=True).sqrt() + 1e-6) + target.mean(
            dim=1, keepdim=True)
    else:  # the model predicts frames normalized with ImageNet's mean and std (its loss assumes them)
        from transformers.utils.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

        model_mean, model_std = torch.tensor(IMAGENET_DEFAULT_MEAN), torch.tensor(IMAGENET_DEFAULT_STD)
        predicted = (predicted - model_mean) / model_std * torch.tensor(std) + torch.tensor(mean)
    masked, rebuilt = patches.clone(), patches.clone()
    masked[hidden] = 0.5
    rebuilt[hidden] = predicted

    def to_uint8(x: torch.Tensor) -> np.ndarray:
        return (_unpatch(x, tuple(original.shape), p, ts).clamp(0, 1) * 255).round().to(torch.uint8).numpy()

    return to_uint8(patches), to_uint8(masked), to_uint8(rebuilt)
