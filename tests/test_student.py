"""The exercises and the student edition (`make student`, tools/student.py): every notebook of both editions has
exercises that check themselves, the student edition keeps none of their solutions, and a student notebook runs with
every check failing on its hint while the rest of the notebook works."""

import ast
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "tools"))
import student  # noqa: E402

from helpers.tutorial import EDITIONS, notebooks  # noqa: E402

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


def role(cell) -> str | None:
    """"answer" or "check" for an exercise's cells (nbgrader's metadata), None for the others."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return "answer" if meta.get("solution") else "check" if meta.get("grade") else None


def test_student_source_stubs_solutions_at_their_indentation_and_drops_hidden_tests():
    teacher = "\n".join([
        "def f(x):",
        "    ### BEGIN SOLUTION",
        "    return 2 * x",
        "    ### END SOLUTION",
        "",
        "assert f(1) == 2, 'twice'",
        "### BEGIN HIDDEN TESTS",
        "assert f(2) == 4",
        "### END HIDDEN TESTS",
    ])
    assert student.student_source(teacher) == f"def f(x):\n    {student.STUB}\n\nassert f(1) == 2, 'twice'"
    with pytest.raises(ValueError, match="BEGIN SOLUTION without"):
        student.student_source("### BEGIN SOLUTION\nx = 1", "04 cell ex")


@pytest.mark.parametrize("edition", sorted(EDITIONS))
def test_every_notebook_has_exercises_whose_checks_say_what_is_wrong(edition):
    """At least two exercises a notebook: an answer cell with a solution region, then a check cell whose every
    assert carries a message (the hint), for each."""
    for path in notebooks(edition):
        cells = nbformat.read(path, as_version=4).cells
        roles = [role(cell) for cell in cells]
        answers = [i for i, r in enumerate(roles) if r == "answer"]
        assert len(answers) >= 2, f"{path.name}: fewer than two exercises"
        for i in answers:
            assert "### BEGIN SOLUTION" in cells[i].source, f"{path.name} {cells[i].id}: no solution region"
            assert roles[i + 1] == "check", f"{path.name} {cells[i].id}: no check cell right after the answer"
            tree = ast.parse(cells[i + 1].source)
            bare = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Assert) and node.msg is None]
            assert not bare, f"{path.name} {cells[i + 1].id}: an assert without a hint, line {bare}"


def test_make_student_writes_both_editions_without_solutions_or_outputs(tmp_path):
    assert student.main(["--out", str(tmp_path)]) == 0
    for edition in EDITIONS:
        teacher_notebooks = notebooks(edition)
        written = sorted((tmp_path / edition).glob("*.ipynb"))
        assert [p.name for p in written] == [p.name for p in teacher_notebooks]
        for teacher_path, student_path in zip(teacher_notebooks, written, strict=True):
            teacher = nbformat.read(teacher_path, as_version=4).cells
            pupil = nbformat.read(student_path, as_version=4).cells
            assert [c.id for c in pupil] == [c.id for c in teacher]
            for ours, theirs in zip(teacher, pupil, strict=True):
                where = f"{edition}/{student_path.name} {ours.id}"
                assert not any(marker in theirs.source for marker in MARKERS), f"{where}: a marker or solution left"
                if theirs.cell_type == "code":
                    assert theirs.outputs == [] and theirs.execution_count is None, f"{where}: outputs kept"
                if role(ours) == "answer":
                    assert theirs.source.count(student.STUB) == ours.source.count("### BEGIN SOLUTION"), where
                    assert "BEGIN SOLUTION" not in theirs.source
                elif "HIDDEN TESTS" not in ours.source:
                    assert theirs.source == ours.source, f"{where}: changed although it holds no exercise"


def test_make_student_again_never_replaces_a_notebook_with_a_learners_answers(tmp_path, capsys):
    assert student.main(["--out", str(tmp_path)]) == 0
    assert student.main(["--out", str(tmp_path)]) == 0  # an unchanged edition is simply written again
    answered = tmp_path / "en" / notebooks("en")[0].name
    nb = nbformat.read(answered, as_version=4)
    answer = next(cell for cell in nb.cells if role(cell) == "answer")
    answer.source = answer.source.replace(student.STUB, "my_answer = 42")
    nbformat.write(nb, answered)
    mine = answered.read_bytes()
    other = tmp_path / "ko" / notebooks("ko")[1].name
    other.unlink()
    assert student.main(["--out", str(tmp_path)]) == 1
    assert answered.read_bytes() == mine, "the learner's answers were overwritten"
    assert not other.exists(), "something was written although the run refused"
    error = capsys.readouterr().err
    assert str(answered) in error and "STUDENT_DIR" in error


def test_a_student_notebook_runs_and_each_check_fails_with_its_hint(tmp_path, monkeypatch):
    """Notebook 01 of the student edition on the smoke preset: every check cell
    fails with the stub's message or its own hint (never an error from inside helpers), every other cell runs."""
    monkeypatch.setenv("PRESET", "smoke")
    monkeypatch.setenv("TUTORIAL_OUTPUT", str(tmp_path / "out"))
    monkeypatch.setenv("TQDM_DISABLE", "1")
    path = student.write_student_edition(tmp_path / "student", ("en",))[0]
    assert path.name.startswith("01_")
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [out for out in cell.outputs if out.get("output_type") == "error"]
        if role(cell) is None:
            assert not errors, f"cell {cell.id} failed in the student edition: {errors[0]['evalue'][:300]}"
            continue
        if role(cell) == "answer":  # a variable's stub stops here; a function's stub when the check calls it
            assert all(e["ename"] == "NotImplementedError" and "Exercise" in e["evalue"] for e in errors), errors
            continue
        assert len(errors) == 1, f"check cell {cell.id} passed in the student edition"
        error = errors[0]
        assert error["ename"] in ("NotImplementedError", "AssertionError") and error["evalue"].strip(), error
        assert "helpers" not in "".join(error["traceback"]), f"cell {cell.id}: a traceback from inside helpers"
