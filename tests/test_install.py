"""Any Python environment: `pip install -e` of the project is all the notebooks need, whatever folder their kernel
runs in, and each notebook's first code cell says what to install where `helpers` cannot be imported (and, hosted,
installs it itself when PROJECT names the project)."""

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
from pathlib import Path

import nbformat
import pytest

PROJECT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(PROJECT.glob("notebooks/*.ipynb")) + sorted(PROJECT.glob("notebooks/ko/*.ipynb"))
# what would point a child Python at this checkout or at this run's folders instead of the documented defaults
LEAKS = ("PYTHONPATH", "TUTORIAL_OUTPUT", "TUTORIAL_DATA", "PRESET", "KAGGLE_KERNEL_RUN_TYPE")


def install_cell(project: str | None = None) -> str:
    """The source of the notebooks' first code cell, with PROJECT set to ``project``."""
    nb = nbformat.read(NOTEBOOKS[0], as_version=4)
    source = next(cell.source for cell in nb.cells if cell.id == "install")
    return source.replace("PROJECT = None", f"PROJECT = {project!r}", 1)


def clean_env(**values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in LEAKS and not key.startswith("VC_")}
    return {**env, **values}


def test_every_notebook_of_both_editions_opens_with_the_same_install_cell():
    for path in NOTEBOOKS:
        cells = nbformat.read(path, as_version=4).cells
        assert cells[0].cell_type == "markdown", path  # the title stays first
        first_code = next(cell for cell in cells if cell.cell_type == "code")
        assert first_code.id == "install" and first_code.source == install_cell(), path


COLAB = "import sys, types; sys.modules['google.colab'] = types.ModuleType('google.colab')\n"


@pytest.mark.parametrize("where", ["a terminal's Python", "Colab", "Kaggle", "Studio Lab"])
def test_without_the_package_the_first_cell_prints_what_to_install_and_does_not_fail(tmp_path, where):
    home = tmp_path / ("studio-lab-user" if where == "Studio Lab" else "home")
    env = clean_env(HOME=str(home), **({"KAGGLE_KERNEL_RUN_TYPE": "Interactive"} if where == "Kaggle" else {}))
    code = (COLAB if where == "Colab" else "") + install_cell()
    # -I -S: no site-packages and no project folder on the path, as in an environment without the package
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("No module named 'helpers'. Install the project")
    assert lines[1] == "  git clone <the project's git URL> <its folder>"
    assert lines[2] == f"  {sys.executable} -m pip install -e <its folder>"
    assert ("set PROJECT at the top of this cell" in result.stdout) == (where != "a terminal's Python")


def test_with_the_package_but_a_requirement_missing_the_first_cell_names_it_and_says_to_install_the_requirements(
        tmp_path):
    fake = tmp_path / "site" / "helpers"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("import a_requirement_not_installed\n")
    code = f"import sys; sys.path.insert(0, {str(fake.parent)!r})\n" + install_cell(str(tmp_path / "project"))
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=tmp_path, env=clean_env(HOME=str(tmp_path)),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "git clone" not in result.stdout + result.stderr
    assert "No module named 'a_requirement_not_installed': install the project's requirements" in result.stderr
    assert "-m pip install -e" in result.stderr


def fresh_venv(root: Path) -> Path:
    """A new virtual environment that sees this environment's packages through a .pth file (no download), but not
    the project: the package itself is not in them, only its metadata."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, timeout=60)
    python = root / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "reuse.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # a kernel of this environment's Python, so that the notebook cannot run in another one
    spec = Path(root / "share" / "jupyter" / "kernels" / "fresh")
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "fresh", "language": "python"}))
    return python


def copy_of_project(target: Path) -> Path:
    """The project's tracked files (as a clone has them) in ``target``."""
    files = subprocess.run(["git", "ls-files", "-z"], cwd=PROJECT, capture_output=True, text=True)
    if files.returncode:
        pytest.skip("needs a git checkout of the project")
    with tarfile.open(target.parent / "project.tar", "w") as archive:
        for name in filter(None, files.stdout.split("\0")):
            if (PROJECT / name).exists():
                archive.add(PROJECT / name, arcname=name)
    with tarfile.open(target.parent / "project.tar") as archive:
        archive.extractall(target, filter="data")
    return target


def test_pip_install_e_into_a_fresh_environment_runs_notebook_01_from_another_folder(tmp_path):
    project, elsewhere = copy_of_project(tmp_path / "project"), tmp_path / "elsewhere"
    elsewhere.mkdir()
    python = fresh_venv(tmp_path / "venv")
    # the first cell's own install, as in Kaggle with PROJECT set: `pip install -e <folder>`, offline
    env = clean_env(HOME=str(tmp_path), KAGGLE_KERNEL_RUN_TYPE="Interactive", PIP_NO_INDEX="1",
                    PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1")
    code = install_cell(str(project)) + "\nimport helpers\nprint('from', helpers.__file__)"
    installed = subprocess.run([python, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True,
                               timeout=180)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    assert f"-m pip install -e {project}" in installed.stdout
    assert f"from {project / 'helpers' / '__init__.py'}" in installed.stdout

    # the notebook, run by a kernel of that environment in a folder outside the project, on the smoke preset
    run = ("import nbclient, nbformat, sys\n"
           "nb = nbformat.read(sys.argv[1], as_version=4)\n"
           "nb.cells.append(nbformat.v4.new_code_cell('import helpers, sys; print(sys.prefix, helpers.__file__)'))\n"
           "nbclient.NotebookClient(nb, timeout=300, kernel_name='fresh',\n"
           "                        resources={'metadata': {'path': sys.argv[2]}}).execute()\n"
           "nbformat.write(nb, sys.argv[3])\n")
    executed = tmp_path / "01_executed.ipynb"
    result = subprocess.run([python, "-c", run, str(project / "notebooks" / "01_load_data.ipynb"), str(elsewhere),
                             str(executed)], cwd=elsewhere, env=clean_env(PRESET="smoke", TQDM_DISABLE="1",
                                                                           HF_HUB_OFFLINE="1"),
                            capture_output=True, text=True, timeout=420)
    assert result.returncode == 0, result.stderr[-3000:]
    cells = nbformat.read(executed, as_version=4).cells
    assert next(cell for cell in cells if cell.id == "install").outputs == []  # installed: nothing to say
    assert cells[-1].outputs[0].text.split() == [str(tmp_path / "venv"), str(project / "helpers" / "__init__.py")]
    # where the README says: the data in the project's data/, the outputs in its outputs/<preset>/
    assert any((project / "data").glob("*smoke*/**/*.avi"))
    assert any((project / "outputs" / "smoke").glob("*.png"))
    assert list(elsewhere.iterdir()) == []
