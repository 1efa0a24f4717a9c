"""The trained model exported to ONNX (helpers.export, notebook 07): ONNX Runtime's logits equal PyTorch's on the test
split, `python -m helpers.predict --onnx` answers as the PyTorch path does, and a stale export is never used."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from helpers.data import get_dataset, labelled_videos
from helpers.export import ONNX_FILE, WEIGHTS_FILE, onnx_classifier
from helpers.predict import decode, load_classifier, predict_files

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model_dir(smoke_script_run, tmp_path_factory) -> Path:
    """A copy of the smoke preset's trained model folder (the export is written into it)."""
    _, output = smoke_script_run
    return Path(shutil.copytree(output / "model", tmp_path_factory.mktemp("export") / "model"))


@pytest.fixture(scope="module")
def test_split(tiny_preset, model_dir) -> list[Path]:
    config = json.loads((model_dir / "config.json").read_text())
    paths, _ = labelled_videos(get_dataset(tiny_preset), "test", config["label2id"])
    return paths


def test_onnx_runtime_logits_equal_pytorch_logits_on_the_test_split(model_dir, test_split):
    model, processor = load_classifier(model_dir)
    exported = onnx_classifier(model, model_dir)
    assert (model_dir / ONNX_FILE).is_file()
    clips = torch.cat([processor(decode(path, model.config.num_frames, processor)[0], return_tensors="pt")
                       ["pixel_values"] for path in test_split])
    with torch.no_grad():
        expected = model(pixel_values=clips).logits
    got = exported(pixel_values=clips).logits
    assert got.shape == expected.shape == (len(test_split), model.config.num_labels) and len(test_split) >= 4
    assert (got - expected).abs().max().item() < 1e-4


def test_predict_with_onnx_gives_the_pytorch_answers_on_held_out_clips(model_dir, test_split):
    run = subprocess.run([sys.executable, "-m", "helpers.predict", *map(str, test_split), "--model", str(model_dir),
                          "--onnx", "--json", "--top-k", "2"], cwd=PROJECT, capture_output=True, text=True,
                         env={**os.environ, "TQDM_DISABLE": "1"}, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    from_onnx = json.loads(run.stdout)["results"]
    from_torch, failures = predict_files(test_split, model_dir, top_k=2, progress=False)
    assert not failures and len(from_onnx) == len(from_torch) == len(test_split)
    for a, b in zip(from_onnx, from_torch, strict=True):
        assert [p["label"] for p in a["predictions"]] == [p["label"] for p in b["predictions"]], a["file"]
        assert all(abs(p["score"] - q["score"]) < 1e-4 for p, q in zip(a["predictions"], b["predictions"],
                                                                        strict=True)), a["file"]


def test_an_export_older_than_the_weights_is_made_again(model_dir):
    model, _ = load_classifier(model_dir)
    onnx_classifier(model, model_dir)
    old = (model_dir / ONNX_FILE).stat().st_mtime
    os.utime(model_dir / WEIGHTS_FILE, (old + 10, old + 10))  # the folder trained again after the export
    onnx_classifier(model, model_dir)
    assert (model_dir / ONNX_FILE).stat().st_mtime > old


def test_an_export_that_cannot_be_written_names_the_file_and_the_fix(model_dir, tmp_path):
    blocked = Path(shutil.copytree(model_dir, tmp_path / "blocked", ignore=shutil.ignore_patterns(ONNX_FILE)))
    (blocked / ONNX_FILE).mkdir()  # unwritable for root too, as a read-only folder is for a learner
    model, _ = load_classifier(blocked)
    with pytest.raises(ValueError, match=f"cannot write .*{ONNX_FILE}.*copy the model folder somewhere you can write"):
        onnx_classifier(model, blocked)
