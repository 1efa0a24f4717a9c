"""Pretraining variants: change one thing in VideoMAE's pretraining recipe, or in how the built-in videos are drawn,
and see whether the pretrained small model of the cpu preset fine-tunes better, on all labels and on a few.

Run ``python -m benchmarks.pretrain_variants NAME [--options JSON] [--output-dir DIR]`` (``--help`` lists the
options; minutes per variant on a 2-core machine). NAME names the printed lines and the variant's folder under
``--output-dir``, which holds its checkpoints and fine-tuning runs; the dataset and the random start go under
``$TUTORIAL_DATA``, as everywhere in the project.

What one call does, and how:
- First it names its inputs: ``NAME machine ...`` (cores, CPU, GPU, versions) and ``NAME videos ...``, the first
  training video as read back (size, codec, bit rate).
- Pretraining (``helpers.pretrain.pretrain``) on the training split of the cpu preset's videos (``VC_*`` variables
  apply), without labels, from the random weights of ``helpers.model.scratch_checkpoint``: the preset's steps,
  pretraining learning rate and clips per step (3e-4 and 16 on cpu), mask ratio 0.9, ``norm_pix_loss``, unless
  the options say otherwise.
  Into ``<output-dir>/<NAME>/ckpt``, reused by a later call with the same settings. It prints ``NAME pretrain <s> s
  loss [...]``, the mean loss of every 100 steps. ``{"start": "random"}`` skips it and fine-tunes the random weights
  (so does a NAME starting with ``scratch``, as the first runs were named); ``{"ckpt": FOLDER}`` fine-tunes FOLDER.
- Fine-tuning (``helpers.compare.finetune_curve``: the preset's recipe and seed, the fast pipeline), twice from that
  checkpoint: on all training labels for 512 steps, per-video val accuracy at 4 evenly spaced steps (``NAME ALL
  LABELS val per video [(step, accuracy), ...] <s> s``); on the first group of every class for 300 steps (options
  ``small_groups``, ``small_steps``), per-video test accuracy at 4 steps (``NAME SMALL test per video [...]``),
  on the preset's clips with ``small_crops`` views of each (default 1, the whole frame, as notebook 04's comparison
  since 2026-11-30's fifth session; the rows of benchmarks/RESULTS.md before it used 3 crops).

``learning_rate``, ``weight_decay`` and ``warmup`` are Preset fields too: they set pretraining's value and
fine-tuning's. ``grain``, ``stripes`` and ``floor`` patch the rendering (``helpers.synthetic``) before the dataset
is generated, but a dataset's marker does not record the rendering, and a folder holding videos drawn another way is
reused as it is: point ``TUTORIAL_DATA`` at a folder of its own for each rendering (the project's data/ is refused),
so that patched videos never overwrite the project's data, nor the other way round.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from unittest import mock

from benchmarks.common import describe_file, device_line, versions
from helpers.config import DATA_DIR, PROJECT_ROOT, Preset, get_preset

OPTIONS = {  # this script's own options, with their defaults in the text
    "start": '"pretrained" (default): pretrain, then fine-tune; "random": fine-tune the random start',
    "ckpt": "a checkpoint folder to fine-tune instead (no pretraining)",
    "full_steps": "fine-tuning steps on all labels (default 512; 0: skip that run)",
    "small": "fine-tune on the first group of every class too (default true)",
    "small_steps": "steps of that run (default 300)",
    "small_groups": "groups per class in that run (default 1)",
    "small_crops": "views per test clip in that run (default 1, as notebook 04's comparison; 3: the preset's)",
    "ft_lr": "fine-tuning learning rate (default: the preset's)",
    "final_ln": "pretrain without mean pooling, with the encoder's final layer norm (default false)",
    "mean_pool_ft": "fine-tune a final_ln checkpoint with mean pooling (default true)",
    "cfg": "VideoMAE config values for the start of pretraining, e.g. a larger decoder: a new model "
           "(torch.manual_seed(0)) that takes the random start's encoder weights",
    "grain": "factor on the background grain of the videos (1: as built in, 0: none)",
    "floor": "draw a static wave pattern this many grey levels high on the background",
    "stripes": "draw the bar with dark stripes across it, one every this many pixels",
}
PRETRAIN_KEYS = ("learning_rate", "norm_pix_loss", "mask_ratio", "weight_decay", "steps", "warmup")
EPILOG = "options (--options JSON, keys):\n" + "".join(f"  {k:13} {v}\n" for k, v in OPTIONS.items()) + (
    "  learning_rate, weight_decay, warmup: pretraining's and fine-tuning's (Preset fields too)\n"
    "  norm_pix_loss, mask_ratio, steps: pretraining's (default true, 0.9, the preset's pretrain_steps)\n"
    "  any other Preset field, e.g. pretrain_steps, pretrain_learning_rate")


def patch_rendering(grain: float | None, stripes: float | None, floor: float | None = None) -> None:
    """Change how ``helpers.synthetic`` draws videos from now on: ``grain`` scales the background's noise
    (``GRAIN``), ``stripes`` darkens the bar in stripes across its length, ``stripes`` pixels apart, ``floor`` draws
    a still wave that many grey levels high on the background. Grain and stripes draw the same random numbers as the
    originals, the wave three more after the background's, so every video differs by that change only."""
    import numpy as np

    from helpers import synthetic as S

    if grain is not None:
        S.GRAIN *= grain
    if floor:
        background = S._background

        def with_floor(rng: np.random.Generator) -> np.ndarray:
            image = background(rng)
            y, x = np.mgrid[0:S.HEIGHT, 0:S.WIDTH] / np.array([S.HEIGHT, S.WIDTH])[:, None, None]
            angle, period, phase = rng.uniform(0, np.pi), rng.uniform(20, 40) * S.SCALE, rng.uniform(0, 2 * np.pi)
            wave = np.sin(2 * np.pi * (x * S.WIDTH * np.cos(angle) + y * S.HEIGHT * np.sin(angle)) / period + phase)
            return image + floor / 2 * wave[..., None]

        S._background = with_floor
    if stripes:
        draw = S._draw_bar

        def with_stripes(frame, x0, y0, r, angle, half_w, half_h, colour, tip_colour) -> None:
            draw(frame, x0, y0, r, angle, half_w, half_h, colour, tip_colour)
            top, left = max(0, int(y0) - r), max(0, int(x0) - r)
            bottom, right = min(S.HEIGHT, int(y0) + r), min(S.WIDTH, int(x0) + r)
            if bottom <= top or right <= left:
                return
            y, x = np.mgrid[top:bottom, left:right].astype(np.float32)
            u = np.cos(angle) * (x - x0) + np.sin(angle) * (y - y0)
            v = -np.sin(angle) * (x - x0) + np.cos(angle) * (y - y0)
            body = (np.abs(u) < half_w) & (np.abs(v) < half_h) & ~(u > half_w * 0.5)  # the tip keeps its colour
            frame[top:bottom, left:right][body & (np.sin(2 * np.pi * u / stripes) > 0)] = colour * 0.55

        S._draw_bar = with_stripes


def start_folder(preset: Preset, folder: Path, final_ln: bool, overrides: dict | None) -> Path:
    """The random start of pretraining with another model: ``helpers.model.scratch_checkpoint``'s, without mean
    pooling (``final_ln``) and with the config ``overrides``, for which a new VideoMAEForPreTraining is drawn with
    ``torch.manual_seed(0)`` and takes the encoder's weights. Made once: a folder that exists is reused."""
    if folder.exists():
        return folder
    from helpers.model import scratch_checkpoint

    shutil.copytree(scratch_checkpoint(preset), folder)
    config = json.loads((folder / "config.json").read_text())
    if final_ln:
        config["use_mean_pooling"] = False
    config.update(overrides or {})
    if overrides:
        import torch
        from safetensors.torch import load_file
        from transformers import VideoMAEConfig, VideoMAEForPreTraining

        weights = {k: v for k, v in load_file(folder / "model.safetensors").items() if k.startswith("videomae.")}
        torch.manual_seed(0)
        settings = {k: v for k, v in config.items() if k not in ("architectures", "transformers_version", "model_type")}
        model = VideoMAEForPreTraining(VideoMAEConfig(**settings))
        print(model.load_state_dict(weights, strict=False))  # the decoder's weights are missing: new ones
        model.save_pretrained(folder)
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def pretrain_variant(name: str, preset: Preset, paths: list[Path], out: Path, settings: dict, final_ln: bool,
                     overrides: dict | None, mean_pool_ft: bool) -> Path:
    """Pretrain into ``out/ckpt`` with the keyword arguments ``settings``, print the losses, and return the folder
    to fine-tune: that one, or a copy with mean pooling (``out/ft_meanpool``) when it has none and ``mean_pool_ft``."""
    from helpers import pretrain as P

    folder = out / "ckpt"
    start = start_folder(preset, out / "start", final_ln, overrides) if final_ln or overrides else None
    kwargs = {"steps": preset.pretrain_steps, "batch_size": preset.pretrain_batch_size,
              "learning_rate": preset.pretrain_learning_rate,
              "mask_ratio": 0.9, **settings}
    began = time.time()
    with mock.patch.object(P, "scratch_checkpoint", lambda _: start) if start else contextlib.nullcontext():
        losses = P.pretrain(preset, paths, folder=folder, **kwargs)
    means = [round(sum(losses[i:i + 100]) / 100, 4) for i in range(0, len(losses), 100)]  # a short last block too
    print(name, "pretrain", round(time.time() - began), "s loss", means, flush=True)
    config = json.loads((folder / "config.json").read_text())
    if not mean_pool_ft or config.get("use_mean_pooling", True):
        return folder
    meanpool = out / "ft_meanpool"
    shutil.rmtree(meanpool, ignore_errors=True)
    shutil.copytree(folder, meanpool)
    config["use_mean_pooling"] = True
    (meanpool / "config.json").write_text(json.dumps(config))
    return meanpool


def run(name: str, options: dict, output_dir: Path) -> None:
    """One variant: pretrain (or not) and fine-tune twice, as the module's docstring says."""
    opts = dict(options)
    full_steps, small = int(opts.pop("full_steps", 512)), opts.pop("small", True)
    small_steps, small_groups = int(opts.pop("small_steps", 300)), int(opts.pop("small_groups", 1))
    small_crops = int(opts.pop("small_crops", 1))
    start = opts.pop("start", "random" if name.startswith("scratch") else "pretrained")
    patch_rendering(opts.pop("grain", None), opts.pop("stripes", None), opts.pop("floor", None))
    mean_pool_ft, final_ln = opts.pop("mean_pool_ft", True), opts.pop("final_ln", False)
    overrides, ft_lr, reuse = opts.pop("cfg", None), opts.pop("ft_lr", None), opts.pop("ckpt", None)
    preset = get_preset("cpu")
    fields = {f.name for f in dataclasses.fields(preset)}
    preset = dataclasses.replace(preset, **{k: v for k, v in opts.items() if k in fields})
    settings = {k: v for k, v in opts.items() if k in PRETRAIN_KEYS}

    from helpers import compare as C
    from helpers import pretrain as P
    from helpers.data import class_names, get_dataset, label_maps, labelled_videos
    from helpers.model import scratch_checkpoint

    root = get_dataset(preset)
    paths = P.unlabelled_videos(preset)
    print(name, "machine", device_line(), versions(), flush=True)
    print(name, "videos", root, len(paths), "training videos; the first, as read back:", describe_file(paths[0]),
          flush=True)
    out = output_dir / name
    if reuse:
        checkpoint = Path(reuse)
    elif start == "random":
        checkpoint = scratch_checkpoint(preset)
    else:
        checkpoint = pretrain_variant(name, preset, paths, out, settings, final_ln, overrides, mean_pool_ft)
    if ft_lr:
        preset = dataclasses.replace(preset, learning_rate=ft_lr)
    label2id, id2label = label_maps(class_names(root))
    train, val, test = (labelled_videos(root, split, label2id) for split in ("train", "val", "test"))
    began = time.time()
    if full_steps:
        curve = C.finetune_curve(preset, str(checkpoint), train, val, id2label, full_steps, points=4,
                                 output_dir=out / "full")
        print(name, "ALL LABELS val per video", curve, round(time.time() - began), "s", flush=True)
    if small:
        few = C.first_groups(root, "train", label2id, small_groups)
        curve = C.finetune_curve(preset, str(checkpoint), few, test, id2label, small_steps, points=4,
                                 output_dir=out / "small", num_crops=small_crops)
        print(name, "SMALL test per video", curve, flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", metavar="NAME", help='the variant; a name starting with "scratch" means '
                        '{"start": "random"} unless --options sets start')
    parser.add_argument("--options", default="{}", help="a JSON object of the options below (default: {})")
    parser.add_argument("--output-dir", type=Path, default=Path(tempfile.gettempdir()) / "pretrain-variants",
                        help="where every variant gets its folder (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        options = json.loads(args.options)
    except json.JSONDecodeError as error:
        parser.error(f"--options is not JSON: {error}")
    if not isinstance(options, dict):
        parser.error("--options: give a JSON object, e.g. '{\"grain\": 0}'")
    unknown = set(options) - set(OPTIONS) - set(PRETRAIN_KEYS) - {f.name for f in dataclasses.fields(Preset)}
    if unknown:
        parser.error(f"--options: unknown {', '.join(sorted(unknown))} (see the list below --help)")
    if options.get("start", "pretrained") not in ("pretrained", "random"):
        parser.error('--options: start is "pretrained" or "random"')
    if {"grain", "stripes", "floor"} & set(options) and DATA_DIR == PROJECT_ROOT / "data":
        parser.error("grain, stripes and floor change the videos: set TUTORIAL_DATA to a folder of their own")
    os.environ.setdefault("TQDM_DISABLE", "1")  # before tqdm is imported (with the helpers): it reads it then
    run(args.name, options, args.output_dir)


if __name__ == "__main__":
    main()
