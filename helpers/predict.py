"""Classify video files with a trained model folder: ``predict_files`` and ``python -m helpers.predict``.

Introduced in 05_inference. The steps are ``pipeline("video-classification")``'s, written out so that each can fail
with a message naming the file, and the scores equal the pipeline's; a clip shorter than the model takes, which the
pipeline refuses, is padded by repeating every frame in order.
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
from helpers.model import check_model_folder
from helpers.video import VIDEO_SUFFIXES, VideoError, is_video_name, read_frames, video_info


def expand_folders(paths: list[Path]) -> tuple[list[Path], list[Path]]:
    """(files, folders without a video): each folder replaced by the video files under it, hidden ones left out."""
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


def load_classifier(model_dir: Path, onnx: bool = False):
    """The model (in eval mode) and its video processor from a folder written by ``save_pretrained``; with ``onnx``,
    the model's ONNX export run by ONNX Runtime in its place (``helpers.export``)."""
    from transformers import AutoModelForVideoClassification, AutoVideoProcessor

    model_dir = check_model_folder(model_dir)
    model = AutoModelForVideoClassification.from_pretrained(model_dir).eval()
    if onnx:
        from helpers.export import onnx_classifier

        model = onnx_classifier(model, Path(model_dir))
    return model, AutoVideoProcessor.from_pretrained(model_dir)


def frame_indices(total_frames: int, num_frames: int, processor=None) -> np.ndarray:
    """Which frames the model sees: the processor's uniform sampling or, for a clip shorter than ``num_frames``,
    the pipeline's formula ``i * T // N``, which shows every frame in order, each ``N / T`` times."""
    if total_frames < 1:
        raise ValueError(f"a video needs at least one frame, got {total_frames}")
    if total_frames >= num_frames and processor is not None:
        from transformers.video_utils import VideoMetadata

        return np.asarray(processor.sample_frames(VideoMetadata(total_num_frames=total_frames),
                                                  num_frames=num_frames))
    return np.arange(num_frames) * total_frames // num_frames


def decode(path: Path, num_frames: int, processor=None) -> tuple[torch.Tensor, dict]:
    """The sampled frames of ``path`` as (T, 3, H, W) uint8 and facts about the file; VideoError if unreadable."""
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
    scores, ids = model(**inputs).logits[0].float().softmax(-1).topk(min(top_k, model.config.num_labels))
    predictions = [{"score": s, "label": model.config.id2label[i]} for s, i in zip(scores.tolist(), ids.tolist(),
                                                                                    strict=True)]
    return {"file": str(path), "predictions": predictions, **info}


def predict_files(paths: list[Path], model_dir: Path, top_k: int = 5, progress: bool = True, onnx: bool = False
                  ) -> tuple[list[dict], list[dict]]:
    """Classify several files with one model: (results, failures); a bad file does not stop the others."""
    model, processor = load_classifier(model_dir, onnx)
    results, failures = [], []
    quiet = {} if progress and len(paths) > 1 else {"disable": True}  # else $TQDM_DISABLE decides
    for path in tqdm(list(paths), desc="classifying", unit="video", **quiet):
        try:
            results.append(classify(model, processor, Path(path), top_k))
        except VideoError as err:
            failures.append({"file": str(path), "error": str(err)})
    return results, failures


def main(argv: list[str] | None = None) -> int:
    """The command line: classify the files, print results, list failures; non-zero exit if any failed."""
    parser = argparse.ArgumentParser(prog="python -m helpers.predict",
                                     description="Classify video files (MP4, AVI, ...) with a model folder trained "
                                                 "by notebook 04.")
    parser.add_argument("videos", nargs="+", type=Path, help="video files, or folders of them")
    parser.add_argument("--model", type=Path, default=None,
                        help="model folder (default: the newest saved under outputs/<preset>/, for $PRESET or cpu)")
    parser.add_argument("--top-k", type=int, default=5, help="labels to show per video (default 5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--onnx", action="store_true",
                        help="classify with ONNX Runtime: the model's export, model.onnx in the model folder (written "
                             "there first if missing or older than the weights)")
    args = parser.parse_args(argv)
    if args.top_k < 1:
        parser.error("--top-k must be at least 1")
    files, empty = expand_folders(args.videos)
    try:
        model_dir = args.model or _default_model()
        results, failures = predict_files(files, model_dir, top_k=args.top_k, onnx=args.onnx)
    except ValueError as err:  # a preset or setting that does not exist (SettingsError), ModelFolderError
        print(printable(f"error: {err}"), file=sys.stderr)
        return 2
    failures += [{"file": str(folder), "error": f"{folder}: a folder without video files (names ending "
                  f"{', '.join(sorted(VIDEO_SUFFIXES))}); pass video files or a folder that holds some"}
                 for folder in empty]
    total = len(files) + len(empty)
    if args.json:
        print(json.dumps({"model": str(model_dir), "results": results, "failures": failures}, indent=1))
        if failures:
            print(f"{len(failures)} of {total} files could not be classified (see \"failures\").", file=sys.stderr)
        return 1 if failures else 0
    for result in results:
        labels = ", ".join(f"{p['label']} {p['score']:.3f}" for p in result["predictions"])
        note = f"  (padded: {result['frames']} frames)" if result["padded"] else ""
        print(printable(f"{result['file']}: {labels}{note}"))
    if failures:
        print(f"\n{len(failures)} of {total} files could not be classified:")
        for failure in failures:
            print(printable(f"  {failure['error']}"))
    return 1 if failures else 0


def _default_model() -> Path:
    """The newest model saved for $PRESET by notebook 04 or the script; none saved: ModelFolderError saying how to
    train one."""
    from helpers.config import get_preset

    preset = get_preset()
    found = [p for p in (preset.model_dir, *preset.output_dir.glob(f"*/{preset.model_dir.name}"))
             if (p / "config.json").is_file()]
    model_dir = max(found, key=lambda p: (p / "config.json").stat().st_mtime, default=None)
    if model_dir is None:
        return check_model_folder(preset.model_dir, preset)  # raises: there is no model there
    print(printable(f"Using the newest model saved for the {preset.name} preset: {model_dir}"), file=sys.stderr)
    return model_dir


if __name__ == "__main__":
    sys.exit(main())
