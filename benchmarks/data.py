"""Clips per second of the guide's input pipeline and of helpers.fast, on the same UCF-shaped files.

Run ``python -m benchmarks.data`` (``--help`` for the knobs). Each pipeline runs in a fresh child process, so the
peak memory figures are its own; warm-up batches (worker start, first files) are not timed. Both produce the
same training ``pixel_values``: (8, 16, 3, 224, 224) float32, VideoMAE-base's shape.

Memory: besides the peaks, the current resident memory (VmRSS) of the main process and of each loader worker is
read right after the warm-up, about 20 times during the timed clips and after them; the first and last readings,
the growth between them and the range of all are printed. A long run, e.g. ``--only fast --clips 2000``, shows
whether the loader's memory grows.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import torch

from benchmarks.common import (
    MEAN,
    NUM_FRAMES,
    SIZE,
    STD,
    describe_file,
    device_line,
    make_files,
    peak_mb,
    rss_mb,
    run_in_child,
    versions,
    worker_peaks_mb,
    worker_rss_mb,
)

# a forever-repeating random order, so that the timed run never ends an epoch
ENDLESS = 10**7
# seconds a loader may wait for one batch before the run is called hung
BATCH_TIMEOUT = 300
# current-memory readings taken during the timed run, besides the ones after the warm-up and at the end
RSS_READINGS = 20


def guide_loader(root: Path, batch_size: int, workers: int, num_frames: int = NUM_FRAMES, size: int = SIZE):
    """The guide's training data as written: PyTorchVideo ``Ucf101``, its transforms, ``collate_fn``."""
    from pytorchvideo.data import Ucf101, make_clip_sampler

    from helpers.train import collate_fn
    from helpers.transforms import build_transforms

    processor = SimpleNamespace(image_mean=MEAN, image_std=STD, size={"shortest_edge": size})
    train_transform, _ = build_transforms(processor, num_frames, hflip=0.5)
    dataset = Ucf101(
        data_path=str(root), clip_sampler=make_clip_sampler("random", num_frames * 4 / 30),
        video_sampler=partial(torch.utils.data.RandomSampler, replacement=True, num_samples=ENDLESS),
        decode_audio=False, transform=train_transform,
    )
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, num_workers=workers, collate_fn=collate_fn,
                                         timeout=BATCH_TIMEOUT if workers else 0)
    return loader, lambda batch: batch["pixel_values"]


def fast_loader(root: Path, batch_size: int, workers: int, num_frames: int = NUM_FRAMES, size: int = SIZE):
    """helpers.fast: uint8 clips from the workers, the guide's transforms once per batch on the device."""
    from helpers.fast import FastVideoDataset, VideoBatchTransform, collate_uint8
    from helpers.transforms import scale_range

    paths = sorted(Path(root).glob("*/*.avi"))
    classes = sorted({p.parent.name for p in paths})
    labels = [classes.index(p.parent.name) for p in paths]
    # short_side: the largest short side the augmentation scales to (320 for 224: no shrinking of 240p files)
    dataset = FastVideoDataset(paths, labels, num_frames, num_frames * 4 / 30, train=True,
                               short_side=scale_range(size)[1])
    sampler = torch.utils.data.RandomSampler(dataset, replacement=True, num_samples=ENDLESS)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
                                         collate_fn=collate_uint8, timeout=BATCH_TIMEOUT if workers else 0,
                                         pin_memory=device == "cuda")
    transform = VideoBatchTransform(MEAN, STD, size, hflip=0.5).to(device)
    return loader, lambda batch: transform(batch["pixel_values"].to(device, non_blocking=True), train=True)


PIPELINES = {"guide": guide_loader, "fast": fast_loader}


def measure(name: str, root: Path, batch_size: int, workers: int, clips: int, warmup: int, results,
            start_method: str, threads: int) -> None:
    """Time one pipeline (in a child process) and put its figures on the ``results`` queue."""
    try:
        if threads:
            torch.set_num_threads(threads)
        # a spawned child would spawn its loader workers too; start them as a plain script would (fork on Linux)
        multiprocessing.set_start_method(start_method, force=True)
        loader, finish = PIPELINES[name](root, batch_size, workers)
        batches = iter(loader)
        pixel_values = None
        for _ in range(warmup):
            pixel_values = finish(next(batches))
        # current (not peak) resident memory after the warm-up, at about RSS_READINGS points of the timed run (under
        # a millisecond each) and at its end; each reading holds one finished batch
        readings = [(rss_mb(), worker_rss_mb())]
        steps = -(-clips // batch_size)
        every = max(1, steps // RSS_READINGS)
        start = time.perf_counter()
        for step in range(1, steps + 1):
            pixel_values = finish(next(batches))
            if step % every == 0 and step < steps:
                readings.append((rss_mb(), worker_rss_mb()))
        if pixel_values.is_cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        readings.append((rss_mb(), worker_rss_mb()))
        workers_mb = worker_peaks_mb()
        del batches  # stops the workers
        # each process's readings in order: the main process first, then each worker by pid (NaN once it was gone)
        pids = list(readings[0][1])
        rss = [[main for main, _ in readings]] + [[w.get(pid, float("nan")) for _, w in readings] for pid in pids]
        results.put({"name": name, "clips_per_s": steps * batch_size / seconds, "shape": tuple(pixel_values.shape),
                     "dtype": str(pixel_values.dtype), "main_mb": peak_mb(), "workers_mb": workers_mb,
                     "clips": steps * batch_size, "rss": rss})
    except BaseException as err:  # the parent reports it and exits non-zero
        results.put({"name": name, "error": f"{err.__class__.__name__}: {err}"})


def run_child(name: str, args, root: Path) -> dict:
    """Run ``measure`` in a fresh process and return its figures; raise if it failed or hung."""
    return run_in_child(measure, (name, root, args.batch, args.workers, args.clips, args.warmup), args.timeout,
                        f"the {name} pipeline", start_method=multiprocessing.get_start_method(),
                        threads=args.threads)


def memory_line(name: str, r: dict) -> str:
    """Current RSS of each worker and of the main process after the warm-up and at the end, the growth, the range."""
    def mib(values, fmt=".0f"):
        return ", ".join(f"{v:{fmt}}" for v in values) or "none"

    def ranges(rows):
        return ", ".join(f"{min(row):.0f}-{max(row):.0f}" for row in rows) or "none"

    main, workers = r["rss"][0], r["rss"][1:]
    return (f"{name:5s}: worker RSS after warm-up {mib(w[0] for w in workers)} MiB; after {r['clips']} clips "
            f"{mib(w[-1] for w in workers)} MiB (growth {mib((w[-1] - w[0] for w in workers), '+.0f')} MiB); "
            f"main RSS {main[0]:.0f} -> {main[-1]:.0f} MiB ({main[-1] - main[0]:+.0f}); "
            f"range over {len(main)} readings: workers {ranges(workers)} MiB, main {ranges([main])} MiB")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=32, help="UCF-shaped files to generate (default 32)")
    parser.add_argument("--seconds", type=float, default=7.0, help="length of each file (default 7)")
    parser.add_argument("--clips", type=int, default=160,
                        help="clips to time per pipeline (default 160); a long run, e.g. --clips 2000 --only fast, "
                        "shows whether the workers' resident memory grows")
    parser.add_argument("--batch", type=int, default=8, help="batch size (default 8, the guide's)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="loader workers (default: CPUs)")
    parser.add_argument("--warmup", type=int, default=None, help="untimed batches first (default 2 per worker, >= 2)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a pipeline counts as hung")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of the main process (default 1: the loader workers use the cores; "
                        "0 leaves torch's default)")
    parser.add_argument("--only", choices=list(PIPELINES), help="run one pipeline only")
    args = parser.parse_args(argv)
    args.warmup = max(2, 2 * args.workers) if args.warmup is None else args.warmup
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device: {device_line()}")
    if device == "cpu":
        print("no GPU: the fast pipeline's batched transform (VideoBatchTransform) runs on the CPU, in the main "
              "process, sharing the cores with the loader workers")
    print(f"versions: {versions()}")
    with tempfile.TemporaryDirectory(prefix="bench-data-") as tmp:
        start = time.perf_counter()
        paths, _ = make_files(Path(tmp), args.files, args.seconds)
        print(f"files: {args.files} UCF-shaped videos, drawn and written in {time.perf_counter() - start:.1f} s; "
              f"the first, as read back: {describe_file(paths[0])}")
        print(f"setup: batch {args.batch}, {args.workers} loader workers, {args.clips} clips timed after "
              f"{args.warmup} warm-up batches; main process torch threads {args.threads or torch.get_num_threads()}; "
              f"train transforms, {NUM_FRAMES} frames at {SIZE}x{SIZE}")
        results = {}
        for name in [args.only] if args.only else list(PIPELINES):
            r = results[name] = run_child(name, args, Path(tmp))
            workers = ", ".join(f"{mb:.0f}" for mb in r["workers_mb"]) or "none"
            print(f"{name:5s}: {r['clips_per_s']:6.1f} clips/s, {r['clips_per_s'] / (os.cpu_count() or 1):5.1f} "
                  f"per core; pixel_values {r['shape']} {r['dtype']}; peak RSS main {r['main_mb']:.0f} MiB, "
                  f"workers {workers} MiB")
            print(memory_line(name, r))
            sys.stdout.flush()
    if len(results) == 2:
        print(f"fast / guide: {results['fast']['clips_per_s'] / results['guide']['clips_per_s']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
