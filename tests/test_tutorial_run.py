"""The tutorial command end to end on the smoke preset, and what it must never leak or change.

The command runs the Korean edition here: that is the one run of notebooks/ko/ in `make test` (its code is the
English code, `tests/test_editions.py`), while `tests/test_notebooks.py` runs the English notebooks twice in one
kernel with the function the command uses, and `tests/test_runs.py` runs the command on English notebook 04."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import assert_small_notebooks

from helpers.config import get_preset
from helpers.train import run_training

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "tools"))
import editions  # noqa: E402

FAKE_TOKEN = "hf_FakeTokenForTheLeakTest1234567890abcd"


def test_make_tutorial_edition_ko_runs_the_korean_series_into_its_own_folder_and_never_leaks_the_token(tmp_path):
    made = subprocess.run(["make", "-n", "tutorial", "EDITION=ko"], cwd=PROJECT, capture_output=True, text=True)
    assert "--edition ko" in made.stdout, made.stdout
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "TUTORIAL_OUTPUT": str(tmp_path),
           "HF_TOKEN": FAKE_TOKEN}
    result = subprocess.run([sys.executable, "-m", "helpers.tutorial", "--preset", "smoke", "--edition", "ko"],
                            env=env, cwd=PROJECT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    out = tmp_path / "ko" / "smoke"
    assert str(out) in result.stdout
    assert not (tmp_path / "smoke").exists(), "the Korean run wrote into the English edition's folder"
    notebooks = sorted(p.name for p in (out / "notebooks").glob("*.ipynb"))
    assert notebooks == sorted(p.name for p in (PROJECT / "notebooks" / "ko").glob("[0-9][0-9]_*.ipynb"))
    assert notebooks == sorted(p.name for p in (PROJECT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    for name in notebooks:  # the executed copies are the Korean ones, with their outputs
        nb = nbformat.read(out / "notebooks" / name, as_version=4)
        assert editions.HANGUL.search(nb.cells[0].source), name
        assert any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), name
    assert list(out.rglob("*.gif")) and list(out.rglob("*.png"))
    assert (out / "model" / "model.safetensors").exists()
    assert_small_notebooks(out / "notebooks")
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert FAKE_TOKEN.encode() not in path.read_bytes(), f"the token leaked into {path}"
    assert FAKE_TOKEN not in result.stdout + result.stderr
    assert not result.stderr.strip(), f"the tutorial command printed to stderr: {result.stderr[-2000:]}"


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
