"""Presets: every knob of the series in one place, chosen by one switch.

Introduced in 01_load_data. Pick a preset with the environment variable ``PRESET``
(``smoke``, ``cpu`` or ``full``); override a single knob with ``VC_<NAME>``, for
example ``VC_NUM_EPOCHS=2`` or ``VC_PIPELINE=fast``. A preset changes values only; the one value that picks code
is ``pipeline``, the training input pipeline (the guide's PyTorchVideo one, or ``helpers.fast``).

``get_preset`` checks every value (``validate``) before any data or model work starts: a misspelt ``VC_*`` name or
a value VideoMAE cannot use (``VC_NUM_FRAMES=7``) is a SettingsError (a ValueError) naming it and what works.
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

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# downloads, generated datasets and checkpoints; $TUTORIAL_DATA moves them (a relative path is taken from the project
# root), e.g. for tests that must not touch the project's own data/
DATA_DIR = PROJECT_ROOT / Path(os.environ.get("TUTORIAL_DATA") or "data").expanduser()
def output_root() -> Path:
    """The folder that holds every preset's output folder: ``$TUTORIAL_OUTPUT``, by default ``outputs/`` in the
    project; a relative one is taken from the project root (``Preset.output_dir`` says why)."""
    base = Path(os.environ.get("TUTORIAL_OUTPUT") or PROJECT_ROOT / "outputs").expanduser()
    return PROJECT_ROOT / base  # an absolute base stays as it is


def printable(path: str | Path) -> str:
    """``path`` as text that any terminal can print: a byte of a name that is not UTF-8 (a latin-1 ``caf\xe9.mp4``,
    which Python holds as ``'caf\udce9.mp4'``) is written ``\xe9``, as ``ls -b`` writes it; other names unchanged."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def shown(path: str | Path) -> str:
    """``path`` as messages print it: relative to the project when inside it (``data/synthetic-cpu``), printable."""
    path = Path(path)
    inside = path.is_absolute() and path.is_relative_to(PROJECT_ROOT)
    return printable(path.relative_to(PROJECT_ROOT) if inside else path)


class SettingsError(ValueError):
    """A preset or setting that cannot work; the message names each value and what works."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows these lines instead of the traceback: in a notebook's parameters cell the message, which
        # names the setting and the values that work, is the whole error
        return [f"SettingsError: {self}"]


DEFAULT_PRESET = "cpu"
PIPELINES = ("pytorchvideo", "fast")
DATASETS = ("synthetic", "hub")
TUBELET_SIZE = 2  # helpers.model builds VideoMAE with tubelet_size=2, as VideoMAE-base has: frames go in pairs
MAX_WORKERS = 64  # loader processes: more is never useful on one machine, and each holds decoded clips
SEED_LIMIT = 2**32  # NumPy's seed range (the Trainer seeds NumPy with ``seed``)
REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?")  # a Hub repository name


def knob(default, ok: Callable[[Any], bool] | None = None, rule: str | Callable[[Any], str] = ""):
    """A ``Preset`` field: its default and the check ``validate`` makes of it. ``ok(value)`` false gives the
    message "<name> <rule>" (``rule`` may be a function of the value)."""
    return dataclasses.field(default=default, metadata={"ok": ok, "rule": rule} if ok else {})


def at_least(minimum: int, why: str, example: int | None = None) -> tuple[Callable[[Any], bool], str]:
    return (lambda value: value >= minimum,
            f"must be at least {minimum} ({why}); use {minimum} or more" + (f", e.g. {example}" if example else ""))


def above_zero(example: str) -> tuple[Callable[[Any], bool], str]:
    return lambda value: math.isfinite(value) and value > 0, f"must be a finite number above 0; use e.g. {example}"


def _multiples(value: int, step: int, minimum: int) -> str:
    """The nearest values that are multiples of ``step`` and at least ``minimum``: "6 or 8", or "16"."""
    below = value // step * step
    above = below + step
    if below >= minimum and below != value:
        return f"{below} or {above}"
    return str(max(above, minimum))


def _fraction(split: str) -> tuple[Callable[[Any], bool], str]:
    return (lambda value: math.isfinite(value) and 0 < value < 1,
            f"is the share of each class's videos the split step puts in {split}: it must be above 0 and below 1; "
            "use e.g. 0.15")


SEED = (lambda value: 0 <= value < SEED_LIMIT,
        f"must be between 0 and {SEED_LIMIT - 1} (NumPy's seed range); use e.g. 0 or 42")
GROUPS = at_least(1, "every split needs videos of every class")


@dataclass(frozen=True)
class Preset:
    """All values the notebooks and the training script read, each with the check ``validate`` makes of it."""

    name: str
    # data: "synthetic" (built in, offline) or "hub" (sayakpaul/ucf101-subset)
    dataset: str = knob("synthetic", lambda value: value in DATASETS,
                        "must be 'synthetic' (the built-in dataset, offline) or 'hub' (the UCF-101 subset from the "
                        "Hugging Face Hub)")
    num_pairs: int = 4  # synthetic: classes come in time-reversed twins (checked against helpers.synthetic.PAIRS)
    train_groups: int = knob(6, *GROUPS)  # synthetic: groups (scenes) per class and split
    val_groups: int = knob(2, *GROUPS)
    test_groups: int = knob(4, *GROUPS)
    clips_per_group: int = knob(4, *at_least(1, "a group is one scene filmed in several clips"))
    min_seconds: float = knob(2.0, math.isfinite, "must be a finite number")  # synthetic: clip lengths
    max_seconds: float = knob(4.0, math.isfinite, "must be a finite number")
    data_seed: int = knob(0, *SEED)
    # your own videos (README "Train on your own videos"): a folder in the UCF layout ({train,val,test}/<Class>/) or
    # of class folders without splits (<Class>/<files>), which helpers.data splits by group, stratified by class, with
    # these fractions and data_seed. "": the preset's dataset (built in, or the UCF-101 subset)
    data_dir: str = ""
    val_fraction: float = knob(0.15, *_fraction("val"))
    test_fraction: float = knob(0.15, *_fraction("test"))
    # model: what fine-tuning starts from. "scratch": a small VideoMAE with random weights, in a folder laid out like
    # a Hub checkpoint; "pretrained": the same model after notebook 03's masked autoencoding on the training videos;
    # else a Hub name or a folder
    model: str = knob("scratch", lambda value: bool(value.strip()),
                      "must be 'pretrained' (a small VideoMAE pretrained here, notebook 03), 'scratch' (the same "
                      "with random weights), a Hub name such as MCG-NJU/videomae-base, or a folder written by "
                      "save_pretrained")
    image_size: int = 64  # a multiple of patch_size
    num_frames: int = knob(8, lambda value: value >= TUBELET_SIZE and not value % TUBELET_SIZE,
                           lambda value: f"must be a positive multiple of the tubelet size {TUBELET_SIZE} (VideoMAE "
                                         f"packs frames in pairs); use {_multiples(value, TUBELET_SIZE, TUBELET_SIZE)}")
    patch_size: int = knob(16, *at_least(1, "VideoMAE cuts each frame into patch_size x patch_size squares", 16))
    hidden_size: int = knob(128, *at_least(1, "the width of the model", 128))  # a multiple of num_heads
    num_layers: int = knob(4, *at_least(1, "the model needs at least one transformer layer"))
    num_heads: int = knob(4, *at_least(1, "attention needs at least one head"))
    # self-supervised pretraining of the small VideoMAE (notebook 03, helpers.pretrain): VideoMAE's masked
    # autoencoding, tube masks hiding mask_ratio of every frame's patches
    pretrain_steps: int = knob(1000, *at_least(1, "steps of self-supervised pretraining", 1000))
    pretrain_batch_size: int = knob(32, *at_least(1, "clips per pretraining step", 32))
    pretrain_learning_rate: float = knob(3e-3, *above_zero("3e-3"))
    mask_ratio: float = 0.9
    # notebook 04's check that pretraining pays: fine-tune the pretrained checkpoint and the same model with random
    # weights for compare_steps steps each on a small labelled set (compare_groups groups per class); 0: skip
    compare_steps: int = knob(0, lambda value: value >= 0, "must be 0 (no comparison) or more, e.g. 300")
    compare_groups: int = knob(1, *at_least(1, "groups per class in the small labelled set of the comparison"))
    # runs per start, seeds seed, seed + 1, ...: one seed is a demonstration, not a result
    compare_seeds: int = knob(3, *at_least(1, "runs per start in the comparison, one seed each"))
    # each start's learning rate, chosen on the validation videos (benchmarks.compare_grid)
    compare_lr_pretrained: float = knob(3e-4, *above_zero("3e-4"))
    compare_lr_scratch: float = knob(3e-4, *above_zero("3e-4"))
    # sampling, as in the guide: a clip spans num_frames * sample_rate / fps seconds
    sample_rate: int = knob(4, *at_least(1, "a clip takes every sample_rate-th frame"))
    fps: int = knob(30, *at_least(1, "frames per second of the videos, for the clip duration", 25))
    # probability of a horizontal flip: 0 for the synthetic classes, where flipping would swap left and right
    hflip: float = knob(0.0, lambda value: math.isfinite(value) and 0 <= value <= 1,
                        "is a probability: it must be between 0 and 1; use 0 (no flipping) to 0.5")
    # training
    batch_size: int = knob(8, *at_least(1, "clips per training step", 8))
    num_epochs: int = knob(4, *at_least(1, "passes over the training videos", 4))
    learning_rate: float = knob(5e-5, *above_zero("5e-5 (fine-tuning) or 3e-4 (from scratch)"))
    warmup: float = knob(0.1, lambda value: math.isfinite(value) and value >= 0 and (value < 1 or value == int(value)),
                         "must be a fraction of the training steps below 1 (e.g. 0.1) or a whole number of steps "
                         "(e.g. 10), and not negative")
    weight_decay: float = knob(0.0, lambda value: math.isfinite(value) and value >= 0,
                               "must be a finite number, 0 or more; use e.g. 0 or 0.05")
    seed: int = knob(42, *SEED)
    # loader processes; -1: choose from the CPU count
    num_workers: int = knob(-1, lambda value: -1 <= value <= MAX_WORKERS,
                            "must be -1 (one loader process per core, up to 8), 0 (load in the training process) or "
                            f"1 to {MAX_WORKERS}")
    # the script's training input: "pytorchvideo" (the guide's, notebooks 02-04) or "fast" (notebook 06: decode
    # less, augment on the device; the same transforms, several times the clips per second)
    pipeline: str = knob("pytorchvideo", lambda value: value in PIPELINES,
                         f"must be one of {', '.join(PIPELINES)} (the guide's PyTorchVideo input pipeline, or "
                         "helpers.fast)")
    # evaluation, the VideoMAE protocol: several clips x several crops per video
    eval_clips: int = knob(5, *at_least(1, "clips per test video in the per-video evaluation", 5))
    eval_crops: int = knob(3, *at_least(1, "crops per clip in the per-video evaluation; 1 or 3 are usual"))
    # opt-in Hub upload
    push_to_hub: bool = False
    hub_model_id: str = knob("", lambda value: not value or (len(value) <= 96 and bool(REPO_ID.fullmatch(value))),
                             "must be a Hub repository name like <you>/<name> (letters, digits, '-', '_' and '.'), "
                             "or empty")

    @property
    def clip_duration(self) -> float:
        """Seconds of video one training clip covers."""
        return self.num_frames * self.sample_rate / self.fps

    @property
    def dataset_dir(self) -> Path:
        """Where this preset's videos live: the folder ``data_dir`` names (a relative one is taken from the project
        root, as ``TUTORIAL_OUTPUT`` is), else the built-in dataset's or the UCF-101 subset's folder."""
        if self.data_dir:
            return PROJECT_ROOT / Path(self.data_dir).expanduser()  # an absolute folder stays as it is
        if self.dataset == "hub":
            return DATA_DIR / "UCF101_subset"
        return DATA_DIR / f"synthetic-{self.name}"

    @property
    def output_dir(self) -> Path:
        """Where executed notebooks, GIFs, plots and the model go: ``$TUTORIAL_OUTPUT/<preset>``, by default
        ``outputs/<preset>`` in the project.

        A relative ``TUTORIAL_OUTPUT`` is taken from the project root (the folder of the Makefile), not from the
        current folder: the notebooks run inside ``notebooks/`` and the script wherever it is started, and all of
        them must write to and read from the same place."""
        return output_root() / self.name

    @property
    def model_dir(self) -> Path:
        """The trained model folder that notebook 05 and ``helpers.predict`` load."""
        return self.output_dir / "model"

    def __str__(self) -> str:
        """``print(preset)`` in the notebooks: which data and model it uses (``describe``)."""
        return describe(self)


PRESETS: dict[str, Preset] = {
    # CI: seconds per notebook
    "smoke": Preset(
        name="smoke", num_pairs=2, train_groups=2, val_groups=1, test_groups=1,
        clips_per_group=2, min_seconds=1.5, max_seconds=2.0, image_size=32,
        hidden_size=32, num_layers=1, num_heads=2, num_epochs=1, batch_size=4, pretrain_steps=3, pretrain_batch_size=4,
        compare_steps=4,
        eval_clips=2, eval_crops=1,
    ),
    # default: a laptop CPU, offline, a small VideoMAE fine-tuned from random weights (notebook 03 pretrains the
    # checkpoint notebook 04's comparison starts from). Videos of 1.5-2 s, longer than a clip (1.07 s): random
    # training windows, 5 distinct clips per test video. The comparison's learning rates come from
    # benchmarks.compare_grid (validation videos, 3 seeds); 12 epochs and 300 comparison steps keep `make tutorial`
    # within 10 minutes on 2 cores
    "cpu": Preset(
        name="cpu", pretrain_steps=30, pretrain_batch_size=16, pretrain_learning_rate=3e-4,
        compare_steps=300, compare_lr_pretrained=3e-3, compare_lr_scratch=3e-3, train_groups=16,
        min_seconds=1.5, max_seconds=2.0, sample_rate=4, patch_size=8, batch_size=4, learning_rate=3e-4,
        weight_decay=0.05, num_epochs=12,
    ),
    # the guide on a GPU: the Hub subset and the pretrained VideoMAE-base
    "full": Preset(
        name="full", dataset="hub", model="MCG-NJU/videomae-base", image_size=224,
        num_frames=16, hflip=0.5, batch_size=8, num_epochs=4, learning_rate=5e-5, pipeline="fast",
    ),
}


def _cast(text: str, like: object) -> object:
    """``text`` as the type of ``like``; ValueError if it does not parse."""
    if isinstance(like, bool):
        if text.strip().lower() not in {"1", "0", "true", "false", "yes", "no"}:
            raise ValueError(text)
        return text.strip().lower() in {"1", "true", "yes"}
    return type(like)(text)


def unknown_settings(environ: Mapping[str, str] | None = None) -> list[str]:
    """One message per ``VC_*`` environment variable that is not a setting, naming the closest one."""
    environ = os.environ if environ is None else environ
    known = {f"VC_{field.name.upper()}" for field in dataclasses.fields(Preset) if field.name != "name"}
    messages = []
    for key in sorted(environ):
        if not key.upper().startswith("VC_") or key in known:
            continue
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
    """Return the preset called ``name`` (default: $PRESET or "cpu"), with $VC_* overrides, checked by ``validate``.

    ``values`` that are not None replace the preset's (and the environment's): the notebooks pass the knobs of
    their parameters cell this way, e.g. ``get_preset(PRESET, num_epochs=NUM_EPOCHS)`` with ``NUM_EPOCHS = None``
    meaning "the preset's value".

    Raises SettingsError, naming the variable, its value and the values that work, for an unknown ``VC_*`` name (with
    the closest setting), a value that does not parse, or one that VideoMAE or the pipelines cannot use."""
    name = name or os.environ.get("PRESET") or DEFAULT_PRESET
    if name not in PRESETS:
        raise SettingsError(
            f"Unknown preset {name!r}. Choose one of {', '.join(PRESETS)} "
            f"(set PRESET=cpu, or pass --preset cpu)."
        )
    preset = PRESETS[name]
    problems = unknown_settings()
    changes, sources = {}, {}
    for field in dataclasses.fields(preset):
        env = f"VC_{field.name.upper()}"
        if field.name != "name" and env in os.environ:
            sources[field.name] = f"{env}={os.environ[env]}"
            try:
                changes[field.name] = _cast(os.environ[env], getattr(preset, field.name))
            except ValueError:
                value = getattr(preset, field.name)
                example = "" if isinstance(value, bool) else f", like {value}"
                problems.append(f"{sources[field.name]}: {field.name} must be {_type_word(field.name)}{example}")
    fields = {field.name for field in dataclasses.fields(preset)} - {"name"}
    for key, value in values.items():
        if key not in fields:
            close = difflib.get_close_matches(key, sorted(fields), n=1)
            raise TypeError(f"get_preset() got {key}={value!r}, which is not a setting"
                            + (f"; did you mean {close[0]}?" if close else ""))
        if isinstance(value, os.PathLike):  # DATA_DIR = Path("~/videos") in a parameters cell
            value = os.fspath(value)
        if value is not None:
            changes[key] = value
            sources[key] = f"{key.upper()}={value!r} in the parameters cell"
    preset = dataclasses.replace(preset, **changes)
    return validate(preset, sources=sources, problems=problems)


# --- checks ----------------------------------------------------------------------------------------------------

def _type_word(field_name: str) -> str:
    default = getattr(Preset("_"), field_name)
    if isinstance(default, bool):
        return "true or false (1/0, yes/no)"
    return {int: "a whole number", float: "a number", str: "text"}[type(default)]


def _type_problems(preset: Preset) -> list[tuple[str, str]]:
    """(field, message) for every value whose type is not the field's: ``dataclasses.replace`` accepts anything."""
    found = []
    for field in dataclasses.fields(Preset):
        value, default = getattr(preset, field.name), getattr(Preset("_"), field.name)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str)
        if not ok:
            found.append((field.name, f"{field.name} must be {_type_word(field.name)}, not {type(value).__name__}"))
    return found


def _joint_rules(p: Preset) -> list[tuple[tuple[str, ...], bool, str | Callable[[], str]]]:
    """The checks that involve the generator or several values, in order: (fields, holds, message or a function
    giving it). A rule is skipped when one of its fields already failed."""
    from helpers.synthetic import FPS, PAIRS  # imported here: the config stays light to import

    shortest = 1 / FPS
    rules = [
        (("num_pairs",), 1 <= p.num_pairs <= len(PAIRS),
         f"num_pairs must be between 1 and {len(PAIRS)} (the synthetic generator has {len(PAIRS)} pairs of twin "
         f"classes); use 1 to {len(PAIRS)}"),
        (("min_seconds",), p.min_seconds >= shortest,
         f"min_seconds must be at least {shortest:g} (one frame at {FPS} fps); use {shortest:g} or more, e.g. 2.0"),
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
    """Check every value of ``preset`` against what VideoMAE, the pipelines and the generator need; return it.

    ``get_preset`` calls it; call it too on a preset made with ``dataclasses.replace``. Each field's own check is
    declared with it (``knob``), the checks across fields in ``_joint_rules``. Raises SettingsError with one line per
    problem, naming the value (``sources`` maps a field to the ``VC_*=value`` it came from) and the values that
    work."""
    sources = dict(sources or {})
    problems = list(problems or [])  # found before, e.g. values that did not parse (the preset kept its own)

    def bad(names: tuple[str, ...], message: str) -> None:
        # name the value the user set if there is one, else the preset's own
        given = [sources[name] for name in names if name in sources]
        problems.append(f"{given[0] if given else f'{names[0]}={getattr(preset, names[0])!r} (preset {preset.name!r})'}"
                        f": {message}")

    wrong_types = _type_problems(preset)
    for name, message in wrong_types:
        bad((name,), message)
    if wrong_types:
        raise SettingsError(_summary(problems))
    failed = set()
    for field in dataclasses.fields(Preset):
        check, value = field.metadata, getattr(preset, field.name)
        if check and not check["ok"](value):
            rule = check["rule"](value) if callable(check["rule"]) else check["rule"]
            bad((field.name,), f"{field.name} {rule}")
            failed.add(field.name)
    for names, holds, message in _joint_rules(preset):
        if not holds and not failed & set(names):
            bad(names, message() if callable(message) else message)
            failed.update(names[:1])
    if problems:
        raise SettingsError(_summary(problems))
    return preset


def _summary(problems: list[str]) -> str:
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} settings need fixing:\n  " + "\n  ".join(problems)


def describe(preset: Preset) -> str:
    """One plain paragraph saying which data and model this preset uses."""
    if preset.data_dir:
        data = f"your videos in {preset.dataset_dir}"
    elif preset.dataset == "hub":
        data = "the UCF-101 subset from the Hugging Face Hub (sayakpaul/ucf101-subset)"
    else:
        data = f"the built-in synthetic dataset ({2 * preset.num_pairs} motion classes, offline)"
    small = f"a small VideoMAE ({preset.num_layers} layers, width {preset.hidden_size})"
    model = {
        "scratch": f"{small} with random weights, fine-tuned",
        "pretrained": f"{small} pretrained without labels on the training videos (notebook 03), then fine-tuned",
    }.get(preset.model, f"the pretrained checkpoint {preset.model}, fine-tuned")
    return (
        f"Preset {preset.name!r}: data = {data}; model = {model}; "
        f"{preset.num_frames} frames of {preset.image_size}x{preset.image_size} per clip."
    )
