"""Every sentence true: the notebooks' prose holds no figure of a run (a cell prints those), no lab log, and stays
short. Both editions; the word limits apply to the English one (Korean counts words differently)."""

import re
import sys
from pathlib import Path

import nbformat
import pytest

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "tools"))
import editions  # noqa: E402

from helpers.tutorial import notebooks  # noqa: E402

# a decimal number (0.969, 1,5) or a percentage (97 %, 97%, 97 퍼센트), the figures a run prints
FIGURE = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)+(?:\s?%)?(?![\w.])|(?<![\w.])\d+\s?(?:%|퍼센트)")
THOUSANDS = re.compile(r"[1-9]\d{0,2}(?:,\d{3})+")  # 1,600 epochs: a count, not a decimal
# constants of the method and published figures, with their source; a run's figure never belongs here
ALLOWED = {
    "90 %",  # VideoMAE's masking ratio (Tong et al., 2022)
    "10 %",  # what VideoMAE leaves visible: 100 % - 90 %
    "75 %",  # MAE's masking ratio for images (He et al., 2021)
    "50 %",  # the order-blind ceiling on the built-in data: twins in pairs, by construction
    "91.3 %",  # VideoMAE paper, UCF-101, ViT-B, no extra data
    "0.8645",  # Hugging Face's notebook of the guide: test accuracy per clip
    "0.1.5",  # PyTorchVideo's last release
    "0.17",  # the torchvision release that renamed functional_tensor
}
# files a learner does not have open, or figures from elsewhere: at most one "Further reading" line may point there
POINTERS = re.compile(r"RESULTS|benchmarks|README|learning tests?|tests/")
MAX_CELL_WORDS = 130
MAX_NOTEBOOK_WORDS = 1300


def hand_written_figures(markdown: str) -> list[str]:
    """The figures in a markdown cell's prose (code spans and blocks left out) that are not on the allow-list."""
    found = [match.group().replace("%", " %").replace("  ", " ") for match in FIGURE.finditer(editions.prose(markdown))]
    return [figure for figure in found if figure not in ALLOWED and figure.replace(" %", "") not in ALLOWED
            and not THOUSANDS.fullmatch(figure)]


def markdown_cells(path: Path) -> list[nbformat.NotebookNode]:
    return [cell for cell in nbformat.read(path, as_version=4).cells if cell.cell_type == "markdown"]


def test_the_check_catches_a_figure_written_by_hand_and_lets_constants_pass():
    assert hand_written_figures("In our run: 0.852 per clip and 96.9 % per video.") == ["0.852", "96.9 %"]
    assert hand_written_figures("정확도는 97 퍼센트") == ["97 퍼센트"]
    assert hand_written_figures("1,600 epochs of Kinetics-400, but 0,969 per video") == ["0,969"]
    assert hand_written_figures("VideoMAE hides 90 % of the patches; the paper reports 91.3 % on UCF-101.") == []
    assert hand_written_figures("`NUM_EPOCHS = 0.5` in code is not prose; 16 frames is a constant.") == []


@pytest.mark.parametrize("edition", ["en", "ko"])
def test_no_markdown_cell_states_a_figure_of_a_run(edition):
    found = {f"{path.name} {cell.get('id')}": figures for path in notebooks(edition)
             for cell in markdown_cells(path) if (figures := hand_written_figures(cell.source))}
    assert not found, ("figures written by hand (print them from a cell, or add a constant or published figure "
                       f"to ALLOWED in {Path(__file__).name}): {found}")


@pytest.mark.parametrize("edition", ["en", "ko"])
def test_prose_points_to_results_readme_or_tests_at_most_once_per_notebook(edition):
    many = {}
    for path in notebooks(edition):
        hits = [m.group() for cell in markdown_cells(path) for m in POINTERS.finditer(editions.prose(cell.source))]
        if len(hits) > 1:
            many[path.name] = hits
    assert not many, f"more than one pointer to RESULTS, benchmarks, the README or the tests: {many}"


def test_english_markdown_cells_are_short_and_notebooks_within_their_word_budget():
    long_cells, long_notebooks = {}, {}
    for path in notebooks("en"):
        words = {cell.get("id"): len(editions.prose(cell.source).split()) for cell in markdown_cells(path)}
        long_cells.update({f"{path.name} {cid}": n for cid, n in words.items() if n > MAX_CELL_WORDS})
        if sum(words.values()) > MAX_NOTEBOOK_WORDS:
            long_notebooks[path.name] = sum(words.values())
    assert not long_cells, f"markdown cells over {MAX_CELL_WORDS} words: {long_cells}"
    assert not long_notebooks, f"notebooks over {MAX_NOTEBOOK_WORDS} words of prose: {long_notebooks}"
