"""Looking at videos and results: frames, GIFs, training curves, confusion matrices (01 to 05)."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import matplotlib.pyplot as plt
import numpy as np


def side_by_side(*clips: np.ndarray, gap: int = 4) -> np.ndarray:
    """Put (T, H, W, 3) clips of the same length and height next to each other, white gap between."""
    height, frames = max(c.shape[1] for c in clips), min(c.shape[0] for c in clips)
    parts = []
    for clip in clips:
        pad = np.full((frames, height, clip.shape[2] + gap, 3), 255, np.uint8)  # the gap on the right
        pad[:, : clip.shape[1], : clip.shape[2]] = clip[:frames]
        parts.append(pad)
    return np.concatenate(parts, axis=2)[:, :, : -gap or None]  # without the last clip's gap


def save_gif(frames: np.ndarray, path: Path, fps: float = 4.0, scale: int = 1) -> Path:
    """Write (T, H, W, 3) uint8 frames as a looping GIF; ``scale`` enlarges small clips."""
    if frames.dtype != np.uint8 or frames.ndim != 4:
        raise ValueError(f"expected (T, H, W, 3) uint8 frames, got {frames.dtype} {frames.shape}")
    if scale > 1:
        frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, frames, extension=".gif", duration=1000 / fps, loop=0)
    return path


def _saved(fig, path: Path | None, dpi: int = 80):
    """``fig``, written to ``path`` first if one is given."""
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig


def show_gif(path: Path):
    """Display a GIF inline in Jupyter (outside Jupyter, returns the display object)."""
    from IPython.display import Image

    return Image(filename=str(path))


def show_frames(rows: dict[str, np.ndarray], title: str = "", path: Path | None = None):
    """A grid with one row of frames per entry: {"row label": (T, H, W, 3) frames}."""
    columns = max(len(frames) for frames in rows.values())
    fig, axes = plt.subplots(len(rows), columns, figsize=(2 * columns, 1.6 * len(rows)), squeeze=False)
    for r, (label, frames) in enumerate(rows.items()):
        for c in range(columns):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(frames):
                ax.imshow(frames[c])
            if c == 0:
                ax.set_title(label, fontsize=8, loc="left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _saved(fig, path)


def plot_history(log_history: list[dict], path: Path | None = None, num_classes: int | None = None):
    """Training loss per logging step and validation accuracy per epoch, from ``trainer.state.log_history``; with
    ``num_classes``, dashed lines at what a model that gives every class the same score gets: a loss of
    ln(num_classes), chance accuracy."""
    train = [(h["step"], h["loss"]) for h in log_history if "loss" in h]
    val = [(h["step"], h["eval_accuracy"]) for h in log_history if "eval_accuracy" in h]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2))
    left.plot(*zip(*train, strict=True), marker=".")
    left.set(xlabel="step", ylabel="training loss", title="Training loss")
    right.plot(*zip(*val, strict=True), marker="o", color="tab:green")
    right.set(xlabel="step (end of each epoch)", ylabel="accuracy", title="Validation accuracy", ylim=(0, 1.02))
    if num_classes:
        left.axhline(np.log(num_classes), color="gray", linestyle="--", label="same score for every class")
        right.axhline(1 / num_classes, color="gray", linestyle="--", label=f"chance (1/{num_classes})")
        left.legend()
        right.legend()
    fig.tight_layout()
    return _saved(fig, path)


CAPTION_PX = 18  # caption text height: legible on a projector next to frames of 256 pixels or more


def caption(frames: np.ndarray, lines: list[str], scale: int = 1) -> np.ndarray:
    """Enlarge (T, H, W, 3) frames ``scale`` times and write ``lines`` of text in a white band below them (05)."""
    from PIL import Image, ImageDraw, ImageFont

    frames = frames.repeat(scale, axis=1).repeat(scale, axis=2)
    font = ImageFont.load_default(size=CAPTION_PX)
    line_height = CAPTION_PX + 6
    height, width = frames.shape[1:3]
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    width = max(width, max(int(measure.textlength(line, font=font)) for line in lines) + 12)
    band = Image.new("RGB", (width, line_height * len(lines) + 6), "white")
    draw = ImageDraw.Draw(band)
    for i, line in enumerate(lines):
        draw.text((6, 3 + line_height * i), line, fill="black", font=font)
    band = np.asarray(band)
    out = np.full((len(frames), height + band.shape[0], width, 3), 255, np.uint8)
    out[:, :height, : frames.shape[2]] = frames
    out[:, height:] = band
    return out


def plot_confusion_matrix(matrix: np.ndarray, class_names: list[str], path: Path | None = None, title: str = ""):
    """Counts of (true class, predicted class) as a heat map, numbers in the cells. Introduced in 05_inference."""
    size = max(3.5, 0.6 * len(class_names) + 1.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(matrix, cmap="Blues", vmin=0)
    ticks = range(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=45, ha="right")
    ax.set_yticks(ticks, class_names)
    ax.set(xlabel="predicted class", ylabel="true class", title=title or "Confusion matrix")
    for (row, col), count in np.ndenumerate(matrix):
        ax.text(col, row, int(count), ha="center", va="center",
                color="white" if count > matrix.max() / 2 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return _saved(fig, path)


def plot_per_class_accuracy(accuracy: np.ndarray, class_names: list[str], path: Path | None = None,
                            title: str = ""):
    """One horizontal bar per class: the share of its test videos predicted right, a dashed line at chance (one
    over the number of classes). Introduced in 05_inference."""
    fig, ax = plt.subplots(figsize=(6, 0.4 * len(class_names) + 1.2))
    ax.barh(class_names, accuracy, color="tab:green")
    ax.axvline(1 / len(class_names), color="black", linestyle="--", zorder=3)
    ax.set(xlim=(0, 1.05), xlabel=f"accuracy (dashed: chance, 1/{len(class_names)})",
           title=title or "Accuracy per class")
    ax.invert_yaxis()  # first class on top, as in the confusion matrix
    for row, value in enumerate(accuracy):
        ax.text(min(value + 0.01, 0.9), row, f"{value:.2f}", va="center")
    fig.tight_layout()
    return _saved(fig, path)


def preview(path: Path, lines: list[str], num_frames: int = 16, height: int = 256) -> np.ndarray:
    """``num_frames`` frames spread over a whole video, about ``height`` pixels high, with ``lines`` of text below:
    a GIF small enough to embed in a notebook, whatever the video's length and size. Introduced in 05_inference."""
    from helpers.video import KEEP_SHORT_SIDE, read_frames, video_info

    total = video_info(path)["frames"]
    # a 4K video's frames are shrunk while decoded (16 of them would take 0.4 GB), small ones are kept as they are
    frames = read_frames(path, np.linspace(0, total - 1, min(num_frames, total)).round().astype(int).tolist(),
                         short_side=max(height, KEEP_SHORT_SIDE))
    step = max(1, frames.shape[1] // height)  # shrink large frames by whole steps, enlarge small ones
    frames = frames[:, ::step, ::step]
    return caption(frames, lines, scale=max(1, height // frames.shape[1]))


def plot_curves(curves: dict[str, list[list[tuple[int, float]]]], path: Path | None = None, title: str = "",
                chance: float | None = None):
    """Accuracy against training steps, one line per entry, {"label": [[(step, accuracy), ...] per seed]}: the mean
    over seeds, the band from the lowest to the highest seed, and a dashed line at ``chance``. Introduced in
    04_train (pretrained against random weights)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.4))
    for label, runs in curves.items():
        steps = [step for step, _ in runs[0]]
        accuracy = np.array([[value for _, value in run] for run in runs])
        line, = ax.plot(steps, accuracy.mean(0), marker="o", label=f"{label}: mean of {len(runs)}")
        if len(runs) > 1:
            ax.fill_between(steps, accuracy.min(0), accuracy.max(0), color=line.get_color(), alpha=0.2)
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle="--", label=f"chance ({chance:.3f})")
    if not curves:
        ax.text(0.5, 0.5, "nothing to compare on this preset", ha="center", va="center", transform=ax.transAxes)
    ax.set(xlabel="fine-tuning step", ylabel="per-video test accuracy", ylim=(0, 1.02), title=title)
    if curves:
        ax.legend(loc="upper left")
    fig.tight_layout()
    return _saved(fig, path, dpi=100)


def panels_gif(panels: dict[str, np.ndarray], title: str, path: Path, fps: float = 4.0, scale: int = 1):
    """(T, H, W, 3) clips side by side, each enlarged ``scale`` times with its name below, ``title`` under them all:
    saved as a GIF at ``path`` and returned for display. Introduced in 03_pretrain (clips and reconstructions)."""
    row = side_by_side(*(caption(frames, [name], scale) for name, frames in panels.items()))
    return show_gif(save_gif(caption(row, [title]), path, fps=fps))


def preview_gif(video: Path, lines: list[str], path: Path, fps: float = 6.0):
    """``preview`` of a video file with ``lines`` of text below, saved as a GIF at ``path`` and returned for display.
    Introduced in 05_inference (a test video with its true label and the model's answer)."""
    return show_gif(save_gif(preview(video, lines), path, fps=fps))
