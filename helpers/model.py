"""Model folders: the random-weights checkpoint of the offline presets, checks of saved folders, the device.

Introduced in 02_preprocess_and_visualize (the image processor) and 04_train (the model). The notebooks call
``from_pretrained`` themselves, as the guide does; ``helpers.train.build_model`` is the same code for the script.
Which checkpoint a preset starts from is decided in ``helpers.pretrain.base_checkpoint``.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from transformers import (
    AutoConfig,
    VideoMAEConfig,
    VideoMAEForPreTraining,
    VideoMAEImageProcessor,
)
from transformers.utils import logging as hf_logging

from helpers.config import DATA_DIR, Preset

BASE_FIX = "Point VC_MODEL at a folder written by save_pretrained, or at a Hub name such as MCG-NJU/videomae-base."


class ModelFolderError(ValueError):
    """A model folder that cannot be loaded; the message names the file and the fix."""


def check_model_files(folder: Path, fix: str = BASE_FIX) -> Path:
    """Check what ``from_pretrained`` will read from a local VideoMAE folder, so that a broken one stops with a
    message naming the file instead of a traceback from deep inside transformers or safetensors: a
    ``config.json`` that reads and describes a VideoMAE, and complete weights. ``fix`` ends each message."""
    import json

    from safetensors import safe_open

    folder = Path(folder)
    config_file = folder / "config.json"
    try:
        config = json.loads(config_file.read_text())
    except (OSError, ValueError) as err:
        raise ModelFolderError(f"{config_file} cannot be read ({err}): the folder is damaged. {fix}") from None
    kind = config.get("model_type") if isinstance(config, dict) else None
    if kind != "videomae":
        what = f"a {kind!r} model" if kind else "no model type"
        names = ", ".join(config.get("architectures") or []) if isinstance(config, dict) else ""
        raise ModelFolderError(f"{config_file} describes {what}{f' ({names})' if names else ''}, not VideoMAE "
                               f"(model_type 'videomae'): this is not a folder this tutorial saved. {fix}")
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError) as err:
            raise ModelFolderError(f"{index} cannot be read ({err}): the folder is damaged. {fix}") from None
    elif (folder / "model.safetensors").is_file():
        shards = ["model.safetensors"]
    elif (folder / "pytorch_model.bin").is_file():
        return folder  # the old pickle format: nothing to check without loading it
    else:
        raise ModelFolderError(f"{folder} holds no weights (no model.safetensors): the save was interrupted or the "
                               f"copy is incomplete. {fix}")
    for name in shards:
        try:
            with safe_open(str(folder / name), framework="pt"):
                pass
        except Exception as err:  # safetensors raises its own error type, or OSError
            reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise ModelFolderError(f"{folder / name} is incomplete or damaged ({reason}): an interrupted save, "
                                   f"download or copy? {fix}") from None
    return folder


def check_checkpoint(checkpoint: str) -> str:
    """Fail early, and clearly, on a local checkpoint folder that is not a complete saved VideoMAE."""
    path = Path(checkpoint).expanduser()
    looks_local = checkpoint.startswith((".", "/", "~")) or path.exists()
    if looks_local and not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"{checkpoint} is not a model folder (no config.json). Point VC_MODEL at a folder written "
            "by save_pretrained, or at a Hub name such as MCG-NJU/videomae-base."
        )
    if looks_local:
        check_model_files(path, BASE_FIX)
    else:
        from helpers.data import check_hub_cache

        check_hub_cache(checkpoint, "config.json", fix=", or set VC_MODEL=scratch to start from random weights")
    return checkpoint


def scratch_config(preset: Preset) -> VideoMAEConfig:
    """The small VideoMAE of the offline presets: the base model's architecture, fewer and narrower layers."""
    return VideoMAEConfig(
        image_size=preset.image_size, num_frames=preset.num_frames, patch_size=preset.patch_size, tubelet_size=2,
        hidden_size=preset.hidden_size, num_hidden_layers=preset.num_layers,
        num_attention_heads=preset.num_heads, intermediate_size=4 * preset.hidden_size, use_mean_pooling=True,
        # the pretraining decoder (VideoMAEForPreTraining): narrower still, as in the paper
        decoder_hidden_size=max(16, preset.hidden_size // 2), decoder_num_hidden_layers=1,
        decoder_num_attention_heads=max(1, preset.num_heads // 2),
        decoder_intermediate_size=2 * preset.hidden_size,
    )


def write_model_files(model, folder: Path) -> Path:
    """Write ``config.json`` and ``model.safetensors`` of ``model`` to ``folder``, from whichever process calls it.

    ``save_pretrained`` writes nothing on a process other than rank 0 once torch.distributed is set up, so a start
    checkpoint made by the second of two training processes would be a folder without config or weights."""
    from safetensors.torch import save_model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.architectures = [type(model).__name__]
    model.config.save_pretrained(folder)
    save_model(model, str(folder / "model.safetensors"), metadata={"format": "pt"})
    return folder


def scratch_checkpoint(preset: Preset, folder: Path | None = None) -> Path:
    """A checkpoint folder laid out like ``MCG-NJU/videomae-base`` (config, safetensors weights,
    ``preprocessor_config.json``) holding a VideoMAE with *random* weights; written once per architecture and seed.

    Offline there are no pretrained weights to download: this folder lets the notebooks load a checkpoint with the
    guide's ``from_pretrained`` calls on every preset."""
    name = (f"videomae-random-{preset.image_size}px-{preset.num_frames}f-p{preset.patch_size}-"
            f"w{preset.hidden_size}x{preset.num_layers}h{preset.num_heads}-seed{preset.seed}")
    folder = Path(folder or DATA_DIR / "checkpoints" / name)
    if (folder / "config.json").is_file() and (folder / "model.safetensors").is_file():
        return folder
    tmp = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    torch.manual_seed(preset.seed)
    write_model_files(VideoMAEForPreTraining(scratch_config(preset)), tmp)
    size = preset.image_size
    VideoMAEImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size}).save_pretrained(tmp)
    import shutil

    if folder.is_dir() and not (folder / "model.safetensors").is_file():
        shutil.rmtree(folder, ignore_errors=True)  # a folder without weights (emptied by hand) is made again
    try:
        tmp.rename(folder)
    except OSError:  # another process wrote it first: theirs is the same
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


class _quiet_progress:
    """Hide transformers' own progress bars (writing or loading a tiny checkpoint takes a blink)."""

    def __enter__(self):
        self.was_enabled = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()

    def __exit__(self, *exc):
        if self.was_enabled:
            hf_logging.enable_progress_bar()


def pick_device() -> str:
    """"cuda", "mps" or "cpu": the fastest the machine has."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def native_bf16() -> bool:
    """True on a GPU that computes in bfloat16 natively (Ampere and later). ``torch.cuda.is_bf16_supported()``
    alone also says True where bf16 is only emulated (T4, V100), where VideoMAE's Conv3d may lack a kernel."""
    return torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)


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
