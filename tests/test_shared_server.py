"""One shared server (docs/teaching.md): the teacher installs and prepares once, the project folder and its data are
made read-only, and learners run the series at the same time, each into a folder of their own.

Run as root (it needs other users, made with ``setpriv``); elsewhere it is skipped and says why."""

import dataclasses
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import pytest

from helpers import config
from helpers.config import PROJECT_ROOT
from helpers.data import list_videos

LEARNERS = 2
FIRST_UID = 61001  # uids with no account: ordinary users who own nothing but their home
# 01 reads the prepared data, 03 the prepared checkpoint, 04 trains into the learner's own folder (02 reads what 01
# does and writes where 04 does)
SERIES = ("01", "03", "04")
# what the copy of the project leaves out: the environment, what runs wrote, caches
LEFT_OUT = shutil.ignore_patterns(".venv", ".git", "data", "outputs", "__pycache__", ".*_cache", ".ipynb_checkpoints")
# each learner runs the notebooks copied into their home, with the output folder's default, as on JupyterHub
DRIVER = """
import shutil, sys
from pathlib import Path
from helpers.config import get_preset
from helpers.tutorial import notebooks, run_notebook

home = Path.home() / "notebooks"
for path in notebooks():
    if path.name[:2] in sys.argv[1:]:
        shutil.copy(path, home / path.name)
        run_notebook(home / path.name, get_preset().output_dir / "notebooks")
"""

as_root = pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0 or not shutil.which("setpriv"),
                             reason="needs root and setpriv (util-linux) to run the notebooks as other users, for "
                                    "whom the project is read-only; CI runs it as root")


@pytest.fixture
def shared(tmp_path, monkeypatch) -> Path:
    """A prepared data folder that this user cannot write (as the writability test sees it), and a home."""
    folder = tmp_path / "shared"
    monkeypatch.setattr(config, "DATA_DIR", folder)
    monkeypatch.setattr(config, "writable", lambda path: not Path(path).absolute().is_relative_to(folder)
                        and not Path(path).absolute().is_relative_to(config.PROJECT_ROOT))
    monkeypatch.delenv("TUTORIAL_OUTPUT", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return folder


def test_outputs_go_to_the_learners_home_where_the_project_cannot_be_written(shared, tmp_path, monkeypatch):
    assert config.output_root() == tmp_path / "home" / "videomae-outputs"
    monkeypatch.setenv("TUTORIAL_OUTPUT", str(tmp_path / "mine"))
    assert config.output_root() == tmp_path / "mine"


def test_prepared_data_is_read_where_it_is_and_anything_else_is_made_in_the_learners_folder(shared, tiny_preset,
                                                                                            tiny_dataset, tmp_path):
    mine = tmp_path / "home" / "videomae-outputs" / "data"
    assert tiny_preset.dataset_dir == mine / "synthetic-smoke"  # not prepared
    shutil.copytree(tiny_dataset, shared / "synthetic-smoke")
    assert tiny_preset.dataset_dir == shared / "synthetic-smoke"
    # other settings need other videos: made in the learner's folder, the prepared ones left as they are
    assert dataclasses.replace(tiny_preset, train_groups=3).dataset_dir == mine / "synthetic-smoke"
    assert config.data_path("checkpoints/x") == mine / "checkpoints/x"
    (shared / "checkpoints/x").mkdir(parents=True)
    assert config.data_path("checkpoints/x") == shared / "checkpoints/x"


def test_a_finished_pretrained_checkpoint_is_read_without_a_lock(tiny_preset, tiny_dataset, tmp_path, monkeypatch,
                                                                 capsys):
    """A read-only folder cannot hold a lock file: the runs that only read a checkpoint take none."""
    import helpers.pretrain

    monkeypatch.setattr(config, "DATA_DIR", tmp_path / "data")
    paths = list_videos(tiny_dataset)["train"]
    settings = {"steps": 1, "batch_size": 2, "folder": tmp_path / "pretrained"}
    losses = helpers.pretrain.pretrain(tiny_preset, paths, **settings)

    def no_lock(*args, **kwargs):
        raise AssertionError("took a lock to read a finished checkpoint")

    monkeypatch.setattr(helpers.pretrain, "folder_lock", no_lock)
    assert helpers.pretrain.pretrain(tiny_preset, paths, **settings) == losses
    assert "Reusing the pretrained checkpoint" in capsys.readouterr().out


def as_learner(uid: int) -> list[str]:
    return ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def learner_env(uid: int, home: Path, python: Path, project: Path) -> dict[str, str]:
    return {"HOME": str(home), "USER": f"learner{uid}", "LOGNAME": f"learner{uid}", "LANG": "C.UTF-8",
            "PATH": f"{python.parent}:/usr/bin:/bin", "PYTHONPATH": str(project), "PRESET": "smoke",
            "VC_COMPARE_SEEDS": "1", "TQDM_DISABLE": "1", "HF_HUB_OFFLINE": "1"}


def learner_python(base: Path, project: Path) -> Path:
    """A Python that another user may run, with this environment's packages: a virtual environment made from the
    first Python of this version that is readable by all (a pyenv Python under /root is not), which finds this
    environment's site-packages through a .pth file. Skips the test if there is none."""
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    candidates = [Path(getattr(sys, "_base_executable", sys.executable)).resolve(),
                  *(Path(p).resolve() for p in (shutil.which(f"python{version}"), f"/usr/bin/python{version}",
                                                f"/usr/local/bin/python{version}") if p and Path(p).exists())]
    site = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    tried = []
    for n, interpreter in enumerate(dict.fromkeys(candidates)):
        venv = base / f"venv{n}"
        made = subprocess.run([str(interpreter), "-m", "venv", "--without-pip", str(venv)], capture_output=True,
                              text=True)
        if made.returncode:
            tried.append(f"{interpreter}: {made.stderr.strip()[-200:]}")
            continue
        purelib = subprocess.run([str(venv / "bin/python"), "-c", "import sysconfig; "
                                  "print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True)
        Path(purelib.stdout.strip(), "environment.pth").write_text("".join(f"{p}\n" for p in sorted(site)))
        subprocess.run(["chmod", "-R", "a+rX", str(venv)], check=True)
        check = subprocess.run([*as_learner(FIRST_UID), str(venv / "bin/python"), "-c",
                                # as the notebooks' kernels are started: by a Python process
                                "import subprocess, sys; subprocess.run([sys.executable, '-c', "
                                "'import helpers.train, ipykernel, nbclient'], check=True)"],
                               capture_output=True, text=True,
                               env=learner_env(FIRST_UID, base, venv / "bin/python", project), cwd=base)
        if check.returncode == 0:
            return venv / "bin/python"
        tried.append(f"{interpreter}: {check.stderr.strip()[-300:]}")
    pytest.skip("no Python that an ordinary user can run with this environment's packages (its site-packages must "
                "be readable by all): " + "; ".join(tried))


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every file and folder under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.is_dir(), p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


@as_root
def test_two_learners_share_a_read_only_install_at_the_same_time():
    for uid in range(FIRST_UID, FIRST_UID + LEARNERS):
        with pytest.raises(KeyError):
            pwd.getpwuid(uid)  # the learners must be nobody else
    base = Path(tempfile.mkdtemp(prefix="vc-shared-", dir="/tmp"))
    project = base / "project"
    try:
        base.chmod(0o755)
        shutil.copytree(PROJECT_ROOT, project, ignore=LEFT_OUT, symlinks=True)
        python = learner_python(base, project)
        # the teacher prepares once, as the owner of the project
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VC_", "TUTORIAL_"))}
        prepared = subprocess.run([sys.executable, "-m", "helpers.tutorial", "--prepare", "--preset", "smoke"],
                                  cwd=project, env={**env, "PYTHONPATH": str(project), "TQDM_DISABLE": "1"},
                                  capture_output=True, text=True)
        assert prepared.returncode == 0, prepared.stdout + prepared.stderr
        subprocess.run(["chmod", "-R", "a-w", str(project)], check=True)
        before = snapshot(project)

        homes, runs = [], []
        for uid in range(FIRST_UID, FIRST_UID + LEARNERS):
            home = base / f"home{uid}"
            (home / "notebooks").mkdir(parents=True)
            subprocess.run(["chown", "-R", f"{uid}:{uid}", str(home)], check=True)
            homes.append(home)
            runs.append(subprocess.Popen([*as_learner(uid), str(python), "-c", DRIVER, *SERIES], cwd=home,
                                         env=learner_env(uid, home, python, project), stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True))
        started = time.time()
        logs = [run.communicate(timeout=1200)[0] for run in runs]
        for home, run, log in zip(homes, runs, logs, strict=True):
            assert run.returncode == 0, f"{home.name} failed after {time.time() - started:.0f} s:\n{log[-3000:]}"

        assert snapshot(project) == before, "a learner's run wrote into the shared project or its data"
        for uid, home, log in zip(range(FIRST_UID, FIRST_UID + LEARNERS), homes, logs, strict=True):
            out = home / "videomae-outputs"
            executed = "".join((out / "smoke/notebooks" / path.name).read_text()
                               for path in sorted((home / "notebooks").glob("*.ipynb")))
            assert len(list((out / "smoke/notebooks").glob("*.ipynb"))) == len(SERIES)
            assert "Waiting for another process" not in executed + log, f"{home.name} waited on another's lock"
            assert "Reusing the pretrained checkpoint" in executed, "notebook 03 did not read the prepared checkpoint"
            assert not (out / "data").exists(), f"{home.name} made its own data instead of reading the prepared data"
            model = out / "smoke/model/model.safetensors"
            assert model.is_file() and model.stat().st_uid == uid, f"{home.name} has no model of its own"
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(base)], check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_make_prepare_refuses_a_data_folder_it_cannot_write(shared, capsys, monkeypatch):
    """Prepared data belongs in the shared folder: a user who cannot write it is told so, not given a private copy."""
    import helpers.tutorial

    monkeypatch.setattr(helpers.tutorial, "writable", config.writable)
    monkeypatch.setenv("PRESET", "smoke")  # main sets it for the notebooks: restored after the test
    assert helpers.tutorial.main(["--prepare", "--preset", "smoke"]) == 1
    assert "cannot be written: run make prepare as the user who owns it" in capsys.readouterr().err
    assert not shared.exists()
