"""Peak memory of every step that decodes videos, on large (4K) input or at a high frame rate: the two training
pipelines, the per-video evaluation and ``helpers.predict``.

Run ``python -m benchmarks.memory`` (``--help`` for the knobs). It writes a small dataset of 3840x2160 H.264 files
(train/val/test, two classes), then runs each step in a fresh child process with no loader workers, so that the
decoding happens in that process and its peak resident memory (VmHWM) is the step's own: the guide's datasets
(``helpers.train.make_datasets``: PyTorchVideo's ``LabeledVideoDataset``, the guide's transforms, ``collate_fn``)
and the fast ones (``make_fast_datasets``, ``collate_uint8``, ``VideoBatchTransform``) give ``--clips`` training
clips at VideoMAE-base's 16 x 224 x 224; ``evaluate_videos`` (the full preset's clips x crops) and
``predict_files`` read the test videos with a tiny model of the same input size. Each line also gives the
resident memory before the step started reading, so that the growth is the step's.

``python -m benchmarks.memory --case fps`` measures the same steps on two datasets of 160x120 files of the same
length (``--seconds``, default 1.2), one at 25 fps and one at 10,000 fps (``--fps``), and prints each step's peak
for both and their ratio: what a frame rate far above the 30 fps the clips are sampled at costs.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
import warnings
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmarks.common import device_line, peak_mb, rss_mb, run_in_child, versions

STEPS = ("guide", "fast", "evaluation", "predict")


def make_large_files(root: Path, width: int, height: int, seconds: float, fps: int = 25) -> None:
    """One H.264 file of moving bars per class and split, in the tutorial's layout (``split/Class/v_...mp4``)."""
    import av

    frames = int(seconds * fps)
    x = np.arange(width, dtype=np.int32)
    for index, (split, label) in enumerate((s, c) for s in ("train", "val", "test") for c in ("A", "B")):
        path = root / split / label / f"v_{label}_g{index + 1:02d}_c01.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(path), "w") as container:
            stream = container.add_stream("libx264", rate=fps, options={"preset": "ultrafast"})
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.time_base = Fraction(1, fps)
            for t in range(frames):
                row = ((x + 40 * t * (1 if label == "A" else -1)) // 64 % 2 * 200 + 30).astype(np.uint8)
                image = np.broadcast_to(row[None, :, None], (height, width, 3))
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)


def tiny_model_folder(folder: Path) -> Path:
    """A VideoMAE with one narrow layer and VideoMAE-base's input (16 frames, 224 x 224), saved with its processor:
    the model's own memory stays small, the frames' is what is measured."""
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification, VideoMAEImageProcessor

    config = VideoMAEConfig(image_size=224, patch_size=16, num_frames=16, hidden_size=32, num_hidden_layers=1,
                            num_attention_heads=2, intermediate_size=64, num_labels=2,
                            label2id={"A": 0, "B": 1}, id2label={0: "A", 1: "B"})
    VideoMAEForVideoClassification(config).save_pretrained(folder)
    VideoMAEImageProcessor().save_pretrained(folder)
    return folder


def measure(step: str, root: Path, model_dir: Path, clips: int, results) -> None:
    """Run one step (in a child process) and put its figures on the ``results`` queue."""
    try:
        warnings.simplefilter("ignore")
        from transformers import VideoMAEImageProcessor

        from helpers.config import get_preset
        from helpers.data import class_names, label_maps, labelled_videos

        preset = dataclasses.replace(get_preset("full"), num_workers=0)
        processor = VideoMAEImageProcessor.from_pretrained(model_dir)
        label2id, _ = label_maps(class_names(root))
        test_paths, test_labels = labelled_videos(root, "test", label2id)  # the scan, before the figure
        labelled_videos(root, "train", label2id)
        before = rss_mb()
        start = time.perf_counter()
        if step == "guide":
            from helpers.train import collate_fn, make_datasets

            dataset, items = make_datasets(preset, root, processor)["train"], []
            while len(items) < clips:  # an iterable dataset of a few videos: read it again until it gave enough
                items += list(dataset)
            shape = tuple(collate_fn(items[:clips])["pixel_values"].shape)
        elif step == "fast":
            from helpers.fast import VideoBatchTransform, collate_uint8
            from helpers.train import make_fast_datasets

            dataset = make_fast_datasets(preset, root, processor)["train"]
            batch = collate_uint8([dataset[i % len(dataset)] for i in range(clips)])
            transform = VideoBatchTransform.from_processor(processor, hflip=preset.hflip)
            shape = tuple(transform(batch["pixel_values"], train=True).shape)
        elif step == "evaluation":
            from helpers.evaluation import evaluate_videos
            from helpers.predict import load_classifier

            model, _ = load_classifier(model_dir)
            result = evaluate_videos(model, processor, test_paths, test_labels, preset)
            shape = f"{result['num_videos']} videos x {result['num_clips']} clips x {result['num_crops']} crops"
        else:
            from helpers.predict import predict_files

            results_, failures = predict_files(test_paths, model_dir, progress=False)
            shape = f"{len(results_)} videos classified, {len(failures)} failed"
        results.put({"step": step, "before_mb": before, "peak_mb": peak_mb(), "shape": shape,
                     "seconds": time.perf_counter() - start})
    except BaseException as err:  # the parent reports it and exits non-zero
        results.put({"step": step, "error": f"{err.__class__.__name__}: {err}"})


def run_steps(steps: list[str], root: Path, model_dir: Path, clips: int, timeout: float, label: str = ""
              ) -> dict[str, dict]:
    """Measure each step in its own child process, print one line per step, return the figures by step."""
    results = {}
    for step in steps:
        r = results[step] = run_in_child(measure, (step, root, model_dir, clips), timeout, f"{step} {label}".strip())
        print(f"{step:10s}{label}: peak RSS {r['peak_mb'] / 1024:5.2f} GiB (before reading "
              f"{r['before_mb'] / 1024:.2f} GiB, growth {(r['peak_mb'] - r['before_mb']) / 1024:+.2f}); "
              f"{r['shape']}; {r['seconds']:.1f} s")
        sys.stdout.flush()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=("large", "fps"), default="large",
                        help="large: 4K frames (the default); fps: 25 against --fps frames per second at 160x120")
    parser.add_argument("--size", help="frame size WIDTHxHEIGHT (default 3840x2160, 4K; 160x120 with --case fps)")
    parser.add_argument("--seconds", type=float, help="length of each file (default 3; 1.2 with --case fps)")
    parser.add_argument("--fps", type=int, default=10_000, help="the high frame rate of --case fps (default 10000)")
    parser.add_argument("--clips", type=int, default=8, help="training clips per pipeline (default 8, one batch)")
    parser.add_argument("--only", choices=STEPS, help="run one step only")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds before a step counts as hung")
    args = parser.parse_args(argv)
    fps_case = args.case == "fps"
    size = args.size or ("160x120" if fps_case else "3840x2160")
    seconds = args.seconds or (1.2 if fps_case else 3.0)
    width, height = (int(v) for v in size.lower().split("x"))
    steps = [args.only] if args.only else list(STEPS)
    print(f"device: {device_line()}")
    print(f"versions: {versions()}")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        model_dir = tiny_model_folder(Path(tmp) / "model")
        figures = {}
        for fps in (25, args.fps) if fps_case else (25,):
            root = Path(tmp) / f"data-{fps}fps"
            start = time.perf_counter()
            make_large_files(root, width, height, seconds, fps)
            print(f"files: 6 videos of {width}x{height} H.264 at {fps} fps, {seconds:g} s (2 per split), written in "
                  f"{time.perf_counter() - start:.1f} s; no loader workers: each step decodes in its own process")
            figures[fps] = run_steps(steps, root, model_dir, args.clips, args.timeout,
                                     f" {fps:>5} fps" if fps_case else "")
        if fps_case:
            for step in steps:
                low, high = figures[25][step], figures[args.fps][step]
                print(f"{step:10s}: {args.fps} fps / 25 fps: peak x{high['peak_mb'] / low['peak_mb']:.2f} "
                      f"({high['peak_mb'] - low['peak_mb']:+.0f} MiB), growth "
                      f"{high['peak_mb'] - high['before_mb']:.0f} MiB against "
                      f"{low['peak_mb'] - low['before_mb']:.0f} MiB; time {high['seconds']:.1f} s against "
                      f"{low['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
