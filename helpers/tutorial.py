"""Run the whole notebook series headless: ``python -m helpers.tutorial`` (what ``make tutorial`` calls).

Executed notebooks, their GIFs and plots and the trained model go to the preset's output folder
(``outputs/<preset>/``); a previous one is moved aside, named by its time, unless ``RESUME=1`` (``--resume``) keeps
it for notebook 04 to continue its newest run. ``--edition ko`` runs ``notebooks/ko/`` into ``outputs/ko/<preset>/``.

``--prepare`` (``make prepare``) runs nothing: it makes the preset's built-in data and start checkpoints in ``data/``
once, for a shared install whose learners only read them (docs/teaching.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from helpers.config import (
    DATA_DIR,
    PROJECT_ROOT,
    Preset,
    SettingsError,
    describe,
    get_preset,
    output_root,
    printable,
    shown,
    writable,
)
from helpers.runs import OutputError, check_writable, write_error_message

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
# the editions of the series: English in notebooks/, Korean in notebooks/ko/ (same cells, the prose translated)
EDITIONS = {"en": NOTEBOOK_DIR, "ko": NOTEBOOK_DIR / "ko"}
SERIES = "[0-9][0-9]_*.ipynb"  # the notebooks of a series: 01_load_data.ipynb, ...
# the longest a cell may run: far beyond notebook 04's training on a busy machine, so that it only catches hangs
CELL_TIMEOUT = 3 * 3600


def notebooks(edition: str = "en", folder: Path | None = None) -> list[Path]:
    """The series in order: notebooks/NN_*.ipynb (``edition="ko"``: notebooks/ko/NN_*.ipynb; ``folder``: that one)."""
    return sorted((folder or EDITIONS[edition]).glob(SERIES))


def run_notebook(path: Path, out_dir: Path, timeout: int = CELL_TIMEOUT, cwd: Path | None = None) -> Path:
    """Execute one notebook in its own folder (or ``cwd``) and save the executed copy into ``out_dir``."""
    nb = nbformat.read(path, as_version=4)
    # the kernel talks over local sockets in a private folder, not TCP on localhost: nothing to eavesdrop on, and no
    # "Kernel is running over TCP without encryption" warning per notebook
    sockets = tempfile.mkdtemp(prefix="vc-kernel-")
    manager = AsyncKernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "ipc"))
    client = NotebookClient(nb, km=manager, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd or path.parent)}})
    out = out_dir / path.name
    try:
        client.execute()
    finally:
        if manager.has_kernel:  # a kernel manager passed in is ours to stop
            run_sync(manager.shutdown_kernel)(now=False)
        shutil.rmtree(sockets, ignore_errors=True)
        out_dir.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)  # also on failure: the executed copy shows where it stopped
    return out


def prepare_output(folder: Path, resume: bool, keep_earlier: bool) -> None:
    """Make ``folder`` ready for a run: with ``resume`` as it is, else an earlier run's results are moved beside it,
    named by when they were made; OutputError naming the folder and the fix if it cannot be written."""
    if resume and folder.exists():
        print(f"RESUME=1: continuing in {folder}; notebook 04 resumes its newest run from its last checkpoint",
              flush=True)
    elif keep_earlier and folder.exists():
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(folder.stat().st_mtime))
        kept = folder.with_name(f"{folder.name}-{stamp}")
        try:
            folder.rename(kept)
        except OSError as err:
            message = write_error_message(err, folder.parent, f"Moving the previous results to {kept}")
            if message is None:
                raise
            raise OutputError(message) from None
        print(f"The previous results were moved to {kept}")
    check_writable(folder)


def prepare(preset: Preset) -> list[str]:
    """Make the preset's dataset and the checkpoints its notebooks start from (random weights, notebook 03's
    pretraining; a Hub model into the Hugging Face cache), or reuse them; return where they are. Run by whoever
    owns ``data/``: learners of a shared install then read them, even with ``data/`` read-only."""
    from helpers.data import get_dataset
    from helpers.pretrain import base_checkpoint, pretrain_preset

    made = [get_dataset(preset)]
    if preset.model in ("pretrained", "scratch"):
        made += [base_checkpoint(preset, pretraining=True), pretrain_preset(preset)[0]]
    elif not Path(preset.model).expanduser().is_dir():  # a Hub name: its files in the cache, for offline learners
        from huggingface_hub import snapshot_download

        made.append(snapshot_download(preset.model))
    return [shown(path) for path in made]


def _choose(args: argparse.Namespace) -> tuple[str, bool]:
    """(edition, resume) from the arguments and the environment; SettingsError saying what works."""
    resume = os.environ.get("RESUME", "0")
    if resume not in ("", "0", "1"):
        raise SettingsError(f"RESUME={resume}: use RESUME=1 to continue the interrupted run, or leave it unset")
    edition = args.edition or os.environ.get("EDITION") or "en"
    if edition not in EDITIONS:
        raise SettingsError(f"edition {edition!r}: use EDITION=en (notebooks/) or EDITION=ko (the Korean edition, "
                            "notebooks/ko/)")
    return edition, args.resume or resume == "1"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the notebook series headless.")
    parser.add_argument("--preset", default=None, help="smoke, cpu or full (default: $PRESET or cpu)")
    parser.add_argument("--only", nargs="*", default=None, help="notebook numbers to run, e.g. 01 02")
    parser.add_argument("--edition", default=None,
                        help="en (notebooks/) or ko (notebooks/ko/, the Korean edition); default: $EDITION or en")
    parser.add_argument("--resume", action="store_true",
                        help="continue the interrupted training of the previous run (default: $RESUME=1)")
    parser.add_argument("--prepare", action="store_true",
                        help="run no notebook: make the preset's data and start checkpoints in data/ once, for a "
                             "shared install (docs/teaching.md)")
    args = parser.parse_args(argv)
    try:
        edition, resume = _choose(args)
        if edition != "en":  # outputs/ko/<preset>/: the English results stay where they are
            os.environ["TUTORIAL_OUTPUT"] = str(output_root() / edition)  # the notebooks' kernels inherit it
        if resume:
            os.environ["RESUME"] = "1"  # notebook 04 reads it in its parameters cell
        preset = get_preset(args.preset)
    except ValueError as err:  # PRESET=Full, VC_NUM_FRAMES=7: the message names the setting and what works
        print(f"error: {err}", file=sys.stderr)
        return 2
    os.environ["PRESET"] = preset.name  # the notebooks read it in their parameters cell
    print(printable(describe(preset)), flush=True)
    if args.prepare:
        if not writable(DATA_DIR):
            print(f"error: {shown(DATA_DIR)} cannot be written: run make prepare as the user who owns it, before "
                  "making it read-only (or set TUTORIAL_DATA to a folder you can write)", file=sys.stderr)
            return 1
        made = prepare(preset)
        print(f"\nPrepared for preset {preset.name!r}:\n  " + "\n  ".join(made)
              + f"\nLearners' runs read these and write into their own output folder. {shown(DATA_DIR)} may now be "
              f"made read-only: chmod -R a-w {DATA_DIR}")
        return 0
    try:
        prepare_output(preset.output_dir, resume, keep_earlier=args.only is None)
    except OutputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    out_dir = preset.output_dir / "notebooks"
    selected = [p for p in notebooks(edition) if args.only is None or p.name[:2] in args.only]
    start = time.time()
    for path in selected:
        began = time.time()
        print(f"running {path.name} ...", flush=True)
        try:
            out = run_notebook(path, out_dir)
        except CellExecutionError as err:
            print(f"\n{path.name} failed; the executed copy is {out_dir / path.name}\n{err}", file=sys.stderr)
            return 1
        print(f"  done in {time.time() - began:.0f} s -> {out}", flush=True)
    print(f"\nAll {len(selected)} notebooks ran in {time.time() - start:.0f} s.")
    print(f"Executed notebooks, GIFs, plots and the model are in {preset.output_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
