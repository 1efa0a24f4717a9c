"""The built-in dataset: UCF-101's layout and file format, classes that differ only by motion.

Introduced in 01_load_data. Every class has a time-reversed twin (MoveLeft/MoveRight, Grow/Shrink, ...): a clip of
one is a clip of the other played backwards, so only the order of the frames tells them apart.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from helpers.runs import folder_lock
from helpers.video import write_video

# a quarter of UCF-101's 320x240: the offline model sees 64x64 crops, and a quarter of the pixels decodes faster
WIDTH, HEIGHT, FPS = 160, 120, 25
SCALE = WIDTH / 320  # the bar's sizes below are given for 320x240 frames
MOTION_SECONDS = (0.64, 0.8)  # how long the one move, growth or turn of a short video takes
# in a longer video, one move or turn takes this long and the motion goes on: a training clip of about a second
# then sees about as much of it as it sees of a whole short video
LONG_MOTION_SECONDS = (1.2, 1.5)
GRAIN = 6  # the background noise: its standard deviation in grey levels at 320x240
# (forward class, its time-reversed twin); the forward motion is what gets rendered
PAIRS = [
    ("MoveRight", "MoveLeft"),
    ("MoveDown", "MoveUp"),
    ("Grow", "Shrink"),  # a long video cannot keep growing at a short one's pace: it grows slower
    ("RotateClockwise", "RotateCounterclockwise"),
    ("SlideDownRight", "SlideUpLeft"),
]


def class_names(num_pairs: int) -> list[str]:
    """The class names used with ``num_pairs`` twin pairs."""
    if not 1 <= num_pairs <= len(PAIRS):
        raise ValueError(f"num_pairs must be between 1 and {len(PAIRS)}, got {num_pairs}")
    return [name for pair in PAIRS[:num_pairs] for name in pair]


def _background(rng: np.random.Generator) -> np.ndarray:
    """A static, dark, smooth gradient with a little texture (H, W, 3 float)."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH] / np.array([HEIGHT, WIDTH])[:, None, None]
    a, b = rng.uniform(0, 90, 3), rng.uniform(0, 90, 3)
    t = (x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1))
    t = (t - t.min()) / (np.ptp(t) + 1e-6)
    image = a * (1 - t[..., None]) + b * t[..., None]
    # GRAIN at 320x240; a frame of a quarter of the pixels is 320x240 averaged 2x2, so its grain is half as strong
    return image + rng.normal(0, GRAIN * SCALE, (HEIGHT, WIDTH, 1))


def render_forward(motion: str, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Render one clip of the forward class of a pair (T, H, W, 3 uint8).

    One direction and one speed for the whole video: a move covers about half the frame, a turn about 160 degrees,
    per ``MOTION_SECONDS`` (``LONG_MOTION_SECONDS`` in a longer video, where a moving bar leaves the frame on one side
    and comes back on the other, and a turning one keeps turning), so a clip anywhere sees about as much motion as a
    whole short video. A long video's bar grows slower, over the whole video."""
    t = np.linspace(0.0, 1.0, num_frames)
    # how many motions the video lasts; a video no longer than the longest short one shows one, in the frame
    seconds = num_frames / FPS
    motions = 1.0 if seconds <= MOTION_SECONDS[1] else max(1.0, seconds / rng.uniform(*LONG_MOTION_SECONDS))
    half_w, half_h = rng.uniform(46, 60) * SCALE, rng.uniform(13, 18) * SCALE  # a bar, so rotation shows
    angle = np.full_like(t, rng.uniform(0, np.pi))
    scale = np.ones_like(t)
    margin = 50 * SCALE
    cx = np.full_like(t, rng.uniform(WIDTH * 0.35, WIDTH * 0.65))
    cy = np.full_like(t, rng.uniform(HEIGHT * 0.35, HEIGHT * 0.65))

    def travel(size: int, share: tuple[float, float], edge: float) -> np.ndarray:
        """Positions along one axis: in the frame for one motion, around the frame (what leaves it on one side
        comes back on the other at once, see the drawing below) for more."""
        distance = rng.uniform(*share) * size * motions
        if motions == 1.0:
            return rng.uniform(edge, size - edge - distance) + t * distance
        return (rng.uniform(0, size) + t * distance) % size

    if motion in ("MoveRight", "SlideDownRight"):
        cx = travel(WIDTH, (0.45, 0.6), margin)
    if motion in ("MoveDown", "SlideDownRight"):
        cy = travel(HEIGHT, (0.4, 0.5), margin * 0.6)
    if motion == "Grow":
        stretch = min(motions, 2.0)
        small = rng.uniform(0.4, 0.55) / stretch**0.6
        large = rng.uniform(1.3, 1.6) * stretch**0.25
        # one growth: linear; a longer one: the same ratio per second throughout
        scale = small + t * (large - small) if motions == 1.0 else small * (large / small) ** t
    if motion == "RotateClockwise":
        angle = angle + t * rng.uniform(0.75, 1.0) * np.pi * motions  # image y points down: + is clockwise
        # like a clock hand: the end opposite the marked tip stays put, so the tip sweeps far
        pivot_x, pivot_y = rng.uniform(0.42, 0.58) * WIDTH, rng.uniform(0.42, 0.58) * HEIGHT
        cx, cy = pivot_x + half_w * np.cos(angle), pivot_y + half_w * np.sin(angle)
    # high contrast, always the same way round: a light object on a dark background
    colour = rng.uniform(170, 255, 3)
    tip_colour = rng.permutation([rng.uniform(220, 255), rng.uniform(90, 140), rng.uniform(90, 255)])
    background = np.clip(_background(rng), 0, 255).astype(np.uint8)
    frames = np.repeat(background[None], num_frames, axis=0)
    for i, frame in enumerate(frames):
        s, a = scale[i], angle[i]
        r = int(np.hypot(half_w, half_h) * s) + 2
        # in a long video the frame wraps around: a bar crossing an edge shows on both sides (copies one frame away)
        shifts = (-1, 0, 1) if motions > 1.0 else (0,)
        for x0 in (cx[i] + k * WIDTH for k in shifts):
            for y0 in (cy[i] + k * HEIGHT for k in shifts):
                if -r < x0 < WIDTH + r and -r < y0 < HEIGHT + r:
                    _draw_bar(frame, x0, y0, r, a, half_w * s, half_h * s, colour, tip_colour)
    return frames


def _draw_bar(frame: np.ndarray, x0: float, y0: float, r: int, angle: float, half_w: float, half_h: float,
              colour: np.ndarray, tip_colour: np.ndarray) -> None:
    """Paint a bar centred at (x0, y0), with a marked end, into ``frame`` (only inside its bounding box: faster)."""
    top, left = max(0, int(y0) - r), max(0, int(x0) - r)
    bottom, right = min(HEIGHT, int(y0) + r), min(WIDTH, int(x0) + r)
    if bottom <= top or right <= left:
        return
    y, x = np.mgrid[top:bottom, left:right].astype(np.float32)
    u = np.cos(angle) * (x - x0) + np.sin(angle) * (y - y0)
    v = -np.sin(angle) * (x - x0) + np.cos(angle) * (y - y0)
    inside = (np.abs(u) < half_w) & (np.abs(v) < half_h)
    window = frame[top:bottom, left:right]
    window[inside] = colour
    window[inside & (u > half_w * 0.5)] = tip_colour


def make_clip(class_name: str, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Render a clip of ``class_name``: a forward clip, reversed in time for the twin."""
    for forward, backward in PAIRS:
        if class_name == forward:
            return render_forward(forward, num_frames, rng)
        if class_name == backward:
            return render_forward(forward, num_frames, rng)[::-1].copy()
    raise ValueError(f"unknown synthetic class {class_name!r}")


def plan(preset) -> list[tuple[str, str, int, int, int]]:
    """Every file the preset asks for: (split, class, group, clip, number of frames)."""
    rng = np.random.default_rng(preset.data_seed)
    rows, first = [], 1  # group ids run on across splits, so no group id is in two splits
    for split, count in {"train": preset.train_groups, "val": preset.val_groups, "test": preset.test_groups}.items():
        for name in class_names(preset.num_pairs):
            for group in range(first, first + count):
                for clip in range(1, preset.clips_per_group + 1):
                    seconds = rng.uniform(preset.min_seconds, preset.max_seconds)
                    rows.append((split, name, group, clip, int(round(seconds * FPS))))
        first += count
    return rows


MARKER = ".complete"  # written last, listing the files: a folder with it is a finished dataset


def plan_signature(rows: list[tuple]) -> str:
    """A short fingerprint of a plan and of the drawing (a short and a long clip of each pair): a dataset made with
    other settings (lengths, groups, seed), or drawn otherwise, has another."""
    drawn = b"".join(render_forward(forward, frames, np.random.default_rng(0)).tobytes()
                     for forward, _ in PAIRS for frames in (2, 40))
    return hashlib.sha1(repr(rows).encode() + drawn).hexdigest()[:12]


def is_current(root: Path, rows: list[tuple]) -> bool:
    """True if ``root`` holds a finished dataset made from exactly this plan."""
    marker = Path(root) / MARKER
    return marker.is_file() and marker.read_text().partition("\n")[0].endswith(f"plan {plan_signature(rows)}")


def _foreign_files(root: Path) -> list[Path]:
    """The files under ``root`` that the generator did not write: all of them unless its marker lists them."""
    marker = root / MARKER
    listed = set(marker.read_text().splitlines()[1:]) if marker.is_file() else set()
    return [path for path in sorted(p for p in root.rglob("*") if not p.is_dir())
            if path != marker and path.relative_to(root).as_posix() not in listed]


def _make_room(root: Path) -> None:
    """Remove ``root`` before writing a new dataset there, only if it holds nothing but the generator's files."""
    if not root.exists() and not root.is_symlink():
        return
    if not root.is_dir() or root.is_symlink():
        raise FileExistsError(f"{root} is in the way of the built-in dataset and is not a folder it wrote: "
                              "move or delete it, then run again.")
    others = _foreign_files(root)
    if others:
        listed = "\n  ".join(str(p) for p in others[:5]) + (
            f"\n  ... and {len(others) - 5} more" if len(others) > 5 else "")
        why = ("holds files that the built-in dataset generator did not write" if (root / MARKER).is_file()
               else f"is not a dataset the generator finished (no {MARKER} file) and is not empty")
        raise FileExistsError(
            f"{root} {why}, so it is left as it is:\n  {listed}\nYour own videos belong in a folder of your own "
            f"(the same train/val/test layout, anywhere but {root}): move them there, or delete {root} yourself, "
            "then run again."
        )
    shutil.rmtree(root)


def generate(preset, root: Path, overwrite: bool = False) -> Path:
    """Write the synthetic dataset of ``preset`` to ``root``, or reuse it if it is complete.

    With several processes at once, the first writes (into ``<root>.partial``, renamed when done) and the others
    reuse its dataset. It deletes only what it wrote: a folder at ``root`` holding other files (your own videos) is
    refused with FileExistsError, never emptied."""
    root = Path(root)
    rows = plan(preset)
    if is_current(root, rows) and not overwrite:
        return root
    with folder_lock(root, "generating"):
        if is_current(root, rows) and not overwrite:
            return root  # another process made it while this one waited
        if (root / MARKER).is_file() and not overwrite:
            print(f"{root} was generated with other settings (video lengths, groups or seed): generating it again.")
        _make_room(root)
        # what a run killed half-way left: nobody else writes it, since we hold the lock
        tmp = root.with_name(root.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        written = []
        for index, (split, name, group, clip, frames) in enumerate(tqdm(rows, desc="synthetic videos", unit="video")):
            # one generator per file: any file can be rebuilt alone, identically
            rng = np.random.default_rng([preset.data_seed, index])
            relative = f"{split}/{name}/v_{name}_g{group:02d}_c{clip:02d}.avi"
            write_video(tmp / relative, make_clip(name, frames, rng), fps=FPS)
            written.append(relative)
        (tmp / MARKER).write_text(f"{len(rows)} videos, plan {plan_signature(rows)}\n"
                                  + "".join(f"{path}\n" for path in written))
        tmp.rename(root)
    return root
