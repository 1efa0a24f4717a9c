"""The dataset on disk: download, safe extraction, layout checks, label maps, scans.

Introduced in 01_load_data. Both data sources, the UCF-101 subset from the Hub and the
built-in synthetic dataset, give the same layout: ``<root>/{train,val,test}/<Class>/v_<Class>_gNN_cNN.avi``.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
import warnings
from collections import Counter, defaultdict
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from helpers import synthetic
from helpers.config import DATA_DIR, Preset
from helpers.video import VIDEO_SUFFIXES, VideoError, is_video_name, video_info

SPLITS = ("train", "val", "test")
HUB_REPO = "sayakpaul/ucf101-subset"
HUB_FILE = "UCF101_subset.tar.gz"
NAME_PATTERN = re.compile(r"^v_(?P<label>.+)_g(?P<group>\d+)_c(?P<clip>\d+)$")


class DataError(ValueError):
    """The data folder is not usable; the message says what to do."""


# --- getting the data ---------------------------------------------------------------

def get_dataset(preset: Preset) -> Path:
    """Return the root folder of the preset's dataset, downloading or generating it if needed."""
    if preset.dataset == "hub":
        root = download_ucf101_subset(DATA_DIR)
    elif preset.dataset == "synthetic":
        root = synthetic.generate(preset, preset.data_dir)
    else:
        raise DataError(f"Unknown dataset {preset.dataset!r}: use 'synthetic' or 'hub' (VC_DATASET).")
    print(f"Videos are in {root}")
    return root


def download_ucf101_subset(data_dir: Path = DATA_DIR) -> Path:
    """Download the UCF-101 subset archive from the Hub, verify it and extract it into ``data_dir``.

    Safe with several processes at once (training processes, two runs): one downloads and extracts under a lock,
    the others wait and reuse what it extracted."""
    root = Path(data_dir) / "UCF101_subset"
    if (root / ".complete").exists():
        return root
    with synthetic.folder_lock(root, "downloading and extracting"):
        if (root / ".complete").exists():
            return root  # another process did it while this one waited
        return _download_and_extract(Path(data_dir), root)


def _download_and_extract(data_dir: Path, root: Path) -> Path:
    from huggingface_hub import hf_hub_download

    archive = Path(hf_hub_download(repo_id=HUB_REPO, filename=HUB_FILE, repo_type="dataset"))
    if not verify_download(archive):
        print(f"{archive} does not match its checksum (an interrupted download?): downloading it again.")
        archive = Path(hf_hub_download(repo_id=HUB_REPO, filename=HUB_FILE, repo_type="dataset",
                                       force_download=True))
        if not verify_download(archive):
            raise DataError(f"{archive}: the download is corrupted twice in a row. Delete it and try again.")
    safe_extract(archive, data_dir)
    if not root.is_dir():
        raise DataError(f"{archive} did not contain the folder UCF101_subset/ that was expected.")
    (root / ".complete").write_text(f"extracted from {HUB_REPO}/{HUB_FILE}\n")
    return root


def verify_download(path: Path) -> bool:
    """Check a file from the Hub cache against its SHA-256 (the cache names LFS blobs by it)."""
    blob = Path(os.path.realpath(path))
    if not re.fullmatch(r"[0-9a-f]{64}", blob.name):
        return blob.stat().st_size > 0  # not an LFS blob: only a size check is possible
    digest = hashlib.sha256()
    with open(blob, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest() == blob.name


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a tar archive into ``target``, refusing members that would land outside it."""
    target = Path(target).resolve()
    try:
        tar = tarfile.open(archive)
    except (tarfile.TarError, OSError) as err:
        raise DataError(f"{archive}: not a readable tar archive ({err}). Delete it and download it again.") from None
    with tar:
        for member in tar.getmembers():
            name = PurePosixPath(member.name)
            if name.is_absolute() or ".." in name.parts:
                raise DataError(f"{archive}: refusing member {member.name!r}: its path leaves the target folder.")
            if member.issym() or member.islnk():
                base = (target / name).parent if member.issym() else target
                dest = (base / member.linkname).resolve()
                if PurePosixPath(member.linkname).is_absolute() or not dest.is_relative_to(target):
                    raise DataError(
                        f"{archive}: refusing link {member.name!r} -> {member.linkname!r}: it points outside "
                        "the target folder."
                    )
            if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                raise DataError(f"{archive}: refusing member {member.name!r}: not a file or folder.")
        # the standard library's own guard as a second line of defence, where it exists (Python 3.11.4 and later;
        # Debian 12's python3 is 3.11.2): the checks above already refuse every unsafe member
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, filter="data")
        else:
            tar.extractall(target)


# --- the layout ------------------------------------------------------------------------

def parse_name(path: Path) -> tuple[str, int, int]:
    """Split ``v_<Class>_gNN_cNN.avi`` into (class, group, clip)."""
    match = NAME_PATTERN.match(Path(path).stem)
    if not match:
        raise DataError(f"{path}: the name does not follow v_<Class>_gNN_cNN.<ext>. Rename it.")
    return match["label"], int(match["group"]), int(match["clip"])


def list_videos(root: Path) -> dict[str, list[Path]]:
    """The video files of each split, sorted; other files (like .DS_Store) are skipped with a warning."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"{root} does not exist. Run notebook 01 (or `make tutorial`), or set PRESET=cpu "
            "for the built-in dataset."
        )
    videos, skipped = {}, []
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            raise DataError(f"{folder} is missing: the dataset needs train/, val/ and test/ folders.")
        files = sorted(p for p in folder.glob("*/*") if p.is_file())
        videos[split] = [p for p in files if is_video_name(p)]
        skipped += [p for p in files if not is_video_name(p)]
        if not videos[split]:
            raise DataError(
                f"{folder} holds no video: put videos in {folder}/<Class>/, or delete {root} "
                "and run notebook 01 again."
            )
    if skipped:
        warnings.warn(f"Skipped {len(skipped)} files that are not videos, e.g. {skipped[0]} (video file names end "
                      f"with {', '.join(sorted(VIDEO_SUFFIXES))})", stacklevel=2)
    return videos


def class_names(root: Path) -> list[str]:
    """The sorted class names, checked to be the same in every split."""
    root = Path(root)
    per_split = {}
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            raise DataError(f"{folder} is missing: the dataset needs train/, val/ and test/ folders.")
        per_split[split] = sorted(
            p.name for p in folder.iterdir()
            if p.is_dir() and any(is_video_name(f) for f in p.iterdir())
        )
    train = per_split["train"]
    if not train:
        raise DataError(f"{root / 'train'} has no class folder with videos in it.")
    for split in SPLITS[1:]:
        if per_split[split] != train:
            only_train = sorted(set(train) - set(per_split[split]))
            only_here = sorted(set(per_split[split]) - set(train))
            raise DataError(
                f"{root / split} has other classes than {root / 'train'}: missing {only_train}, extra "
                f"{only_here}. Every split needs the same class folders, each with at least one video."
            )
    return train


def label_maps(classes: list[str]) -> tuple[dict[str, int], dict[int, str]]:
    """``label2id`` and ``id2label`` in sorted class order, as PyTorchVideo numbers the folders."""
    classes = sorted(classes)
    label2id = {name: i for i, name in enumerate(classes)}
    return label2id, {i: name for name, i in label2id.items()}


def count_videos(videos: dict[str, list[Path]]) -> dict[str, Counter]:
    """Videos per class in each split."""
    return {split: Counter(p.parent.name for p in paths) for split, paths in videos.items()}


def groups_in_several_splits(videos: dict[str, list[Path]]) -> dict[tuple[str, int], list[str]]:
    """Groups (class, gNN) that appear in more than one split: a leak if not empty."""
    seen = defaultdict(set)
    for split, paths in videos.items():
        for path in paths:
            label, group, _ = parse_name(path)
            seen[(label, group)].add(split)
    return {key: sorted(splits) for key, splits in seen.items() if len(splits) > 1}


def scan_videos(paths: list[Path]) -> tuple[list[dict], list[str]]:
    """Open and decode every video; return the usable ones' info and one message per file that is not usable.

    The verdict is ``helpers.video.video_info``'s, the one every step shares (training, evaluation, predict): not
    usable are files that do not open or decode, pictures, audio, raw streams, and truncated files (far fewer
    frames decode than the header announces: PyTorchVideo would ask them for clips past their real end and
    silently draw another video)."""
    good, bad = [], []
    for path in tqdm(paths, desc="checking videos", unit="video"):
        try:
            info = video_info(path)
        except VideoError as err:
            bad.append(str(err))
        else:
            good.append({"path": path, **info})
    return good, bad


def labelled_videos(root: Path, split: str, label2id: dict[str, int],
                    clip_seconds: float | None = None) -> tuple[list[Path], list[int]]:
    """The usable videos of one split with their class ids, the class being the name of the video's folder.

    Files that are not usable videos are skipped with one warning that counts and names them; a class left with
    no usable video, or a folder whose name is not a known class, is an error. With ``clip_seconds``, videos
    shorter than one clip are counted in a note (they are used: a clip spans the whole video, repeating frames if
    it has fewer than the model takes)."""
    paths = list_videos(root)[split]
    good, bad = scan_videos(paths)
    if bad:
        shown = "\n  ".join(bad[:10]) + (f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else "")
        warnings.warn(
            f"Skipping {len(bad)} of {len(paths)} files in {Path(root) / split} that are not usable videos "
            f"(the README's troubleshooting table says what each message means):\n  {shown}", stacklevel=2)
    found = {info["path"].parent.name for info in good}
    unknown = sorted(found - set(label2id))
    if unknown:
        raise DataError(
            f"{Path(root) / split} has class folders that are not among the classes {sorted(label2id)}: {unknown}. "
            "Every split needs the same class folders."
        )
    empty = sorted(set(label2id) - found)
    if empty:
        raise DataError(
            f"{Path(root) / split}: no usable video left in the class folder(s) {empty}. Add videos there "
            "(or remove the class from every split)."
        )
    if clip_seconds:
        short = [info for info in good if info["seconds"] < clip_seconds]
        if short:
            print(f"Note: {len(short)} of {len(good)} videos in {split} are shorter than one clip "
                  f"({clip_seconds:.2f} s): their clips span the whole video.")
    return [info["path"] for info in good], [label2id[info["path"].parent.name] for info in good]
