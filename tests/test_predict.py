import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import VideoMAEConfig, VideoMAEForVideoClassification, VideoMAEImageProcessor, pipeline

from helpers.model import ModelFolderError
from helpers.predict import frame_indices, load_classifier, main, predict_files
from helpers.video import write_video

LABELS = ["Left", "Right", "Up"]
NUM_FRAMES = 4


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny untrained VideoMAE and its image processor, saved as notebook 04 saves them."""
    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    config = VideoMAEConfig(
        image_size=32, patch_size=16, num_frames=NUM_FRAMES, tubelet_size=2, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64,
        label2id={name: i for i, name in enumerate(LABELS)}, id2label=dict(enumerate(LABELS)),
    )
    VideoMAEForVideoClassification(config).save_pretrained(folder)
    VideoMAEImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def moving_square(frames: int, height: int, width: int) -> np.ndarray:
    """A white square crossing a grey background left to right."""
    video = np.full((frames, height, width, 3), 90, np.uint8)
    side = max(4, min(height, width) // 4)
    for t, x in enumerate(np.linspace(0, width - side, frames).astype(int)):
        video[t, (height - side) // 2:(height + side) // 2, x:x + side] = 255
    return video


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    """Real files: H.264 MP4 and MPEG-4 AVI in several sizes and frame rates, and a clip too short for the model."""
    folder = tmp_path_factory.mktemp("videos")
    specs = {  # name: (frames, height, width, fps, codec)
        "wide.mp4": (12, 48, 64, 12, "libx264"),
        "portrait.mp4": (9, 320, 240, 60, "libx264"),
        "odd.avi": (10, 61, 97, 60, "mpeg4"),
        "slow.avi": (6, 40, 40, 12, "mpeg4"),
        "short.avi": (2, 32, 48, 25, "mpeg4"),
    }
    paths = {}
    for name, (frames, height, width, fps, codec) in specs.items():
        paths[name] = folder / name
        write_video(paths[name], moving_square(frames, height, width), fps=fps, codec=codec)
    return paths


def bad_file(kind: str, folder: Path, good: Path) -> Path:
    """A file that cannot be classified: missing, not a video, empty, or the first half of a real video."""
    path = folder / f"{kind}.avi"
    if kind == "text":
        path.write_text("this is not a video\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    return path


BAD = {"missing": "no such file", "text": "cannot be decoded as a video", "empty": "empty",
       "truncated": "truncated"}


def test_short_clips_repeat_every_frame_in_order():
    assert frame_indices(3, 8).tolist() == [0, 0, 0, 1, 1, 1, 2, 2]
    assert frame_indices(1, 4).tolist() == [0, 0, 0, 0]
    # long enough: the pipeline's uniform sampling over the whole video
    assert frame_indices(10, 4).tolist() == [0, 2, 5, 7]


def test_mp4_and_avi_of_any_size_and_rate_are_classified(model_dir, videos):
    names = ["wide.mp4", "portrait.mp4", "odd.avi", "slow.avi"]
    results, failures = predict_files([videos[n] for n in names], model_dir, top_k=2, progress=False)
    assert failures == []
    assert [Path(r["file"]).name for r in results] == names
    assert [(r["width"], r["height"]) for r in results] == [(64, 48), (240, 320), (97, 61), (40, 40)]
    assert [round(r["fps"]) for r in results] == [12, 60, 60, 12]
    for r in results:
        assert len(r["predictions"]) == 2 and {p["label"] for p in r["predictions"]} <= set(LABELS)
        assert r["predictions"][0]["score"] >= r["predictions"][1]["score"] > 0
        assert not r["padded"]


def test_a_clip_shorter_than_the_model_takes_is_padded(model_dir, videos):
    results, failures = predict_files([videos["short.avi"]], model_dir, top_k=3)
    assert failures == []
    (result,) = results
    assert result["padded"] and result["frames"] == 2 and result["indices"] == [0, 0, 1, 1]
    assert sum(p["score"] for p in result["predictions"]) == pytest.approx(1.0, abs=1e-5)


def test_scores_equal_the_pipelines(model_dir, videos):
    classifier = pipeline("video-classification", model=str(model_dir))
    names = ["wide.mp4", "odd.avi"]
    results, _ = predict_files([videos[n] for n in names], model_dir, top_k=3, progress=False)
    for name, result in zip(names, results, strict=True):
        expected = classifier(str(videos[name]), top_k=3)
        assert [p["label"] for p in result["predictions"]] == [p["label"] for p in expected]
        assert np.allclose([p["score"] for p in result["predictions"]], [p["score"] for p in expected], atol=1e-5)


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_file_is_named_and_the_others_still_classified(model_dir, videos, tmp_path, kind):
    bad = bad_file(kind, tmp_path, videos["odd.avi"])
    results, failures = predict_files([bad, videos["wide.mp4"]], model_dir, top_k=1, progress=False)
    assert [Path(r["file"]).name for r in results] == ["wide.mp4"]
    (failure,) = failures
    assert failure["file"] == str(bad) and str(bad) in failure["error"] and BAD[kind] in failure["error"]


def test_cli_prints_good_results_lists_failures_and_exits_non_zero(model_dir, videos, tmp_path):
    bad = [bad_file(kind, tmp_path, videos["odd.avi"]) for kind in BAD]
    run = subprocess.run(
        [sys.executable, "-m", "helpers.predict", str(videos["wide.mp4"]), *map(str, bad),
         "--model", str(model_dir), "--top-k", "2"],
        capture_output=True, text=True, env={**os.environ, "TQDM_DISABLE": "1"}, timeout=120,
    )
    assert run.returncode == 1, run.stderr
    first, *rest = run.stdout.splitlines()
    assert first.startswith(f"{videos['wide.mp4']}: ") and first.count(" 0.") == 2
    assert "4 of 5 files could not be classified" in run.stdout
    for path in bad:
        assert any(str(path) in line for line in rest), path


def test_cli_json_output_parses(model_dir, videos, tmp_path, capsys):
    missing = tmp_path / "missing.mp4"
    status = main([str(videos["short.avi"]), str(missing), "--model", str(model_dir), "--top-k", "1", "--json"])
    assert status == 1
    answer = json.loads(capsys.readouterr().out)
    assert [Path(r["file"]).name for r in answer["results"]] == ["short.avi"]
    assert answer["results"][0]["predictions"][0]["label"] in LABELS
    assert answer["failures"][0]["file"] == str(missing)


def test_a_model_folder_without_preprocessor_config_says_how_to_fix_it(model_dir, videos, tmp_path, capsys):
    incomplete = tmp_path / "incomplete"
    shutil.copytree(model_dir, incomplete, ignore=shutil.ignore_patterns("preprocessor_config.json"))
    with pytest.raises(ModelFolderError, match=r"no preprocessor_config\.json.*save_pretrained") as err:
        load_classifier(incomplete)
    assert str(incomplete) in str(err.value)
    assert main([str(videos["wide.mp4"]), "--model", str(incomplete)]) == 2
    assert "preprocessor_config.json" in capsys.readouterr().err


def test_a_missing_model_folder_says_to_train_first(tmp_path):
    with pytest.raises(ModelFolderError, match="notebook 04"):
        load_classifier(tmp_path / "nothing-here")


# --- a damaged or foreign model folder: one message naming the file and the fix -------------------------------

def damaged_copy(model_dir: Path, folder: Path, damage: str) -> Path:
    shutil.copytree(model_dir, folder)
    if damage == "truncated weights":  # an interrupted copy: the first half of the file
        weights = folder / "model.safetensors"
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "a BERT config":
        (folder / "config.json").write_text(json.dumps({"model_type": "bert", "architectures": ["BertForMaskedLM"]}))
    elif damage == "a config cut short":
        (folder / "config.json").write_text('{"model_type": "videomae", ')
    return folder


@pytest.mark.parametrize("damage, file, says", [
    ("truncated weights", "model.safetensors", r"model\.safetensors is incomplete or damaged .*interrupted save"),
    ("a BERT config", "config.json", r"config\.json describes a 'bert' model \(BertForMaskedLM\), not VideoMAE"),
    ("a config cut short", "config.json", r"config\.json cannot be read .*damaged"),
])
def test_a_damaged_or_foreign_model_folder_is_one_message_naming_the_file(model_dir, videos, tmp_path, capsys,
                                                                           damage, file, says):
    folder = damaged_copy(model_dir, tmp_path / "model", damage)
    with pytest.raises(ModelFolderError, match=says) as err:
        load_classifier(folder)
    assert str(folder / file) in str(err.value) and "Train the model again" in str(err.value)
    assert main([str(videos["wide.mp4"]), "--model", str(folder)]) == 2
    printed = capsys.readouterr().err
    assert str(folder / file) in printed and "Traceback" not in printed and len(printed.strip().splitlines()) == 1


def test_notebook_04s_check_names_the_preset_to_train_and_passes_a_good_folder(model_dir, tmp_path):
    from helpers.config import get_preset
    from helpers.model import check_model_folder

    assert check_model_folder(model_dir) == model_dir
    preset = get_preset("smoke")
    with pytest.raises(ModelFolderError, match=r"no such model folder\. Run notebook 04 first with PRESET=smoke"):
        check_model_folder(tmp_path / "missing", preset)
    with pytest.raises(ModelFolderError, match=r"model\.safetensors is incomplete"):
        check_model_folder(damaged_copy(model_dir, tmp_path / "model", "truncated weights"), preset)


# --- the command line as people type it: a folder, no --model, a preset that does not exist -------------------

def test_a_folder_stands_for_the_videos_in_it_and_an_empty_one_is_named(model_dir, videos, tmp_path, capsys):
    """A folder of videos (one in a sub-folder, one with a latin-1 name that is not UTF-8, a macOS companion) is
    classified file by file; a folder without a video gets a line that names it."""
    folder, empty = tmp_path / "my videos", tmp_path / "nothing here"
    (folder / "day 2").mkdir(parents=True)
    empty.mkdir()
    shutil.copy(videos["wide.mp4"], folder / "wide.mp4")
    shutil.copy(videos["slow.avi"], folder / "day 2" / "slow.avi")
    shutil.copy(videos["odd.avi"], folder / os.fsdecode(b"caf\xe9.avi"))
    (folder / "._wide.mp4").write_bytes(b"\0\5\26\7")
    assert main([str(folder), str(empty), "--model", str(model_dir), "--top-k", "1"]) == 1
    out = capsys.readouterr().out
    for name in ("wide.mp4", "day 2/slow.avi", "caf\\xe9.avi"):
        assert f"{folder}/{name}: " in out, out
    assert "._wide" not in out and "1 of 4 files could not be classified" in out
    assert f"{empty}: a folder without video files" in out


def test_without_model_the_newest_model_saved_for_the_preset_is_used(model_dir, videos, tmp_path, capsys,
                                                                      monkeypatch):
    """Notebook 04 saves outputs/<preset>/model, the script outputs/<preset>/script/model by default: the newest."""
    monkeypatch.setenv("TUTORIAL_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("PRESET", "smoke")
    notebook, script = tmp_path / "out" / "smoke" / "model", tmp_path / "out" / "smoke" / "script" / "model"
    assert main([str(videos["wide.mp4"])]) == 2  # none saved yet: the command that trains one
    train = f"python -m helpers.train --preset smoke --output-dir {tmp_path / 'out' / 'smoke'}`"
    assert train in capsys.readouterr().err
    shutil.copytree(model_dir, notebook)
    shutil.copytree(model_dir, script)
    os.utime(notebook / "config.json", (1e9, 1e9))  # saved long before the script's
    assert main([str(videos["wide.mp4"]), "--top-k", "1"]) == 0
    printed = capsys.readouterr()
    assert f"Using the newest model saved for the smoke preset: {script}" in printed.err
    assert printed.out.startswith(f"{videos['wide.mp4']}: ")


@pytest.mark.parametrize("variable, value, says", [
    ("PRESET", "Full", "Unknown preset 'Full'"), ("PRESET", "cpu ", "Unknown preset 'cpu '"),
    ("VC_NUM_FRAMES", "7", "VC_NUM_FRAMES=7: num_frames must be a positive multiple"),
])
def test_a_preset_or_setting_that_does_not_exist_is_one_line_and_status_2(videos, capsys, monkeypatch,
                                                                         variable, value, says):
    """``helpers.predict`` and ``helpers.tutorial`` (``make tutorial``) read the preset: one line, no traceback."""
    from helpers import tutorial

    monkeypatch.setenv(variable, value)
    for command in (lambda: main([str(videos["wide.mp4"])]), lambda: tutorial.main(["--only", "99"])):
        assert command() == 2
        printed = capsys.readouterr().err
        assert printed.startswith(f"error: {says}") and len(printed.strip().splitlines()) == 1, printed
