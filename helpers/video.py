"""Reading and writing video files with PyAV: the one reader of every step (01_load_data).

Every step agrees on what a video is: the stream a player shows (never a cover picture), frames upright (a phone's
rotation applied), and one message for each kind of file that is not a usable video.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

# The file names read as videos, lower case: the containers phones, cameras and converters write.
VIDEO_SUFFIXES = {
    ".avi", ".mp4", ".m4v", ".mov", ".mkv", ".webm", ".3gp", ".3g2", ".mpg", ".mpeg", ".mts", ".m2ts", ".ts",
    ".wmv", ".asf", ".flv", ".ogv",
}
RAW_SUFFIXES = {".h264", ".264", ".h265", ".265", ".hevc"}  # raw streams, without a container: refused
# The highest frame rate a clip is read at: the guide's clips take every 4th frame of 30 fps, so more frames per
# second add memory, not information (a 240-fps clip keeps one frame per 1/30 s).
MAX_FPS = 30
# Frames up to this short side are read as they are where a step shrinks large frames (the guide's datasets, the
# per-video evaluation): 320x240 videos are read as PyTorchVideo reads them.
KEEP_SHORT_SIDE = 240

# One reformatter per process: it keeps its swscale context while sizes stay the same (``to_ndarray`` would build one
# per frame, five times slower). Per process: a context inherited through fork() (a DataLoader worker) waits for
# threads that do not exist there, so it is never used or freed.
_REFORMATTERS: dict[int, VideoReformatter] = {}


class VideoError(ValueError):
    """A file that is not a readable video; the message names the file and the fix."""


def quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns that make ``frame`` upright, from its display matrix (0 for most files)."""
    return round((getattr(frame, "rotation", 0) or 0) / 90) % 4


def to_rgb(frame: av.VideoFrame, height: int | None = None, width: int | None = None) -> np.ndarray:
    """One decoded frame as upright (H, W, 3) uint8 RGB, resized by swscale to ``height`` x ``width`` if given."""
    if os.getpid() not in _REFORMATTERS:
        _REFORMATTERS[os.getpid()] = VideoReformatter()
    turns = quarter_turns(frame)
    if turns % 2:  # the stored frame is sideways: its height is the displayed width
        height, width = width, height
    array = _REFORMATTERS[os.getpid()].reformat(frame, format="rgb24", width=width, height=height).to_ndarray()
    return np.ascontiguousarray(np.rot90(array, turns)) if turns else array


def scaled_size(height: int, width: int, short_side: int | None) -> tuple[int, int]:
    """(height, width) with the short side brought down to ``short_side``; never up (that adds data, not detail)."""
    if not short_side or min(height, width) <= short_side:
        return height, width
    ratio = short_side / min(height, width)
    # even sizes: swscale's yuv420p to rgb path is happiest with them
    return max(2, round(height * ratio / 2) * 2), max(2, round(width * ratio / 2) * 2)


def shrunk_size(frame: av.VideoFrame, short_side: int | None) -> tuple[int, int]:
    """The upright (height, width) of ``frame`` with its short side brought down to ``short_side``."""
    turns = quarter_turns(frame)
    return scaled_size(*((frame.width, frame.height) if turns % 2 else (frame.height, frame.width)), short_side)


def write_video(path: Path, frames: np.ndarray, fps: int = 25, codec: str = "mpeg4") -> None:
    """Encode ``frames`` (T, H, W, 3 uint8) to ``path`` (MPEG-4 AVI by default), at a low quantiser: coarse
    compression leaves artifacts that trail a moving object and would tell its direction from a single frame."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        if codec == "mpeg4":
            stream.codec_context.qmin, stream.codec_context.qmax = 1, 2
            stream.bit_rate = 20_000_000
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())


def is_video_name(path: Path) -> bool:
    """True if the file name ends with one of ``VIDEO_SUFFIXES`` (any case: ``.MP4`` too)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


def user_name() -> str:
    """Who this process runs as, as permission messages name it."""
    import pwd

    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a user id without a name (containers)
        return f"id {os.geteuid()}"


def unreadable(path: Path) -> str:
    """The message for a file this process may not read: a permission problem, not a damaged video."""
    return (f"{path}: not readable by user {user_name()} (permission denied); the video itself may be fine. Make it "
            f"readable: chmod a+r '{path}' (or run as its owner), or remove it.")


def raw_stream(path: Path, codec: str) -> VideoError:
    """The error for a raw video stream: frames without a container, so without timestamps or a frame rate."""
    return VideoError(f"{path}: a raw {codec} stream without a container, so its frame rate is unknown. Put it in "
                      f"an MP4 at the rate it was filmed: ffmpeg -r 30 -i '{path}' -c copy out.mp4")


def damaged(path: Path, reason: str) -> VideoError:
    """The error for a file FFmpeg cannot open or decode."""
    return VideoError(f"{path}: cannot be decoded as a video ({reason}). The file is damaged, truncated or not a "
                      "video: copy it again or remove it.")


def no_frames(path: Path) -> VideoError:
    """The error for a file in which no frame decodes."""
    return VideoError(f"{path}: contains no decodable frame (empty or truncated?). Copy it again or remove it.")


def check_file(path: Path) -> Path:
    """Raise VideoError for a path that does not exist, an empty or unreadable file or a name that is not a video's."""
    path = Path(path)
    if not path.is_file():
        raise VideoError(f"{path}: no such file. Check the path.")
    if path.stat().st_size == 0:
        raise VideoError(f"{path}: the file is empty (0 bytes). Copy it again or delete it.")
    if not os.access(path, os.R_OK):
        raise VideoError(unreadable(path))
    if path.suffix.lower() in RAW_SUFFIXES:
        raise raw_stream(path, path.suffix.lower().lstrip("."))
    if not is_video_name(path):
        raise VideoError(f"{path}: not a video file name ({path.suffix or 'no extension'}; videos end with "
                         f"{', '.join(sorted(VIDEO_SUFFIXES))}). If it is a video, convert it: ffmpeg -i '{path}' "
                         "out.mp4")
    return path


def frame_rate(stream: av.video.stream.VideoStream, path: Path) -> float:
    """Frames per second from ``stream``'s header; VideoError for 0 fps (its clips would have no frames)."""
    fps = float(stream.average_rate or stream.guessed_rate or 0)
    if not fps > 0:
        raise VideoError(f"{path}: its header gives 0 frames per second, so its clips have no length. Re-encode it "
                         f"at the rate it was filmed: ffmpeg -r 30 -i '{path}' out.mp4")
    return fps


def pick_stream(container: av.container.InputContainer, path: Path) -> av.video.stream.VideoStream:
    """The video stream a player shows, as FFmpeg picks it; VideoError for a picture, audio or a raw stream."""
    if container.format.name.endswith("_pipe") or container.format.name.startswith("image2"):
        raise VideoError(f"{path}: a picture, not a video ({container.format.name.removesuffix('_pipe')} image). "
                         "Remove it, or put the video itself in its place.")
    stream = container.streams.best("video")
    if stream is not None and stream.disposition & av.stream.Disposition.attached_pic:
        if not container.streams.audio:
            raise VideoError(f"{path}: a picture, not a video (a single {stream.codec_context.name} image). "
                             "Remove it, or put the video itself in its place.")
        stream = None  # the only picture is the cover of a song
    if stream is None:
        cover = " and a cover picture" if container.streams.video else ""
        raise VideoError(f"{path}: has no video stream (audio only{cover}). Remove it from the dataset.")
    if container.format.flags & av.format.Flags.no_timestamps.value:
        raise raw_stream(path, stream.codec_context.name)
    return stream


def _open(path: Path) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """(container, the stream ``pick_stream`` chooses); a VideoError naming the file if it does not open."""
    container = None
    try:
        container = av.open(str(path))
        return container, pick_stream(container, path)
    except (av.FFmpegError, UnicodeDecodeError, VideoError) as err:
        if container is not None:
            container.close()
        if isinstance(err, VideoError):
            raise
        raise damaged(path, f"{err.__class__.__name__}: {err}") from None


@contextmanager
def open_video(path: Path) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """Open ``path`` and yield (container, its video stream); a decoding error in the ``with`` block becomes a
    VideoError that names the file and the fix."""
    container, stream = _open(check_file(path))
    try:
        with container:
            yield container, stream
    except (av.FFmpegError, UnicodeDecodeError) as err:
        raise damaged(path, f"{err.__class__.__name__}: {err}") from None


# verdicts by (path, size, modification and change times): each file is decoded once per process (and before the
# loader workers fork), again when it or its permissions change
_VERDICTS: dict[tuple[str, int, int, int], dict | str] = {}


def _key(path: Path) -> tuple[str, int, int, int] | None:
    try:
        stat = Path(path).stat()
    except OSError:
        return None  # missing or unreadable: check_file says why, and nothing is remembered
    return str(path), stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def known(path: Path) -> bool:
    """True if ``verdict`` has this file, as it is now, already."""
    return _key(path) in _VERDICTS


def verdict(path: Path) -> dict | str:
    """``video_info`` of ``path``, or the message saying why it is not a usable video."""
    key = _key(path)
    if key not in _VERDICTS:
        try:
            found = _decode_info(check_file(path))
        except VideoError as err:
            found = str(err)
        if key is None:
            return found
        _VERDICTS[key] = found
    return _VERDICTS[key]


def video_info(path: Path) -> dict:
    """Frames, fps, upright width and height, seconds and rotation of ``path``, decoded; VideoError if it is not a
    usable video (the verdict every step shares)."""
    found = verdict(path)
    if isinstance(found, str):
        raise VideoError(found)
    return dict(found)


def _decode_info(path: Path) -> dict:
    frames, turns = 0, 0
    with open_video(path) as (container, stream):
        for frame in container.decode(stream):
            turns = quarter_turns(frame) if frames == 0 else turns
            frames += 1
        if frames == 0:
            raise no_frames(path)
        fps = frame_rate(stream, path)
        width, height = stream.codec_context.width, stream.codec_context.height
        announced = stream.frames or 0
    # a file cut short keeps its header: PyTorchVideo would ask it for clips past its real end and silently draw
    # another video
    if announced and frames < 0.9 * announced and announced - frames >= 2:
        raise VideoError(f"{path}: truncated: only {frames} of its {announced} frames decode. Copy it again or remove "
                         "it.")
    if turns % 2:
        width, height = height, width
    return {"frames": frames, "fps": fps, "width": width, "height": height, "rotation": 90 * turns,
            "seconds": frames / fps}


def read_frames(path: Path, indices: list[int] | None = None, short_side: int | None = None) -> np.ndarray:
    """Decode ``path`` to upright (T, H, W, 3) uint8 RGB, all frames or those at ``indices``, shrunk by swscale to
    ``short_side`` if larger; an index past the end (a header that over-reports) repeats the last frame."""
    wanted, last = (None, None) if indices is None else (set(indices), max(indices))
    frames = {}
    with open_video(path) as (container, stream):
        for i, frame in enumerate(container.decode(stream)):
            if wanted is None or i in wanted:
                frames[i] = to_rgb(frame, *shrunk_size(frame, short_side))
            if last is not None and i >= last:
                break
    if not frames:
        raise no_frames(path)
    return np.stack([frames.get(i, frames[max(frames)]) for i in (sorted(frames) if indices is None else indices)])


# --- the guide's PyTorchVideo datasets through this reader -------------------------------------------------------

class UprightClips:
    """One video with the interface of PyTorchVideo's ``EncodedVideo`` (``name``, ``duration``, ``get_clip``,
    ``close``): the same clips as PyTorchVideo's PyAV decoder, upright, at most ``MAX_FPS`` frames per second, frames
    larger than ``short_side`` shrunk in uint8 as they are decoded."""

    def __init__(self, path: str | Path, short_side: int | None = None):
        self.path, self.short_side = check_file(path), short_side
        self.name = self.path.name
        self._container, self._stream = _open(self.path)
        self._time_base, self._start = self._stream.time_base, self._stream.start_time or 0
        # PyTorchVideo takes the header's duration; without one (MPEG-PS, ASF), the decoded frames at their rate
        # (video_info's verdict is cached: the scan decoded the file before the loader forked)
        if self._stream.duration:
            self.duration = float(self._stream.duration * self._stream.time_base)
        else:
            info = video_info(self.path)
            self.duration = info["frames"] / info["fps"]

    def _pts(self, seconds: float) -> float:
        # PyTorchVideo's secs_to_pts(..., round_mode="ceil")
        return math.inf if seconds == math.inf else math.ceil(seconds / self._time_base) + self._start

    def get_clip(self, start_sec: float, end_sec: float) -> dict:
        """Upright frames in ``[start_sec, end_sec)`` as float32 (C, T, H, W); ``{"video": None}`` if none decode."""
        import torch

        start, end = self._pts(start_sec), self._pts(end_sec)
        try:
            frames = self._decode(start, end, seek=True)
            if frames is None:  # the seek missed (MPEG-TS, MPEG-PS): read from the start instead
                self.close()
                self._container, self._stream = _open(self.path)
                frames = self._decode(start, end, seek=False)
            video = [torch.from_numpy(frames[pts]) for pts in sorted(frames)]
        except (av.FFmpegError, UnicodeDecodeError, VideoError):
            video = []  # PyTorchVideo's decoder gives no clip for a file that fails mid-way; the dataset skips it
        if not video:
            return {"video": None, "audio": None}
        return {"video": torch.stack(video).permute(3, 0, 1, 2).to(torch.float32), "audio": None}

    def _decode(self, start: float, end: float, seek: bool) -> dict[int, np.ndarray] | None:
        """{pts: upright RGB frame} of the frames with ``start <= pts < end``, at most one per 1/``MAX_FPS`` s; None if
        the seek missed them (it found no frame, or only frames after ``start``)."""
        if seek:  # a little before the start, as PyTorchVideo does (seeking is imprecise)
            self._container.seek(int(max(start - 1024, 0)), any_frame=False, backward=True, stream=self._stream)
        frames, first, ticks = {}, None, set()
        for frame in self._container.decode(self._stream):
            first = frame.pts if first is None else first
            if seek and first is not None and first > max(start, self._start):
                return None
            if frame.pts is None or frame.pts >= end:
                break
            # exact (Fraction) times: frames of a 30-fps file or slower always fall on distinct ticks
            tick = round((frame.pts - self._start) * self._time_base * MAX_FPS)
            if frame.pts >= start and tick not in ticks:  # converted (and shrunk) right away: no full frame is kept
                ticks.add(tick)
                frames[frame.pts] = to_rgb(frame, *shrunk_size(frame, self.short_side))
        return None if seek and first is None else frames

    def close(self) -> None:
        """Close the file."""
        if self._container is not None:
            self._container.close()
            self._container = None


class UprightVideos:
    """A ``video_path_handler`` for PyTorchVideo's ``LabeledVideoDataset`` that reads with ``UprightClips``."""

    def __init__(self, short_side: int | None = None):
        self.short_side = short_side

    def video_from_path(self, filepath: str, decode_audio: bool = False, decoder: str = "pyav",
                        fps: int = 30) -> UprightClips:
        return UprightClips(filepath, self.short_side)
