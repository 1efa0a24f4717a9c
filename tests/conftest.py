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


# what a new kernel knows of the videos: nothing (helpers.video remembers each file's verdict per process)
FORGET_VIDEOS = "import helpers.video\n\nhelpers.video._VERDICTS.clear()"


def run_in_one_kernel(paths: list[Path], executed: Path, times: int = 1) -> dict[str, object]:
    """Run the notebooks one after another in one kernel, each ``times`` times in a row (Run All, then Run All again),
    from the folder of the first; write each one's executed cells to ``executed`` and return {name: notebook}.

    One kernel spares the seconds of imports that every new kernel repeats; a notebook that leans on a variable of
    an earlier one would pass here, so nbmake's run of the Korean edition (the same code) gives each its own kernel.
    Each notebook starts with the videos' verdicts forgotten, as in a new kernel, so that it checks its videos
    itself. When a cell fails, the captured output names its notebook."""
    import nbformat

    from helpers.tutorial import run_notebook

    combined = nbformat.v4.new_notebook()
    spans = {}
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        combined.cells.append(nbformat.v4.new_code_cell(FORGET_VIDEOS, id=f"{path.name[:2]}-forget"))
        start = len(combined.cells)
        for run in range(1, times + 1):
            for cell in nb.cells:
                copy = nbformat.from_dict(dict(cell))
                copy["id"] = f"{path.name[:2]}-{run}-{cell.get('id', len(combined.cells))}"
                combined.cells.append(copy)
        spans[path.name] = (start, len(combined.cells), nb)
    series = executed.parent / f"{executed.name}-in-one-kernel" / "series.ipynb"
    series.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(combined, series)
    try:
        run_notebook(series, series.parent / "executed", timeout=600, cwd=paths[0].parent)
    finally:
        done = nbformat.read(series.parent / "executed" / series.name, as_version=4)
        ran = [i for i, cell in enumerate(done.cells) if cell.get("execution_count")]
        last = next((name for name, (start, stop, _) in spans.items() if ran and start <= ran[-1] < stop), None)
        print(f"In one kernel: {', '.join(spans)}; the last cell run is in {last}")
    executed.mkdir(parents=True, exist_ok=True)
    found = {}
    for name, (start, stop, nb) in spans.items():
        nb.cells = done.cells[start:stop]
        nbformat.write(nb, executed / name)
        found[name] = nb
    return found


def with_values(preset, **values):
    return dataclasses.replace(preset, **values)


MAX_NOTEBOOK_BYTES = 5_000_000  # an executed notebook, GIFs and plots embedded, opens in a second or two


def assert_small_notebooks(folder: Path) -> None:
    """Every executed notebook in ``folder`` is under MAX_NOTEBOOK_BYTES."""
    sizes = {path.name: path.stat().st_size for path in sorted(folder.glob("*.ipynb"))}
    assert sizes, f"no executed notebooks in {folder}"
    large = {name: f"{size / 1e6:.1f} MB" for name, size in sizes.items() if size > MAX_NOTEBOOK_BYTES}
    assert not large, f"executed notebooks over {MAX_NOTEBOOK_BYTES / 1e6:g} MB: {large}"
