from dataclasses import replace

import pytest

from helpers.config import PRESETS, describe, get_preset


def test_unknown_preset_names_the_choices():
    with pytest.raises(ValueError, match="smoke, cpu, full"):
        get_preset("fast")


def test_default_preset_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("PRESET", "smoke")
    assert get_preset().name == "smoke"
    monkeypatch.delenv("PRESET")
    assert get_preset().name == "cpu"


def test_single_values_are_overridden_from_the_environment(monkeypatch):
    monkeypatch.setenv("VC_NUM_EPOCHS", "7")
    monkeypatch.setenv("VC_LEARNING_RATE", "0.01")
    monkeypatch.setenv("VC_PUSH_TO_HUB", "false")
    preset = get_preset("cpu")
    assert (preset.num_epochs, preset.learning_rate, preset.push_to_hub) == (7, 0.01, False)


def test_a_malformed_override_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("VC_NUM_EPOCHS", "many")
    with pytest.raises(ValueError, match="VC_NUM_EPOCHS"):
        get_preset("cpu")


def test_presets_say_which_data_and_model_they_use():
    # the offline presets fine-tune random weights: on all labels they beat notebook 03's checkpoint (learning tests)
    assert all(PRESETS[name].model == "scratch" for name in ("smoke", "cpu"))
    assert "synthetic" in describe(PRESETS["cpu"]) and "random weights" in describe(PRESETS["cpu"])
    assert "pretrained without labels" in describe(replace(PRESETS["cpu"], model="pretrained"))
    assert "ucf101-subset" in describe(PRESETS["full"]) and "MCG-NJU/videomae-base" in describe(PRESETS["full"])
    assert PRESETS["full"].dataset == "hub" and PRESETS["full"].num_frames == 16 and PRESETS["full"].image_size == 224
