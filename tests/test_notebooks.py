"""The notebooks as a learner runs them: Run All twice in one kernel, outputs free of unexplained warnings, and the
`full` preset (the GPU path) end to end on CPU against stand-ins for the Hub: a pre-filled Hugging Face cache with a
small VideoMAE saved as `MCG-NJU/videomae-base` and a small archive in `sayakpaul/ucf101-subset`'s layout."""

import hashlib
import json
import os
import re
import tarfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
from conftest import assert_small_notebooks, run_in_one_kernel

from helpers.tutorial import notebooks, run_notebook

PROJECT = Path(__file__).resolve().parent.parent

# stderr a learner may see because the prose right below it explains it: transformers' load report when a
# pretraining checkpoint gets a new classification head (notebook 04 explains it; the others load quietly)
EXPLAINED_STDERR = [
    re.compile(r"\[transformers\] .*?LOAD REPORT.*?Consider training on your downstream task\.\n?", re.S),
]
EXPLAINED_IN = {"04_train.ipynb"}


def unexplained_stderr(nb) -> list[str]:
    """Every stderr output (warnings, progress bars written as text, logs) not on the explained list."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("name") == "stderr":
                text = output["text"]
                for pattern in EXPLAINED_STDERR:
                    text = pattern.sub("", text)
                if text.strip():
                    found.append(text.strip()[:500])
    return found


def all_text(nb) -> str:
    return json.dumps([cell.get("outputs", []) for cell in nb.cells])


def test_every_notebook_runs_twice_in_one_kernel_with_no_unexplained_warning(tmp_path, monkeypatch):
    """Run All, then Run All again in the same kernel and the same output folder, as a class would. This is the run
    of the English notebooks in `make test` (the Korean ones run once, under nbmake, each in a kernel of its own).
    Notebook 06 goes first, into an output folder that does not exist yet: a learner may open it first, so it must
    not rely on folders that the earlier notebooks create."""
    output = tmp_path / "out"
    monkeypatch.setenv("PRESET", "smoke")
    monkeypatch.setenv("TUTORIAL_OUTPUT", str(output))
    monkeypatch.delenv("TQDM_DISABLE", raising=False)  # the real progress bars: widgets, never stderr
    series = notebooks()
    assert [p.name[:2] for p in series] == ["01", "02", "03", "04", "05", "06", "07"]
    first = next(p for p in series if p.name.startswith("06_"))  # 07 needs notebook 04's model: it cannot go first
    executed = run_in_one_kernel([first, *(p for p in series if p != first)], tmp_path / "executed", times=2)
    for name, nb in executed.items():
        assert not unexplained_stderr(nb), (name, unexplained_stderr(nb))
        text = all_text(nb)
        assert "9223372036854775807" not in text, f"{name}: an impossible epoch count"
        if name in EXPLAINED_IN:
            assert "LOAD REPORT" in text, f"{name}: the load report its prose explains is missing"
        else:
            assert "LOAD REPORT" not in text, f"{name}: a load report that only notebook 04 explains"
        assert text.count("checking videos") <= 2, f"{name}: the videos are scanned more than once per run"
        if name.startswith("07_"):
            assert "reversed clips answered as their twin" in text and "logits on" in text
    for made in ("06_time_per_clip.png", "07_saliency_right.gif", "07_saliency_wrong.gif"):
        assert (output / "smoke" / made).exists(), made
    runs = sorted((output / "smoke" / "runs").iterdir())
    assert len(runs) == 2, "each run of notebook 04 trains into a folder of its own"
    assert (output / "smoke" / "model" / "model.safetensors").exists()


# --- the full preset against stand-ins -----------------------------------------------------------------------

UCF_CLASSES = {"ApplyEyeMakeup": "MoveRight", "BalanceBeam": "MoveLeft"}  # UCF names, drawn as built-in motions


def cache_file(repo_dir: Path, name: str, data: bytes, commit: str = "0" * 40) -> None:
    """Put one file into a Hugging Face cache repo folder as huggingface_hub lays it out (blob + snapshot link)."""
    sha = hashlib.sha256(data).hexdigest()
    (repo_dir / "blobs").mkdir(parents=True, exist_ok=True)
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(commit)
    (repo_dir / "blobs" / sha).write_bytes(data)
    snapshot = repo_dir / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (snapshot / name).symlink_to(os.path.relpath(repo_dir / "blobs" / sha, snapshot))


def stand_in_checkpoint(folder: Path) -> None:
    """A small VideoMAEForPreTraining with MCG-NJU/videomae-base's input shape and processor file."""
    import torch
    from transformers import VideoMAEConfig, VideoMAEForPreTraining

    config = VideoMAEConfig(
        image_size=224, num_frames=16, patch_size=16, tubelet_size=2, hidden_size=32, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=64, use_mean_pooling=False, norm_pix_loss=True,
        decoder_hidden_size=16, decoder_num_hidden_layers=1, decoder_num_attention_heads=1,
        decoder_intermediate_size=32,
    )
    torch.manual_seed(0)
    VideoMAEForPreTraining(config).save_pretrained(folder)
    # the real checkpoint's processor file, in the old format: "size": 224, a feature extractor type
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "do_center_crop": True, "do_normalize": True, "do_resize": True,
        "feature_extractor_type": "VideoMAEFeatureExtractor", "image_mean": [0.485, 0.456, 0.406],
        "image_std": [0.229, 0.224, 0.225], "resample": 2, "size": 224,
    }))


def stand_in_archive(path: Path, work: Path) -> None:
    """UCF101_subset.tar.gz in the Hub file's layout: 2 classes, 320x240 25 fps AVI, 2.6 s (longer than a clip)."""
    from helpers.synthetic import make_clip
    from helpers.video import write_video

    groups = {"train": [1, 2], "val": [3], "test": [4]}
    for split, numbers in groups.items():
        for name, motion in UCF_CLASSES.items():
            for group in numbers:
                rng = np.random.default_rng([group, len(name)])
                write_video(work / "UCF101_subset" / split / name / f"v_{name}_g{group:02d}_c01.avi",
                            make_clip(motion, 65, rng), fps=25)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(work / "UCF101_subset", arcname="UCF101_subset")


def test_the_full_preset_runs_every_notebook_against_a_stand_in_hub(tmp_path, monkeypatch):
    hub = tmp_path / "hf" / "hub"
    model_repo = hub / "models--MCG-NJU--videomae-base"
    stand_in_checkpoint(tmp_path / "checkpoint")
    for file in sorted((tmp_path / "checkpoint").iterdir()):
        cache_file(model_repo, file.name, file.read_bytes())
    stand_in_archive(tmp_path / "UCF101_subset.tar.gz", tmp_path / "archive")
    cache_file(hub / "datasets--sayakpaul--ucf101-subset", "UCF101_subset.tar.gz",
               (tmp_path / "UCF101_subset.tar.gz").read_bytes())
    env = {
        "PRESET": "full", "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(hub), "TQDM_DISABLE": "1",
        "TUTORIAL_DATA": str(tmp_path / "data"), "TUTORIAL_OUTPUT": str(tmp_path / "out"),
        # the guide's settings, made small enough for a CPU: one epoch, two clips a batch, one view per video
        "VC_NUM_EPOCHS": "1", "VC_BATCH_SIZE": "2", "VC_EVAL_CLIPS": "1", "VC_EVAL_CROPS": "1", "VC_NUM_WORKERS": "0",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    project_data_before = sorted(p.name for p in (PROJECT / "data").iterdir())
    run_in_one_kernel(notebooks(), tmp_path / "out" / "full" / "notebooks")
    out = tmp_path / "out" / "full"
    assert (tmp_path / "data" / "UCF101_subset" / "train" / "ApplyEyeMakeup").is_dir()
    config = json.loads((out / "model" / "config.json").read_text())
    assert sorted(config["id2label"].values()) == sorted(UCF_CLASSES)
    assert config["num_frames"] == 16 and config["image_size"] == 224
    executed = nbformat.read(out / "notebooks" / "04_train.ipynb", as_version=4)
    assert "MCG-NJU/videomae-base" in all_text(executed)
    # the full preset's 224x224 clips of 16 frames make the largest GIFs: each notebook still opens fast
    assert_small_notebooks(out / "notebooks")
    assert sorted(p.name for p in (PROJECT / "data").iterdir()) == project_data_before, "the project's data/ changed"


@pytest.fixture(scope="module")
def notebook_04_with_an_unreachable_hub(tmp_path_factory) -> tuple[Path, Exception | None]:
    """Notebook 04 on the smoke preset, run once with PUSH_TO_HUB=1 and no Hub: it trains and saves its model, then
    its push cell fails (the comparison cells after it do not run). The preset's output folder and the error; the two
    tests below read this run."""
    tmp = tmp_path_factory.mktemp("notebook_04")
    path = next(p for p in notebooks() if p.name.startswith("04_"))
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PRESET", "smoke")
        env.setenv("TUTORIAL_OUTPUT", str(tmp / "out"))
        env.setenv("PUSH_TO_HUB", "1")
        env.setenv("VC_HUB_MODEL_ID", "someone/videomae-test")
        env.setenv("HF_HUB_OFFLINE", "1")
        env.setenv("HF_TOKEN", "hf_not_a_real_token")
        try:
            run_notebook(path, tmp / "executed", timeout=600)
        except Exception as err:  # nbclient's CellExecutionError, with the failed cell's output
            return tmp / "out" / "smoke", err
    return tmp / "out" / "smoke", None


def test_notebook_04_with_an_unreachable_hub_trains_saves_and_says_the_push_failed(notebook_04_with_an_unreachable_hub):
    """PUSH_TO_HUB=1 with no Hub: the guide's push_to_hub=True in TrainingArguments stopped the notebook before its
    first training step with a long traceback. Now it trains, saves, and the push cell says what failed."""
    out, err = notebook_04_with_an_unreachable_hub
    assert err is not None, "notebook 04 pushed to a Hub that cannot be reached"
    assert "Pushing the model to the Hub as someone/videomae-test failed" in str(err)
    assert "hf_not_a_real_token" not in str(err)
    assert (out / "model" / "model.safetensors").is_file()


def test_notebook_04_trains_exactly_as_the_script_does(notebook_04_with_an_unreachable_hub, smoke_script_run):
    """Notebook 04 says it trains as ``python -m helpers.train`` does (its cell c18 compares the arguments): from the
    same preset, data and seed both must end with the same weights. Drawing the collate example straight from
    ``train_dataset`` once moved the PyTorchVideo dataset's sampler on, and the notebook trained on other clips
    than the script (on cpu: 96.1 % per video against the script's 96.9 %). The notebook's run is the one above:
    PUSH_TO_HUB=1 changes nothing before its push cell."""
    from safetensors.torch import load_file

    out, _ = notebook_04_with_an_unreachable_hub
    _, script_dir = smoke_script_run
    notebook = load_file(out / "model" / "model.safetensors")
    script = load_file(script_dir / "model" / "model.safetensors")
    assert notebook.keys() == script.keys()
    differ = [name for name in notebook if not notebook[name].equal(script[name])]
    assert not differ, f"notebook 04 and the script trained different weights: {differ[:5]}"
