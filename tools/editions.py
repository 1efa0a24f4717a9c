"""Keep the Korean edition (``notebooks/ko/``) in step with the English one (``notebooks/``).

The Korean notebooks have the English ones' cells, in the same order and with the same ids: code cells identical,
markdown cells translated. Each translated markdown cell records in its metadata (``translated_from``) a hash of the
English text it translates, so a change to the English prose shows up as a stale translation.

    python tools/editions.py check          # what has drifted (exit status 1 if anything)
    python tools/editions.py sync           # copy the English code cells and cell order into the Korean notebooks;
                                            # a new or changed English markdown cell is listed for translation
    python tools/editions.py apply 04_train.ipynb ko.json
                                            # put translations ({"cell id": "Korean markdown"}) into notebooks/ko/

``tests/test_editions.py`` runs ``check`` in ``make test``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from pathlib import Path

import nbformat

from helpers.tutorial import EDITIONS, notebooks

EN_DIR, KO_DIR = EDITIONS["en"], EDITIONS["ko"]
HANGUL = re.compile(r"[\uac00-\ud7a3]")
KEY = "translated_from"


def text_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def prose(source: str) -> str:
    """A markdown cell's words outside code: fenced blocks, inline code, URLs and HTML tags removed."""
    source = re.sub(r"```.*?```", " ", source, flags=re.S)
    source = re.sub(r"`[^`]*`", " ", source)
    source = re.sub(r"\]\([^)]*\)|https?://\S+|<[^>]+>", " ", source)
    return source


def has_prose(source: str) -> bool:
    """True when a cell has words to translate, not only code names and symbols."""
    return bool(re.search(r"[A-Za-z]{2,}", prose(source)))


def korean_enough(source: str) -> bool:
    """Korean text, not English with a Korean word in it: at least as many Hangul syllables as English words.

    A translated sentence has several syllables per English word it replaces; names kept in English (VideoMAE,
    PyTorchVideo, ...) are the only English words left."""
    text = prose(source)
    return len(HANGUL.findall(text)) >= len(re.findall(r"[A-Za-z]{2,}", text))


def check_pair(en: nbformat.NotebookNode, ko: nbformat.NotebookNode, name: str = "") -> list[str]:
    """Everything that differs between an English notebook and its Korean edition beyond translated prose."""
    problems = []
    en_ids = [cell.get("id") for cell in en.cells]
    ko_ids = [cell.get("id") for cell in ko.cells]
    if en_ids != ko_ids:
        problems.append(f"{name}: the cells differ in number or order: English {len(en_ids)} cells {en_ids}, "
                        f"Korean {len(ko_ids)} cells {ko_ids}. Run: python tools/editions.py sync")
        return problems
    for en_cell, ko_cell in zip(en.cells, ko.cells, strict=True):
        where = f"{name} cell {en_cell.get('id')}"
        if en_cell.cell_type != ko_cell.cell_type:
            problems.append(f"{where}: {en_cell.cell_type} in English, {ko_cell.cell_type} in Korean")
        elif en_cell.cell_type == "code":
            if en_cell.source != ko_cell.source:
                problems.append(f"{where}: the code differs from the English edition's. "
                                "Edit the English notebook, then run: python tools/editions.py sync")
        elif en_cell.cell_type == "markdown" and has_prose(en_cell.source):
            if not HANGUL.search(ko_cell.source) or not korean_enough(ko_cell.source):
                problems.append(f"{where}: not translated into Korean")
            elif ko_cell.metadata.get(KEY) != text_hash(en_cell.source):
                problems.append(f"{where}: the English text changed after it was translated; translate it again "
                                f"and record it with: python tools/editions.py apply {name} <translations.json>")
    return problems


def check(en_dir: Path = EN_DIR, ko_dir: Path = KO_DIR) -> list[str]:
    problems = []
    en_names = [p.name for p in notebooks(folder=en_dir)]
    ko_names = [p.name for p in notebooks(folder=ko_dir)]
    if en_names != ko_names:
        problems.append(f"the editions hold different notebooks: English {en_names}, Korean {ko_names}")
    for name in sorted(set(en_names) & set(ko_names)):
        problems += check_pair(nbformat.read(en_dir / name, as_version=4), nbformat.read(ko_dir / name, as_version=4),
                               name)
    return problems


def synced(en: nbformat.NotebookNode, ko: nbformat.NotebookNode | None) -> tuple[nbformat.NotebookNode, list[str]]:
    """The Korean notebook rebuilt on the English one's cells: code from English, markdown kept from the Korean
    cell of the same id (English where there is none). Returns it and the ids of markdown cells to translate."""
    old = {cell.get("id"): cell for cell in ko.cells} if ko is not None else {}
    out = copy.deepcopy(en)
    todo = []
    for i, cell in enumerate(out.cells):
        if cell.cell_type != "markdown":
            continue
        kept = old.get(cell.get("id"))
        if kept is not None and kept.cell_type == "markdown":
            out.cells[i] = copy.deepcopy(kept)
        if has_prose(cell.source) and out.cells[i].metadata.get(KEY) != text_hash(cell.source):
            todo.append(cell.get("id"))
    return out, todo


def apply(en: nbformat.NotebookNode, ko: nbformat.NotebookNode, translations: dict[str, str]) -> None:
    """Put Korean markdown into ``ko`` (in place), recording which English text each translates."""
    en_cells = {cell.get("id"): cell for cell in en.cells}
    for cell in ko.cells:
        if cell.get("id") in translations:
            english = en_cells[cell.get("id")]
            if english.cell_type != "markdown":
                raise ValueError(f"cell {cell.get('id')} is a {english.cell_type} cell: only markdown is translated")
            cell.source = translations[cell.get("id")]
            cell.metadata[KEY] = text_hash(english.source)
    unknown = set(translations) - set(en_cells)
    if unknown:
        raise ValueError(f"no such cells in the English notebook: {sorted(unknown)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check")
    sub.add_parser("sync")
    p_apply = sub.add_parser("apply")
    p_apply.add_argument("notebook", help="file name, e.g. 04_train.ipynb")
    p_apply.add_argument("translations", type=Path, help='JSON: {"cell id": "Korean markdown", ...}')
    args = parser.parse_args(argv)
    if args.command == "check":
        problems = check()
        print("\n".join(problems) or "The editions match.")
        return 1 if problems else 0
    if args.command == "sync":
        KO_DIR.mkdir(exist_ok=True)
        for path in notebooks("en"):
            target = KO_DIR / path.name
            ko = nbformat.read(target, as_version=4) if target.exists() else None
            out, todo = synced(nbformat.read(path, as_version=4), ko)
            nbformat.write(out, target)
            if todo:
                print(f"{path.name}: translate cells {', '.join(todo)}")
        return 0
    en = nbformat.read(EN_DIR / args.notebook, as_version=4)
    target = KO_DIR / args.notebook
    ko = nbformat.read(target, as_version=4) if target.exists() else synced(en, None)[0]
    apply(en, ko, json.loads(args.translations.read_text(encoding="utf-8")))
    nbformat.write(ko, target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
