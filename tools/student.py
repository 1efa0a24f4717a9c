"""Write the student edition of the series: every exercise's solution replaced by a stub, outputs cleared.

The notebooks as committed are the teacher's edition. An exercise is a task (markdown), an answer cell whose
solution lies between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` lines, and a check cell whose asserts say
what is wrong; a check cell may hold tests between ``### BEGIN HIDDEN TESTS`` and ``### END HIDDEN TESTS``. These are
nbgrader's markers, and the cells carry nbgrader's metadata, so a teacher who uses nbgrader can generate the
assignment with it; this tool needs no nbgrader:

    python tools/student.py                      # both editions: outputs/student/en and outputs/student/ko
    python tools/student.py --out handout        # handout/en and handout/ko

``make student`` runs it (``STUDENT_DIR`` sets the folder). ``tests/test_student.py`` runs a student notebook.
"""

from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

import nbformat

from helpers.config import PROJECT_ROOT
from helpers.tutorial import EDITIONS, notebooks

SOLUTION = ("### BEGIN SOLUTION", "### END SOLUTION")
HIDDEN_TESTS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
STUB = 'raise NotImplementedError("Exercise: write your answer here, in place of this line")'
DEFAULT_OUT = PROJECT_ROOT / "outputs" / "student"


def student_source(source: str, where: str = "a cell") -> str:
    """A code cell's source with each solution region replaced by the stub (at the region's indentation) and each
    hidden-tests region removed; ValueError naming ``where`` for a region that is not closed."""
    out: list[str] = []
    open_region: tuple[str, str] | None = None
    for line in source.split("\n"):
        marker = line.strip()
        if open_region is None:
            if marker == SOLUTION[0]:
                open_region = SOLUTION
                out.append(line[: len(line) - len(line.lstrip())] + STUB)
            elif marker == HIDDEN_TESTS[0]:
                open_region = HIDDEN_TESTS
            else:
                out.append(line)
        elif marker == open_region[1]:
            open_region = None
    if open_region is not None:
        raise ValueError(f"{where}: {open_region[0]} without {open_region[1]}")
    return "\n".join(out).rstrip("\n")


def student_notebook(nb: nbformat.NotebookNode, name: str = "") -> nbformat.NotebookNode:
    """A copy of a teacher's notebook for students: solutions stubbed, hidden tests removed, outputs cleared."""
    out = copy.deepcopy(nb)
    for cell in out.cells:
        if cell.cell_type == "code":
            cell.source = student_source(cell.source, f"{name} cell {cell.get('id')}")
            cell.outputs = []
            cell.execution_count = None
    return out


def write_student_edition(out_dir: Path, editions: tuple[str, ...] = tuple(EDITIONS)) -> list[Path]:
    """The student notebooks of ``editions`` into ``out_dir/<edition>/``; returns their paths. A notebook already
    there that differs from the one it would write (a learner's answers, or a teacher's notebook) is never replaced:
    ValueError naming it, and nothing is written."""
    planned = {out_dir / edition / path.name: nbformat.writes(student_notebook(nbformat.read(path, as_version=4),
                                                                                path.name)) + "\n"
               for edition in editions for path in notebooks(edition)}
    kept = [target for target, text in planned.items() if target.exists() and target.read_text("utf-8") != text]
    if kept:
        raise ValueError(f"{len(kept)} notebook(s) in {out_dir} differ from the student edition, e.g. {kept[0]} "
                         "(answers written in it?); nothing was replaced. Move them away, or write the edition "
                         "elsewhere: --out, or STUDENT_DIR for make student")
    for target, text in planned.items():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, "utf-8")
    return list(planned)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"folder for <edition>/NN_*.ipynb (default: {DEFAULT_OUT})")
    parser.add_argument("--edition", choices=sorted(EDITIONS), action="append",
                        help="only this edition (repeatable; default: all)")
    args = parser.parse_args(argv)
    try:
        written = write_student_edition(args.out, tuple(args.edition or EDITIONS))
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for edition in args.edition or EDITIONS:
        print(f"{edition}: {sum(p.parent.name == edition for p in written)} student notebooks in {args.out / edition}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
