"""CPU latency per clip and test accuracy of a trained model: PyTorch eager, ONNX Runtime float32 and ONNX Runtime int8.

Run ``python -m benchmarks.export`` (``--help`` for the knobs) after notebook 04 has trained the preset's model
(``outputs/<preset>/model``). It exports the model as ``helpers.export`` does (into a temporary folder: the model
folder is left as it is), quantizes the export with ONNX Runtime's ``quantize_dynamic`` (int8 weights, activations
quantized on the fly) as notebook 07 does, and then, on the preset's test videos as ``python -m helpers.predict`` sees
them (one clip per video, the pipeline's frames):

- the largest difference between ONNX Runtime's float32 logits and PyTorch's, and each runtime's accuracy;
- latency per clip at batch 1 (a user's video) and per clip at batch 8, in interleaved rounds: each round times every
  runtime once, ``--repeats`` calls each, so that a machine that slows down during the run slows all three alike.
  The median round of each is printed, with its ratio to PyTorch eager measured in the same run.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.common import device_line


def test_clips(preset, model_dir: Path):
    """The model, its preset's test clips (one per video, as helpers.predict decodes them) and their labels."""
    from helpers.data import get_dataset, labelled_videos
    from helpers.predict import decode, load_classifier

    model, processor = load_classifier(model_dir)
    paths, labels = labelled_videos(get_dataset(preset), "test", model.config.label2id)
    clips = torch.cat([processor(decode(p, model.config.num_frames, processor)[0], return_tensors="pt")
                       ["pixel_values"] for p in paths])
    return model, clips, np.array(labels)


def sessions(model, folder: Path) -> dict:
    """ONNX Runtime sessions of the float32 export and of its dynamic int8 quantization, written into ``folder``."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from helpers.export import export_onnx

    export_onnx(model, folder / "model.onnx")
    quant_pre_process(str(folder / "model.onnx"), str(folder / "prepared.onnx"))
    quantize_dynamic(folder / "prepared.onnx", folder / "model.int8.onnx", weight_type=QuantType.QInt8)
    return {name: ort.InferenceSession(str(folder / file), providers=["CPUExecutionProvider"])
            for name, file in (("float32", "model.onnx"), ("int8", "model.int8.onnx"))}


def runners(model, onnx: dict) -> dict:
    """Each runtime as a function from a (batch, frames, 3, H, W) tensor to logits as a numpy array."""
    def eager(x):
        with torch.no_grad():
            return model(pixel_values=x).logits.numpy()

    return {"PyTorch eager": eager,
            "ONNX Runtime float32": lambda x: onnx["float32"].run(None, {"pixel_values": x.numpy()})[0],
            "ONNX Runtime int8": lambda x: onnx["int8"].run(None, {"pixel_values": x.numpy()})[0]}


def latency(runs: dict, clips: torch.Tensor, batch: int, rounds: int, repeats: int) -> dict[str, float]:
    """Median over ``rounds`` interleaved rounds of the seconds per clip of each runtime, at ``batch`` clips a call."""
    x = clips[:batch] if len(clips) >= batch else clips[torch.arange(batch) % len(clips)]
    for run in runs.values():  # first calls set things up (memory, thread pools): not a clip's cost
        run(x)
    times = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            start = time.perf_counter()
            for _ in range(repeats):
                run(x)
            times[name].append((time.perf_counter() - start) / repeats / batch)
    return {name: float(np.median(seconds)) for name, seconds in times.items()}


def main(argv: list[str] | None = None) -> None:
    from helpers.config import get_preset

    parser = argparse.ArgumentParser(prog="python -m benchmarks.export", description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="cpu", help="the preset whose model and test videos to use (default cpu)")
    parser.add_argument("--model", type=Path, default=None, help="model folder (default: the preset's, notebook 04's)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (default 7)")
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per runtime and round (default 20)")
    args = parser.parse_args(argv)
    preset = get_preset(args.preset)
    model, clips, labels = test_clips(preset, args.model or preset.model_dir)
    print(f"device: {device_line()}; torch threads {torch.get_num_threads()}")
    print(f"model: {args.model or preset.model_dir}, {sum(p.numel() for p in model.parameters()):,} parameters; "
          f"{len(clips)} test clips of {tuple(clips.shape[1:])}")
    with tempfile.TemporaryDirectory() as folder:
        runs = runners(model, sessions(model, Path(folder)))
        logits = {name: np.concatenate([run(clips[i:i + 16]) for i in range(0, len(clips), 16)])
                  for name, run in runs.items()}
        gap = np.abs(logits["ONNX Runtime float32"] - logits["PyTorch eager"]).max()
        print(f"largest |ONNX Runtime float32 - PyTorch| logit difference: {gap:.1e}")
        for name, values in logits.items():
            agree = np.mean(values.argmax(1) == logits["PyTorch eager"].argmax(1))
            print(f"{name:22s} accuracy {np.mean(values.argmax(1) == labels):.3f}, same answer as PyTorch on "
                  f"{agree:.3f} of the clips")
        for batch in (1, 8):
            per_clip = latency(runs, clips, batch, args.rounds, args.repeats)
            print(f"batch {batch}: median of {args.rounds} rounds x {args.repeats} calls, ms per clip")
            for name, seconds in per_clip.items():
                print(f"  {name:22s} {1000 * seconds:8.3f} ms  {per_clip['PyTorch eager'] / seconds:5.2f}x "
                      "PyTorch eager's speed")


if __name__ == "__main__":
    main()
