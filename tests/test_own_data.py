"""Your own videos (README "Train on your own videos"): folders shaped as people have them, through the split step,
the script, the notebooks and ``pipeline``.

The folders are user-shaped: class names with spaces, accents, Korean and a leading digit; files named any way, in
MP4 (H.264), MOV, MKV and WebM, upper-case extensions, a phone clip stored sideways with rotation metadata, videos in
a sub-folder of a class, macOS companions, a note, an identical copy under another name. The clips are the built-in
dataset's motions, so a model can learn them.
"""

import os
import shutil
import subprocess
import warnings
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from helpers.config import get_preset
from helpers.data import (
    DataError,
    class_names,
    detect_layout,
    get_dataset,
    label_maps,
    labelled_videos,
    list_videos,
    own_dataset,
    read_manifest,
    video_table,
)
from helpers.synthetic import make_clip
from helpers.video import video_info, write_video

# class folder name -> the built-in motion its clips show
CLASSES = {"위로 이동": "MoveUp", "Déplacer à droite": "MoveRight", "3 gauche": "MoveLeft"}
FRAMES, SIZE = 36, (48, 64)  # 1.2 s at 30 fps: longer than the smoke preset's clip (about 1.07 s)


def clip(motion: str, seed: int) -> np.ndarray:
    """A small clip of a built-in motion (T, H, W, 3) of ``SIZE``, shrunk from the built-in frames by picking rows
    and columns (nearest neighbour)."""
    frames = make_clip(motion, FRAMES, np.random.default_rng(seed))
    rows = np.linspace(0, frames.shape[1] - 1, SIZE[0]).round().astype(int)
    columns = np.linspace(0, frames.shape[2] - 1, SIZE[1]).round().astype(int)
    return np.ascontiguousarray(frames[:, rows][:, :, columns])


def save(path: Path, frames: np.ndarray) -> Path:
    """Write ``frames`` in the container the name says: H.264 in .mp4, VP9 in .webm, MPEG-4 part 2 otherwise."""
    codec = {".mp4": "libx264", ".webm": "libvpx-vp9"}.get(path.suffix.lower(), "mpeg4")
    write_video(path, frames, fps=30, codec=codec)
    return path


def phone_clip(path: Path, frames: np.ndarray) -> Path:
    """An MP4 as a phone writes it: frames stored a quarter turn clockwise, rotation metadata that turns them back."""
    stored = path.with_name("stored.mp4")
    save(stored, np.ascontiguousarray(np.rot90(frames, -1, axes=(1, 2))))
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(stored), "-c", "copy", "-metadata:s:v", "rotate=90",
                    str(path)], check=True, timeout=60)
    stored.unlink()
    return path


NAMES = ["IMG_0001.MOV", "clip 2.mp4", "Aufnahme_3.mkv", "VID-20260101-WA0004.webm", "5.MP4"]


@pytest.fixture(scope="module")
def class_folders(tmp_path_factory) -> Path:
    return build_class_folders(tmp_path_factory.mktemp("own") / "my clips 동영상")


def build_class_folders(root: Path) -> Path:
    """``<Class>/<files>`` without splits, five videos a class, and everything people's folders hold besides."""
    for c, (name, motion) in enumerate(CLASSES.items()):
        for i, file in enumerate(NAMES):
            save(root / name / file, clip(motion, 100 * c + i))
    up, left = root / "위로 이동", root / "3 gauche"
    if shutil.which("ffmpeg"):  # one phone clip, played upright it is an ordinary MoveUp clip
        (up / "5.MP4").unlink()
        phone_clip(up / "5.MP4", clip("MoveUp", 4))
    # clips of one recording share a group (_gNN_): a sixth and seventh MoveRight video, both from recording 7
    for seed, name in enumerate(("walk_g07_a.mp4", "walk_g07_b.mp4")):
        save(root / "Déplacer à droite" / name, clip("MoveRight", 70 + seed))
    # a video in a sub-folder of its class, an identical copy under another name, and what macOS and people leave
    save(left / "day 2" / "IMG_0100.MOV", clip("MoveLeft", 250))
    shutil.copy(left / "IMG_0001.MOV", left / "IMG_0001 copy.MOV")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    (up / "._IMG_0001.MOV").write_bytes(b"\0\5\26\7")
    (up / "notes.txt").write_text("filmed on Tuesday\n")
    return root


@pytest.fixture(scope="module")
def split_folders(class_folders, tmp_path_factory) -> Path:
    """The UCF layout, ``{train,val,test}/<Class>/<files>``, with MP4 and MOV files named any way."""
    root = tmp_path_factory.mktemp("own") / "splits"
    for s, (split, count) in enumerate({"train": 3, "val": 1, "test": 1}.items()):
        for c, (name, motion) in enumerate(CLASSES.items()):
            for i in range(count):
                suffix = ".mov" if i % 2 else ".mp4"
                save(root / split / name / f"{split} take {i}{suffix}", clip(motion, 1000 + 100 * s + 10 * c + i))
    return root


def listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time: a folder nothing wrote to keeps them."""
    return {p.relative_to(root).as_posix(): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


def smoke(tmp_path: Path, data_dir: Path, **values):
    os.environ["TUTORIAL_OUTPUT"] = str(tmp_path / "out")
    return get_preset("smoke", data_dir=str(data_dir), **values)


@pytest.fixture(autouse=True)
def own_output(monkeypatch):
    """Each test sets TUTORIAL_OUTPUT (through ``smoke``); it is restored afterwards."""
    monkeypatch.setenv("TUTORIAL_OUTPUT", os.environ.get("TUTORIAL_OUTPUT", ""))
    monkeypatch.delenv("VC_DATA_DIR", raising=False)


# --- the layouts and the split ---------------------------------------------------------------------------------

def test_the_layouts_are_detected(class_folders, split_folders, tmp_path):
    assert detect_layout(class_folders) == "classes"
    assert detect_layout(split_folders) == "splits"


def test_class_folders_are_split_by_group_stratified_and_into_a_manifest(class_folders, tmp_path, capsys):
    before = listing(class_folders)
    preset = smoke(tmp_path, class_folders)
    dataset = get_dataset(preset)
    report = capsys.readouterr().out
    assert dataset.suffix == ".csv" and dataset.parent == preset.output_dir.parent / "splits"
    assert "class folders without splits" in report and "written now" in report
    rows = video_table(dataset)
    # every video of the folder, sub-folder included, once; nothing else
    videos = {p for p in class_folders.rglob("*") if p.is_file() and p.suffix.lower() != ".txt"
              and not p.name.startswith(".")}
    assert {row.path for row in rows} == videos and len(rows) == len(videos) == 19
    assert Counter(row.label for row in rows) == {"위로 이동": 5, "Déplacer à droite": 7, "3 gauche": 7}
    assert next(row.label for row in rows if row.path.name == "IMG_0100.MOV") == "3 gauche"
    # no group, and no pair of identical files, in two splits
    splits_of = defaultdict(set)
    for row in rows:
        splits_of[row.group].add(row.split)
    assert all(len(s) == 1 for s in splits_of.values())
    split = {row.path.name: row.split for row in rows if row.label == "3 gauche"}
    assert split["IMG_0001.MOV"] == split["IMG_0001 copy.MOV"]
    walks = {row.split for row in rows if row.path.name.startswith("walk_g07")}
    assert len(walks) == 1
    # stratified: every class has videos in every split, most in train
    for label in CLASSES:
        per_split = Counter(row.split for row in rows if row.label == label)
        assert per_split["val"] >= 1 and per_split["test"] >= 1 and per_split["train"] > per_split["test"]
    # the report says what it could not rule out, and counts what it skipped or noticed
    assert "Leak not ruled out" in report and "identical files: 1 set" in report
    assert "2 system file(s)" in report
    assert "1 file(s) that are not videos (e.g. notes.txt)" in report
    assert "1 video(s) are in sub-folders of a class folder (e.g. 3 gauche/day 2/)" in report
    # the user's folder is left as it was: nothing moved, copied or written there
    assert listing(class_folders) == before
    assert class_names(dataset) == sorted(CLASSES)


def test_the_split_is_reused_and_is_made_again_when_the_settings_change(class_folders, tmp_path, capsys):
    first = video_table(get_dataset(smoke(tmp_path, class_folders)))
    manifest = get_dataset(smoke(tmp_path, class_folders))
    assert "reused" in capsys.readouterr().out
    assert video_table(manifest) == first
    other = get_dataset(smoke(tmp_path, class_folders, data_seed=5, test_fraction=0.3))
    assert other == manifest and "made again: test_fraction and seed changed" in capsys.readouterr().out
    assert video_table(other) != first


def test_a_manifest_edited_by_hand_is_kept_and_a_missing_file_is_a_counted_skip(class_folders, tmp_path, capsys):
    manifest = get_dataset(smoke(tmp_path, class_folders))
    lines = manifest.read_text(encoding="utf-8").splitlines(keepends=True)
    body = [line for line in lines if not line.startswith("#")]
    header = [line for line in lines if line.startswith("#")]
    row = next(i for i, line in enumerate(body) if ",train" in line)
    edited = body[row].replace(",train", ",val")
    gone = body[1].replace(body[1].split(",")[0], "gone/missing video.mp4", 1)
    manifest.write_text("".join(header + body[:row] + [edited] + body[row + 1:] + [gone]), encoding="utf-8")
    with pytest.warns(UserWarning, match=r"lists 1 file\(s\) that do not exist; skipping them: .*missing video"):
        again = get_dataset(smoke(tmp_path, class_folders))
    assert "edited by hand: used as it is" in capsys.readouterr().out
    moved = body[row].split(",")[0]
    with pytest.warns(UserWarning, match="do not exist"):
        rows = read_manifest(again)
    assert next(r.split for r in rows if r.path.relative_to(class_folders).as_posix() == moved) == "val"


def test_new_videos_split_again_unless_the_manifest_was_edited_by_hand(class_folders, tmp_path, capsys):
    root = tmp_path / "copy"
    shutil.copytree(class_folders, root)
    get_dataset(smoke(tmp_path, root))
    new = save(root / "3 gauche" / "IMG_0200.MOV", clip("MoveLeft", 300))
    manifest = get_dataset(smoke(tmp_path, root))
    assert "made again: the videos changed" in capsys.readouterr().out
    assert new in {row.path for row in video_table(manifest)}
    # edited by hand (a row moved to another split): kept, and a newer video is counted, unused
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(",val\n", ",train\n", 1), encoding="utf-8")
    newer = save(root / "3 gauche" / "IMG_0201.MOV", clip("MoveLeft", 301))
    with pytest.warns(UserWarning, match=r"1 video\(s\) in .* are not in .*IMG_0201.MOV. Delete the manifest"):
        get_dataset(smoke(tmp_path, root))
    assert "edited by hand: used as it is; the folder or the settings changed" in capsys.readouterr().out
    assert newer not in {row.path for row in video_table(manifest)}


def test_a_manifest_row_with_an_unknown_split_is_an_error_naming_it(class_folders, tmp_path):
    manifest = get_dataset(smoke(tmp_path, class_folders))
    manifest.write_text(manifest.read_text(encoding="utf-8").replace(",test\n", ",testing\n", 1), encoding="utf-8")
    with pytest.raises(DataError, match=r"row \d+ .*split 'testing' is not one of train, val, test"):
        video_table(manifest)


def test_the_ucf_layout_is_used_as_it_is(split_folders, tmp_path, capsys):
    preset = smoke(tmp_path, split_folders)
    assert get_dataset(preset) == split_folders
    assert "the splits are used as they are" in capsys.readouterr().out
    videos = list_videos(split_folders)
    assert [len(videos[s]) for s in ("train", "val", "test")] == [9, 3, 3]
    assert not (preset.output_dir.parent / "splits").exists()


def test_a_copy_in_two_splits_of_the_ucf_layout_is_reported_as_a_leak(split_folders, tmp_path, capsys):
    root = tmp_path / "copy"
    shutil.copytree(split_folders, root)
    source = root / "train" / "3 gauche" / "train take 0.mp4"
    shutil.copy(source, root / "test" / "3 gauche" / "renamed.mp4")
    get_dataset(smoke(tmp_path, root))
    assert ("identical files: 1 set(s) of the same bytes under several names, e.g. renamed.mp4 = train take 0.mp4: "
            "1 set(s) span several splits, a leak: remove the copies") in capsys.readouterr().out


# --- bad input ---------------------------------------------------------------------------------------------------

def make(root: Path, files: dict[str, str]) -> Path:
    """A folder with ``files`` ({relative path: motion}) as small videos."""
    for i, (name, motion) in enumerate(files.items()):
        save(root / name, clip(motion, i))
    return root


@pytest.mark.parametrize("case, files, message", [
    ("empty", {}, r"is empty \(no folder, no video\).*<Class>/<videos>"),
    ("no class folders", {"a.mp4": "MoveUp", "b.mp4": "MoveLeft"}, r"holds 2 videos but no class folders"),
    ("one class", {f"Up/{i}.mp4": "MoveUp" for i in range(4)}, r"at least 2 class folders with videos, found only "
                                                               r"one \('Up'\)"),
    ("too few", {**{f"Up/{i}.mp4": "MoveUp" for i in range(4)}, "Left/a_g01_x.mp4": "MoveLeft",
                 "Left/a_g01_y.mp4": "MoveLeft", "Left/b.mp4": "MoveLeft"},
     r"'Left' \(.*Left\): 2 group\(s\), 3 video\(s\).*at least 3 groups"),
    ("no test", {"train/Up/a.mp4": "MoveUp", "val/Up/b.mp4": "MoveUp"},
     r"partial split layout.*it has no test/.*put all the videos in one folder of class folders"),
    ("validation", {f"{s}/Up/a.mp4": "MoveUp" for s in ("train", "validation", "test")},
     r"rename validation/ to one of train/, val/, test/"),
])
def test_bad_folders_are_clear_errors(tmp_path, case, files, message):
    root = make(tmp_path / "videos", files)
    root.mkdir(exist_ok=True)
    (root / ".DS_Store").write_bytes(b"\0")  # never counts as content
    with pytest.raises(DataError, match=message):
        own_dataset(smoke(tmp_path, root))


def test_a_missing_folder_and_an_output_folder_inside_the_data_are_refused(class_folders, tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        own_dataset(smoke(tmp_path, tmp_path / "nowhere"))
    preset = get_preset("smoke", data_dir=str(class_folders))
    os.environ["TUTORIAL_OUTPUT"] = str(class_folders / "outputs")
    with pytest.raises(DataError, match="inside your data folder"):
        own_dataset(preset)
    assert not (class_folders / "outputs").exists()


def test_the_script_never_writes_or_deletes_in_your_folder(class_folders, tmp_path, capsys):
    """``--output-dir`` pointed at the data folder, or at a folder holding it, with ``--overwrite``, which empties
    the output folder: refused before anything is written."""
    from helpers.train import main

    before = listing(class_folders)
    os.environ["TUTORIAL_OUTPUT"] = str(tmp_path / "out")
    for output in (class_folders, class_folders.parent):
        with pytest.raises(SystemExit, match="holds your data folder|is inside your data folder"):
            main(["--preset", "smoke", "--data-dir", str(class_folders), "--output-dir", str(output), "--overwrite"])
    assert listing(class_folders) == before


def test_the_setting_comes_from_the_environment_and_relative_folders_from_the_project(monkeypatch):
    monkeypatch.setenv("VC_DATA_DIR", "my videos")
    preset = get_preset("smoke")
    assert preset.data_dir == "my videos" and preset.dataset_dir.name == "my videos"
    assert preset.dataset_dir.parent == Path(__file__).resolve().parent.parent
    with pytest.raises(ValueError, match="val_fraction"):
        get_preset("smoke", val_fraction=1.5)


def test_labels_come_from_the_manifest_not_from_the_folder_names(class_folders, tmp_path):
    dataset = get_dataset(smoke(tmp_path, class_folders))
    label2id, _ = label_maps(class_names(dataset))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths, labels = labelled_videos(dataset, "train", label2id)
    rows = {row.path: row.label for row in video_table(dataset)}
    assert labels == [label2id[rows[p]] for p in paths]
    deeper = [p for p in paths if p.parent.name == "day 2"]
    assert all(labels[paths.index(p)] == label2id["3 gauche"] for p in deeper)


def test_the_phone_clip_is_read_upright(class_folders):
    if not shutil.which("ffmpeg"):
        pytest.skip("needs the ffmpeg command line (Debian/Ubuntu: apt-get install ffmpeg)")
    info = video_info(class_folders / "위로 이동" / "5.MP4")
    assert info["rotation"] == 90 and (info["width"], info["height"]) == (SIZE[1], SIZE[0])


# --- training: the script, a checkpoint of your choice, pipeline() ---------------------------------------------

def train_with_script(data_dir: Path, out: Path, *extra: str) -> dict:
    """``python -m helpers.train --preset smoke --data-dir DATA_DIR`` in this process; returns the model's config."""
    import json

    from helpers.train import main

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the skipped notes.txt, and the libraries' own
        main(["--preset", "smoke", "--data-dir", str(data_dir), "--output-dir", str(out), *extra])
    return json.loads((out / "model" / "config.json").read_text())


def test_the_script_trains_on_both_layouts_from_a_checkpoint_of_your_choice_and_pipeline_classifies(
        class_folders, split_folders, tmp_path, capsys, monkeypatch):
    """Class folders with the smoke preset's model (pretrained here, without labels, on the training videos of
    those folders), then the UCF layout fine-tuned from the model that run saved (``VC_MODEL=<folder>``); each saved
    model classifies a phone clip or a MOV file with ``pipeline``."""
    import json

    from transformers import pipeline

    from helpers.pretrain import pretrained_folder, unlabelled_videos

    before = {root: listing(root) for root in (class_folders, split_folders)}
    os.environ["TUTORIAL_OUTPUT"] = str(tmp_path / "out")
    videos = {class_folders: class_folders / "위로 이동" / "5.MP4",  # the phone clip
              split_folders: next(split_folders.glob("train/*/*.mov"))}
    model = None  # notebook 03's checkpoint, pretrained on the user's own training videos
    for data_dir, video in videos.items():
        monkeypatch.setenv("VC_MODEL", model or "pretrained")
        config = train_with_script(data_dir, tmp_path / data_dir.name)
        out = capsys.readouterr().out
        assert f"data = your videos in {data_dir}" in out and f"Your videos: {data_dir}" in out
        assert out.count("Your videos:") == 1, "the report of the folder is printed once, not again by pretraining"
        if model is None:  # pretrained on the user's own training videos, then fine-tuned
            assert "pretrained without labels on the training videos" in out
            preset = get_preset("smoke", data_dir=str(data_dir))
            paths = unlabelled_videos(preset, quiet=True)
            log = json.loads((pretrained_folder(preset, paths) / "pretraining_log.json").read_text())
            assert log["settings"]["videos"] == len(paths) and all(str(data_dir) in str(p) for p in paths)
        else:
            assert f"the pretrained checkpoint {model}" in out
        assert sorted(config["id2label"].values()) == sorted(CLASSES)
        model = str(tmp_path / data_dir.name / "model")
        scores = pipeline("video-classification", model=model)(str(video), top_k=3)
        assert {s["label"] for s in scores} == set(CLASSES) and abs(sum(s["score"] for s in scores) - 1) < 1e-4
    assert {root: listing(root) for root in before} == before, "training wrote into the user's folder"


LATIN1 = os.fsdecode(b"caf\xe9.mp4")  # a latin-1 name, not UTF-8: Python holds it as 'caf\udce9.mp4'


def test_a_file_name_that_is_not_utf8_is_listed_reported_and_trained_on_in_both_layouts(
        class_folders, split_folders, tmp_path, capsys, monkeypatch):
    """A latin-1 ``caf\xe9.mp4`` in a class folder of each layout (and one in no class folder, which the report
    names): the listing, the manifest, the report, pretraining's fingerprint and training take it as it is."""
    from helpers.pretrain import pretrained_folder, unlabelled_videos

    for source, where, start in ((class_folders, "3 gauche", "scratch"), (split_folders, "train/3 gauche",
                                                                          "pretrained")):
        root = tmp_path / source.name
        shutil.copytree(source, root)
        save(root / where / LATIN1, clip("MoveLeft", 7))
        assert b"caf\xe9.mp4" in os.listdir(os.fsencode(root / where))  # the bytes on disk, not UTF-8
        if where == "3 gauche":
            save(root / LATIN1, clip("MoveLeft", 8))  # in no class folder: reported as not used
        preset = smoke(tmp_path, root)
        assert root / where / LATIN1 in {row.path for row in video_table(get_dataset(preset))}
        if where == "3 gauche":
            assert "video(s) in no class folder (e.g. caf\\xe9.mp4)" in capsys.readouterr().out
        pretrained_folder(preset, unlabelled_videos(preset, quiet=True))  # hashes the names
        monkeypatch.setenv("VC_MODEL", start)
        config = train_with_script(root, tmp_path / f"{source.name} model")
        assert sorted(config["id2label"].values()) == sorted(CLASSES)


# --- the notebooks ---------------------------------------------------------------------------------------------

def test_the_notebooks_load_split_pretrain_and_train_on_class_folders(class_folders, tmp_path, monkeypatch):
    """Notebooks 01 to 04 with DATA_DIR (from the environment, as `make tutorial` would pass it): 01 shows the layout
    and the split, 02 and 03 read the same split, 04 trains on it and saves a model with your classes."""
    import json

    from conftest import run_in_one_kernel

    from helpers.tutorial import notebooks

    before = listing(class_folders)
    monkeypatch.setenv("VC_DATA_DIR", str(class_folders))
    monkeypatch.setenv("TUTORIAL_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("PRESET", "smoke")
    monkeypatch.setenv("TQDM_DISABLE", "1")
    executed = run_in_one_kernel(notebooks()[:4], tmp_path / "executed")["01_load_data.ipynb"]
    text = json.dumps([cell.get("outputs", []) for cell in executed.cells], ensure_ascii=False)
    assert "class folders without splits" in text and "groups found in more than one split: none" in text
    # Korean class names in its plots: no warning per missing glyph (the README says which font to install)
    assert not [o for cell in executed.cells for o in cell.get("outputs", []) if o.get("name") == "stderr"]
    (manifest,) = (tmp_path / "out" / "splits").glob("*.csv")
    rows = video_table(manifest)
    assert f"Total videos: {len(rows)} " in text
    config = json.loads((tmp_path / "out" / "smoke" / "model" / "config.json").read_text())
    assert sorted(config["id2label"].values()) == sorted(CLASSES)
    assert listing(class_folders) == before


def test_notebook_01_reads_the_ucf_layout_of_your_folder(split_folders, tmp_path, monkeypatch):
    import json

    import nbformat

    from helpers.tutorial import notebooks, run_notebook

    monkeypatch.setenv("VC_DATA_DIR", str(split_folders))
    monkeypatch.setenv("TUTORIAL_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("PRESET", "smoke")
    run_notebook(notebooks()[0], tmp_path / "executed", timeout=600)
    executed = nbformat.read(tmp_path / "executed" / "01_load_data.ipynb", as_version=4)
    text = json.dumps([cell.get("outputs", []) for cell in executed.cells], ensure_ascii=False)
    assert "the splits are used as they are" in text and "Total videos: 15 (train 9, val 3, test 3)" in text
    assert "15 of 15 videos open" in text
