import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from collections import defaultdict
from pathlib import Path

import pytest

from helpers.config import get_preset
from helpers.data import (
    DataError,
    class_names,
    label_maps,
    list_videos,
    own_dataset,
    safe_extract,
    scan_videos,
    verify_download,
    video_table,
)


def test_label_maps_are_sorted_and_inverse():
    label2id, id2label = label_maps(["b", "a", "c"])
    assert label2id == {"a": 0, "b": 1, "c": 2}
    assert all(id2label[i] == name for name, i in label2id.items())


def test_a_group_in_two_splits_is_reported(dataset_copy):
    source = next((dataset_copy / "test" / "MoveLeft").iterdir())
    train_group = next((dataset_copy / "train" / "MoveLeft").iterdir()).name.split("_c")[0]
    shutil.copy(source, dataset_copy / "train" / "MoveLeft" / f"{train_group}_c99.avi")
    shutil.copy(source, dataset_copy / "test" / "MoveLeft" / f"{train_group}_c98.avi")
    splits = defaultdict(set)
    for row in video_table(dataset_copy):
        splits[row.group].add(row.split)
    assert [sorted(found) for found in splits.values() if len(found) > 1] == [["test", "train"]]


def test_a_missing_data_folder_says_what_to_run(tmp_path):
    with pytest.raises(DataError, match="does not exist.*notebook 01"):
        list_videos(tmp_path / "nowhere")


def test_an_empty_split_is_named(dataset_copy):
    shutil.rmtree(dataset_copy / "val")
    (dataset_copy / "val").mkdir()
    with pytest.raises(DataError, match=r"val holds no video"):
        list_videos(dataset_copy)


def test_a_missing_split_is_named(dataset_copy):
    shutil.rmtree(dataset_copy / "test")
    with pytest.raises(DataError, match=r"test is missing"):
        list_videos(dataset_copy)


def test_splits_with_other_classes_are_refused(dataset_copy):
    shutil.rmtree(dataset_copy / "test" / "MoveUp")
    with pytest.raises(DataError, match=r"missing \['MoveUp'\]"):
        class_names(dataset_copy)


def test_non_video_files_are_skipped_with_a_warning(dataset_copy):
    (dataset_copy / "train" / "MoveUp" / "notes.txt").write_text("filmed on Tuesday")
    # system files (macOS's .DS_Store and ._ companions) are skipped too; the data report counts them
    (dataset_copy / "train" / "MoveUp" / ".DS_Store").write_bytes(b"\0\0")
    (dataset_copy / "train" / "MoveUp" / "._v_MoveUp_g01_c01.avi").write_bytes(b"\0\5")
    with pytest.warns(UserWarning, match="Skipped 1 files"):
        videos = list_videos(dataset_copy)
    assert all(p.suffix == ".avi" and not p.name.startswith(".") for p in videos["train"])


def test_videos_in_no_class_folder_are_counted_and_in_sub_folders_are_used(dataset_copy):
    loose = dataset_copy / "train" / "v_MoveUp_g01_c09.avi"
    shutil.copy(next((dataset_copy / "train" / "MoveUp").iterdir()), loose)
    deeper = dataset_copy / "train" / "MoveDown" / "day 2" / "v_MoveDown_g01_c09.avi"
    deeper.parent.mkdir()
    shutil.copy(next((dataset_copy / "train" / "MoveDown").glob("*.avi")), deeper)
    with pytest.warns(UserWarning, match="Skipped 1 videos that are in no class folder"):
        videos = list_videos(dataset_copy)
    assert deeper in videos["train"] and loose not in videos["train"]


def class_folders_from(dataset: Path, root: Path) -> Path:
    """The dataset's videos as class folders without splits (``<Class>/<videos>``), the split step's input."""
    for video in dataset.glob("*/*/*.avi"):
        (root / video.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(video, root / video.parent.name / video.name)
    return root


def test_a_class_folder_that_links_to_another_class_is_named(tiny_dataset, tmp_path, monkeypatch):
    root = class_folders_from(tiny_dataset, tmp_path / "videos")
    (root / "Twin").symlink_to("MoveUp")
    monkeypatch.setenv("TUTORIAL_OUTPUT", str(tmp_path / "out"))
    with pytest.raises(DataError, match=r"Twin is the same folder as .*MoveUp \(a symlink to it\).*Remove the link"):
        own_dataset(get_preset("smoke", data_dir=str(root)))


def test_a_class_folder_that_links_to_another_class_is_named_in_the_split_layout(dataset_copy):
    (dataset_copy / "train" / "Twin").symlink_to(dataset_copy / "train" / "MoveUp")
    with pytest.raises(DataError, match=r"Twin is the same folder as .*MoveUp"):
        list_videos(dataset_copy)


def test_videos_in_a_sub_folder_that_is_a_symlink_are_counted(tiny_dataset, tmp_path, monkeypatch, capsys):
    root = class_folders_from(tiny_dataset, tmp_path / "videos")
    elsewhere = tmp_path / "more"
    elsewhere.mkdir()
    for video in sorted((root / "MoveUp").glob("*.avi"))[:2]:
        shutil.copy(video, elsewhere / video.name.replace("_c", "_x"))
    (root / "MoveUp" / "more").symlink_to(elsewhere)
    monkeypatch.setenv("TUTORIAL_OUTPUT", str(tmp_path / "out"))
    own_dataset(get_preset("smoke", data_dir=str(root)))
    assert ("not used: 2 video(s) in 1 sub-folder(s) that are symlinks (e.g. MoveUp/more): links inside a class "
            "folder are not followed" in capsys.readouterr().out)


def test_scan_reports_unreadable_videos_by_name(dataset_copy):
    empty = dataset_copy / "train" / "MoveUp" / "v_MoveUp_g01_c09.avi"
    empty.write_bytes(b"")
    text = dataset_copy / "train" / "MoveUp" / "v_MoveUp_g01_c08.avi"
    text.write_text("not a video")
    paths = list_videos(dataset_copy)["train"]
    good, bad = scan_videos(paths)
    assert len(good) == len(paths) - 2
    assert any(str(empty) in m and "empty" in m for m in bad)
    assert any(str(text) in m for m in bad)


# --- archives ------------------------------------------------------------------------

def make_tar(path: Path, members: list[tarfile.TarInfo]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info in members:
            data = b"x" * info.size if info.isfile() else None
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def file_member(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 3
    return info


def link_member(name: str, target: str, hard: bool = False) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info


@pytest.mark.parametrize("member", [
    file_member("/etc/evil.txt"),
    file_member("UCF101_subset/../../evil.txt"),
    link_member("UCF101_subset/link", "/etc/passwd"),
    link_member("UCF101_subset/link", "../../outside"),
    link_member("UCF101_subset/hard", "../outside", hard=True),
], ids=["absolute", "dotdot", "symlink-absolute", "symlink-outside", "hardlink-outside"])
def test_hostile_archives_are_refused_and_nothing_escapes(tmp_path, member):
    archive = make_tar(tmp_path / "evil.tar.gz", [file_member("UCF101_subset/ok.txt"), member])
    target = tmp_path / "target"
    target.mkdir()
    with pytest.raises(DataError, match="refusing"):
        safe_extract(archive, target)
    assert not (tmp_path / "evil.txt").exists() and list(target.iterdir()) == []


def test_a_normal_archive_extracts(tmp_path):
    archive = make_tar(tmp_path / "ok.tar.gz", [file_member("UCF101_subset/train/a.txt"),
                                                 link_member("UCF101_subset/b.txt", "train/a.txt")])
    safe_extract(archive, tmp_path)
    assert (tmp_path / "UCF101_subset" / "train" / "a.txt").read_bytes() == b"xxx"


def test_a_file_that_is_not_an_archive_is_a_clear_error(tmp_path):
    bad = tmp_path / "UCF101_subset.tar.gz"
    bad.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(DataError, match="not a readable tar archive"):
        safe_extract(bad, tmp_path)


# --- the Hub code path, against a pre-filled Hugging Face cache ----------------------------

def fill_hub_cache(cache: Path, archive: Path, corrupt: bool = False) -> Path:
    """Lay out the archive as huggingface_hub caches a dataset file: blobs named by SHA-256."""
    repo = cache / "datasets--sayakpaul--ucf101-subset"
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    commit = "0" * 40
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    blob = repo / "blobs" / sha
    data = archive.read_bytes()
    blob.write_bytes(data[: len(data) // 2] if corrupt else data)
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    os.symlink(os.path.relpath(blob, snapshot), snapshot / "UCF101_subset.tar.gz")
    return snapshot / "UCF101_subset.tar.gz"


@pytest.fixture
def hub_archive(tiny_dataset, tmp_path) -> Path:
    """An archive in the Hub file's layout, made from the synthetic generator."""
    archive = tmp_path / "UCF101_subset.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for split in ("train", "val", "test"):
            tar.add(tiny_dataset / split, arcname=f"UCF101_subset/{split}")
    return archive


def run_download(cache: Path, data_dir: Path) -> subprocess.CompletedProcess:
    code = (
        "from pathlib import Path; from helpers.data import download_ucf101_subset, list_videos;"
        f"root = download_ucf101_subset(Path({str(data_dir)!r}));"
        "print(sum(len(v) for v in list_videos(root).values()))"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(cache)}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_hub_download_verifies_and_extracts_from_the_cache(hub_archive, tiny_dataset, tmp_path):
    fill_hub_cache(tmp_path / "hub", hub_archive)
    result = run_download(tmp_path / "hub", tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[-1]) == len(list(tiny_dataset.glob("*/*/*.avi")))
    assert (tmp_path / "data" / "UCF101_subset" / ".complete").exists()


def test_a_corrupted_download_is_detected(hub_archive, tmp_path):
    cached = fill_hub_cache(tmp_path / "hub", hub_archive, corrupt=True)
    assert not verify_download(cached)
    result = run_download(tmp_path / "hub", tmp_path / "data")
    # offline, the fresh download cannot happen: the failure must say so, and nothing is extracted
    assert result.returncode != 0
    assert "checksum" in result.stdout + result.stderr
    assert not (tmp_path / "data" / "UCF101_subset").exists()
