"""What a user without the rights, or without the network, meets: one line naming the file and the fix.

File modes bind only a user who is not root: as root, the checks run in a subprocess that becomes ``nobody`` after
importing (the interpreter may live where only root can read), on folders made readable to it; read-only caches
are read-only bind mounts as root, folders without write permission otherwise."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRELOAD = "import helpers.data, helpers.model, helpers.predict, helpers.video, warnings, pwd"


def as_user(code: str, **env: str) -> subprocess.CompletedProcess:
    """Run ``code`` as a user whom file modes bind: this one, or ``nobody`` if this one is root."""
    prefix = f"{PRELOAD}\n"
    if os.geteuid() == 0:
        prefix += ("import os, pwd; n = pwd.getpwnam('nobody'); os.setgroups([]); os.setgid(n.pw_gid); "
                   "os.setuid(n.pw_uid)\n")
    return subprocess.run([sys.executable, "-c", prefix + code], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "TQDM_DISABLE": "1", **env})


@pytest.fixture
def open_tmp():
    """A temporary folder that ``nobody`` may read (pytest's own is root's alone)."""
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwnam("nobody")
        except KeyError:
            pytest.skip("no user 'nobody' to run the permission checks as")
    folder = Path(tempfile.mkdtemp(prefix="vc-access-"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder)


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder that cannot be written: a read-only bind mount as root, no write permission otherwise."""
    folder = tmp_path / "shared-cache"
    folder.mkdir()
    if os.geteuid() != 0:
        folder.chmod(0o555)
        yield folder
        folder.chmod(0o755)
        return
    mount = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot bind-mount a read-only folder here: {mount.stderr.strip()}")
    try:
        remount = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True, text=True)
        if remount.returncode != 0:
            pytest.skip(f"cannot remount read-only: {remount.stderr.strip()}")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False)


def test_a_read_only_hf_home_still_computes_the_accuracy(read_only_folder):
    code = ("import evaluate\nfrom helpers.train import METRIC_DIR\n"
            "print(evaluate.load(str(METRIC_DIR)).compute(predictions=[1, 0], references=[1, 1])['accuracy'])")
    env = {**os.environ, "HF_HOME": str(read_only_folder), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "0.5"
    assert not any(read_only_folder.iterdir())


def offline(code: str, hf_home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    env.pop("HF_HUB_CACHE", None)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env=env)


def test_offline_with_an_empty_cache_names_the_dataset_and_hf_hub_offline(tmp_path):
    result = offline(f"from helpers.data import download_ucf101_subset; download_ucf101_subset({str(tmp_path)!r})",
                     tmp_path / "hf")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert "sayakpaul/ucf101-subset (UCF101_subset.tar.gz) is not in the Hugging Face cache" in last
    assert "HF_HUB_OFFLINE=1" in last and str(tmp_path / "hf") in last
    assert "An error happened" not in result.stderr


def test_offline_with_an_empty_cache_names_the_model(tmp_path):
    result = offline("from helpers.model import check_model_folder as check; "
                     "check('MCG-NJU/videomae-base', start=True)", tmp_path / "hf")
    last = result.stderr.strip().splitlines()[-1]
    assert "MCG-NJU/videomae-base (config.json) is not in the Hugging Face cache" in last
    assert "HF_HUB_OFFLINE=1" in last


def test_notebook_01_shows_the_offline_message_alone(tmp_path):
    """In a notebook a DataError is its message: IPython renders ``_render_traceback_`` instead of the traceback."""
    from IPython.core.interactiveshell import InteractiveShell

    from helpers.data import DataError

    err = DataError("x.avi: the fix")
    assert err._render_traceback_() == ["DataError: x.avi: the fix"]
    assert hasattr(InteractiveShell, "showtraceback")  # the IPython that honours _render_traceback_
    source = json.loads((ROOT / "notebooks" / "01_load_data.ipynb").read_text())
    cells = ["".join(cell["source"]) for cell in source["cells"] if cell["cell_type"] == "code"]
    download = next(cell for cell in cells if "hf_hub_download(" in cell)
    assert download.index("check_hub_cache(") < download.index("hf_hub_download(")


def test_an_unreadable_video_is_named_a_permission_problem(tiny_dataset, open_tmp):
    root = shutil.copytree(tiny_dataset, open_tmp / "data")
    locked = next((root / "train" / "MoveUp").glob("*.avi"))
    locked.chmod(0o000)
    result = as_user(f"from helpers.data import list_videos, scan_videos\n"
                     f"good, bad = scan_videos(list_videos({str(root)!r})['train'])\nprint('\\n'.join(bad))")
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"{locked}: not readable by user " in result.stdout and "chmod a+r" in result.stdout
    assert "damaged" not in result.stdout


def test_an_unreadable_same_size_twin_is_named_a_permission_problem(tiny_dataset, open_tmp):
    video = next((tiny_dataset / "train" / "MoveUp").glob("*.avi"))
    first, twin = open_tmp / "a.avi", open_tmp / "b.avi"
    shutil.copy(video, first)
    shutil.copy(video, twin)
    twin.chmod(0o000)
    result = as_user(f"from helpers.data import identical_files; identical_files([{str(first)!r}, {str(twin)!r}])")
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("helpers.data.DataError: ") and f"{twin}: not readable by user " in last, result.stderr


def test_an_unreadable_sub_folder_is_counted(tiny_dataset, open_tmp):
    root = shutil.copytree(tiny_dataset, open_tmp / "data")
    hidden = root / "train" / "MoveUp" / "day 2"
    hidden.mkdir()
    shutil.copy(next((root / "train" / "MoveUp").glob("*.avi")), hidden / "v_MoveUp_g01_c09.avi")
    hidden.chmod(0o700)
    result = as_user(f"warnings.simplefilter('always')\nfrom helpers.data import video_table\n"
                     f"video_table({str(root)!r})")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "1 folder(s) that user " in result.stderr and f"(e.g. {hidden}, permission denied)" in result.stderr
    assert "chmod -R a+rX" in result.stderr


def test_a_model_of_another_type_is_named_not_asked_for_a_processor(tmp_path):
    from helpers.model import ModelFolderError, check_model_folder

    (tmp_path / "config.json").write_text(json.dumps({"model_type": "bert",
                                                      "architectures": ["BertForSequenceClassification"]}))
    with pytest.raises(ModelFolderError, match=r"describes a 'bert' model \(BertForSequenceClassification\), not "
                                               r"VideoMAE") as caught:
        check_model_folder(tmp_path)
    assert "processor" not in str(caught.value)
