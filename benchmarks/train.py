"""End-to-end training clips per second: VideoMAE-base fed by the guide's pipeline, by helpers.fast, and by
random tensors already on the device (the ceiling the input pipeline can reach).

Run ``python -m benchmarks.train`` on a machine with a GPU (``--help`` for the knobs): random weights of
``VideoMAEConfig()`` (ViT-B, 16 frames at 224x224), AdamW (fused) and bf16 autocast, batch 8 and 32. Without CUDA
the figures would mean nothing; it says so and runs a tiny CPU version (``--small --steps 2``) so the code runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import VideoMAEConfig, VideoMAEForVideoClassification

from benchmarks.common import describe_file, device_line, make_files, peak_mb, versions
from benchmarks.data import fast_loader, guide_loader

NUM_LABELS = 4


def build_model(small: bool, device: str) -> VideoMAEForVideoClassification:
    """VideoMAE-base with random weights, or a tiny VideoMAE (32x32, 4 frames) for the CPU sanity run."""
    config = VideoMAEConfig(num_labels=NUM_LABELS) if not small else VideoMAEConfig(
        image_size=32, num_frames=4, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=64, num_labels=NUM_LABELS)
    return VideoMAEForVideoClassification(config).to(device).train()


def synthetic_batches(batch_size: int, config: VideoMAEConfig, device: str):
    """The same device-resident random batch forever: the training step alone, no input pipeline."""
    pixel_values = torch.randn(batch_size, config.num_frames, 3, config.image_size, config.image_size, device=device)
    labels = torch.randint(0, NUM_LABELS, (batch_size,), device=device)
    while True:
        yield pixel_values, labels


def loader_batches(make_loader, root: Path, batch_size: int, workers: int, config: VideoMAEConfig, device: str):
    """Batches of a benchmarks.data pipeline, moved to the device (and transformed there, for the fast one)."""
    loader, finish = make_loader(root, batch_size, workers, config.num_frames, config.image_size)
    for batch in loader:
        yield finish(batch).to(device, non_blocking=True), batch["labels"].to(device, non_blocking=True)


def time_steps(model, optimizer, batches, steps: int, warmup: int, device: str) -> float:
    """Clips per second of ``steps`` training steps after ``warmup`` untimed ones."""
    cuda = device == "cuda"

    def step():
        pixel_values, labels = next(batches)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=cuda):
            loss = model(pixel_values=pixel_values, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return len(labels)

    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    start, clips = time.perf_counter(), 0
    for _ in range(steps):
        clips += step()
    if cuda:
        torch.cuda.synchronize()
    return clips / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=64, help="UCF-shaped 7 s files to generate (default 64)")
    parser.add_argument("--steps", type=int, default=30, help="timed steps per run (default 30)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first (default 5)")
    parser.add_argument("--batches", default="8,32", help="batch sizes, comma-separated (default 8,32)")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1),
                        help="loader workers (default: CPUs, at most 8)")
    parser.add_argument("--small", action="store_true", help="a tiny VideoMAE at 32x32, 4 frames (sanity run)")
    args = parser.parse_args(argv)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"device: {device_line()}")
    print(f"versions: {versions()}")
    if device == "cpu":
        print("no CUDA: training figures on a CPU say nothing about the GPU run; this is the tiny CPU sanity "
              "version (--small --steps 2). Measure on a GPU: python -m benchmarks.train")
        args.small, args.steps, args.warmup, args.files = True, min(args.steps, 2), min(args.warmup, 1), 4
    torch.manual_seed(0)
    model = build_model(args.small, device)
    config = model.config
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device == "cuda")
    print(f"model: VideoMAE {config.num_hidden_layers} layers x {config.hidden_size}, {config.num_frames} frames at "
          f"{config.image_size}x{config.image_size}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M "
          f"parameters; AdamW fused={device == 'cuda'}, bf16 autocast={device == 'cuda'}; "
          f"{args.workers} loader workers; {args.steps} timed steps after {args.warmup}")
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        start = time.perf_counter()
        paths, _ = make_files(Path(tmp), args.files)
        print(f"files: {args.files} UCF-shaped videos, drawn and written in {time.perf_counter() - start:.1f} s; "
              f"the first, as read back: {describe_file(paths[0])}")
        for batch_size in [int(b) for b in args.batches.split(",")]:
            runs = {"device tensors": synthetic_batches(batch_size, config, device),
                    "fast pipeline": loader_batches(fast_loader, Path(tmp), batch_size, args.workers, config, device)}
            if batch_size == 8:  # the guide's batch size
                runs["guide pipeline"] = loader_batches(guide_loader, Path(tmp), batch_size, args.workers, config,
                                                        device)
            for name, batches in runs.items():
                rate = results[name, batch_size] = time_steps(model, optimizer, batches, args.steps, args.warmup,
                                                              device)
                batches.close()  # stops the loader's workers
                print(f"batch {batch_size:3d}, {name:15s}: {rate:7.1f} clips/s")
                sys.stdout.flush()
    gpu = f", GPU peak allocated {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB" if device == "cuda" else ""
    print(f"peak RSS main {peak_mb():.0f} MiB{gpu}")
    for batch_size in sorted({b for _, b in results}):
        ceiling = results["device tensors", batch_size]
        print(f"batch {batch_size}: fast pipeline reaches {results['fast pipeline', batch_size] / ceiling:.0%} of "
              f"the device-tensor rate" + (f", the guide's {results['guide pipeline', batch_size] / ceiling:.0%}"
                                           if ("guide pipeline", batch_size) in results else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
