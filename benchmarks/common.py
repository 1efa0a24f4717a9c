"""What the benchmarks share: UCF-shaped test files, the machine and versions, peak and current memory."""

from __future__ import annotations

import multiprocessing
import os
import platform
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

# VideoMAE-base as the guide trains it: 16 frames, 224x224, one clip spans 16 frames at sample rate 4 of 30 fps
NUM_FRAMES, SIZE = 16, 224
CLIP_DURATION = NUM_FRAMES * 4 / 30
# VideoMAE's image processor: ImageNet's mean and std
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def run_in_child(target: Callable, args: tuple, timeout: float, what: str, **kwargs) -> dict:
    """Run ``target(*args, results=queue, **kwargs)`` in a fresh (spawned) process and return the dict it puts on the
    queue; raise naming ``what`` if it failed or gave nothing within ``timeout`` seconds (hung)."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=target, args=args, kwargs={**kwargs, "results": results})
    process.start()
    try:
        result = results.get(timeout=timeout)
    except Exception:
        process.kill()
        raise RuntimeError(f"{what} gave no result within {timeout} s (hung?)") from None
    process.join()
    if "error" in result:
        raise RuntimeError(f"{what} failed: {result['error']}")
    return result


# The benchmark's files, as UCF-101's: 320x240 MPEG-4 part 2 in AVI at 25 fps and several hundred kbit/s. Drawn
# here, not by helpers.synthetic, so that a change to the tutorial's videos leaves the benchmark's inputs as they were.
WIDTH, HEIGHT, FPS = 320, 240, 25
BIT_RATE = 600_000  # the encoder's target; UCF-101's XviD clips carry several hundred kbit/s
GRAIN = 3.0  # sensor noise, standard deviation in grey levels: new in every frame, as a camera's, so it costs bits


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Value noise: random values on a grid ``cell`` pixels apart, smoothly interpolated (H, W float32)."""
    grid = rng.standard_normal((height // cell + 2, width // cell + 2), dtype=np.float32)
    y, x = np.arange(height, dtype=np.float32) / cell, np.arange(width, dtype=np.float32) / cell
    y0, x0 = y.astype(int), x.astype(int)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    fy, fx = fy * fy * (3 - 2 * fy), fx * fx * (3 - 2 * fx)
    top = grid[y0][:, x0] * (1 - fx) + grid[y0][:, x0 + 1] * fx
    bottom = grid[y0 + 1][:, x0] * (1 - fx) + grid[y0 + 1][:, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A coloured natural-looking texture: noise from blotches to fine detail, a random hue (H, W, 3 float32)."""
    noise = sum(_smooth_noise(rng, height, width, cell) * amp for cell, amp in ((48, 1.0), (16, 0.5), (6, 0.3),
                                                                                  (2, 0.15)))
    noise /= noise.std()
    base, tint = rng.uniform(40, 200, 3).astype(np.float32), rng.uniform(15, 35, 3).astype(np.float32)
    return np.clip(base + noise[..., None] * tint, 3 * GRAIN, 255 - 3 * GRAIN)  # room for the grain


def _scene(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """The background: a texture with a few textured rectangles on it, whose hard edges show the camera's motion."""
    image = _texture(rng, height, width)
    for _ in range(rng.integers(2, 6)):
        h, w = rng.integers(20, height // 2), rng.integers(20, width // 3)
        top, left = rng.integers(0, height - h), rng.integers(0, width - w)
        image[top:top + h, left:left + w] = _texture(rng, h, w)
    return image


def _ellipse(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A moving object: an upright textured ellipse with a soft outline; its texture times its mask (h, w, 3) and
    one minus the mask (h, w, 1), what the blending needs."""
    half_h, half_w = int(rng.uniform(35, 80)), int(rng.uniform(20, 50))
    y, x = np.mgrid[-half_h:half_h, -half_w:half_w].astype(np.float32)
    mask = np.clip((1 - np.sqrt((y / half_h) ** 2 + (x / half_w) ** 2)) * 8, 0, 1)[..., None]
    return _texture(rng, 2 * half_h, 2 * half_w) * mask, 1 - mask


def _bounce(position: float, low: float, high: float) -> float:
    """``position`` folded into [low, high], as an object that bounces off the frame's edges."""
    span = high - low
    return low + abs((position - low) % (2 * span) - span) if span > 0 else (low + high) / 2


def draw_video(index: int, seconds: float = 7.0) -> np.ndarray:
    """Video ``index`` of the benchmark (T, 240, 320, 3 uint8): a textured scene that the camera pans over, slowly
    and smoothly (sub-pixel steps), one or two textured objects that move across it, and sensor grain; the same
    frames for the same index."""
    rng = np.random.default_rng(index)
    num_frames = int(round(seconds * FPS))
    t = np.arange(num_frames, dtype=np.float32) / FPS
    reach_x, reach_y = rng.uniform(30, 80), rng.uniform(10, 30)  # how far the camera pans from the middle
    scene = _scene(rng, HEIGHT + 2 * int(reach_y) + 2, WIDTH + 2 * int(reach_x) + 2)
    pan_x = reach_x * (1 + np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 2 * np.pi)))
    pan_y = reach_y * (1 + np.sin(2 * np.pi * rng.uniform(0.05, 0.2) * t + rng.uniform(0, 2 * np.pi)))
    objects = []
    for _ in range(rng.integers(1, 3)):
        painted, behind = _ellipse(rng)
        start, velocity = rng.uniform(0, [HEIGHT, WIDTH]), rng.uniform(-60, 60, 2)  # pixels per second
        objects.append((painted, behind, start, velocity, rng.uniform(0, 2 * np.pi)))
    # grain: random windows of one large noise field, much cheaper than new noise for every frame
    grain = np.clip(rng.normal(0, GRAIN, (HEIGHT + 64, WIDTH + 64, 1)), -3 * GRAIN, 3 * GRAIN).astype(np.float32)
    shifts = rng.integers(0, 64, (num_frames, 2))
    video = np.empty((num_frames, HEIGHT, WIDTH, 3), np.uint8)
    for i in range(num_frames):
        x0, y0 = int(pan_x[i]), int(pan_y[i])
        fx, fy = np.float32(pan_x[i] - x0), np.float32(pan_y[i] - y0)
        window = scene[y0:y0 + HEIGHT + 1, x0:x0 + WIDTH + 1]
        window = window[:-1] * (1 - fy) + window[1:] * fy
        frame = window[:, :-1] * (1 - fx) + window[:, 1:] * fx
        for painted, behind, start, velocity, phase in objects:
            half_h, half_w = behind.shape[0] // 2, behind.shape[1] // 2
            cy, cx = start + velocity * t[i]
            cy = _bounce(cy, half_h, HEIGHT - half_h) + 4 * np.sin(4 * np.pi * t[i] + phase)  # a walker's bob
            cx = _bounce(cx, half_w, WIDTH - half_w)
            top, left = int(cy) - half_h, int(cx) - half_w
            rows = slice(max(top, 0), min(top + 2 * half_h, HEIGHT))
            cols = slice(max(left, 0), min(left + 2 * half_w, WIDTH))
            inside = slice(rows.start - top, rows.stop - top), slice(cols.start - left, cols.stop - left)
            frame[rows, cols] *= behind[inside]
            frame[rows, cols] += painted[inside]
        dy, dx = shifts[i]
        frame += grain[dy:dy + HEIGHT, dx:dx + WIDTH]
        video[i] = frame  # within 0-255 by construction: textures keep 3 grain deviations from either end
    return video


def write_file(path: Path, index: int, seconds: float = 7.0) -> Path:
    """Draw video ``index`` and encode it to ``path`` as MPEG-4 part 2 AVI at ``BIT_RATE``.

    Unlike helpers.video.write_video, which forces a near-lossless quantiser, the encoder's rate control picks the
    quantiser, as XviD's does for UCF-101: the file carries what a real one carries, and decoding costs as much."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.bit_rate = BIT_RATE
        for frame in draw_video(index, seconds):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode())
    return path


PROJECT = Path(__file__).resolve().parents[1]
_DRAW = ("import sys; from pathlib import Path; from benchmarks.common import write_file; "
         "[write_file(Path(p), int(i), float(sys.argv[1])) for i, p in zip(sys.argv[2::2], sys.argv[3::2])]")


def make_files(root: Path, count: int, seconds: float = 7.0, classes: int = 4) -> tuple[list[Path], list[int]]:
    """``count`` UCF-shaped files (320x240 MPEG-4 AVI, 25 fps, ``BIT_RATE``) in ``root/<Class>/``, file ``i`` the
    same whenever drawn; returns paths and labels. Drawn on all cores."""
    names = [f"Class{c}" for c in range(classes)]
    labels = [i % classes for i in range(count)]
    paths = [Path(root) / names[label] / f"v_{names[label]}_g{i:02d}_c01.avi" for i, label in enumerate(labels)]
    workers = min(count, os.cpu_count() or 1)
    if workers <= 1:
        for i, path in enumerate(paths):
            write_file(path, i, seconds)
        return paths, labels
    # plain child interpreters that import this module only: a multiprocessing child would import the caller's
    # main module too (torch, transformers: seconds each)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))}
    children = [subprocess.Popen([sys.executable, "-c", _DRAW, str(seconds),
                                  *[str(x) for i in range(w, count, workers) for x in (i, paths[i])]], env=env)
                for w in range(workers)]
    if any([child.wait() for child in children]):
        raise RuntimeError(f"drawing the benchmark's files into {root} failed (see the error above)")
    return paths, labels


def file_facts(path: Path) -> dict:
    """What ``path`` holds, as read from it: frame size, codec, fourcc, fps, frames, seconds, video bit rate (its
    packets' bytes over its duration), keyframe interval and file size."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        sizes, keyframes = [], 0
        for packet in container.demux(stream):
            if packet.size:
                sizes.append(packet.size)
                keyframes += packet.is_keyframe
        fps = float(stream.average_rate or stream.guessed_rate or 0)
        context = stream.codec_context
        facts = {"width": context.width, "height": context.height, "codec": context.name,
                 "fourcc": stream.codec_tag, "pix_fmt": context.pix_fmt, "fps": fps, "frames": len(sizes)}
    seconds = len(sizes) / fps if fps else 0.0
    return {**facts, "seconds": seconds, "kbit_s": 8 * sum(sizes) / seconds / 1000 if seconds else 0.0,
            "keyframe_every": len(sizes) / max(keyframes, 1), "bytes": Path(path).stat().st_size}


def describe_file(path: Path) -> str:
    """One line on ``path`` as read from it (not as intended): size, codec, fps, duration, bit rate."""
    f = file_facts(path)
    return (f"{f['width']}x{f['height']} {f['codec']} ({f['fourcc']}, {f['pix_fmt']}) in {Path(path).suffix[1:]}, "
            f"{f['fps']:g} fps, {f['seconds']:.2f} s ({f['frames']} frames), {f['kbit_s']:.0f} kbit/s video, "
            f"one keyframe per {f['keyframe_every']:.0f} frames, {f['bytes'] / 1e6:.2f} MB ({Path(path).name})")


def versions() -> str:
    """torch, torchvision, pytorchvideo and av versions, one line."""
    import av
    import pytorchvideo
    import torch
    import torchvision

    return (f"python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
            f"pytorchvideo {pytorchvideo.__version__}, av {av.__version__}")


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_line() -> str:
    """The machine in words: CPU cores and model, and GPU, if any."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} CPU cores ({cpu_model()}), {gpu}"


def _status_mb(field: str, pid: int | None) -> float | None:
    """A memory field of /proc/<pid>/status (``VmHWM``, ``VmRSS``) in MiB; None where it cannot be read."""
    try:
        for line in Path(f"/proc/{pid or 'self'}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def peak_mb(pid: int | None = None) -> float:
    """Peak resident memory (VmHWM) of a process in MiB; this process by default."""
    mb = _status_mb("VmHWM", pid)
    if mb is not None:
        return mb
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return float("nan")


def rss_mb(pid: int | None = None) -> float:
    """Current resident memory (VmRSS, not the peak) of a process in MiB; this process by default, NaN if unknown."""
    mb = _status_mb("VmRSS", pid)
    return float("nan") if mb is None else mb


def child_pids() -> list[int]:
    """This process's children (the loader workers), sorted by pid."""
    try:
        import psutil

        pids = [child.pid for child in psutil.Process().children(recursive=True)]
    except ImportError:
        pids = [int(p) for p in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split()]
    return sorted(pids)


def worker_peaks_mb() -> list[float]:
    """Peak resident memory of this process's children (the loader workers), in MiB."""
    return [peak_mb(pid) for pid in child_pids()]


def worker_rss_mb() -> dict[int, float]:
    """Current resident memory of this process's children (the loader workers), in MiB, by pid."""
    return {pid: rss_mb(pid) for pid in child_pids()}
