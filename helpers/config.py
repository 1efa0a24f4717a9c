"""Presets: every knob of the series in one place, chosen by one switch.

Introduced in 01_load_data. Pick a preset with the environment variable ``PRESET``
(``smoke``, ``cpu`` or ``full``); override a single knob with ``VC_<NAME>``, for
example ``VC_NUM_EPOCHS=2`` or ``VC_PIPELINE=fast``. A preset changes values only; the one value that picks code
is ``pipeline``, the training input pipeline (the guide's PyTorchVideo one, or ``helpers.fast``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
DEFAULT_PRESET = "cpu"
PIPELINES = ("pytorchvideo", "fast")


@dataclass(frozen=True)
class Preset:
    """All values the notebooks and the training script read."""

    name: str
    # data: "synthetic" (built in, offline) or "hub" (sayakpaul/ucf101-subset)
    dataset: str = "synthetic"
    num_pairs: int = 4  # synthetic: classes come in time-reversed twins
    train_groups: int = 6  # synthetic: groups per class and split
    val_groups: int = 2
    test_groups: int = 4
    clips_per_group: int = 4
    min_seconds: float = 2.0  # synthetic: clip lengths
    max_seconds: float = 4.0
    data_seed: int = 0
    # model: "scratch" builds a small VideoMAE from a config, else a Hub checkpoint
    model: str = "scratch"
    image_size: int = 64
    num_frames: int = 8
    patch_size: int = 16
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4
    # sampling, as in the guide: a clip spans num_frames * sample_rate / fps seconds
    sample_rate: int = 4
    fps: int = 30
    hflip: float = 0.0  # synthetic classes include left/right: flipping would swap labels
    # training
    batch_size: int = 8
    num_epochs: int = 4
    learning_rate: float = 5e-5
    warmup: float = 0.1
    weight_decay: float = 0.0
    seed: int = 42
    num_workers: int = -1  # -1: choose from the CPU count
    # training input: "pytorchvideo" (the guide's, notebook 02) or "fast" (helpers.fast: decode less, augment on
    # the device; the same transforms, several times the clips per second)
    pipeline: str = "pytorchvideo"
    # evaluation, the VideoMAE protocol: several clips x several crops per video
    eval_clips: int = 5
    eval_crops: int = 3
    # opt-in Hub upload
    push_to_hub: bool = False
    hub_model_id: str = ""

    @property
    def clip_duration(self) -> float:
        """Seconds of video one training clip covers."""
        return self.num_frames * self.sample_rate / self.fps

    @property
    def data_dir(self) -> Path:
        """Where this preset's videos live (train/val/test folders inside)."""
        if self.dataset == "hub":
            return DATA_DIR / "UCF101_subset"
        return DATA_DIR / f"synthetic-{self.name}"

    @property
    def output_dir(self) -> Path:
        """Where executed notebooks, GIFs, plots and the model go."""
        return Path(os.environ.get("TUTORIAL_OUTPUT", PROJECT_ROOT / "outputs")) / self.name

    @property
    def model_dir(self) -> Path:
        """The trained model folder that notebook 04 and ``helpers.predict`` load."""
        return self.output_dir / "model"


PRESETS: dict[str, Preset] = {
    # CI: seconds per notebook
    "smoke": Preset(
        name="smoke", num_pairs=2, train_groups=2, val_groups=1, test_groups=1,
        clips_per_group=2, min_seconds=1.5, max_seconds=2.0, image_size=32,
        hidden_size=32, num_layers=1, num_heads=2, num_epochs=1, batch_size=4,
        eval_clips=2, eval_crops=1,
    ),
    # default: a laptop CPU, offline, a small VideoMAE trained from scratch
    "cpu": Preset(
        name="cpu", train_groups=16, min_seconds=0.64, max_seconds=0.8, sample_rate=4,
        patch_size=8, batch_size=4, learning_rate=3e-4, weight_decay=0.05, num_epochs=12,
    ),
    # the guide on a GPU: the Hub subset and the pretrained VideoMAE-base
    "full": Preset(
        name="full", dataset="hub", model="MCG-NJU/videomae-base", image_size=224,
        num_frames=16, hflip=0.5, batch_size=8, num_epochs=4, learning_rate=5e-5, pipeline="fast",
    ),
}


def _cast(text: str, like: object) -> object:
    if isinstance(like, bool):
        if text.lower() not in {"1", "0", "true", "false", "yes", "no"}:
            raise ValueError(f"expected true/false, got {text!r}")
        return text.lower() in {"1", "true", "yes"}
    return type(like)(text)


def get_preset(name: str | None = None) -> Preset:
    """Return the preset called ``name`` (default: $PRESET or "cpu"), with $VC_* overrides."""
    name = name or os.environ.get("PRESET") or DEFAULT_PRESET
    if name not in PRESETS:
        raise ValueError(
            f"Unknown preset {name!r}. Choose one of {', '.join(PRESETS)} "
            f"(set PRESET=cpu, or pass --preset cpu)."
        )
    preset = PRESETS[name]
    changes = {}
    for field in dataclasses.fields(preset):
        env = f"VC_{field.name.upper()}"
        if field.name != "name" and env in os.environ:
            try:
                changes[field.name] = _cast(os.environ[env], getattr(preset, field.name))
            except ValueError as err:
                raise ValueError(f"{env}={os.environ[env]!r} is not a valid {field.name}: {err}") from None
    preset = dataclasses.replace(preset, **changes)
    if preset.pipeline not in PIPELINES:
        raise ValueError(f"Unknown pipeline {preset.pipeline!r}: use one of {', '.join(PIPELINES)} (VC_PIPELINE).")
    return preset


def describe(preset: Preset) -> str:
    """One plain paragraph saying which data and model this preset uses."""
    data = (
        "the UCF-101 subset from the Hugging Face Hub (sayakpaul/ucf101-subset)"
        if preset.dataset == "hub"
        else f"the built-in synthetic dataset ({2 * preset.num_pairs} motion classes, offline)"
    )
    model = (
        f"a small VideoMAE trained from scratch ({preset.num_layers} layers, width {preset.hidden_size})"
        if preset.model == "scratch"
        else f"the pretrained checkpoint {preset.model}"
    )
    return (
        f"Preset {preset.name!r}: data = {data}; model = {model}; "
        f"{preset.num_frames} frames of {preset.image_size}x{preset.image_size} per clip."
    )
