"""Run folders: one training at a time in each, and one clear message when one cannot be written.

Used by ``helpers.train`` (the script, and ``new_run_dir`` in 04_train and 06_fast_pipeline) and by
``helpers.tutorial``. What a learner would skip:

- ``hold_run_folder``: a lock on ``<folder>/.lock``, so that a second training started on the same folder is
  refused instead of mixing its checkpoints with the first one's; ``folder_lock`` makes a second writer wait instead
  (the generator, the download, pretraining). Both are the operating system's lock (``flock``): it goes with the
  process, so a killed one leaves nothing stuck.
- ``check_writable`` and ``clear_write_errors``: a read-only folder or a full disk, met before or during training,
  stops with one message that names the folder and the fix instead of a traceback from deep inside torch.save
  (``unexpected pos 5248 vs 5140``). A checkpoint cut off by a full disk is removed; the earlier ones are kept.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

# where to send a run instead, for each way of starting one
ELSEWHERE = ("choose a folder elsewhere: TUTORIAL_OUTPUT=/path for make tutorial and the notebooks, --output-dir "
             "for python -m helpers.train")
RESUME_HINT = "continue from the last checkpoint with RESUME=1 make tutorial (RESUME = True in notebook 04) or --resume"
# what torch.save (its zip writer) and safetensors say when a write comes up short: they carry no errno
SHORT_WRITE = re.compile(r"unexpected pos \d+ vs \d+|file write failed|No space left on device|StorageFull|"
                         r"code: 28\b")
PERMISSION = (errno.EACCES, errno.EPERM, errno.EROFS)
FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)  # EDQUOT: over a disk quota


class OutputError(RuntimeError):
    """A run folder that cannot be used now (in use, not writable, disk full); the message names it and the fix."""


def _size(num_bytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if num_bytes < 1000 or unit == "GB":
            return f"{num_bytes:.0f} {unit}" if unit == "bytes" else f"{num_bytes:.1f} {unit}"
        num_bytes /= 1000
    return ""  # unreachable


def nearest_existing(folder: Path) -> Path:
    """The folder, or its nearest parent that exists (to ask the disk how much room is left)."""
    folder = Path(folder).absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def write_error_message(err: BaseException, folder: Path, doing: str | None = None) -> str | None:
    """One message for a write that failed because the disk is full or the folder is not writable; else None.

    ``doing`` says what was being written ("Saving a checkpoint"); the message names ``folder`` and the fix."""
    folder = Path(folder)
    code = getattr(err, "errno", None)
    prefix = f"{doing} failed: " if doing else ""
    if code in PERMISSION:
        where = getattr(err, "filename", None) or folder
        if ".write-test-" in str(where):  # check_writable's probe: name the folder
            where = folder
        reason = "it is on a read-only disk" if code == errno.EROFS else "permission denied"
        return (f"{prefix}{where} cannot be written ({reason}). Check the permissions of {folder} "
                f"(ls -ld {folder}: is it yours, is the disk mounted read-only?), or {ELSEWHERE}.")
    if code in FULL or (code is None and SHORT_WRITE.search(str(err))):
        try:
            free = f"{_size(shutil.disk_usage(nearest_existing(folder)).free)} free"
        except OSError:
            free = "free space unknown"
        return (f"{prefix}the disk that holds {folder} is full ({free}). Free some space on it (df -h "
                f"{nearest_existing(folder)}; old runs in outputs/ can go), or {ELSEWHERE}.")
    return None


def check_writable(folder: Path, doing: str | None = None) -> Path:
    """Create ``folder`` if needed and write a file in it; OutputError (folder and fix) if that fails."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError as err:
        message = write_error_message(err, folder, doing)
        if message is None:
            raise
        raise OutputError(message) from None
    return folder


def complete_checkpoints(run_dir: Path) -> list[Path]:
    """The ``checkpoint-N`` folders of a run whose ``trainer_state.json`` (written last) reads, by step."""
    found = []
    for path in Path(run_dir).glob("checkpoint-*"):
        if path.is_dir() and re.fullmatch(r"checkpoint-\d+", path.name):
            try:
                json.loads((path / "trainer_state.json").read_text())
            except (OSError, ValueError):
                continue
            found.append(path)
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


@contextmanager
def clear_write_errors(run_dir: Path, doing: str = "Saving a checkpoint") -> Iterator[None]:
    """Turn a full disk or a read-only folder met inside the block (``trainer.train()``) into one OutputError.

    Introduced in 04_train. The checkpoint that was being written when the disk filled up is removed (it is
    incomplete, and it holds the space needed to go on); the complete ones before it are left as they are, so the
    run can continue from the last of them once there is room."""
    run_dir = Path(run_dir)
    started = time.time()
    try:
        yield
    except Exception as err:  # torch.save raises RuntimeError, safetensors its own error: sort them by message
        message = write_error_message(err, run_dir, doing)
        if message is None:
            raise
        complete = complete_checkpoints(run_dir)
        removed = []
        for path in run_dir.glob("checkpoint-*"):
            if path.is_dir() and path not in complete and path.stat().st_mtime >= started - 1:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        if removed:
            message += f" The incomplete {', '.join(sorted(removed))} was removed."
        if complete:
            message += (f" The earlier checkpoints are intact ({', '.join(p.name for p in complete)} in {run_dir}): "
                        f"then {RESUME_HINT}.")
        raise OutputError(message) from None


# --- locks: one writer per folder -------------------------------------------------------------------------------------

@contextmanager
def folder_lock(folder: Path, doing: str = "writing") -> Iterator[Path]:
    """Hold an exclusive lock on ``<folder>.lock`` while one process writes ``folder``; yield the lock file.

    Another process (a second training process, a second run) waits, then finds the work done. The lock is the
    operating system's (``flock``): it goes with the process that holds it, so one that was killed leaves nothing
    stuck. Used by the built-in dataset's generator, the download and pretraining."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(folder.with_name(folder.name + ".lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"Waiting for another process that is {doing} {folder} (it holds {lock.lock_file}) ...", flush=True)
        lock.acquire()
    try:
        yield Path(lock.lock_file)
    finally:
        lock.release()


_held: dict[Path, FileLock] = {}  # run folder -> this process's lock on it


LOCK_NAME = ".lock"  # inside the run folder: hidden, and gone with the folder


def hold_run_folder(folder: Path) -> Path:
    """Lock ``folder`` for this process (``<folder>/.lock``) until ``release_run_folder`` or the end of the process;
    OutputError naming the process that holds it if another one does, or naming the folder and the fix if it cannot
    be written. Holding it already is fine."""
    folder = Path(folder).absolute()
    if folder in _held:
        return folder
    check_writable(folder)
    lock_file = folder / LOCK_NAME
    lock = FileLock(lock_file)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        try:
            owner = lock_file.read_text().strip() or "a process that has just started"
        except OSError:
            owner = "another process"
        raise OutputError(
            f"{folder} is in use by another training ({owner}). Two trainings in one folder would mix their "
            f"checkpoints and report the same best one. Wait until it ends, or {ELSEWHERE}. If that process is a "
            f"notebook kernel that has finished, shut the kernel down. A process that was killed holds no lock "
            f"(the lock is {lock_file})."
        ) from None
    except OSError as err:
        message = write_error_message(err, folder, f"Creating {lock_file}")
        if message is None:
            raise
        raise OutputError(message) from None
    try:  # who holds it, for the message above (the lock is the flock, not the text)
        command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:200]
        lock_file.write_text(f"process {os.getpid()} on {socket.gethostname()}, started "
                             f"{time.strftime('%Y-%m-%d %H:%M:%S')}: {command}\n")
    except OSError:
        pass
    _held[folder] = lock
    return folder


def release_run_folder(folder: Path) -> None:
    """Let other processes train in ``folder`` again (a no-op if this process does not hold it)."""
    lock = _held.pop(Path(folder).absolute(), None)
    if lock is not None:
        lock.release()


@contextmanager
def run_folder_lock(folder: Path) -> Iterator[Path]:
    """``hold_run_folder`` for the time of a ``with`` block (the script's whole run)."""
    held_before = Path(folder).absolute() in _held
    path = hold_run_folder(folder)
    try:
        yield path
    finally:
        if not held_before:
            release_run_folder(folder)
