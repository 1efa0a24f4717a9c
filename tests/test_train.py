import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp

from helpers.model import check_model_folder
from helpers.train import ShardedVideoSampler, prepare_output_dir, steps_per_epoch

PROJECT = Path(__file__).resolve().parent.parent


def test_steps_per_epoch_counts_the_small_last_batch_of_every_worker():
    assert steps_per_epoch(192, 8, 2) == 24
    assert steps_per_epoch(300, 8, 8) == 40  # 8 workers of 37-38 videos: 5 batches each
    assert steps_per_epoch(300, 8, 0) == 38
    assert steps_per_epoch(16, 4, 2, processes=2) == 2


def _shard(rank: int, world: int, port: int, out: dict) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    sampler = ShardedVideoSampler(list(range(11)), seed=3)
    out[rank] = [list(sampler), list(sampler)]  # two epochs
    dist.destroy_process_group()


def test_each_process_reads_a_distinct_equal_share_of_the_videos():
    with mp.Manager() as manager:
        out = manager.dict()
        mp.spawn(_shard, args=(2, 29517, out), nprocs=2, join=True)
        shares = dict(out)
    first, second = shares[0], shares[1]
    for epoch in range(2):
        assert len(first[epoch]) == len(second[epoch]) == 5  # 11 videos: one dropped, so both run as many steps
        assert not set(first[epoch]) & set(second[epoch])
    assert first[0] != first[1]  # a new order each epoch


def test_one_process_sees_every_video_in_a_seeded_order():
    a, b = ShardedVideoSampler(list(range(9)), seed=1), ShardedVideoSampler(list(range(9)), seed=1)
    order = list(a)
    assert sorted(order) == list(range(9)) and order == list(b)


def test_an_earlier_run_is_not_overwritten(tmp_path):
    (tmp_path / "run" / "checkpoints" / "checkpoint-1").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="a training run.*nothing was deleted.*--resume.*--overwrite"):
        prepare_output_dir(tmp_path / "run")
    prepare_output_dir(tmp_path / "run", resume=True)
    assert (tmp_path / "run" / "checkpoints" / "checkpoint-1").exists()
    prepare_output_dir(tmp_path / "run", overwrite=True)
    assert not (tmp_path / "run" / "checkpoints").exists()


def users_folder(folder: Path) -> dict[str, bytes]:
    """A folder as a user has it: a thesis, photos, notebook 01's executed copy; returns {file: bytes}."""
    files = {"thesis.docx": b"PK\3\4 chapter one", "photos/beach.jpg": b"\xff\xd8\xff",
             "notebooks/01_load_data.ipynb": b"{}"}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    return files


def test_the_script_trains_beside_a_users_files_and_overwrite_deletes_nothing_there(tmp_path, capsys):
    """A folder with a user's files and no run is not "a training run": the script trains beside them and says
    where the model is. --overwrite then refuses, naming the user's files, and deletes nothing: a model folder
    beside them may be the user's own."""
    from helpers.train import main

    folder = tmp_path / "results"
    files = users_folder(folder)
    main(["--preset", "smoke", "--output-dir", str(folder)])
    out = capsys.readouterr().out
    assert (folder / "model" / "config.json").is_file() and (folder / "checkpoints").is_dir()
    assert f"The model is saved in {folder / 'model'}" in out
    assert f"python -m helpers.predict --model {folder / 'model'} video.mp4" in out
    run_found = "already holds a training run \\(checkpoints, model\\); nothing was deleted"
    with pytest.raises(SystemExit, match=run_found) as err:
        main(["--preset", "smoke", "--output-dir", str(folder)])
    assert "--overwrite" not in str(err.value) and "rm -r" in str(err.value)  # advice that works on this folder
    with pytest.raises(FileExistsError, match="--overwrite refused.*3 entries.*thesis.docx.*nothing was deleted"):
        prepare_output_dir(folder, overwrite=True)
    assert (folder / "model" / "config.json").is_file() and (folder / "checkpoints").is_dir()
    assert {name: (folder / name).read_bytes() for name in files} == files


def test_a_folder_that_is_not_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a model folder"):
        check_model_folder(str(tmp_path), start=True)
    with pytest.raises(FileNotFoundError, match="no such model folder"):
        check_model_folder(str(tmp_path / "missing"), start=True)


def test_a_truncated_or_foreign_base_checkpoint_is_one_message_naming_the_file(tmp_path):
    import re

    from helpers.config import get_preset
    from helpers.model import ModelFolderError, scratch_checkpoint

    folder = scratch_checkpoint(get_preset("smoke"), tmp_path / "base")
    assert check_model_folder(str(folder), start=True) == str(folder)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelFolderError, match=rf"{re.escape(str(weights))} is incomplete or damaged .*Point VC_MODEL"):
        check_model_folder(str(folder), start=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelFolderError, match=r"describes a 'bert' model, not VideoMAE"):
        check_model_folder(str(folder), start=True)


def test_an_unknown_preset_stops_the_script_with_the_choices():
    result = subprocess.run([sys.executable, "-m", "helpers.train", "--preset", "gpu"], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode != 0 and "smoke, cpu, full" in result.stderr


def test_two_processes_train_and_only_the_first_writes_a_loadable_model(tmp_path):
    """From an empty data folder, as on a fresh clone: the dataset and the start checkpoint are made while both
    processes run (a checkpoint written by the second process once had no weights: transformers saves them on
    rank 0 only)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "TUTORIAL_OUTPUT": str(tmp_path),
           "TUTORIAL_DATA": str(tmp_path / "data")}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
               "-m", "helpers.train", "--preset", "smoke", "--output-dir", str(tmp_path / "run")]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=PROJECT)
    assert result.returncode == 0, result.stderr[-3000:]
    from transformers import pipeline

    classifier = pipeline("video-classification", model=str(tmp_path / "run" / "model"))
    video = next((tmp_path / "data" / "synthetic-smoke" / "test").glob("*/*.avi"))
    for folder in (tmp_path / "data" / "checkpoints").iterdir():
        if folder.is_dir():
            assert (folder / "model.safetensors").is_file(), f"{folder} has no weights"
    scores = classifier(str(video), top_k=4)
    assert len(scores) == 4 and abs(sum(s["score"] for s in scores) - 1) < 1e-4
    card = (tmp_path / "run" / "model" / "README.md").read_text()
    assert "test accuracy per video" in card and "smoke" in card
    config = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert sorted(config["id2label"].values()) == ["MoveDown", "MoveLeft", "MoveRight", "MoveUp"]
    # weights as safetensors, and no pickle anywhere in the folder
    assert (tmp_path / "run" / "model" / "model.safetensors").exists()
    assert not list((tmp_path / "run" / "model").glob("*.bin"))


def test_a_checkpoint_with_other_labels_is_explained(tmp_path):
    from transformers import VideoMAEConfig

    from helpers.model import head_message

    VideoMAEConfig(id2label={0: "Dance", 1: "Run", 2: "Swim"}).save_pretrained(tmp_path / "other")
    message = head_message(str(tmp_path / "other"), {"MoveLeft": 0, "MoveRight": 1})
    assert "3 other labels" in message and "replaced" in message and "2 labels" in message
    VideoMAEConfig().save_pretrained(tmp_path / "pretrained")
    assert "no trained classification head" in head_message(str(tmp_path / "pretrained"), {"a": 0, "b": 1})
    VideoMAEConfig(id2label={0: "a", 1: "b"}).save_pretrained(tmp_path / "same")
    assert "kept" in head_message(str(tmp_path / "same"), {"a": 0, "b": 1})


def test_checkpoints_written_in_the_same_second_do_not_warn(tmp_path):
    """On a fast machine the smoke preset saves two checkpoints within a second; the Trainer's mtime warning
    reached notebook 06's stderr in CI. Importing helpers.train silences it, and the order stays by step."""
    import logging

    from transformers.trainer_utils import sort_checkpoints

    import helpers.train  # noqa: F401  (installs the filter)

    seen = []
    handler = logging.Handler()
    handler.emit = seen.append
    logger = logging.getLogger("transformers.trainer_utils")
    logger.addHandler(handler)
    try:
        for step in (8, 16):
            (tmp_path / f"checkpoint-{step}").mkdir()
        ordered = sort_checkpoints(str(tmp_path), use_mtime=True)
    finally:
        logger.removeHandler(handler)
    assert [Path(p).name for p in ordered] == ["checkpoint-8", "checkpoint-16"]
    assert not [r.getMessage() for r in seen if "mtime" in r.getMessage()]


def test_the_model_card_names_your_data_folder_without_its_path(tmp_path):
    from helpers.config import get_preset
    from helpers.train import write_model_card

    folder = tmp_path / "home" / "jane.doe" / "my clips"
    preset = get_preset("smoke", data_dir=str(folder))
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text(json.dumps({"id2label": {"0": "wave", "1": "clap"}}))
    card = write_model_card(model_dir, preset, {"test accuracy per video": 0.5}).read_text()
    assert "my clips" in card and "jane.doe" not in card
