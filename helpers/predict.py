"""Classify any video file with a trained model folder: ``predict_files`` and a command line.

Introduced in 05_inference. From a shell::

    python -m helpers.predict clip.mp4 other.avi my_videos/ --model outputs/cpu/model [--top-k 3] [--json]

A folder stands for the videos in it (sub-folders included); without ``--model`` the newest model saved for the
preset (``newest_model``) classifies them.

The path is the one ``pipeline("video-classification")`` takes, written out so that every step can
fail with a message naming the file: ``helpers.video`` decodes the frames (the reader of training and
evaluation: the same stream, upright frames, the same verdict on files that are not usable videos;
the pipeline's torchcodec picks the same stream and applies the same rotation), the video processor's
own ``sample_frames`` picks ``model.config.num_frames`` frames spread uniformly over the whole video,
the video processor resizes, crops and normalizes them, the model scores them, softmax. For a normal
video the scores equal the pipeline's.

Short clips: the pipeline refuses a video with fewer frames than the model takes. Here a clip of
``T < N`` frames (``N = model.config.num_frames``) is padded by repeating frames, with the same
uniform formula the pipeline uses for long videos: frame ``i * T // N`` for ``i = 0 .. N-1``. Every
frame is kept, in order, each shown ``N / T`` times (3 frames for 8: 0 0 0 1 1 1 2 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from helpers.config import printable
from helpers.model import ModelFolderError, check_model_files
from helpers.video import VIDEO_SUFFIXES, VideoError, is_video_name, read_frames, video_info

PROCESSOR_FILES = ("preprocessor_config.json", "video_preprocessor_config.json")
TRAINED_FIX = ("Train the model again (notebook 04, or `python -m helpers.train`) or copy the folder again, and "
               "pass the folder that save_pretrained wrote (notebook 04 saves outputs/<preset>/model).")


def check_model_folder(model_dir: Path, preset=None) -> Path:
    """Check that ``model_dir`` holds a complete trained VideoMAE and its image processor: what
    ``pipeline("video-classification")`` and ``load_classifier`` read. Return the folder, or raise
    ModelFolderError naming the file and the fix; given the ``preset``, it says how to train that preset's model.

    Introduced in 05_inference, before its ``pipeline`` call."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir() or not (model_dir / "config.json").is_file():
        if preset is not None:
            train = (f"Run notebook 04 first with PRESET={preset.name} (or `python -m helpers.train --preset "
                     f"{preset.name} --output-dir {preset.output_dir}`).")
        else:
            train = ("Train one first (notebook 04, or `python -m helpers.train`), or pass the folder that holds "
                     "config.json with --model.")
        what = "no such model folder" if not model_dir.is_dir() else "not a model folder (no config.json)"
        raise ModelFolderError(f"{model_dir}: {what}. {train}")
    check_model_files(model_dir, TRAINED_FIX)  # first: a model of another type needs another project, not a processor
    if not any((model_dir / name).is_file() for name in PROCESSOR_FILES):
        raise ModelFolderError(
            f"{model_dir}: no preprocessor_config.json, so the frames cannot be resized and normalized as in "
            "training. Save the image processor next to the model: image_processor.save_pretrained(folder), or "
            "pass processing_class=image_processor to the Trainer before trainer.save_model()."
        )
    return model_dir


def newest_model(preset) -> Path | None:
    """The newest model folder saved for ``preset``: notebook 04's ``outputs/<preset>/model``, or the script's
    ``<folder>/model`` for a folder in ``outputs/<preset>/`` (its default is ``outputs/<preset>/script``); None if
    there is none. A model saved elsewhere is passed with ``--model``: the script prints the command."""
    name = preset.model_dir.name
    found = [p for p in (preset.model_dir, *preset.output_dir.glob(f"*/{name}")) if (p / "config.json").is_file()]
    return max(found, key=lambda p: (p / "config.json").stat().st_mtime, default=None)


def expand_folders(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(files, folders without a video): each folder in ``paths`` replaced by the video files in it and its
    sub-folders, by name (hidden files and macOS's ``._`` companions left out); files kept as they are."""
    files, empty = [], []
    for path in map(Path, paths):
        if not path.is_dir():
            files.append(path)
            continue
        inside = sorted(p for p in path.rglob("*") if is_video_name(p) and p.is_file()
                        and not any(part.startswith(".") for part in p.relative_to(path).parts))
        files += inside
        if not inside:
            empty.append(path)
    return files, empty


def load_classifier(model_dir: Path):
    """The model (in eval mode) and its video processor from a folder written by ``save_pretrained``."""
    from transformers import AutoModelForVideoClassification, AutoVideoProcessor

    model_dir = check_model_folder(model_dir)
    model = AutoModelForVideoClassification.from_pretrained(model_dir).eval()
    processor = AutoVideoProcessor.from_pretrained(model_dir)
    return model, processor


def frame_indices(total_frames: int, num_frames: int, processor=None) -> np.ndarray:
    """Which frames the model sees: the processor's uniform sampling, or, for a short clip, frames repeated."""
    if total_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {total_frames}")
    if total_frames >= num_frames and processor is not None:
        from transformers.video_utils import VideoMetadata

        return np.asarray(processor.sample_frames(VideoMetadata(total_num_frames=total_frames),
                                                  num_frames=num_frames))
    # the pipeline's formula; when total_frames < num_frames it repeats each frame in order
    return np.arange(num_frames) * total_frames // num_frames


def decode(path: Path, num_frames: int, processor=None) -> tuple[torch.Tensor, dict]:
    """The sampled frames of ``path`` as (T, 3, H, W) uint8 and facts about the file; VideoError if unreadable.

    Read by ``helpers.video``, as training and evaluation read it: the same stream, upright frames, the same verdict
    on a file that is not a usable video."""
    info = video_info(path)
    indices = frame_indices(info["frames"], num_frames, processor)
    frames = torch.from_numpy(read_frames(path, indices.tolist())).permute(0, 3, 1, 2)
    return frames, {"frames": info["frames"], "fps": info["fps"], "width": info["width"], "height": info["height"],
                    "padded": info["frames"] < num_frames, "indices": indices.tolist()}


@torch.no_grad()
def classify(model, processor, path: Path, top_k: int = 5) -> dict:
    """Top-k labels and scores of one video file, as the pipeline gives them, plus facts about the file."""
    frames, info = decode(path, model.config.num_frames, processor)
    inputs = processor(frames, return_tensors="pt").to(model.device, model.dtype)
    probs = model(**inputs).logits[0].float().softmax(-1)
    scores, ids = probs.topk(min(top_k, model.config.num_labels))
    predictions = [{"score": s, "label": model.config.id2label[i]} for s, i in zip(scores.tolist(), ids.tolist(),
                                                                                    strict=True)]
    return {"file": str(path), "predictions": predictions, **info}


def predict_files(paths: list[Path], model_dir: Path, top_k: int = 5, progress: bool = True
                  ) -> tuple[list[dict], list[dict]]:
    """Classify several files with one model: (results, failures); a bad file does not stop the others."""
    model, processor = load_classifier(model_dir)
    results, failures = [], []
    quiet = {} if progress and len(paths) > 1 else {"disable": True}  # else $TQDM_DISABLE decides
    for path in tqdm(list(paths), desc="classifying", unit="video", **quiet):
        try:
            results.append(classify(model, processor, Path(path), top_k))
        except VideoError as err:
            failures.append({"file": str(path), "error": str(err)})
    return results, failures


def format_result(result: dict) -> str:
    """One line per file: the labels with their scores, best first."""
    labels = ", ".join(f"{p['label']} {p['score']:.3f}" for p in result["predictions"])
    note = f"  (padded: {result['frames']} frames)" if result["padded"] else ""
    return printable(f"{result['file']}: {labels}{note}")


def main(argv: list[str] | None = None) -> int:
    """The command line: classify the files, print results, list failures; non-zero exit if any failed."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.predict",
        description="Classify video files (MP4, AVI, ...) with a model folder trained by notebook 04.",
    )
    parser.add_argument("videos", nargs="+", type=Path, help="video files, or folders of them")
    parser.add_argument("--model", type=Path, default=None,
                        help="model folder (default: the newest saved under outputs/<preset>/, for $PRESET or cpu)")
    parser.add_argument("--top-k", type=int, default=5, help="labels to show per video (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    if args.top_k < 1:
        parser.error("--top-k must be at least 1")
    model_dir = args.model
    if model_dir is None:
        from helpers.config import get_preset

        try:
            preset = get_preset()
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
        model_dir = newest_model(preset)
        if model_dir is not None:
            print(printable(f"Using the newest model saved for the {preset.name} preset: {model_dir}"),
                  file=sys.stderr)
        else:  # none saved: say how to train this preset's model
            model_dir = preset.model_dir
            try:
                check_model_folder(model_dir, preset)
            except ModelFolderError as err:
                print(printable(f"error: {err}"), file=sys.stderr)
                return 2
    files, empty = expand_folders(args.videos)
    try:
        results, failures = predict_files(files, model_dir, top_k=args.top_k)
    except ModelFolderError as err:
        print(printable(f"error: {err}"), file=sys.stderr)
        return 2
    failures += [{"file": str(folder), "error": f"{folder}: a folder without video files (names ending "
                  f"{', '.join(sorted(VIDEO_SUFFIXES))}); pass video files or a folder that holds some"}
                 for folder in empty]
    total = len(files) + len(empty)
    if args.json:
        print(json.dumps({"model": str(model_dir), "results": results, "failures": failures}, indent=1))
        if failures:
            print(f"{len(failures)} of {total} files could not be classified (see \"failures\").",
                  file=sys.stderr)
    else:
        for result in results:
            print(format_result(result))
        if failures:
            print(f"\n{len(failures)} of {total} files could not be classified:")
            for failure in failures:
                print(printable(f"  {failure['error']}"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
