"""The same seed and preset give the same training twice, with either input pipeline."""

import dataclasses
import json

import pytest

from helpers.config import get_preset
from helpers.train import run_training


@pytest.mark.parametrize("pipeline", ["pytorchvideo", "fast"])
def test_the_same_seed_and_preset_give_the_same_metrics_twice(tmp_path, pipeline, request):
    preset = dataclasses.replace(get_preset("smoke"), pipeline=pipeline)
    if preset == get_preset("smoke"):  # the smoke preset's own pipeline: the session's script run is the first run
        first, first_dir = request.getfixturevalue("smoke_script_run")
    else:
        first_dir = tmp_path / "first"
        first = run_training(preset, first_dir)
    second = run_training(preset, tmp_path / "second")
    assert first == second
    histories = []
    for folder in (first_dir, tmp_path / "second"):
        final = max((folder / "checkpoints").glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
        history = json.loads((final / "trainer_state.json").read_text())["log_history"]
        histories.append([(h["step"], h.get("loss"), h.get("eval_loss")) for h in history])
    assert histories[0] == histories[1] and len(histories[0]) > 1
