import dataclasses
from pathlib import Path

import pytest

from helpers.config import get_preset
from helpers.synthetic import generate


@pytest.fixture(scope="session")
def tiny_preset():
    """The smoke preset: 4 classes, a few clips each."""
    return get_preset("smoke")


@pytest.fixture(scope="session")
def tiny_dataset(tiny_preset, tmp_path_factory) -> Path:
    """A generated synthetic dataset, shared by the tests that only read it."""
    return generate(tiny_preset, tmp_path_factory.mktemp("data") / "synthetic")


@pytest.fixture(scope="session")
def smoke_script_run(tiny_preset, tmp_path_factory) -> tuple[dict, Path]:
    """The script's training on the smoke preset (what ``python -m helpers.train --preset smoke`` runs), once per
    session: its metrics and its output folder. Notebook 04 must end with its weights, a second run with its
    metrics."""
    from helpers.train import run_training

    folder = tmp_path_factory.mktemp("script") / "smoke"
    return run_training(tiny_preset, folder), folder


@pytest.fixture
def dataset_copy(tiny_dataset, tmp_path) -> Path:
    """A private copy of the tiny dataset that a test may break."""
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(tiny_dataset, root)
    return root


def with_values(preset, **values):
    return dataclasses.replace(preset, **values)


MAX_NOTEBOOK_BYTES = 5_000_000  # an executed notebook, GIFs and plots embedded, opens in a second or two


def assert_small_notebooks(folder: Path) -> None:
    """Every executed notebook in ``folder`` is under MAX_NOTEBOOK_BYTES."""
    sizes = {path.name: path.stat().st_size for path in sorted(folder.glob("*.ipynb"))}
    assert sizes, f"no executed notebooks in {folder}"
    large = {name: f"{size / 1e6:.1f} MB" for name, size in sizes.items() if size > MAX_NOTEBOOK_BYTES}
    assert not large, f"executed notebooks over {MAX_NOTEBOOK_BYTES / 1e6:g} MB: {large}"
