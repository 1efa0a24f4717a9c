"""Reading and writing video files with PyAV, which carries its own FFmpeg.

Introduced in 01_load_data.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

VIDEO_SUFFIXES = {".avi", ".mp4", ".mov", ".mkv", ".webm", ".m4v"}


# One reformatter per process. ``frame.to_ndarray(format="rgb24")`` builds a new swscale context for every frame
# (about 0.4 ms for 320x240); a shared reformatter keeps its context while sizes and formats stay the same (about
# 0.08 ms), with the same pixels. Per process: a swscale context can hold worker threads, and one inherited
# through fork() (a DataLoader worker) would wait for threads that do not exist there. The inherited one is kept,
# never used or freed (freeing it would wait for those threads too).
_REFORMATTERS: dict[int, VideoReformatter] = {}


def to_rgb(frame: av.VideoFrame, height: int | None = None, width: int | None = None) -> np.ndarray:
    """One decoded frame as (H, W, 3) uint8 RGB, resized by swscale to ``height`` x ``width`` if given."""
    reformatter = _REFORMATTERS.get(os.getpid())
    if reformatter is None:
        reformatter = _REFORMATTERS[os.getpid()] = VideoReformatter()
    return reformatter.reformat(frame, format="rgb24", width=width, height=height).to_ndarray()


class VideoError(ValueError):
    """A file that is not a readable video; the message names the file and the fix."""


def write_video(path: Path, frames: np.ndarray, fps: int = 25, codec: str = "mpeg4") -> None:
    """Encode ``frames`` (T, H, W, 3 uint8) to ``path`` (MPEG-4 AVI by default).

    The quantiser is kept low (high quality): coarse compression leaves artifacts that
    trail a moving object and would tell the direction of motion from a single frame.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        if codec == "mpeg4":
            stream.codec_context.qmin = 1
            stream.codec_context.qmax = 2
            stream.bit_rate = 20_000_000
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def check_file(path: Path) -> Path:
    """Raise VideoError for a path that does not exist or an empty file."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file. Check the path.")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty (0 bytes). Copy it again or delete it.")
    return path


@contextmanager
def open_video(path: Path) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """Open ``path`` with PyAV and yield (container, its first video stream); any decoding error in the
    ``with`` block becomes a VideoError that names the file and the fix."""
    path = check_file(path)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise VideoError(f"{path}: has no video stream (audio only?). Remove it from the dataset.")
            yield container, container.streams.video[0]
    except (av.FFmpegError, UnicodeDecodeError) as err:
        raise VideoError(
            f"{path}: cannot be decoded as a video ({err.__class__.__name__}: {err}). "
            "The file is damaged or not a video: copy it again or remove it."
        ) from None


def video_info(path: Path) -> dict:
    """Open ``path`` and return frames, fps, width, height and seconds; raise VideoError if it cannot."""
    with open_video(path) as (container, stream):
        frames = sum(1 for _ in container.decode(stream))
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        width, height = stream.codec_context.width, stream.codec_context.height
        header_frames = stream.frames or 0
    if frames == 0:
        raise VideoError(f"{path}: contains no decodable frame (truncated?). Copy it again or remove it.")
    return {"frames": frames, "fps": fps, "width": width, "height": height,
            "seconds": frames / fps if fps else 0.0, "header_frames": header_frames}


def read_frames(path: Path, indices: list[int] | None = None) -> np.ndarray:
    """Decode ``path`` to (T, H, W, 3) uint8 RGB, all frames or only those at ``indices``."""
    wanted = None if indices is None else set(indices)
    last = None if indices is None else max(indices)
    frames = {}
    with open_video(path) as (container, stream):
        for i, frame in enumerate(container.decode(stream)):
            if wanted is None or i in wanted:
                frames[i] = to_rgb(frame)
            if last is not None and i >= last:
                break
    if not frames:
        raise VideoError(f"{path}: contains no decodable frame (empty or truncated). Copy it again or remove it.")
    if indices is None:
        return np.stack([frames[i] for i in sorted(frames)])
    # a frame index past the end (the container over-reported its length) repeats the last frame
    available = sorted(frames)
    return np.stack([frames[i] if i in frames else frames[available[-1]] for i in indices])
