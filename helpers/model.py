"""Model folders: the random-weights checkpoint of the offline presets, the one check of a model folder, the device.

Introduced in 02_preprocess_and_visualize and 04_train; ``helpers.pretrain.base_checkpoint`` says which checkpoint a
preset starts from.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path

import torch
from transformers import AutoConfig, VideoMAEConfig, VideoMAEForPreTraining, VideoMAEImageProcessor
from transformers.utils import logging as hf_logging

from helpers.config import TUBELET_SIZE, Preset, data_path

START_FIX = "Point VC_MODEL at a folder written by save_pretrained, or at a Hub name such as MCG-NJU/videomae-base."
TRAINED_FIX = ("Train the model again (notebook 04, or `python -m helpers.train`) or copy the folder again, and "
               "pass the folder that save_pretrained wrote (notebook 04 saves outputs/<preset>/model).")
PROCESSOR_FILES = ("preprocessor_config.json", "video_preprocessor_config.json")


class ModelFolderError(ValueError, FileNotFoundError):
    """A model folder or checkpoint that cannot be used: missing (hence a FileNotFoundError too), damaged or foreign.
    The message names the file and the fix."""


def check_model_folder(model: str | Path, preset: Preset | None = None, start: bool = False) -> str | Path:
    """Check a VideoMAE before ``from_pretrained`` reads it: return ``model``, or raise ModelFolderError naming the
    file and the fix. By default ``model`` is a trained folder to classify with (05_inference); with ``start``, what
    training starts from (a folder or a Hub name), which must fit ``preset``'s clips."""
    path = Path(model).expanduser()
    local = not start or str(model).startswith((".", "/", "~")) or path.exists()
    if not local:  # a Hub name
        from helpers.data import check_hub_cache

        check_hub_cache(str(model), "config.json", fix=", or set VC_MODEL=scratch to start from random weights")
        config, where, fix = AutoConfig.from_pretrained(str(model)).to_dict(), f"{model} (config.json)", START_FIX
    else:
        fix = START_FIX if start else TRAINED_FIX
        if not (path / "config.json").is_file():
            what = " is not a model folder (no config.json)" if path.is_dir() else ": no such model folder"
            raise ModelFolderError(f"{model}{what}. {START_FIX if start else _train_first(preset)}")
        where = path / "config.json"
        try:
            config = json.loads(where.read_text())
        except (OSError, ValueError) as err:
            raise ModelFolderError(f"{where} cannot be read ({err}): the folder is damaged. {fix}") from None
    kind = config.get("model_type") if isinstance(config, dict) else None
    if kind != "videomae":
        names = ", ".join(config.get("architectures") or []) if isinstance(config, dict) else ""
        raise ModelFolderError(f"{where} describes {f'a {kind!r} model' if kind else 'no model type'}"
                               f"{f' ({names})' if names else ''}, not VideoMAE (model_type 'videomae'). {fix}")
    if local:
        _check_weights(path, fix)
    if start and preset is not None:
        _check_fits(model, config, preset)
    if not start and not any((path / name).is_file() for name in PROCESSOR_FILES):
        raise ModelFolderError(
            f"{model}: no preprocessor_config.json, so the frames cannot be resized and normalized as in training. "
            "Save the image processor next to the model: image_processor.save_pretrained(folder), or pass "
            "processing_class=image_processor to the Trainer before trainer.save_model().")
    return model


def _train_first(preset: Preset | None) -> str:
    if preset is None:
        return ("Train one first (notebook 04, or `python -m helpers.train`), or pass the folder that holds "
                "config.json with --model.")
    return (f"Run notebook 04 first with PRESET={preset.name} (or `python -m helpers.train --preset {preset.name} "
            f"--output-dir {preset.output_dir}`).")


def _check_weights(folder: Path, fix: str) -> None:
    """Every weights file opens: a save, download or copy cut short stops here, naming the file."""
    from safetensors import safe_open

    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError, AttributeError) as err:
            raise ModelFolderError(f"{index} cannot be read ({err}): the folder is damaged. {fix}") from None
    elif (folder / "model.safetensors").is_file():
        shards = ["model.safetensors"]
    elif (folder / "pytorch_model.bin").is_file():
        return  # the pickle format: nothing to check without loading it
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


def _check_fits(model: str | Path, config: dict, preset: Preset) -> None:
    wanted = {"num_frames": preset.num_frames, "image_size": preset.image_size, "patch_size": preset.patch_size,
              "tubelet_size": TUBELET_SIZE}
    problems = [f"{name} {config.get(name)} (the preset has {value})" for name, value in wanted.items()
                if config.get(name) != value]
    if problems:
        settings = ", ".join(f"{name}={config.get(name)}" for name in wanted if name != "tubelet_size")
        raise ModelFolderError(
            f"{model} was made for other clips: {'; '.join(problems)}. Its position embeddings would not fit the "
            f"preset's {preset.num_frames} frames of {preset.image_size}x{preset.image_size}. Either pretrain a "
            f"checkpoint for this preset (helpers.pretrain.pretrain, or the pretraining notebook), or make the "
            f"preset match the checkpoint ({settings}).")


def scratch_config(preset: Preset) -> VideoMAEConfig:
    """The small VideoMAE of the offline presets: the base model's architecture, fewer and narrower layers."""
    return VideoMAEConfig(
        image_size=preset.image_size, num_frames=preset.num_frames, patch_size=preset.patch_size,
        tubelet_size=TUBELET_SIZE, hidden_size=preset.hidden_size, num_hidden_layers=preset.num_layers,
        num_attention_heads=preset.num_heads, intermediate_size=4 * preset.hidden_size, use_mean_pooling=True,
        # the pretraining decoder (VideoMAEForPreTraining): narrower still, as in the paper
        decoder_hidden_size=max(16, preset.hidden_size // 2), decoder_num_hidden_layers=1,
        decoder_num_attention_heads=max(1, preset.num_heads // 2), decoder_intermediate_size=2 * preset.hidden_size,
    )


def save_checkpoint(model, image_processor, folder: Path) -> Path:
    """Write the layout of ``MCG-NJU/videomae-base`` (config, safetensors weights, image processor) from whichever
    process calls it: ``save_pretrained`` writes nothing on a rank other than 0."""
    from safetensors.torch import save_model

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.config.architectures = [type(model).__name__]
    model.config.save_pretrained(folder)
    save_model(model, str(folder / "model.safetensors"), metadata={"format": "pt"})
    # safetensors writes its file for its owner only (0600): give it the permissions of the files beside it, so that
    # the other users of a shared install (make prepare, docs/teaching.md) can read the weights too
    (folder / "model.safetensors").chmod((folder / "config.json").stat().st_mode & 0o777)
    image_processor.save_pretrained(folder)
    return folder


def _complete(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def scratch_checkpoint(preset: Preset, folder: Path | None = None) -> Path:
    """A checkpoint folder like ``MCG-NJU/videomae-base`` holding a VideoMAE with *random* weights, written once per
    architecture and seed: offline, the notebooks' ``from_pretrained`` calls load it on every preset."""
    name = (f"videomae-random-{preset.image_size}px-{preset.num_frames}f-p{preset.patch_size}-"
            f"w{preset.hidden_size}x{preset.num_layers}h{preset.num_heads}-seed{preset.seed}")
    folder = Path(folder or data_path(f"checkpoints/{name}", _complete))
    if _complete(folder):
        return folder
    tmp = folder.with_name(f"{folder.name}.partial-{os.getpid()}")
    torch.manual_seed(preset.seed)
    size = preset.image_size
    save_checkpoint(VideoMAEForPreTraining(scratch_config(preset)),
                    VideoMAEImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size}),
                    tmp)
    try:
        tmp.rename(folder)
    except OSError:  # another process wrote it first: theirs is the same
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


@contextlib.contextmanager
def _quiet_progress():
    """Without transformers' progress bars: writing or loading a tiny checkpoint takes a blink."""
    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def pick_device() -> str:
    """"cuda", "mps" or "cpu": the fastest the machine has."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def mixed_precision() -> dict[str, bool]:
    """``TrainingArguments``' ``bf16`` and ``fp16``: bfloat16 where a GPU computes it natively, float16 on other
    CUDA GPUs (T4, V100), float32 on a CPU or Apple's MPS."""
    if not torch.cuda.is_available():
        return {"bf16": False, "fp16": False}
    native = torch.cuda.is_bf16_supported(including_emulation=False)
    return {"bf16": native, "fp16": not native}


def loader_workers(preset: Preset) -> int:
    """DataLoader worker processes: the preset's number, or one per core up to 8."""
    return preset.num_workers if preset.num_workers >= 0 else min(8, os.cpu_count() or 1)


def head_message(checkpoint: str, label2id: dict[str, int]) -> str:
    """Say plainly what happens to the checkpoint's classification head with our labels."""
    theirs = sorted((getattr(AutoConfig.from_pretrained(checkpoint), "id2label", None) or {}).values())
    if theirs == sorted(label2id):
        return f"{checkpoint} already classifies our {len(label2id)} labels: its head is kept."
    if not theirs or all(name.startswith("LABEL_") for name in theirs):
        return f"{checkpoint} has no trained classification head: a new one for our {len(label2id)} labels is added."
    return (
        f"{checkpoint} was trained for {len(theirs)} other labels (e.g. {theirs[0]!r}); its head is replaced by a new, "
        f"untrained one for our {len(label2id)} labels, so it must be fine-tuned before use. To continue a run of "
        "your own instead, point VC_MODEL at that run's model folder, trained on the same classes."
    )
