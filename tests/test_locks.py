"""Generating or downloading the dataset is safe with several processes at once, survives a killed process, and
never deletes files the generator did not write."""

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from test_data import fill_hub_cache

from helpers.runs import folder_lock
from helpers.synthetic import MARKER, generate

GENERATE = (
    "import dataclasses, sys; from pathlib import Path; from helpers.config import get_preset; "
    "from helpers.synthetic import generate; "
    "preset = dataclasses.replace(get_preset('smoke'), clips_per_group=int(sys.argv[2])); "
    "generate(preset, Path(sys.argv[1])); print('done', flush=True)"
)
DOWNLOAD = (
    "import sys; from pathlib import Path; from helpers.data import download_ucf101_subset, list_videos; "
    "root = download_ucf101_subset(Path(sys.argv[1])); "
    "print('videos', sum(len(v) for v in list_videos(root).values()), flush=True)"
)
ENV = {**os.environ, "TQDM_DISABLE": "1", "PRESET": "smoke"}


def start(code: str, *args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env or ENV)


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def assert_same_dataset(root: Path, reference: Path) -> None:
    assert (root / MARKER).is_file()
    assert not root.with_name(root.name + ".partial").exists()
    assert files_of(root) == files_of(reference)


def wait_for_line(process: subprocess.Popen, text: str) -> str:
    """Read the process's output until a line holds ``text`` (or it ends: then the line is empty)."""
    while line := process.stdout.readline():
        if text in line:
            return line
    return ""


def test_processes_started_together_wait_for_one_another_and_share_one_dataset(tiny_dataset, tmp_path):
    root = tmp_path / "data" / "synthetic-smoke"
    # hold the lock, so that both processes are sure to arrive while the work is under way
    with folder_lock(root):
        processes = [start(GENERATE, str(root), "2") for _ in range(2)]
        for process in processes:
            line = wait_for_line(process, "Waiting for another process")
            assert f"generating {root}" in line, process.communicate()
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert "done" in out
    assert_same_dataset(root, tiny_dataset)


def test_two_runs_from_an_empty_data_folder_both_succeed(tiny_dataset, tmp_path):
    root = tmp_path / "data" / "synthetic-smoke"
    processes = [start(GENERATE, str(root), "2") for _ in range(2)]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    assert_same_dataset(root, tiny_dataset)


def test_a_killed_generator_leaves_no_stuck_lock_and_its_half_dataset_is_replaced(tiny_dataset, tmp_path):
    root = tmp_path / "data" / "synthetic-smoke"
    partial = root.with_name(root.name + ".partial")
    slow = start(GENERATE, str(root), "40")  # 640 videos: it is killed long before the end
    deadline = time.monotonic() + 60
    while not any(partial.glob("*/*/*.avi")) and time.monotonic() < deadline and slow.poll() is None:
        time.sleep(0.05)
    slow.send_signal(signal.SIGKILL)
    slow.communicate()
    assert slow.returncode == -signal.SIGKILL and any(partial.glob("*/*/*.avi")) and not root.exists()
    # in another process, with a time limit: a stuck lock must fail the test, not hang it
    again = start(GENERATE, str(root), "2")
    out, err = again.communicate(timeout=60)
    assert again.returncode == 0, err
    assert "Waiting" not in out
    assert_same_dataset(root, tiny_dataset)


def test_a_folder_with_your_own_videos_is_refused_and_left_as_it_is(tiny_preset, tmp_path):
    root = tmp_path / "synthetic-smoke"
    mine = root / "train" / "Juggling" / "v_Juggling_g01_c01.avi"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"my own video")
    notes = root / "notes.txt"
    notes.write_text("keep me")
    with pytest.raises(FileExistsError, match=r"(?s)synthetic-smoke is not a dataset the generator finished "
                                              r"\(no \.complete file\).*left as it is.*v_Juggling_g01_c01\.avi"):
        generate(tiny_preset, root)
    assert mine.read_bytes() == b"my own video" and notes.read_text() == "keep me"


def test_overwrite_refuses_a_generated_dataset_to_which_you_added_videos(tiny_preset, tiny_dataset, tmp_path):
    root = tmp_path / "synthetic-smoke"
    shutil.copytree(tiny_dataset, root)
    mine = root / "train" / "MoveUp" / "v_MoveUp_g01_c99.avi"
    mine.write_bytes(b"my own clip")
    with pytest.raises(FileExistsError, match=r"holds files that the built-in dataset generator did not write"):
        generate(tiny_preset, root, overwrite=True)
    assert mine.read_bytes() == b"my own clip"
    mine.unlink()  # without it, the folder holds only what the generator wrote: overwrite proceeds
    stamp = (root / MARKER).stat().st_mtime_ns
    generate(tiny_preset, root, overwrite=True)
    assert (root / MARKER).stat().st_mtime_ns != stamp
    assert_same_dataset(root, tiny_dataset)


def test_an_empty_folder_and_a_leftover_partial_are_the_generators_to_fill(tiny_preset, tiny_dataset, tmp_path):
    root = tmp_path / "synthetic-smoke"
    (root / "train").mkdir(parents=True)
    leftover = tmp_path / "synthetic-smoke.partial" / "train" / "MoveUp" / "v_MoveUp_g01_c01.avi"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half a video")
    generate(tiny_preset, root)
    assert_same_dataset(root, tiny_dataset)


# --- the Hub download: one process extracts, the others wait ---------------------------------------------------

def test_downloads_started_together_wait_for_one_another(tiny_dataset, tmp_path):
    archive = tmp_path / "UCF101_subset.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for split in ("train", "val", "test"):
            tar.add(tiny_dataset / split, arcname=f"UCF101_subset/{split}")
    fill_hub_cache(tmp_path / "hub", archive)
    env = {**ENV, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub")}
    data_dir = tmp_path / "data"
    with folder_lock(data_dir / "UCF101_subset"):
        processes = [start(DOWNLOAD, str(data_dir), env=env) for _ in range(2)]
        for process in processes:
            line = wait_for_line(process, "Waiting for another process")
            assert "downloading and extracting" in line, process.communicate()
    videos = len(list(tiny_dataset.glob("*/*/*.avi")))
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert f"videos {videos}" in out
    assert (data_dir / "UCF101_subset" / ".complete").is_file()
