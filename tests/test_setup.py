"""The Makefile's set-up checks: which Python builds .venv, FFmpeg for torchcodec, the CPU-only PyTorch switch,
the notebook output filter and JupyterLab's start. Fake pythons stand in for the interpreters a newcomer may have."""

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
IN_GIT = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=PROJECT, capture_output=True).returncode == 0


def make(*args: str, cwd: Path = PROJECT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "--no-print-directory", "-f", str(PROJECT / "Makefile"), *args],
                          cwd=cwd, env=env or os.environ, capture_output=True, text=True, timeout=120)


def fake_program(path: Path, script: str) -> Path:
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)
    return path


def test_a_python_older_than_3_11_is_refused_with_what_to_install(tmp_path):
    python310 = fake_program(tmp_path / "python3.10", "echo 3.10")
    result = make("check-python", f"PYTHON={python310}")
    assert result.returncode != 0
    assert "needs Python 3.11, 3.12 or 3.13" in result.stderr
    assert f"found: {python310} is Python 3.10" in result.stderr
    assert "sudo apt-get install python3.11 python3.11-venv" in result.stderr
    assert "brew install python@3.13" in result.stderr


def test_setup_refuses_it_before_creating_a_venv(tmp_path):
    python310 = fake_program(tmp_path / "python3", "echo 3.10")
    result = make("setup", f"PYTHON={python310}", f"VENV={tmp_path / 'venv'}")
    assert result.returncode != 0
    assert "needs Python 3.11, 3.12 or 3.13" in result.stderr
    assert not (tmp_path / "venv").exists()


def test_the_newest_python_that_runs_is_picked(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_program(bin_dir / "python3.13", "exit 127")  # like a pyenv shim for a version that is not active
    fake_program(bin_dir / "python3.12", "echo 3.12")
    fake_program(bin_dir / "python3.11", "echo 3.11")
    fake_program(bin_dir / "python3", "echo 3.10")
    env = {key: value for key, value in os.environ.items() if key != "PYTHON"}
    env["PATH"] = f"{bin_dir}:{env['PATH']}"
    result = make("check-python", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{bin_dir / 'python3.12'} ")


def test_missing_ffmpeg_prints_one_command_per_platform(tmp_path):
    # exit status 3: torchcodec imported but found no FFmpeg (its ffmpeg_major_version is None)
    python = fake_program(tmp_path / "python", "exit 3")
    result = make("check-ffmpeg", f"PY={python}", "AUTO_INSTALL=no")
    assert result.returncode != 0
    for command in ("sudo apt-get install ffmpeg", "sudo dnf install ffmpeg-free", "brew install ffmpeg",
                    "conda install -c conda-forge ffmpeg"):
        assert command in result.stderr


def test_ffmpeg_check_passes_with_a_plain_users_path():
    # Debian's PATH for ordinary users has no /usr/sbin (where ldconfig lives)
    result = subprocess.run(["sh", str(PROJECT / "tools" / "check_ffmpeg.sh"), sys.executable],
                            env={**os.environ, "PATH": "/usr/local/bin:/usr/bin:/bin", "AUTO_INSTALL": "no"},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_a_broken_torchcodec_is_not_reported_as_missing_ffmpeg(tmp_path):
    python = fake_program(tmp_path / "python", "echo 'ImportError: libtorch_cpu.so' >&2; exit 1")
    result = make("check-ffmpeg", f"PY={python}", "AUTO_INSTALL=no")
    assert result.returncode != 0
    assert "torchcodec cannot be imported" in result.stderr and "libtorch_cpu.so" in result.stderr
    assert "apt-get install ffmpeg" not in result.stderr


def pins(*names: str) -> dict[str, str]:
    lines = (PROJECT / "requirements.txt").read_text().splitlines()
    found = dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))
    return {name: found[name] for name in names}


def setup_commands(tmp_path: Path, *args: str) -> list[str]:
    """The commands `make setup` would run to build a new .venv, one per line."""
    result = make("-n", "setup", f"VENV={tmp_path / 'venv'}", *args)
    assert result.returncode == 0, result.stderr
    return result.stdout.replace("\\\n", " ").splitlines()


def test_torch_cpu_installs_the_pinned_versions_from_pytorchs_cpu_index_first(tmp_path):
    versions = pins("torch", "torchvision")
    commands = [c for c in setup_commands(tmp_path, "TORCH=cpu") if " -m pip install " in c]
    cpu = [c for c in commands if "--index-url https://download.pytorch.org/whl/cpu" in c]
    assert len(cpu) == 1
    assert cpu[0].split()[-2:] == [f"torch=={versions['torch']}+cpu", f"torchvision=={versions['torchvision']}+cpu"]
    assert "--no-deps" in cpu[0].split()
    assert commands.index(cpu[0]) < next(i for i, c in enumerate(commands) if "-r requirements.txt" in c)
    assert not any("--index-url" in c for c in setup_commands(tmp_path) if " -m pip install " in c)


def fake_index(root: Path, wheels: dict[str, list[str]]) -> Path:
    """A PEP 503 index of empty wheels, each saying it needs a CUDA library: enough for pip to choose one."""
    for name, versions in wheels.items():
        folder = root / name
        folder.mkdir(parents=True)
        links = []
        for version in versions:
            info, file = f"{name}-{version}.dist-info", f"{name}-{version}-py3-none-any.whl"
            with zipfile.ZipFile(folder / file, "w") as wheel:
                wheel.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                                   "Requires-Dist: nvidia-cublas\n")
                wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
                wheel.writestr(f"{info}/RECORD", "")
            links.append(f'<a href="{file.replace("+", "%2B")}">{file}</a>')
        (folder / "index.html").write_text("<html><body>" + "".join(links) + "</body></html>")
    return root


def test_torch_cpu_command_picks_the_cpu_wheels_from_an_index(tmp_path):
    # a local stand-in for PyTorch's CPU index: the pinned CPU builds, a CUDA build of the same version, newer ones
    versions = pins("torch", "torchvision")
    index = fake_index(tmp_path / "index", {name: [f"{version}+cpu", version, "99.0+cpu"]
                                            for name, version in versions.items()})
    command = next(c for c in setup_commands(tmp_path, "TORCH=cpu", f"TORCH_CPU_INDEX={index.as_uri()}")
                   if "--index-url" in c)
    pip_args = command.split(" -m pip ", 1)[1].split()
    report = tmp_path / "report.json"
    result = subprocess.run([sys.executable, "-m", "pip", *pip_args, "--dry-run", "--ignore-installed",
                             "--report", str(report)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    installs = json.loads(report.read_text())["install"]
    chosen = {item["metadata"]["name"]: item["metadata"]["version"] for item in installs}
    assert chosen == {name: f"{version}+cpu" for name, version in versions.items()}


def test_torch_other_than_cpu_is_refused(tmp_path):
    result = make("setup", "TORCH=cuda", f"VENV={tmp_path / 'venv'}")
    assert result.returncode != 0 and "only TORCH=cpu" in result.stdout + result.stderr
    assert not (tmp_path / "venv").exists()


@pytest.mark.skipif(not IN_GIT or not shutil.which("git"), reason="not a git checkout")
def test_git_stages_notebooks_without_outputs_and_keeps_them_in_the_working_copy(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    shutil.copy(PROJECT / ".gitattributes", repo)
    result = make("git-filter", f"PY={sys.executable}", cwd=repo)
    assert result.returncode == 0, result.stderr
    notebook = json.loads((PROJECT / "notebooks" / "01_load_data.ipynb").read_text())
    code = next(cell for cell in notebook["cells"] if cell["cell_type"] == "code")
    code["execution_count"] = 7
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["a learner's output\n"]}]
    (repo / "lesson.ipynb").write_text(json.dumps(notebook, indent=1))
    subprocess.run([*git, "add", "lesson.ipynb", ".gitattributes"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "saved from the Lab"], cwd=repo, check=True)
    committed = subprocess.run(["git", "show", "HEAD:lesson.ipynb"], cwd=repo, capture_output=True, text=True).stdout
    cells = [cell for cell in json.loads(committed)["cells"] if cell["cell_type"] == "code"]
    assert all(not cell["outputs"] and cell["execution_count"] is None for cell in cells)
    assert "a learner's output" in (repo / "lesson.ipynb").read_text()


@pytest.mark.skipif(not IN_GIT or not shutil.which("git"), reason="not a git checkout")
def test_the_notebooks_git_holds_are_what_the_filter_makes_of_them(tmp_path):
    # so the filter shows no change in a fresh clone; read from git, not from the working copy a learner ran
    paths = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=PROJECT, capture_output=True, text=True).stdout.split()
    assert paths
    copies = []
    for path in paths:
        attribute = subprocess.run(["git", "check-attr", "filter", "--", path], cwd=PROJECT,
                                   capture_output=True, text=True).stdout
        assert attribute.strip().endswith("filter: nbstripout"), attribute
        copies.append(tmp_path / path.replace("/", "__"))
        copies[-1].write_bytes(subprocess.run(["git", "show", f":{path}"], cwd=PROJECT, capture_output=True).stdout)
    result = subprocess.run([sys.executable, "-m", "nbstripout", "--keep-id", "--verify", *map(str, copies)],
                            capture_output=True, text=True)
    assert result.returncode == 0, f"committed with outputs or metadata that nbstripout removes: {result.stdout}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_lab_serves_the_whole_project_and_opens_on_the_notebooks(tmp_path):
    port, token = free_port(), "test-token"
    lab_args = f"--no-browser --port={port} --IdentityProvider.token={token} --ServerApp.runtime_dir={tmp_path}"
    command = make("-n", "lab", f"LAB_ARGS={lab_args}").stdout.replace("\\\n", " ").splitlines()[-1]
    assert ("--allow-root" in command) == (os.geteuid() == 0)
    lab = subprocess.Popen(command, shell=True, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                with urllib.request.urlopen(f"{url}/api/contents?token={token}", timeout=5) as response:
                    names = {item["name"] for item in json.load(response)["content"]}
                break
            except OSError:
                assert lab.poll() is None, "jupyter lab exited"
                time.sleep(0.5)
        else:
            pytest.fail("jupyter lab did not answer within a minute")
        assert {"notebooks", "helpers", "README.md"} <= names
        with urllib.request.urlopen(f"{url}/lab?token={token}", timeout=10) as response:
            page = response.read().decode()
        assert re.search(r'"preferredPath":\s*"/?notebooks"', page)
    finally:
        os.killpg(lab.pid, 15)
        lab.wait(timeout=30)
