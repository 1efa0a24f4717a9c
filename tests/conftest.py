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


@pytest.fixture
def dataset_copy(tiny_dataset, tmp_path) -> Path:
    """A private copy of the tiny dataset that a test may break."""
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(tiny_dataset, root)
    return root


def with_values(preset, **values):
    return dataclasses.replace(preset, **values)
