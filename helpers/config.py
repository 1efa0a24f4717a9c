"""Presets: every knob of the series in one place, chosen by one switch.

Introduced in 01_load_data. ``PRESET`` picks a preset (``smoke``, ``cpu`` or ``full``), ``VC_<NAME>`` overrides one
knob (``VC_NUM_EPOCHS=2``, ``VC_PIPELINE=fast``). A preset changes values only; ``pipeline`` is the one value that
picks code. ``get_preset`` checks every value before any work starts: a misspelt ``VC_*`` name or a value VideoMAE
cannot use (``VC_NUM_FRAMES=7``) is a SettingsError (a ValueError) naming it and what works.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.runs import nearest_existing

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# downloads, generated datasets and checkpoints; $TUTORIAL_DATA moves them (relative: from the project root). On a
# shared server (docs/teaching.md) the teacher prepares them here once, and the folder may then be read-only
DATA_DIR = PROJECT_ROOT / Path(os.environ.get("TUTORIAL_DATA") or "data").expanduser()
# each learner's own output folder where the project cannot be written (a shared, read-only install)
PERSONAL_OUTPUT = Path("~/videomae-outputs")


def writable(folder: Path) -> bool:
    """Whether this user can create files in ``folder`` (or, if it does not exist yet, in the nearest parent that
    does): the one test of the project's folders, the caches' and the learner's."""
    return os.access(nearest_existing(folder), os.W_OK | os.X_OK)


def output_root() -> Path:
    """The folder of every preset's output folder: ``$TUTORIAL_OUTPUT``, by default ``outputs/``, or
    ``~/videomae-outputs`` where ``outputs/`` cannot be written (a shared install). A relative ``$TUTORIAL_OUTPUT``
    is taken from the project root, so that the notebooks (run in ``notebooks/``) and the script agree on it."""
    if os.environ.get("TUTORIAL_OUTPUT"):
        return PROJECT_ROOT / Path(os.environ["TUTORIAL_OUTPUT"]).expanduser()
    default = PROJECT_ROOT / "outputs"
    return default if writable(default) else PERSONAL_OUTPUT.expanduser()


def data_path(name: str | Path, ready: Callable[[Path], bool] = Path.exists) -> Path:
    """Where the built-in data or checkpoint ``name`` (``synthetic-cpu``, ``checkpoints/<name>``) lives:
    ``DATA_DIR/name``, unless ``DATA_DIR`` cannot be written and holds no ``ready`` copy of it (a shared install
    prepared for another preset or other settings); then under this user's ``<output_root()>/data``."""
    shared = DATA_DIR / name
    if writable(DATA_DIR) or ready(shared):
        return shared
    return output_root() / "data" / name


def printable(path: str | Path) -> str:
    """``path`` as any terminal can print it: a byte of a name that is not UTF-8 (``caf\udce9.mp4``) is written
    ``\xe9``, as ``ls -b`` writes it."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def shown(path: str | Path) -> str:
    """``path`` as messages print it: relative to the project when inside it (``data/synthetic-cpu``), printable."""
    path = Path(path)
    inside = path.is_absolute() and path.is_relative_to(PROJECT_ROOT)
    return printable(path.relative_to(PROJECT_ROOT) if inside else path)


class TutorialError(ValueError):
    """An error whose message names the file or the setting and the fix."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of the traceback: in a notebook the message is the whole error
        return [f"{type(self).__name__}: {self}"]


class SettingsError(TutorialError):
    """A preset or setting that cannot work; the message names each value and what works."""


DEFAULT_PRESET = "cpu"
PIPELINES = ("pytorchvideo", "fast")
DATASETS = ("synthetic", "hub")
TUBELET_SIZE = 2  # helpers.model builds VideoMAE with tubelet_size=2, as VideoMAE-base has: frames go in pairs
MAX_WORKERS = 64  # loader processes: more is never useful on one machine, and each holds decoded clips
SEED_LIMIT = 2**32  # NumPy's seed range (the Trainer seeds NumPy with ``seed``)
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")  # a Hub repository name


def knob(default, ok: Callable[[Any], bool] | None = None, rule: str | Callable[[Any], str] = ""):
    """A ``Preset`` field: its default and its check; ``ok(value)`` false gives "<name> <rule>" (``rule`` may be a
    function of the value)."""
    return dataclasses.field(default=default, metadata={"ok": ok, "rule": rule} if ok else {})


def at_least(minimum: int, why: str, example: int | None = None) -> tuple[Callable[[Any], bool], str]:
    return (lambda value: value >= minimum,
            f"must be at least {minimum} ({why}); use {minimum} or more" + (f", e.g. {example}" if example else ""))


def above_zero(example: str) -> tuple[Callable[[Any], bool], str]:
    return lambda value: math.isfinite(value) and value > 0, f"must be a finite number above 0; use e.g. {example}"


def fraction(split: str) -> tuple[Callable[[Any], bool], str]:
    return (lambda value: math.isfinite(value) and 0 < value < 1,
            f"is the share of each class's videos the split step puts in {split}: it must be above 0 and below 1; "
            "use e.g. 0.15")


def _synthetic(name: str):
    from helpers import synthetic  # imported when checked: the config stays light to import

    return getattr(synthetic, name)


def _multiples(value: int, step: int, minimum: int) -> str:
    """The nearest values that are multiples of ``step`` and at least ``minimum``: "6 or 8", or "16"."""
    below = value // step * step
    return f"{below} or {below + step}" if below >= minimum and below != value else str(max(below + step, minimum))


def _pairs() -> int:
    return len(_synthetic("PAIRS"))


def _min_seconds_rule(value: float) -> str:
    fps = _synthetic("FPS")
    return ("must be a finite number" if not math.isfinite(value) else
            f"must be at least {1 / fps:g} (one frame at {fps} fps); use {1 / fps:g} or more, e.g. 2.0")


SEED = (lambda value: 0 <= value < SEED_LIMIT,
        f"must be between 0 and {SEED_LIMIT - 1} (NumPy's seed range); use e.g. 0 or 42")
GROUPS = at_least(1, "every split needs videos of every class")
FINITE = (math.isfinite, "must be a finite number")


@dataclass(frozen=True)
class Preset:
    """All values the notebooks and the training script read, each with its check (``knob``)."""

    name: str
    # --- data
    dataset: str = knob("synthetic", lambda value: value in DATASETS,  # built in (offline), or the Hub's subset
                        "must be 'synthetic' (the built-in dataset, offline) or 'hub' (the UCF-101 subset from the "
                        "Hugging Face Hub)")
    # the built-in dataset: classes come in time-reversed twins (helpers.synthetic.PAIRS)
    num_pairs: int = knob(4, lambda value: 1 <= value <= _pairs(),
                          lambda value: f"must be between 1 and {_pairs()} (the synthetic generator has {_pairs()} "
                                        f"pairs of twin classes); use 1 to {_pairs()}")
    train_groups: int = knob(6, *GROUPS)  # groups (scenes) per class in each split
    val_groups: int = knob(2, *GROUPS)
    test_groups: int = knob(4, *GROUPS)
    clips_per_group: int = knob(4, *at_least(1, "a group is one scene filmed in several clips"))
    min_seconds: float = knob(2.0, lambda value: math.isfinite(value) and value >= 1 / _synthetic("FPS"),
                              _min_seconds_rule)  # the lengths of the videos, drawn between the two
    max_seconds: float = knob(4.0, *FINITE)
    data_seed: int = knob(0, *SEED)  # the generator's, and the split step's
    # your own videos (README "Train on your own videos"): a folder in the UCF layout ({train,val,test}/<Class>/) or
    # of class folders (<Class>/<files>), which helpers.data splits by group, stratified by class, with these
    # fractions and data_seed. "": the preset's dataset
    data_dir: str = ""
    val_fraction: float = knob(0.15, *fraction("val"))
    test_fraction: float = knob(0.15, *fraction("test"))
    # --- model: what fine-tuning starts from. "scratch": a small VideoMAE with random weights, in a folder laid out
    # like a Hub checkpoint; "pretrained": the same after notebook 03's masked autoencoding; else a Hub name or folder
    model: str = knob("scratch", lambda value: bool(value.strip()),
                      "must be 'pretrained' (a small VideoMAE pretrained here, notebook 03), 'scratch' (the same "
                      "with random weights), a Hub name such as MCG-NJU/videomae-base, or a folder written by "
                      "save_pretrained")
    image_size: int = 64  # side of the square frames the model sees (checked with patch_size)
    num_frames: int = knob(8, lambda value: value >= TUBELET_SIZE and not value % TUBELET_SIZE,
                           lambda value: f"must be a positive multiple of the tubelet size {TUBELET_SIZE} (VideoMAE "
                                         f"packs frames in pairs); use {_multiples(value, TUBELET_SIZE, TUBELET_SIZE)}")
    patch_size: int = knob(16, *at_least(1, "VideoMAE cuts each frame into patch_size x patch_size squares", 16))
    hidden_size: int = knob(128, *at_least(1, "the width of the model", 128))  # a multiple of num_heads
    num_layers: int = knob(4, *at_least(1, "the model needs at least one transformer layer"))
    num_heads: int = knob(4, *at_least(1, "attention needs at least one head"))
    # --- notebook 03's self-supervised pretraining: masked autoencoding, tube masks hiding mask_ratio of each frame
    pretrain_steps: int = knob(1000, *at_least(1, "steps of self-supervised pretraining", 1000))
    pretrain_batch_size: int = knob(32, *at_least(1, "clips per pretraining step", 32))
    pretrain_learning_rate: float = knob(3e-3, *above_zero("3e-3"))
    mask_ratio: float = 0.9  # VideoMAE's (checked with image_size and patch_size)
    # --- notebook 04's check that pretraining pays: the pretrained checkpoint and random weights, fine-tuned for
    # compare_steps steps each (0: skip) on compare_groups groups per class, compare_seeds seeds each
    compare_steps: int = knob(0, lambda value: value >= 0, "must be 0 (no comparison) or more, e.g. 200")
    compare_groups: int = knob(1, *at_least(1, "groups per class in the small labelled set of the comparison"))
    compare_seeds: int = knob(3, *at_least(1, "runs per start in the comparison, one seed each"))
    compare_lr_pretrained: float = knob(3e-4, *above_zero("3e-4"))  # each start's rate: benchmarks.compare_grid
    compare_lr_scratch: float = knob(3e-4, *above_zero("3e-4"))
    # --- sampling, as in the guide: a clip spans num_frames * sample_rate / fps seconds
    sample_rate: int = knob(4, *at_least(1, "a clip takes every sample_rate-th frame"))
    fps: int = knob(30, *at_least(1, "frames per second of the videos, for the clip duration", 25))
    # probability of a horizontal flip: 0 for the synthetic classes, where flipping would swap left and right
    hflip: float = knob(0.0, lambda value: math.isfinite(value) and 0 <= value <= 1,
                        "is a probability: it must be between 0 and 1; use 0 (no flipping) to 0.5")
    # --- training
    batch_size: int = knob(8, *at_least(1, "clips per training step", 8))
    num_epochs: int = knob(4, *at_least(1, "passes over the training videos", 4))
    learning_rate: float = knob(5e-5, *above_zero("5e-5 (fine-tuning) or 3e-4 (from scratch)"))  # AdamW's peak
    warmup: float = knob(0.1, lambda value: math.isfinite(value) and value >= 0 and (value < 1 or value == int(value)),
                         "must be a fraction of the training steps below 1 (e.g. 0.1) or a whole number of steps "
                         "(e.g. 10), and not negative")
    weight_decay: float = knob(0.0, lambda value: math.isfinite(value) and value >= 0,  # AdamW's
                               "must be a finite number, 0 or more; use e.g. 0 or 0.05")
    seed: int = knob(42, *SEED)  # the Trainer's: initial weights, batch order, augmentation
    num_workers: int = knob(-1, lambda value: -1 <= value <= MAX_WORKERS,  # loader processes; -1: by CPU count
                            "must be -1 (one loader process per core, up to 8), 0 (load in the training process) or "
                            f"1 to {MAX_WORKERS}")
    # the script's training input: the guide's PyTorchVideo pipeline (notebooks 02-04) or notebook 06's "fast" one
    pipeline: str = knob("pytorchvideo", lambda value: value in PIPELINES,
                         f"must be one of {', '.join(PIPELINES)} (the guide's PyTorchVideo input pipeline, or "
                         "helpers.fast)")
    # --- evaluation, the VideoMAE protocol: several clips x several crops per video
    eval_clips: int = knob(5, *at_least(1, "clips per test video in the per-video evaluation", 5))
    eval_crops: int = knob(3, *at_least(1, "crops per clip in the per-video evaluation; 1 or 3 are usual"))
    push_to_hub: bool = False  # opt-in upload of the trained model
    hub_model_id: str = knob("", lambda value: not value or (len(value) <= 96 and bool(REPO_ID.fullmatch(value))),
                             "must be a Hub repository name like <you>/<name> (letters, digits, '-', '_' and '.'), "
                             "or empty")

    @property
    def clip_duration(self) -> float:
        """Seconds of video one training clip covers."""
        return self.num_frames * self.sample_rate / self.fps

    @property
    def dataset_dir(self) -> Path:
        """Where this preset's videos live: ``data_dir`` (relative: from the project root), else the built-in
        dataset's or the UCF-101 subset's folder."""
        if self.data_dir:
            return PROJECT_ROOT / Path(self.data_dir).expanduser()
        if self.dataset == "hub":
            return data_path("UCF101_subset", lambda folder: (folder / ".complete").exists())
        return data_path(f"synthetic-{self.name}", lambda folder: _synthetic("is_current")(folder,
                                                                                          _synthetic("plan")(self)))

    @property
    def output_dir(self) -> Path:
        """Where executed notebooks, GIFs, plots and the model go: ``<output_root()>/<preset>``."""
        return output_root() / self.name

    @property
    def model_dir(self) -> Path:
        """The trained model folder that notebook 05 and ``helpers.predict`` load."""
        return self.output_dir / "model"

    def __str__(self) -> str:
        """``print(preset)`` in the notebooks: which data and model it uses (``describe``)."""
        return describe(self)


SETTINGS = [field for field in dataclasses.fields(Preset) if field.name != "name"]

PRESETS: dict[str, Preset] = {
    # CI: seconds per notebook
    "smoke": Preset(
        name="smoke", num_pairs=2, train_groups=2, val_groups=1, test_groups=1, clips_per_group=2, min_seconds=1.5,
        max_seconds=2.0, image_size=32, hidden_size=32, num_layers=1, num_heads=2, num_epochs=1, batch_size=4,
        pretrain_steps=3, pretrain_batch_size=4, compare_steps=4, eval_clips=2, eval_crops=1,
    ),
    # the default: a laptop CPU, offline, a small VideoMAE fine-tuned from random weights. Videos longer than a
    # clip, so training windows are random and a test video gives several distinct clips; the comparison's learning
    # rates are benchmarks.compare_grid's choice
    "cpu": Preset(
        name="cpu", pretrain_steps=30, pretrain_batch_size=16, pretrain_learning_rate=3e-4,
        compare_steps=200, compare_lr_pretrained=3e-3, compare_lr_scratch=3e-3, train_groups=16,
        min_seconds=1.5, max_seconds=2.0, sample_rate=4, patch_size=8, batch_size=4, learning_rate=3e-4,
        weight_decay=0.05, num_epochs=12,
    ),
    # the guide on a GPU: the Hub subset and the pretrained VideoMAE-base
    "full": Preset(
        name="full", dataset="hub", model="MCG-NJU/videomae-base", image_size=224,
        num_frames=16, hflip=0.5, batch_size=8, num_epochs=4, learning_rate=5e-5, pipeline="fast",
    ),
}

# each type's Python types and how messages name it
TYPES = {"bool": ((bool,), "true or false (1/0, yes/no)"), "int": ((int,), "a whole number"),
         "float": ((int, float), "a number"), "str": ((str,), "text")}


def _has_type(value: object, kind: str) -> bool:
    return isinstance(value, TYPES[kind][0]) and (kind == "bool" or not isinstance(value, bool))


def _cast(text: str, kind: str) -> object:
    """``text`` as a value of the type ``kind``; ValueError if it does not parse."""
    if kind == "bool":
        if text.strip().lower() not in {"1", "0", "true", "false", "yes", "no"}:
            raise ValueError(text)
        return text.strip().lower() in {"1", "true", "yes"}
    return {"int": int, "float": float, "str": str}[kind](text)


def unknown_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """One message per ``VC_*`` environment variable that is not a setting, naming the closest one."""
    environ = os.environ if environ is None else environ
    known = {f"VC_{field.name.upper()}" for field in SETTINGS}
    messages = []
    for key in sorted(k for k in environ if k.upper().startswith("VC_") and k not in known):
        if key.upper() in ("VC_NAME", "VC_PRESET"):
            messages.append(f"{key}={environ[key]}: the preset is chosen with PRESET ({', '.join(PRESETS)}), "
                            f"not {key}; unset {key}")
            continue
        # compare the names without their common prefix, which would make any two look alike
        close = difflib.get_close_matches(key.upper()[3:], sorted(k[3:] for k in known), n=1, cutoff=0.6)
        hint = f"did you mean VC_{close[0]}?" if close else f"the settings are {', '.join(sorted(known))}"
        messages.append(f"{key}={environ[key]}: {key} is not a setting, so it would be ignored; {hint} "
                        f"(unset {key} if it is meant for something else)")
    return messages


def get_preset(name: str | None = None, **values) -> Preset:
    """The preset ``name`` (default: $PRESET or "cpu") with the $VC_* overrides, checked by ``validate``.

    ``values`` that are not None replace the preset's and the environment's: a notebook passes its parameters cell,
    ``get_preset(PRESET, num_epochs=NUM_EPOCHS)``, where ``NUM_EPOCHS = None`` means "the preset's value"."""
    name = name or os.environ.get("PRESET") or DEFAULT_PRESET
    if name not in PRESETS:
        raise SettingsError(f"Unknown preset {name!r}. Choose one of {', '.join(PRESETS)} "
                            f"(set PRESET=cpu, or pass --preset cpu).")
    preset, problems, changes, sources = PRESETS[name], unknown_settings(), {}, {}
    for field in SETTINGS:
        env = f"VC_{field.name.upper()}"
        if env in os.environ:
            sources[field.name] = f"{env}={os.environ[env]}"
            try:
                changes[field.name] = _cast(os.environ[env], field.type)
            except ValueError:
                example = "" if field.type == "bool" else f", like {getattr(preset, field.name)}"
                problems.append(f"{sources[field.name]}: {field.name} must be {TYPES[field.type][1]}{example}")
    names = [field.name for field in SETTINGS]
    for key, value in values.items():
        if key not in names:
            close = difflib.get_close_matches(key, names, n=1)
            raise TypeError(f"get_preset() got {key}={value!r}, which is not a setting"
                            + (f"; did you mean {close[0]}?" if close else ""))
        if value is not None:
            changes[key] = os.fspath(value) if isinstance(value, os.PathLike) else value  # DATA_DIR = Path(...)
            sources[key] = f"{key.upper()}={changes[key]!r} in the parameters cell"
    return validate(dataclasses.replace(preset, **changes), sources=sources, problems=problems)


def _joint_rules(p: Preset) -> list[tuple[tuple[str, ...], bool, str | Callable[[], str]]]:
    """The checks across fields, in order: (fields, holds, message or a function giving it)."""
    rules = [
        (("max_seconds", "min_seconds"), p.max_seconds >= p.min_seconds,
         f"min_seconds ({p.min_seconds:g}) must not exceed max_seconds ({p.max_seconds:g}): they bound the lengths "
         f"of the synthetic videos; use e.g. min_seconds={min(p.min_seconds, p.max_seconds):g} and "
         f"max_seconds={max(p.min_seconds, p.max_seconds):g}"),
        (("val_fraction", "test_fraction"), p.val_fraction + p.test_fraction < 0.9,
         f"val_fraction + test_fraction is {p.val_fraction + p.test_fraction:g}: training would keep less than a "
         "tenth of the videos; use e.g. 0.15 and 0.15"),
        (("hidden_size", "num_heads"), not p.hidden_size % max(p.num_heads, 1),
         lambda: f"hidden_size must be a multiple of num_heads {p.num_heads} (each attention head gets an equal "
         f"share of it); use {_multiples(p.hidden_size, p.num_heads, p.num_heads)}"),
        (("image_size", "patch_size"), p.image_size >= p.patch_size and not p.image_size % max(p.patch_size, 1),
         lambda: f"image_size must be a multiple of patch_size {p.patch_size} (VideoMAE cuts each frame into "
         f"{p.patch_size}x{p.patch_size} patches and would drop the rest); use "
         f"{_multiples(p.image_size, p.patch_size, p.patch_size)}"),
    ]
    if p.model in ("pretrained", "scratch") and p.patch_size >= 1 and p.image_size >= p.patch_size:
        per_frame = (p.image_size // p.patch_size) ** 2
        rules.append((("mask_ratio", "image_size", "patch_size"),
                      math.isfinite(p.mask_ratio) and 0 < int(p.mask_ratio * per_frame) < per_frame,
                      f"mask_ratio must hide some and keep some of the {per_frame} patches of a frame (it hides "
                      f"int(mask_ratio * {per_frame})); use e.g. 0.9, VideoMAE's ratio"))
    return rules


def validate(preset: Preset, sources: Mapping[str, str] | None = None, problems: list[str] | None = None) -> Preset:
    """Return ``preset`` if every value works for VideoMAE, the pipelines and the generator (call it on a preset made
    with ``dataclasses.replace``); else a SettingsError with one line per problem (after ``problems``, found before),
    naming the value (``sources``: field -> the ``VC_*=value`` it came from) and what works.

    One loop checks each field's type and its own rule (``knob``); then the rules across fields (``_joint_rules``)
    whose fields passed."""
    sources, problems, failed = dict(sources or {}), list(problems or []), set()

    def bad(names: tuple[str, ...], message: str) -> None:
        given = [sources[name] for name in names if name in sources]  # the value the user set, else the preset's
        problems.append(f"{given[0] if given else f'{names[0]}={getattr(preset, names[0])!r} (preset {preset.name!r})'}"
                        f": {message}")
        failed.update(names[:1])

    wrong_type = False
    for field in SETTINGS:
        value, check = getattr(preset, field.name), field.metadata
        if not _has_type(value, field.type):
            bad((field.name,), f"{field.name} must be {TYPES[field.type][1]}, not {type(value).__name__}")
            wrong_type = True
        elif check and not check["ok"](value):
            bad((field.name,), f"{field.name} {check['rule'](value) if callable(check['rule']) else check['rule']}")
    if not wrong_type:  # the rules across fields compute with the values
        for names, holds, message in _joint_rules(preset):
            if not holds and not failed & set(names):
                bad(names, message() if callable(message) else message)
    if problems:
        raise SettingsError(problems[0] if len(problems) == 1 else
                            f"{len(problems)} settings need fixing:\n  " + "\n  ".join(problems))
    return preset


def describe(preset: Preset) -> str:
    """One plain paragraph saying which data and model this preset uses."""
    if preset.data_dir:
        data = f"your videos in {preset.dataset_dir}"
    elif preset.dataset == "hub":
        data = "the UCF-101 subset from the Hugging Face Hub (sayakpaul/ucf101-subset)"
    else:
        data = f"the built-in synthetic dataset ({2 * preset.num_pairs} motion classes, offline)"
    small = f"a small VideoMAE ({preset.num_layers} layers, width {preset.hidden_size})"
    start = {
        "scratch": f"{small} with random weights",
        "pretrained": f"{small} pretrained without labels on the training videos (notebook 03)",
    }.get(preset.model, f"the pretrained checkpoint {preset.model}")
    return (f"Preset {preset.name!r}: data = {data}; fine-tuning starts from {start}; "
            f"{preset.num_frames} frames of {preset.image_size}x{preset.image_size} per clip.")
