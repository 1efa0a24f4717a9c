"""The Korean edition (notebooks/ko/) against the English one: the same cells in the same order, identical code,
Korean prose that translates the English text of today. Its one run in `make test` is nbmake's (the Makefile);
`tests/test_runs.py` runs `make tutorial EDITION=ko`'s command on notebook 04 into its own folder."""

import copy
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "tools"))
import editions  # noqa: E402

from helpers.tutorial import notebooks  # noqa: E402


def test_the_korean_edition_has_every_notebook_with_the_english_code_and_korean_prose():
    assert [p.name for p in notebooks("ko")] == [p.name for p in notebooks("en")]
    problems = editions.check()
    assert not problems, "\n".join(problems)
    # and the check looked at real prose: most markdown cells of the Korean edition are Korean
    for path in notebooks("ko"):
        markdown = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]
        assert markdown and all(editions.HANGUL.search(c.source) for c in markdown), path.name


@pytest.fixture
def two_editions(tmp_path):
    """Copies of both editions, to break by hand."""
    en, ko = tmp_path / "en", tmp_path / "ko"
    en.mkdir()
    ko.mkdir()
    for path in notebooks("en"):
        shutil.copy(path, en / path.name)
    for path in notebooks("ko"):
        shutil.copy(path, ko / path.name)
    assert editions.check(en, ko) == []
    return en, ko


def edit(path: Path, change) -> None:
    nb = nbformat.read(path, as_version=4)
    change(nb)
    nbformat.write(nb, path)


def first_prose(nb):
    return next(c for c in nb.cells if c.cell_type == "markdown" and editions.has_prose(c.source))


def test_a_hand_edited_code_cell_in_the_korean_edition_is_caught(two_editions):
    en, ko = two_editions

    def change(nb):
        cell = [c for c in nb.cells if c.cell_type == "code"][2]
        cell.source = cell.source.replace("=", " = ", 1) + "\nprint('hello')"

    edit(ko / "04_train.ipynb", change)
    problems = editions.check(en, ko)
    assert len(problems) == 1 and "04_train.ipynb cell" in problems[0] and "code differs" in problems[0]


@pytest.mark.parametrize("breakage", ["cell removed", "cells swapped", "markdown made code", "prose left in English",
                                      "English prose changed", "notebook missing"])
def test_every_kind_of_drift_is_caught(two_editions, breakage):
    en, ko = two_editions
    target = ko / "02_preprocess_and_visualize.ipynb"
    if breakage == "cell removed":
        edit(target, lambda nb: nb.cells.pop(5))
    elif breakage == "cells swapped":
        edit(target, lambda nb: nb.cells.insert(3, nb.cells.pop(4)))
    elif breakage == "markdown made code":
        def change(nb):
            cell = first_prose(nb)
            nb.cells[nb.cells.index(cell)] = nbformat.v4.new_code_cell(cell.source, id=cell.id)
        edit(target, change)
    elif breakage == "prose left in English":
        english = nbformat.read(en / target.name, as_version=4)

        def change(nb):
            cell = first_prose(nb)
            cell.source = next(c.source for c in english.cells if c.id == cell.id)
        edit(target, change)
    elif breakage == "English prose changed":
        edit(en / target.name, lambda nb: setattr(first_prose(nb), "source",
                                                  first_prose(nb).source + " One more sentence."))
    else:
        target.unlink()
    problems = editions.check(en, ko)
    assert problems, breakage
    assert all(target.name in p or breakage == "notebook missing" for p in problems), problems


def test_sync_brings_english_code_into_the_korean_notebook_and_lists_changed_prose():
    en = nbformat.read(notebooks("en")[3], as_version=4)
    ko = nbformat.read(notebooks("ko")[3], as_version=4)
    code = [i for i, c in enumerate(en.cells) if c.cell_type == "code"][1]
    prose = next(i for i, c in enumerate(en.cells) if c.cell_type == "markdown" and editions.has_prose(c.source))
    changed = copy.deepcopy(en)
    changed.cells[code].source += "\n# a new comment"
    changed.cells[prose].source += "\n\nA new paragraph."
    changed.cells.append(nbformat.v4.new_markdown_cell("A new cell of prose.", id="new-cell"))
    out, todo = editions.synced(changed, ko)
    assert [c.id for c in out.cells] == [c.id for c in changed.cells]
    assert out.cells[code].source == changed.cells[code].source  # the code came over
    assert out.cells[prose].source == ko.cells[prose].source  # the old translation is kept until redone
    assert todo == [changed.cells[prose].id, "new-cell"]
    # applying a translation of both clears them
    editions.apply(changed, out, {"new-cell": "새 문단입니다.", changed.cells[prose].id: ko.cells[prose].source})
    assert editions.check_pair(changed, out, "04") == []


def test_an_unknown_edition_is_refused_with_the_choices():
    result = subprocess.run([sys.executable, "-m", "helpers.tutorial", "--preset", "smoke", "--edition", "kr"],
                            cwd=PROJECT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "EDITION=ko" in result.stderr and "'kr'" in result.stderr
