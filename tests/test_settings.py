"""Settings are checked when the preset is read, before any data or model work, and a relative output folder is
taken from the project root."""

import dataclasses
import os
import re
from pathlib import Path

import pytest

from helpers.config import PRESETS, PROJECT_ROOT, get_preset, validate


@pytest.fixture(autouse=True)
def no_settings_from_outside(monkeypatch):
    """Each test sets the VC_* variables it needs, and only those."""
    for key in [k for k in os.environ if k.upper().startswith("VC_")]:
        monkeypatch.delenv(key)


# (variable, value, what the message must say): each value VideoMAE, the pipelines or the generator cannot use
BAD_VALUES = [
    ("VC_NUM_FRAMES", "7", r"VC_NUM_FRAMES=7: num_frames must be a positive multiple of the tubelet size 2 "
                           r"\(VideoMAE packs frames in pairs\); use 6 or 8"),
    ("VC_NUM_FRAMES", "0", r"VC_NUM_FRAMES=0: .*tubelet size 2.*use 2$"),
    ("VC_IMAGE_SIZE", "30", r"VC_IMAGE_SIZE=30: image_size must be a multiple of patch_size 16 .*use 16 or 32"),
    ("VC_IMAGE_SIZE", "8", r"VC_IMAGE_SIZE=8: image_size must be a multiple of patch_size 16 .*use 16$"),
    ("VC_PATCH_SIZE", "12", r"VC_PATCH_SIZE=12: image_size must be a multiple of patch_size 12 .*use 24 or 36"),
    ("VC_PATCH_SIZE", "0", r"VC_PATCH_SIZE=0: patch_size must be at least 1"),
    ("VC_BATCH_SIZE", "0", r"VC_BATCH_SIZE=0: batch_size must be at least 1 .*use 1 or more"),
    ("VC_SAMPLE_RATE", "0", r"VC_SAMPLE_RATE=0: sample_rate must be at least 1"),
    ("VC_FPS", "0", r"VC_FPS=0: fps must be at least 1"),
    ("VC_EVAL_CLIPS", "0", r"VC_EVAL_CLIPS=0: eval_clips must be at least 1"),
    ("VC_EVAL_CROPS", "-1", r"VC_EVAL_CROPS=-1: eval_crops must be at least 1"),
    ("VC_NUM_EPOCHS", "0", r"VC_NUM_EPOCHS=0: num_epochs must be at least 1"),
    ("VC_NUM_WORKERS", "-2", r"VC_NUM_WORKERS=-2: num_workers must be -1 .*, 0 .* or 1 to 64"),
    ("VC_NUM_WORKERS", "500", r"VC_NUM_WORKERS=500: num_workers must be -1"),
    ("VC_LEARNING_RATE", "0", r"VC_LEARNING_RATE=0: learning_rate must be a finite number above 0; use e\.g\."),
    ("VC_LEARNING_RATE", "nan", r"VC_LEARNING_RATE=nan: learning_rate must be a finite number above 0"),
    ("VC_LEARNING_RATE", "inf", r"VC_LEARNING_RATE=inf: learning_rate must be a finite number above 0"),
    ("VC_WARMUP", "-0.1", r"VC_WARMUP=-0.1: warmup must be .*not negative"),
    ("VC_WARMUP", "2.5", r"VC_WARMUP=2.5: warmup must be a fraction .* below 1 .* or a whole number of steps"),
    ("VC_WEIGHT_DECAY", "-1", r"VC_WEIGHT_DECAY=-1: weight_decay must be a finite number, 0 or more"),
    ("VC_HFLIP", "1.5", r"VC_HFLIP=1.5: hflip is a probability: it must be between 0 and 1"),
    ("VC_MIN_SECONDS", "5", r"VC_MIN_SECONDS=5: min_seconds \(5\) must not exceed max_seconds \(2\)"),
    ("VC_MIN_SECONDS", "0", r"VC_MIN_SECONDS=0: min_seconds must be at least 0.04 \(one frame at 25 fps\)"),
    ("VC_MAX_SECONDS", "inf", r"VC_MAX_SECONDS=inf: max_seconds must be a finite number"),
    ("VC_NUM_PAIRS", "0", r"VC_NUM_PAIRS=0: num_pairs must be between 1 and 5 .*use 1 to 5"),
    ("VC_NUM_PAIRS", "6", r"VC_NUM_PAIRS=6: num_pairs must be between 1 and 5"),
    ("VC_TRAIN_GROUPS", "0", r"VC_TRAIN_GROUPS=0: train_groups must be at least 1"),
    ("VC_CLIPS_PER_GROUP", "0", r"VC_CLIPS_PER_GROUP=0: clips_per_group must be at least 1"),
    ("VC_DATASET", "ucf101", r"VC_DATASET=ucf101: dataset must be 'synthetic' .* or 'hub'"),
    ("VC_PIPELINE", "slow", r"VC_PIPELINE=slow: pipeline must be one of pytorchvideo, fast"),
    ("VC_MODEL", "", r"VC_MODEL=: model must be 'pretrained'"),
    ("VC_MASK_RATIO", "1", r"VC_MASK_RATIO=1: mask_ratio must hide some and keep some of the 4 patches"),
    ("VC_MASK_RATIO", "0.2", r"VC_MASK_RATIO=0.2: mask_ratio must hide some .*use e.g. 0.9"),
    ("VC_PRETRAIN_STEPS", "0", r"VC_PRETRAIN_STEPS=0: pretrain_steps must be at least 1"),
    ("VC_PRETRAIN_LEARNING_RATE", "nan", r"VC_PRETRAIN_LEARNING_RATE=nan: pretrain_learning_rate must be a finite"),
    ("VC_HIDDEN_SIZE", "33", r"VC_HIDDEN_SIZE=33: hidden_size must be a multiple of num_heads 2 .*use 32 or 34"),
    ("VC_NUM_HEADS", "0", r"VC_NUM_HEADS=0: num_heads must be at least 1"),
    ("VC_NUM_LAYERS", "0", r"VC_NUM_LAYERS=0: num_layers must be at least 1"),
    ("VC_SEED", "-1", r"VC_SEED=-1: seed must be between 0 and 4294967295"),
    ("VC_HUB_MODEL_ID", "me/my model", r"VC_HUB_MODEL_ID=me/my model: hub_model_id must be a Hub repository name"),
    ("VC_NUM_EPOCHS", "many", r"VC_NUM_EPOCHS=many: num_epochs must be a whole number, like 1"),
    ("VC_NUM_EPOCHS", "2.0", r"VC_NUM_EPOCHS=2.0: num_epochs must be a whole number"),
    ("VC_LEARNING_RATE", "fast", r"VC_LEARNING_RATE=fast: learning_rate must be a number, like 5e-05"),
    ("VC_PUSH_TO_HUB", "maybe", r"VC_PUSH_TO_HUB=maybe: push_to_hub must be true or false"),
]


@pytest.mark.parametrize(("variable", "value", "message"), BAD_VALUES, ids=[f"{v}={x}" for v, x, _ in BAD_VALUES])
def test_a_value_that_cannot_work_is_refused_naming_the_variable_and_what_works(monkeypatch, variable, value,
                                                                                 message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError) as err:
        get_preset("smoke")
    assert re.search(message, str(err.value), flags=re.MULTILINE), str(err.value)


@pytest.mark.parametrize(("variable", "suggestion"), [
    ("VC_NUM_EPOCH", "VC_NUM_EPOCHS"), ("VC_BATCHSIZE", "VC_BATCH_SIZE"), ("VC_LR", None),
    ("vc_num_epochs", "VC_NUM_EPOCHS"), ("VC_HUB_MODEL", "VC_HUB_MODEL_ID"),
])
def test_an_unknown_setting_is_an_error_that_suggests_the_closest(monkeypatch, variable, suggestion):
    monkeypatch.setenv(variable, "1")
    with pytest.raises(ValueError, match=rf"{variable}=1: {variable} is not a setting") as err:
        get_preset("cpu")
    if suggestion:
        assert f"did you mean {suggestion}?" in str(err.value)
    else:  # nothing close: the list of every setting
        assert "the settings are" in str(err.value) and "VC_LEARNING_RATE" in str(err.value)


@pytest.mark.parametrize("variable", ["VC_NAME", "VC_PRESET"])
def test_the_preset_is_not_chosen_with_a_setting(monkeypatch, variable):
    monkeypatch.setenv(variable, "full")
    with pytest.raises(ValueError, match=rf"{variable}=full: the preset is chosen with PRESET"):
        get_preset("cpu")


def test_every_problem_is_reported_at_once(monkeypatch):
    monkeypatch.setenv("VC_NUM_FRAMES", "7")
    monkeypatch.setenv("VC_IMAGE_SIZE", "30")
    monkeypatch.setenv("VC_NUM_EPOCH", "1")
    with pytest.raises(ValueError, match=r"^3 settings need fixing:") as err:
        get_preset("smoke")
    assert all(name in str(err.value) for name in ("VC_NUM_FRAMES=7", "VC_IMAGE_SIZE=30", "VC_NUM_EPOCH=1"))


def project_setting_names() -> set[str]:
    """Every VC_* name the project's docs, notebooks, code and other tests use."""
    files = [PROJECT_ROOT / "README.md", PROJECT_ROOT / "Makefile", *PROJECT_ROOT.glob("notebooks/*.ipynb"),
             *PROJECT_ROOT.glob("helpers/*.py"), *PROJECT_ROOT.glob("benchmarks/*.py"),
             *(p for p in PROJECT_ROOT.glob("tests/*.py") if p.name != Path(__file__).name)]
    names = set()
    for path in files:
        if path.is_file():
            names |= set(re.findall(r"\bVC_[A-Z][A-Z_]*[A-Z]\b", path.read_text(errors="replace")))
    # named only to show that they are refused: PRESET picks the preset; the README's example of a typo
    return names - {"VC_NAME", "VC_PRESET", "VC_NUM_EPOCH"}


def test_every_setting_the_project_mentions_is_accepted(monkeypatch):
    names = project_setting_names()
    assert {"VC_NUM_EPOCHS", "VC_PIPELINE", "VC_HUB_MODEL_ID", "VC_NUM_WORKERS", "VC_MODEL"} <= names
    preset = PRESETS["full"]
    for name in names:
        monkeypatch.setenv(name, str(getattr(preset, name.removeprefix("VC_").lower())))
    monkeypatch.setenv("VC_HUB_MODEL_ID", "me/videomae-ucf101")
    assert get_preset("full").hub_model_id == "me/videomae-ucf101"


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_preset_is_valid_as_it_is(name):
    assert validate(PRESETS[name]) == get_preset(name) == PRESETS[name]


def test_working_values_pass(monkeypatch):
    for variable, value in {"VC_NUM_FRAMES": "16", "VC_IMAGE_SIZE": "48", "VC_NUM_WORKERS": "-1", "VC_WARMUP": "10",
                            "VC_HFLIP": "0.5", "VC_LEARNING_RATE": "1e-4", "VC_MIN_SECONDS": "0.8",
                            "VC_MAX_SECONDS": "0.8", "VC_NUM_PAIRS": "5", "VC_PUSH_TO_HUB": "yes",
                            "VC_HUB_MODEL_ID": "me/videomae_1.0"}.items():
        monkeypatch.setenv(variable, value)
    preset = get_preset("cpu")  # patch 8
    assert (preset.num_frames, preset.image_size, preset.warmup, preset.num_pairs) == (16, 48, 10.0, 5)


def test_validate_checks_a_preset_made_with_replace():
    smoke = get_preset("smoke")
    assert validate(dataclasses.replace(smoke, num_frames=4)).num_frames == 4
    with pytest.raises(ValueError, match=r"num_frames=7 \(preset 'smoke'\): num_frames must be a positive multiple"):
        validate(dataclasses.replace(smoke, num_frames=7))
    with pytest.raises(ValueError, match=r"batch_size='8' \(preset 'smoke'\): batch_size must be a whole number, "
                                         r"not str"):
        validate(dataclasses.replace(smoke, batch_size="8"))


# --- a relative TUTORIAL_OUTPUT -----------------------------------------------------------------------------------

def test_a_relative_tutorial_output_is_taken_from_the_project_root(monkeypatch):
    monkeypatch.setenv("TUTORIAL_OUTPUT", "runs/mine")
    monkeypatch.chdir(PROJECT_ROOT / "notebooks")  # where the notebooks run
    preset = get_preset("smoke")
    assert preset.output_dir == PROJECT_ROOT / "runs" / "mine" / "smoke"
    assert preset.model_dir == PROJECT_ROOT / "runs" / "mine" / "smoke" / "model"
    assert preset.output_dir.is_absolute()


def test_an_absolute_tutorial_output_stays_and_the_default_is_outputs(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TUTORIAL_OUTPUT", str(tmp_path / "elsewhere"))
    assert get_preset("smoke").output_dir == tmp_path / "elsewhere" / "smoke"
    monkeypatch.delenv("TUTORIAL_OUTPUT")
    assert get_preset("smoke").output_dir == PROJECT_ROOT / "outputs" / "smoke"


def test_a_bad_setting_in_a_notebook_shows_its_message_not_a_traceback(tmp_path):
    """A parameters cell with NUM_FRAMES = 7: the learner sees the one line that names it, as the scripts print it."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from helpers.config import get_preset\npreset = get_preset('smoke', num_frames=7)")])
    with pytest.raises(CellExecutionError):
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(PROJECT_ROOT)}}
                       ).execute()
    error = nb.cells[0].outputs[-1]
    assert error.output_type == "error" and error.ename == "SettingsError"
    assert error.traceback == ["SettingsError: NUM_FRAMES=7 in the parameters cell: num_frames must be a positive "
                               "multiple of the tubelet size 2 (VideoMAE packs frames in pairs); use 6 or 8"]
