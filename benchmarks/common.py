"""What the benchmarks share: UCF-shaped test files, the machine and versions, peak and current memory."""

from __future__ import annotations

import multiprocessing
import os
import platform
import resource
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


def make_files(root: Path, count: int, seconds: float = 7.0, classes: int = 4) -> tuple[list[Path], list[int]]:
    """``count`` UCF-shaped files (320x240 MPEG-4 AVI, 25 fps) in ``root/<Class>/``; returns paths and labels."""
    from helpers.synthetic import FPS, class_names, make_clip
    from helpers.video import write_video

    names = class_names((classes + 1) // 2)[:classes]
    paths, labels = [], []
    for i in range(count):
        label = i % len(names)
        path = Path(root) / names[label] / f"v_{names[label]}_g{i:02d}_c01.avi"
        write_video(path, make_clip(names[label], int(seconds * FPS), np.random.default_rng(i)), fps=FPS)
        paths.append(path)
        labels.append(label)
    return paths, labels


def versions() -> str:
    """torch, torchvision, pytorchvideo and av versions, one line."""
    import av
    import pytorchvideo
    import torch
    import torchvision

    return (f"python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
            f"pytorchvideo {pytorchvideo.__version__}, av {av.__version__}")


def device_line() -> str:
    """The machine in words: CPU cores and GPU, if any."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), {gpu}"


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
