"""The dataset on disk: download, safe extraction, layouts and the split step, label maps, scans.

Introduced in 01_load_data. A *dataset* is a folder in the UCF layout, ``{train,val,test}/<Class>/<videos>``, or the
manifest (a CSV: path, class, group, split) into which ``own_dataset`` splits a folder of class folders;
``video_table`` reads both, one row per video.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import random
import re
import tarfile
import unicodedata
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from tqdm.auto import tqdm

from helpers import synthetic
from helpers.config import DATA_DIR, Preset, TutorialError, printable, shown
from helpers.runs import folder_lock
from helpers.video import VIDEO_SUFFIXES, is_video_name, known, unreadable, user_name, verdict

SPLITS = ("train", "val", "test")
HUB_REPO = "sayakpaul/ucf101-subset"
HUB_FILE = "UCF101_subset.tar.gz"
OFFLINE_DATA_FIX = ", or use PRESET=cpu, whose built-in dataset needs no network"
NAME_PATTERN = re.compile(r"^v_(?P<label>.+)_g(?P<group>\d+)_c(?P<clip>\d+)$")


class DataError(TutorialError):
    """The data folder is not usable; the message says what to do."""


def check_hub_cache(repo_id: str, filename: str, repo_type: str | None = None, fix: str = "") -> None:
    """DataError naming the file and the fix when ``HF_HUB_OFFLINE=1`` and the file is not in the Hugging Face
    cache (01_load_data calls it before the guide's ``hf_hub_download``)."""
    from huggingface_hub import constants, try_to_load_from_cache

    if not constants.HF_HUB_OFFLINE or isinstance(try_to_load_from_cache(repo_id, filename, repo_type=repo_type),
                                                   str):
        return
    raise DataError(f"{repo_id} ({filename}) is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and "
                    f"HF_HUB_OFFLINE=1 forbids downloading it: run once online (unset HF_HUB_OFFLINE), or point "
                    f"HF_HOME at a cache that holds it{fix}.")


# --- getting the data ------------------------------------------------------------------------------------------

def get_dataset(preset: Preset) -> Path:
    """The preset's dataset: your own videos (``own_dataset``), else the built-in one, downloaded or generated."""
    if preset.data_dir:
        return own_dataset(preset)
    if preset.dataset == "hub":
        root = download_ucf101_subset(preset.dataset_dir.parent)  # data/, or yours if data/ is shared, read-only
    else:
        root = synthetic.generate(preset, preset.dataset_dir)
    print(f"Videos are in {shown(root)}")
    return root


def download_ucf101_subset(data_dir: Path = DATA_DIR) -> Path:
    """Download, verify and extract the UCF-101 subset into ``data_dir``, once, under a lock."""
    from huggingface_hub import hf_hub_download

    root = Path(data_dir) / "UCF101_subset"
    if (root / ".complete").exists():
        return root
    with folder_lock(root, "downloading and extracting"):
        if (root / ".complete").exists():
            return root  # another process did it while this one waited
        check_hub_cache(HUB_REPO, HUB_FILE, "dataset", OFFLINE_DATA_FIX)
        archive = Path(hf_hub_download(repo_id=HUB_REPO, filename=HUB_FILE, repo_type="dataset"))
        if not verify_download(archive):
            print(f"{archive} does not match its checksum (an interrupted download?): downloading it again.")
            archive = Path(hf_hub_download(repo_id=HUB_REPO, filename=HUB_FILE, repo_type="dataset",
                                           force_download=True))
        safe_extract(archive, Path(data_dir))
        if not root.is_dir():
            raise DataError(f"{archive} did not contain the folder UCF101_subset/ that was expected.")
        (root / ".complete").write_text(f"extracted from {HUB_REPO}/{HUB_FILE}\n")
    return root


def _sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read a megabyte at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_download(path: Path) -> bool:
    """Check a file from the Hub cache against its SHA-256 (the cache names LFS blobs by it)."""
    blob = Path(os.path.realpath(path))
    if not re.fullmatch(r"[0-9a-f]{64}", blob.name):
        return blob.stat().st_size > 0  # not an LFS blob: only a size check is possible
    return _sha256(blob) == blob.name


def safe_extract(archive: Path, target: Path) -> None:
    """Check a download against its checksum (``verify_download``), then extract the tar archive into ``target``,
    refusing members that would land outside it."""
    if not verify_download(archive):
        raise DataError(f"{archive} does not match its checksum: the download is damaged. Delete it and download it "
                        "again.")
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
                    raise DataError(f"{archive}: refusing link {member.name!r} -> {member.linkname!r}: it points "
                                    "outside the target folder.")
            if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
                raise DataError(f"{archive}: refusing member {member.name!r}: not a file or folder.")
        # the standard library's own guard as a second line of defence, where this Python has it (3.11.4 and later)
        tar.extractall(target, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))


# --- any layout: one row per video ----------------------------------------------------------------------------

GROUP_IN_NAME = re.compile(r"(?:^|_)g(\d+)(?=_|$)")  # UCF-101's _gNN_: clips of one recording
SYSTEM_FILES = {"thumbs.db", "desktop.ini"}  # and every name starting with "." (.DS_Store, macOS's ._name)
# folder names that mean a split (any case): the split layout must use exactly train, val and test
SPLIT_LIKE = {"train", "training", "val", "valid", "validation", "dev", "test", "testing", "eval"}
MANIFEST_COLUMNS = ("path", "class", "group", "split")
MIN_CLASSES = 2
MIN_GROUPS = 3  # per class: one group for each of train, val and test


def parse_name(path: Path) -> tuple[str, int, int]:
    """Split ``v_<Class>_gNN_cNN.avi`` into (class, group, clip)."""
    match = NAME_PATTERN.match(Path(path).stem)
    if not match:
        raise DataError(f"{path}: the name does not follow v_<Class>_gNN_cNN.<ext>. Rename it.")
    return match["label"], int(match["group"]), int(match["clip"])


@dataclass(frozen=True)
class VideoRow:
    """One video of a dataset: its file, its class, its group (videos of one group stay in one split), its split."""

    path: Path
    label: str
    group: str
    split: str


@dataclass
class FolderScan:
    """What a walk through a data folder found besides the videos: each is counted in the report."""

    system: list[Path] = field(default_factory=list)  # .DS_Store, ._name, Thumbs.db, hidden files: skipped
    others: list[Path] = field(default_factory=list)  # files whose names are not a video's: skipped
    deeper: dict[str, list[Path]] = field(default_factory=dict)  # class -> videos in its sub-folders: used
    loose: list[Path] = field(default_factory=list)  # videos in no class folder: not used
    empty: list[Path] = field(default_factory=list)  # class folders without a video: not a class
    linked: dict[Path, int] = field(default_factory=dict)  # sub-folder that is a symlink -> its videos: not used
    unreadable: list[Path] = field(default_factory=list)  # folders this user may not list: their videos not used


def is_system_file(path: Path) -> bool:
    """Files and folders that systems leave beside videos: hidden ones (.DS_Store, macOS's ._name), Thumbs.db."""
    name = Path(path).name
    return name.startswith(".") or name.lower() in SYSTEM_FILES


def group_of(path: Path, label: str, relative: str) -> str:
    """``<Class>/gNN`` when the file name carries a group (``_gNN_``, as UCF-101's do), else the file itself."""
    found = GROUP_IN_NAME.findall(Path(path).stem)
    return f"{label}/g{int(found[-1]):02d}" if found else relative


def _listable(folder: Path) -> bool:
    return os.access(folder, os.R_OK | os.X_OK)


def _class_videos(folder: Path, label: str, scan: FolderScan) -> list[Path]:
    """The videos under one class folder, sub-folders included, sorted; other files are counted in ``scan``.
    Sub-folders that are symlinks are not entered: one could pull in another class's videos, or loop."""
    if not _listable(folder):
        scan.unreadable.append(folder)
        return []
    videos = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(is_system_file(part) for part in relative.parts):
            if path.is_file():
                scan.system.append(path)
        elif path.is_dir() and path.is_symlink():
            scan.linked[path] = sum(1 for p in path.rglob("*") if is_video_name(p) and p.is_file())
        elif path.is_dir() and not _listable(path):
            scan.unreadable.append(path)
        elif path.is_file() and not is_video_name(path):
            scan.others.append(path)
        elif path.is_file():
            videos.append(path)
            if len(relative.parts) > 1:
                scan.deeper.setdefault(label, []).append(path)
    if not videos:
        scan.empty.append(folder)
    return videos


def _class_folders(folder: Path, scan: FolderScan) -> dict[str, list[Path]]:
    """{class: its videos} for the class folders in ``folder``; files beside them are counted in ``scan``. A class
    folder may be a symlink, but not to another class folder: a DataError names both."""
    classes, real = {}, {}
    for path in sorted(folder.iterdir()):
        if is_system_file(path):
            if path.is_file():
                scan.system.append(path)
        elif path.is_dir():
            same = real.setdefault(path.resolve(), path)
            if same != path:
                link, other = (path, same) if path.is_symlink() else (same, path)
                raise DataError(f"{link} is the same folder as {other} (a symlink to it), so the class "
                                f"{link.name!r} would learn the videos of {other.name!r}. Remove the link, or put "
                                f"{link.name!r}'s own videos in a real folder there.")
            videos = _class_videos(path, path.name, scan)
            if videos:
                classes[path.name] = videos
        elif is_video_name(path):
            scan.loose.append(path)
        else:
            scan.others.append(path)
    return classes


def detect_layout(folder: Path) -> str:
    """``"splits"`` for ``{train,val,test}/<Class>/<files>``, ``"classes"`` for ``<Class>/<files>``; a DataError for
    a missing or empty folder, loose videos without class folders, or a partial split layout, saying what to do."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder} does not exist or is not a folder. Set DATA_DIR to the folder that holds your "
                        "class folders (<Class>/<videos>), or to a folder with train/, val/ and test/ in it.")
    entries = [p for p in folder.iterdir() if not is_system_file(p)]
    folders = sorted(p.name for p in entries if p.is_dir())
    videos = [p for p in entries if p.is_file() and is_video_name(p)]
    if not folders and not videos:
        raise DataError(f"{folder} is empty (no folder, no video). Put one folder per class in it, each holding that "
                        f"class's videos: {folder}/<Class>/<videos>.")
    if not folders:
        raise DataError(f"{folder} holds {len(videos)} videos but no class folders. The class of a video is the name "
                        f"of its folder: put each class's videos in a folder named after it, "
                        f"{folder}/<Class>/<videos>, with at least {MIN_CLASSES} classes.")
    splits = [name for name in folders if name.lower() in SPLIT_LIKE]
    if not splits:
        return "classes"
    if sorted(splits) == sorted(SPLITS) and len(folders) == len(SPLITS):
        return "splits"
    missing = [s for s in SPLITS if s not in splits]
    renames = [name for name in splits if name not in SPLITS]
    others = [name for name in folders if name not in splits]
    problems = ([f"it has no {', '.join(m + '/' for m in missing)}"] if missing else []) + (
        [f"rename {', '.join(n + '/' for n in renames)} to one of train/, val/, test/"] if renames else []) + (
        [f"it also holds {', '.join(n + '/' for n in others)} beside the split folders"] if others else [])
    raise DataError(
        f"{folder} is a partial split layout ({{train,val,test}}/<Class>/<videos>): {'; '.join(problems)}. Either "
        f"complete it, or let the split step make the splits: put all the videos in one folder of class folders "
        f"(<Class>/<videos>, no train/val/test folders) and set DATA_DIR to it. The split step then puts "
        f"val_fraction and test_fraction (0.15 each unless VC_VAL_FRACTION and VC_TEST_FRACTION say otherwise) of "
        f"each class's groups in val and test, seeded, and writes the split to a manifest in the output folder "
        f"without moving a file.")


def scan_split_folders(root: Path) -> tuple[list[VideoRow], FolderScan]:
    """The rows of a folder in the UCF layout, and what else the walk found."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root} does not exist. Run notebook 01 (or `make tutorial`), or set PRESET=cpu for the "
                        "built-in dataset.")
    rows, scan = [], FolderScan()
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            raise DataError(f"{folder} is missing: the dataset needs train/, val/ and test/ folders.")
        found = _class_folders(folder, scan)
        if not found:
            raise DataError(f"{folder} holds no video: put videos in {folder}/<Class>/, or delete {root} and run "
                            "notebook 01 again.")
        rows += [VideoRow(path, label, group_of(path, label, path.relative_to(root).as_posix()), split)
                 for label, paths in found.items() for path in paths]
    return rows, scan


def video_table(source: Path) -> list[VideoRow]:
    """One row per video (path, class, group, split) of a dataset; files skipped are named in a warning.
    Introduced in 01_load_data."""
    source = Path(source)
    if source.is_file():
        return read_manifest(source)
    rows, scan = scan_split_folders(source)
    if scan.others:
        warnings.warn(f"Skipped {len(scan.others)} files that are not videos, e.g. {scan.others[0]} (video file "
                      f"names end with {', '.join(sorted(VIDEO_SUFFIXES))})", stacklevel=2)
    if scan.loose:
        warnings.warn(f"Skipped {len(scan.loose)} videos that are in no class folder, e.g. {scan.loose[0]}: move "
                      "them into the folder of their class to use them", stacklevel=2)
    for line in _left_out(scan):
        warnings.warn(f"Skipped {line}", stacklevel=2)
    return rows


def _where(source: Path, split: str) -> str:
    """How messages name one split of a dataset: its folder, or the manifest's split."""
    source = Path(source)
    return f"the {split} split of {source}" if source.is_file() else str(source / split)


def list_videos(root: Path) -> dict[str, list[Path]]:
    """The video files of each split of a dataset (a UCF-layout folder or a split manifest)."""
    rows = video_table(root)
    return {split: [row.path for row in rows if row.split == split] for split in SPLITS}


def class_names(root: Path) -> list[str]:
    """The sorted class names of a dataset, checked to be the same in every split."""
    rows = video_table(root)
    per_split = {split: sorted({row.label for row in rows if row.split == split}) for split in SPLITS}
    train = per_split["train"]
    if not train:
        raise DataError(f"{_where(root, 'train')} has no class with videos in it.")
    for split in SPLITS[1:]:
        if per_split[split] != train:
            only_train = sorted(set(train) - set(per_split[split]))
            only_here = sorted(set(per_split[split]) - set(train))
            raise DataError(f"{_where(root, split)} has other classes than {_where(root, 'train')}: missing "
                            f"{only_train}, extra {only_here}. Every split needs the same class folders, each with "
                            "at least one video.")
    return train


def label_maps(classes: list[str]) -> tuple[dict[str, int], dict[int, str]]:
    """``label2id`` and ``id2label`` in sorted class order, as PyTorchVideo numbers the folders."""
    label2id = {name: i for i, name in enumerate(sorted(classes))}
    return label2id, {i: name for name, i in label2id.items()}


def scan_videos(paths: list[Path]) -> tuple[list[dict], list[str]]:
    """(``video_info`` of each usable video, the message for each other file): the verdict every step shares."""
    new = [path for path in paths if not known(path)]
    for path in tqdm(new, desc="checking videos", unit="video", disable=not new):
        verdict(path)
    found = [(path, verdict(path)) for path in paths]
    return ([{"path": path, **info} for path, info in found if not isinstance(info, str)],
            [info for _, info in found if isinstance(info, str)])


def labelled_videos(root: Path, split: str, label2id: dict[str, int],
                    clip_seconds: float | None = None) -> tuple[list[Path], list[int]]:
    """The usable videos of one split and their class ids; the others are named in one warning. A class without a
    usable video, or not in ``label2id``, is a DataError; ``clip_seconds`` counts the videos shorter than a clip."""
    table = video_table(root)
    label_of = {row.path: row.label for row in table if row.split == split}
    paths = list(label_of)
    where = _where(root, split)
    scan_videos([row.path for row in table])  # every split at once: one progress bar, and the next split is known
    good, bad = scan_videos(paths)
    if bad:
        listed = "\n  ".join(bad[:10]) + (f"\n  ... and {len(bad) - 10} more" if len(bad) > 10 else "")
        warnings.warn(f"Skipping {len(bad)} of {len(paths)} files in {where} that are not usable videos "
                      f"(docs/troubleshooting.md says what each message means):\n  {listed}", stacklevel=2)
    found = {label_of[info["path"]] for info in good}
    unknown = sorted(found - set(label2id))
    if unknown:
        raise DataError(f"{where} has class folders that are not among the classes {sorted(label2id)}: {unknown}. "
                        "Every split needs the same class folders.")
    empty = sorted(set(label2id) - found)
    if empty:
        raise DataError(f"{where}: no usable video left in the class folder(s) {empty}. Add videos there (or remove "
                        "the class from every split).")
    short = [info for info in good if clip_seconds and info["seconds"] < clip_seconds]
    if short:
        print(f"Note: {len(short)} of {len(good)} videos in {split} are shorter than one clip "
              f"({clip_seconds:.2f} s): their clips span the whole video.")
    return [info["path"] for info in good], [label2id[label_of[info["path"]]] for info in good]


# --- your own videos: the split step ---------------------------------------------------------------------------

def identical_files(paths: list[Path]) -> list[list[Path]]:
    """Sets of byte-identical files (the same size, then the same SHA-256): one video under several names."""
    by_size = defaultdict(list)
    for path in paths:
        by_size[Path(path).stat().st_size].append(Path(path))
    by_hash = defaultdict(list)
    for same_size in (paths for paths in by_size.values() if len(paths) > 1):
        for path in same_size:
            try:
                by_hash[_sha256(path)].append(path)
            except PermissionError:
                raise DataError(unreadable(path)) from None
    return sorted(sorted(copies) for copies in by_hash.values() if len(copies) > 1)


def split_counts(groups: int, val_fraction: float, test_fraction: float) -> tuple[int, int, int]:
    """(train, val, test) numbers of a class's groups: the fractions, rounded, at least one group in each."""
    val, test = max(1, round(groups * val_fraction)), max(1, round(groups * test_fraction))
    while groups - val - test < 1:  # large fractions of a small class: train keeps one group
        if val >= test:
            val -= 1
        else:
            test -= 1
    return groups - val - test, val, test


def _merged_groups(label_of: dict[Path, str], root: Path, same: list[list[Path]]) -> dict[Path, str]:
    """Each video's group: ``group_of``'s, with the groups of byte-identical files joined into one."""
    group = {path: group_of(path, label, path.relative_to(root).as_posix()) for path, label in label_of.items()}
    merged: dict[str, str] = {}  # group -> the group it joined

    def top(name: str) -> str:
        while name in merged:
            name = merged[name]
        return name

    for copies in same:
        heads = sorted({top(group[path]) for path in copies})
        for head in heads[1:]:
            merged[head] = heads[0]
    return {path: top(name) for path, name in group.items()}


def split_videos(videos: dict[str, list[Path]], root: Path, val_fraction: float, test_fraction: float,
                 seed: int) -> tuple[list[VideoRow], list[list[Path]]]:
    """Split ``{class: paths}`` into train, val and test by whole groups, stratified by class, seeded. Returns the
    rows and the sets of identical files; DataError naming the classes with fewer than ``MIN_GROUPS`` groups."""
    label_of = {path: label for label, paths in videos.items() for path in paths}
    same = identical_files(sorted(label_of))
    group = _merged_groups(label_of, root, same)
    first = {}  # a group counts for the class of its first video
    for path in sorted(group):
        first.setdefault(group[path], label_of[path])
    groups_of = defaultdict(list)
    for name, label in first.items():
        groups_of[label].append(name)
    too_few = {label: len(groups_of[label]) for label in sorted(videos) if len(groups_of[label]) < MIN_GROUPS}
    if too_few:
        listed = "; ".join(f"{label!r} ({root / label}): {count} group(s), {len(videos[label])} video(s)"
                           for label, count in too_few.items())
        raise DataError(
            f"Too few videos to split: {listed}. Every class needs at least {MIN_GROUPS} groups, one for each of "
            "train, val and test (videos whose names share a _gNN_, and identical copies, are one group). Add "
            "videos to those class folders, or remove the folders.")
    split_of = {}
    for label, names in sorted(groups_of.items()):
        names = sorted(names)
        random.Random(f"{seed}/{label}").shuffle(names)
        _, val, test = split_counts(len(names), val_fraction, test_fraction)
        split_of.update({name: "test" if i < test else "val" if i < test + val else "train"
                         for i, name in enumerate(names)})
    return [VideoRow(path, label_of[path], group[path], split_of[group[path]]) for path in sorted(group)], same


def _body(rows: list[VideoRow], root: Path) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(MANIFEST_COLUMNS)
    for row in sorted(rows, key=lambda r: (SPLITS.index(r.split), r.label, str(r.path))):
        writer.writerow([Path(row.path).relative_to(root).as_posix(), row.label, row.group, row.split])
    return out.getvalue()


def _digest(text: str) -> str:
    # a file name that is not UTF-8 holds surrogates (caf\udce9.mp4): hash its bytes as they are on disk
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def listing_digest(videos: dict[str, list[Path]], root: Path) -> str:
    """A fingerprint of a folder's videos (names, classes, sizes): a manifest made from another listing is stale."""
    return _digest("\n".join(sorted(f"{label}\t{path.relative_to(root).as_posix()}\t{path.stat().st_size}"
                                    for label, paths in videos.items() for path in paths)))


def write_manifest(path: Path, rows: list[VideoRow], root: Path, settings: dict) -> Path:
    """Write the split to ``path`` atomically; its first line holds ``root``, the settings and a fingerprint of the
    rows, so that a later run knows whether to reuse it and whether someone edited it by hand."""
    body = _body(rows, root)
    header = {"folder": str(root), **settings, "rows": _digest(body)}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"# {json.dumps(header, ensure_ascii=False)}\n# The split of {root} into train, val and test, "
                   "made by helpers.data. Edit the split column to move a video (keep each group in one split); "
                   "delete this file to split again.\n" + body, encoding="utf-8", errors="surrogateescape")
    os.replace(tmp, path)
    return path


def _manifest_parts(path: Path) -> tuple[dict, str]:
    """(header, CSV body) of a manifest; the header is {} if its first line is not ours."""
    lines = Path(path).read_text(encoding="utf-8-sig", errors="surrogateescape").splitlines(keepends=True)
    header = {}
    if lines and lines[0].startswith("# "):
        try:
            header = json.loads(lines[0][2:])
        except ValueError:
            pass
    body = "".join(line for line in lines if not line.startswith("#"))
    return (header if isinstance(header, dict) else {}), body


def read_manifest(path: Path) -> list[VideoRow]:
    """The rows of a split manifest, paths relative to the folder in its first line (else the manifest's). Missing
    files are skipped with one warning; a row without a path or class, or with another split, is a DataError."""
    path = Path(path)
    header, body = _manifest_parts(path)
    root = Path(header.get("folder") or path.parent)
    reader = csv.DictReader(io.StringIO(body))
    missing_columns = [c for c in MANIFEST_COLUMNS if c not in (reader.fieldnames or [])]
    if missing_columns:
        raise DataError(f"{path}: the manifest lacks the column(s) {missing_columns}; it needs "
                        f"{','.join(MANIFEST_COLUMNS)}. Fix its header line, or delete it to split again.")
    rows, gone = [], []
    for number, record in enumerate(reader, start=1):
        where = f"{path}, row {number} ({record.get('path')!r})"
        if not (record["path"] or "").strip() or not (record["class"] or "").strip():
            raise DataError(f"{where}: every row needs a path and a class. Fix the row or delete it.")
        if record["split"] not in SPLITS:
            raise DataError(f"{where}: split {record['split']!r} is not one of {', '.join(SPLITS)}. Fix the row.")
        video = root / record["path"]
        if video.is_file():
            rows.append(VideoRow(video, record["class"], record["group"] or record["path"], record["split"]))
        else:
            gone.append(video)
    if gone:
        warnings.warn(f"{path} lists {len(gone)} file(s) that do not exist; skipping them: "
                      + ", ".join(str(p) for p in gone[:5]) + (" ..." if len(gone) > 5 else "")
                      + ". Delete the manifest to split the folder again.", stacklevel=2)
    return rows


def manifest_path(preset: Preset) -> Path:
    """``<output root>/splits/<folder name>-<hash of its path>.csv``: shared by every preset and run, and kept when
    ``make tutorial`` moves a preset's earlier results aside."""
    folder = preset.dataset_dir.resolve()
    name = re.sub(r"[^\w.-]+", "_", folder.name).strip("_") or "videos"
    return preset.output_dir.parent / "splits" / f"{name}-{_digest(str(folder))[:8]}.csv"


def _split_or_reuse(manifest: Path, videos: dict[str, list[Path]], root: Path, settings: dict,
                    ) -> tuple[list[VideoRow], list[list[Path]], str]:
    """The rows for ``videos``: ``manifest``'s if it was made from the same listing and settings, or edited by hand
    (kept: it is yours); else a new split, written there. Returns (rows, identical sets, what happened)."""
    if not manifest.is_file():
        state = "written now"
    else:
        header, body = _manifest_parts(manifest)
        edited = header.get("rows") != _digest(body)
        changed = [key for key, value in settings.items() if header.get(key) != value]
        if edited or not changed:
            rows = read_manifest(manifest)
            listed = {row.path for row in rows}
            new = sorted(p for paths in videos.values() for p in paths if p not in listed)
            if new:
                warnings.warn(f"{len(new)} video(s) in {root} are not in {manifest} (added after the split, or "
                              f"removed from it by hand), so they are not used, e.g. {new[0]}. Delete the manifest "
                              "to split again with them.", stacklevel=3)
            state = "edited by hand: used as it is" if edited else "reused: the same folder, videos and settings"
            if edited and changed:
                state += "; the folder or the settings changed since it was made: delete it to split again"
            return rows, identical_files([row.path for row in rows]), state
        state = f"made again: {' and '.join(k if k != 'videos' else 'the videos' for k in changed)} changed"
    rows, same = split_videos(videos, root, settings["val_fraction"], settings["test_fraction"], settings["seed"])
    write_manifest(manifest, rows, root, settings)
    return rows, same, state


def check_apart(preset: Preset, output: Path, fix: str, both_ways: bool = True) -> None:
    """DataError if the output folder ``output`` lies inside your data folder (or, ``both_ways``, holds it): the
    tutorial writes and deletes there, and leaves your folder as it is. Nothing to check without ``data_dir``."""
    if not preset.data_dir:
        return
    data, out = preset.dataset_dir.resolve(), Path(output).resolve()
    if out.is_relative_to(data) or (both_ways and data.is_relative_to(out)):
        where = "is inside" if out.is_relative_to(data) else "holds"
        raise DataError(f"The output folder {output} {where} your data folder {preset.dataset_dir}: the tutorial "
                        f"writes there, and leaves your folder as it is. Keep them apart: {fix}.")


def own_dataset(preset: Preset) -> Path:
    """Your own videos (``preset.data_dir``), where they are: the folder if it has splits, else the manifest of its
    split (``split_videos``), with a report. Nothing in your folder is moved, written or deleted. (01_load_data)"""
    root = preset.dataset_dir
    check_apart(preset, preset.output_dir.parent, "set TUTORIAL_OUTPUT to a folder outside it", both_ways=False)
    check_apart(preset, preset.output_dir, "move your videos out of it, or set TUTORIAL_OUTPUT")
    lines = [f"Your videos: {root}"]
    if detect_layout(root) == "splits":
        rows, scan = scan_split_folders(root)
        same, dataset = identical_files([row.path for row in rows]), root
        lines.append("  layout: {train,val,test}/<Class>/<videos>: the splits are used as they are")
    else:
        scan = FolderScan()
        videos = _class_folders(root, scan)
        if len(videos) < MIN_CLASSES:
            found = f"only one ({next(iter(videos))!r})" if videos else "none"
            raise DataError(f"{root}: a classifier needs at least {MIN_CLASSES} class folders with videos, found "
                            f"{found}. Add a folder per class, {root}/<Class>/<videos>.")
        settings = {"val_fraction": preset.val_fraction, "test_fraction": preset.test_fraction,
                    "seed": preset.data_seed, "videos": listing_digest(videos, root)}
        dataset = manifest_path(preset)
        rows, same, state = _split_or_reuse(dataset, videos, root, settings)
        lines += [f"  layout: class folders without splits (<Class>/<videos>): split by group, stratified by class, "
                  f"val {preset.val_fraction:g}, test {preset.test_fraction:g}, seed {preset.data_seed}",
                  f"  manifest: {dataset}, {state}"]
    print(printable("\n".join(lines + report_lines(rows, scan, same))))
    return dataset


def report_lines(rows: list[VideoRow], scan: FolderScan, same: list[list[Path]]) -> list[str]:
    """The split report: groups, identical files, files not used, videos per class and split."""
    named = sum(1 for row in rows if GROUP_IN_NAME.search(row.path.stem))
    if named == len(rows):
        lines = [f"  groups: {len({row.group for row in rows})}, from the _gNN_ in the file names; no group is in two "
                 "splits"]
    else:
        some = (f"{named} of {len(rows)} file names carry a group (_gNN_); every other video is" if named else
                "no file name carries a group (_gNN_), so every video is")
        lines = [f"  groups: {some} a group of its own. Leak not ruled out: clips cut from one recording can land in "
                 "different splits, and test accuracy would then be too good. Give such clips a shared _gNN_ in their "
                 "names (walk_g03_a.mp4, walk_g03_b.mp4)"]
    if same:
        across = sum(len({row.split for row in rows if row.path in set(copies)}) > 1 for copies in same)
        lines.append(f"  identical files: {len(same)} set(s) of the same bytes under several names, e.g. "
                     f"{' = '.join(p.name for p in same[0])}: "
                     + (f"{across} set(s) span several splits, a leak: remove the copies" if across else
                        "each set is in one split"))
    if scan.deeper:
        label, paths = sorted(scan.deeper.items())[0]
        lines.append(f"  note: {sum(map(len, scan.deeper.values()))} video(s) are in sub-folders of a class folder "
                     f"(e.g. {label}/{paths[0].parent.name}/): each counts as its class folder's. If a sub-folder is "
                     "a class of its own, move it up one level")
    skipped = [f"{len(scan.system)} system file(s) (.DS_Store, ._*, hidden)"] if scan.system else []
    if scan.others:
        skipped.append(f"{len(scan.others)} file(s) that are not videos (e.g. {scan.others[0].name})")
    if scan.loose:
        skipped.append(f"{len(scan.loose)} video(s) in no class folder (e.g. {scan.loose[0].name}): move them into "
                       "one to use them")
    if scan.empty:
        skipped.append(f"{len(scan.empty)} folder(s) without a video ({', '.join(p.name for p in scan.empty[:3])})")
    skipped += _left_out(scan)
    if skipped:
        lines.append("  not used: " + "; ".join(skipped))
    return lines + _count_table(rows)


def _count_table(rows: list[VideoRow]) -> list[str]:
    """Videos per class and split, and the totals, in columns (CJK class names take two columns a character)."""
    counts = Counter((row.label, row.split) for row in rows)
    labels = sorted({row.label for row in rows})
    width = max(_width("class"), *(_width(label) for label in labels))
    lines = [f"  class{' ' * (width - 5)}  train    val   test"]
    for label in labels + ["(all)"]:
        numbers = [sum(counts[(name, split)] for name in labels) if label == "(all)" else counts[(label, split)]
                   for split in SPLITS]
        lines.append(f"  {label}{' ' * (width - _width(label))}  " + " ".join(f"{n:5d} " for n in numbers).rstrip())
    return lines


def _left_out(scan: FolderScan) -> list[str]:
    """What the walk could not or would not enter, with the fix: sub-folders that are symlinks, unreadable folders."""
    lines = []
    if scan.linked:
        first = next(iter(scan.linked))
        lines.append(f"{sum(scan.linked.values())} video(s) in {len(scan.linked)} sub-folder(s) that are symlinks "
                     f"(e.g. {first.parent.name}/{first.name}): links inside a class folder are not followed; move "
                     "or copy the videos there to use them")
    if scan.unreadable:
        lines.append(f"{len(scan.unreadable)} folder(s) that user {user_name()} may not read (e.g. "
                     f"{scan.unreadable[0]}, permission denied), their videos unseen: chmod -R a+rX "
                     f"'{scan.unreadable[0]}' to use them")
    return lines


def _width(text: str) -> int:
    """Columns ``text`` takes in a terminal: Korean, Chinese and Japanese characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
