"""Run folders: one writer at a time in each, one clear message when one cannot be written, the checkpoints a run
can resume from.

The locks are the operating system's (``flock``): they go with the process, so a killed one leaves nothing stuck.
``folder_lock`` makes a second writer wait (the generator, the download, pretraining); ``hold_run_folder`` refuses a
second training in a run folder instead of mixing its checkpoints with the first one's. A read-only folder or a
full disk stops with one message naming the folder and the fix instead of a traceback from inside torch.save.
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

ELSEWHERE = ("choose a folder elsewhere: TUTORIAL_OUTPUT=/path for make tutorial and the notebooks, --output-dir "
             "for python -m helpers.train")
RESUME_HINT = "continue from the last checkpoint with RESUME=1 make tutorial (RESUME = True in notebook 04) or --resume"
# what torch.save (its zip writer) and safetensors say when a write comes up short: they carry no errno
SHORT_WRITE = re.compile(r"unexpected pos \d+ vs \d+|file write failed|No space left on device|StorageFull|"
                         r"code: 28\b")
PERMISSION = (errno.EACCES, errno.EPERM, errno.EROFS)
FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG)  # EDQUOT: over a disk quota
LOCK_NAME = ".lock"  # inside a run folder: hidden, and gone with the folder


def nearest_existing(folder: Path) -> Path:
    """The folder, or its nearest parent that exists (to ask whether it can be written, or how much room is left)."""
    folder = Path(folder).expanduser().absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


class OutputError(RuntimeError):
    """A run folder that cannot be used now (in use, not writable, disk full); the message names it and the fix."""


def write_error_message(err: BaseException, folder: Path, doing: str | None = None) -> str | None:
    """One message for a write that failed because the disk is full or the folder is not writable; else None.
    ``doing`` says what was being written ("Saving a checkpoint")."""
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
            free = shutil.disk_usage(nearest_existing(folder)).free
            free = f"{free:.0f} bytes free" if free < 1000 else f"{free / 1e6:.1f} MB free"
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


def last_checkpoint(run_dir: Path, verbose: bool = True) -> str | None:
    """The newest *complete* checkpoint in ``run_dir``, or None: unlike transformers' ``get_last_checkpoint`` it
    skips one that a process killed while saving left without its state (and says so, if ``verbose``)."""
    complete = complete_checkpoints(run_dir) if Path(run_dir).is_dir() else []
    newest = int(complete[-1].name.split("-")[1]) if complete else -1
    for path in sorted(Path(run_dir).glob("checkpoint-*")) if verbose and Path(run_dir).is_dir() else []:
        step = path.name.split("-")[1]
        if path.is_dir() and path not in complete and step.isdigit() and int(step) > newest:
            print(f"Skipping {path}: incomplete (the run stopped while writing it).")
    return str(complete[-1]) if complete else None


@contextmanager
def clear_write_errors(run_dir: Path, doing: str = "Saving a checkpoint") -> Iterator[None]:
    """Turn a full disk or a read-only folder met inside the block (``trainer.train()``) into one OutputError.

    Introduced in 04_train. The checkpoint being written when the disk filled up is removed (it is incomplete and
    holds the space needed to go on); the complete ones are kept, so the run can continue from the last of them."""
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


@contextmanager
def folder_lock(folder: Path, doing: str = "writing") -> Iterator[Path]:
    """Hold a lock on ``<folder>.lock`` while this process writes ``folder``; yield the lock file. Another process
    (a second training process, a second run) waits, then finds the work done."""
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


def hold_run_folder(folder: Path) -> Path:
    """Lock ``folder`` for this process (``<folder>/.lock``) until ``release_run_folder`` or the end of the process;
    OutputError naming the process that holds it, or the folder and the fix if it cannot be written."""
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
