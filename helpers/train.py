"""Fine-tuning VideoMAE with the Trainer, and the script ``python -m helpers.train``.

Introduced in 04_train, which writes the guide's code in its cells and checks it against this module's
``training_arguments`` and ``collate_fn``; 06_fast_pipeline trains with ``VideoTrainer``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import shlex
import shutil
import time
import warnings
from functools import partial
from pathlib import Path

import evaluate
import numpy as np
import torch
import transformers
from accelerate import PartialState
from transformers import (
    Trainer,
    TrainerCallback,
    TrainingArguments,
    VideoMAEForVideoClassification,
    VideoMAEImageProcessor,
)

from helpers.config import Preset, describe, get_preset, printable
from helpers.data import check_apart, class_names, get_dataset, label_maps, labelled_videos
from helpers.evaluation import evaluate_videos, views
from helpers.fast import FastVideoDataset, VideoBatchTransform, collate_uint8
from helpers.model import _quiet_progress, head_message, loader_workers, mixed_precision, pick_device
from helpers.pretrain import base_checkpoint
from helpers.runs import (
    LOCK_NAME,
    OutputError,
    check_writable,
    clear_write_errors,
    hold_run_folder,
    last_checkpoint,
    release_run_folder,
    run_folder_lock,
)
from helpers.transforms import build_transforms, frame_size, scale_range
from helpers.video import KEEP_SHORT_SIDE, UprightVideos

METRIC_DIR = Path(__file__).parent / "metrics" / "accuracy"
# what the script writes into its --output-dir besides its lock file: the only entries --overwrite removes there
CHECKPOINTS = "checkpoints"  # the Trainer's checkpoint-N folders
MODEL = "model"  # the trained model folder (save_model_folder), what helpers.predict loads
RUN_ENTRIES = (CHECKPOINTS, MODEL)


class ShardedVideoSampler(torch.utils.data.Sampler):
    """A seeded shuffle of the videos, split between training processes: every process draws the same permutation
    and keeps every world_size-th video from its rank on, the remainder dropped so that all run the same steps."""

    def __init__(self, data_source, seed: int = 0):
        self.data_source, self.seed, self.epoch = data_source, seed, 0

    def rank_and_world(self) -> tuple[int, int]:
        dist = torch.distributed
        if dist.is_available() and dist.is_initialized():
            return dist.get_rank(), dist.get_world_size()
        return 0, 1

    def __len__(self) -> int:
        return len(self.data_source) // self.rank_and_world()[1]

    def __iter__(self):
        rank, world = self.rank_and_world()
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        self.epoch += 1
        order = torch.randperm(len(self.data_source), generator=generator).tolist()
        return iter(order[rank: len(self) * world: world])


class VideoTrainer(Trainer):
    """The Trainer plus ``video_transform`` (``VideoBatchTransform``) applied to uint8 batches on the device, an
    iterable dataset sharded between processes (``ShardedVideoSampler``), and a message when a loader worker dies."""

    def __init__(self, *args, video_transform: VideoBatchTransform | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.video_transform = video_transform

    def _prepare_inputs(self, inputs: dict) -> dict:
        inputs = super()._prepare_inputs(inputs)
        pixel_values = inputs.get("pixel_values")
        if self.video_transform is not None and pixel_values is not None:
            device = pixel_values[0].device if isinstance(pixel_values, list) else pixel_values.device
            inputs["pixel_values"] = self.video_transform.to(device)(pixel_values, train=self.model.training)
        return inputs

    def floating_point_ops(self, inputs: dict) -> int:
        pixel_values = inputs.get("pixel_values")
        if isinstance(pixel_values, list):  # clips of different sizes (see collate_uint8): count them one by one
            return sum(super(VideoTrainer, self).floating_point_ops({"pixel_values": clip}) for clip in pixel_values)
        return super().floating_point_ops(inputs)

    def get_train_dataloader(self) -> torch.utils.data.DataLoader:
        if self.args.world_size == 1 or not isinstance(self.train_dataset, torch.utils.data.IterableDataset):
            return super().get_train_dataloader()
        return torch.utils.data.DataLoader(
            self.train_dataset, batch_size=self._train_batch_size, collate_fn=self.data_collator,
            num_workers=self.args.dataloader_num_workers, pin_memory=self.args.dataloader_pin_memory,
            persistent_workers=False,
        )

    def train(self, *args, **kwargs):
        try:
            return super().train(*args, **kwargs)
        except RuntimeError as err:
            if "DataLoader worker" not in str(err):
                raise
            raise RuntimeError(
                f"{err}\nA data loader worker died, most often because the machine ran out of memory. Use fewer "
                "workers or a smaller batch (VC_NUM_WORKERS=1, VC_BATCH_SIZE=2), then continue from the last "
                "checkpoint (--resume, or RESUME=1 in notebook 04)."
            ) from err


class ReportEpochs(TrainerCallback):
    """Tell the Trainer's progress table which epoch a run is in and how many it has (04_train): with a dataset
    without a length and ``max_steps`` it would show ``Epoch 3/9223372036854775807``."""

    def __init__(self, num_epochs: int, steps_per_epoch: int | None = None):
        self.num_epochs, self.steps_per_epoch = num_epochs, steps_per_epoch

    def on_train_begin(self, args, state, control, **kwargs):
        state.num_train_epochs = self.num_epochs

    def on_step_end(self, args, state, control, **kwargs):
        if self.steps_per_epoch:
            state.epoch = state.global_step / self.steps_per_epoch

    on_epoch_end = on_step_end


def new_run_dir(base: Path, resume: bool = False) -> Path:
    """A new folder under ``base`` named by the time, or with ``resume`` the newest one, locked for this process
    until it ends or asks for another (04_train): a run never mixes its checkpoints with another's."""
    base = check_writable(Path(base))
    runs = sorted(p for p in base.glob("[0-9]*-[0-9]*") if p.is_dir())
    if resume and runs:
        path = _hold_one(base, runs[-1])
        checkpoint = last_checkpoint(path, verbose=False)
        print(f"Resuming {path} from {Path(checkpoint).name}." if checkpoint else
              f"Resuming {path}: it has no complete checkpoint, so training starts there from step 0.")
        return path
    if resume:
        print(f"No earlier run in {base} to resume: starting a new one.")
    path = base / time.strftime("%Y%m%d-%H%M%S")
    while True:
        try:
            path.mkdir()
            break
        except FileExistsError:  # two runs within one second
            path = path.with_name(path.name + "-1")
    return _hold_one(base, path)


_run_of_base: dict[Path, Path] = {}  # base folder -> the run folder this process holds in it


def _hold_one(base: Path, run: Path) -> Path:
    """Hold ``run``, and let go of the run this process held before under ``base`` (a notebook run twice)."""
    hold_run_folder(run)
    previous = _run_of_base.get(base)
    if previous is not None and previous != run:
        release_run_folder(previous)
    _run_of_base[base] = run
    return run


class SkippedClipWarnings(logging.Handler):
    """PyTorchVideo only logs (at debug level) that it drew another video for one it could not decode: warn."""

    def emit(self, record: logging.LogRecord) -> None:
        warnings.warn(f"PyTorchVideo skipped a video it could not read and drew another one instead: "
                      f"{record.getMessage()}. Check that file: `python -m helpers.predict FILE` says what is wrong.",
                      stacklevel=2)


def build_model(preset: Preset, label2id: dict[str, int], id2label: dict[int, str], verbose: bool = True):
    """The model with a new head for our labels, and its image processor, as notebook 04 loads them."""
    checkpoint = base_checkpoint(preset)
    if verbose:
        print(head_message(checkpoint, label2id))
    processor = VideoMAEImageProcessor.from_pretrained(checkpoint)
    torch.manual_seed(preset.seed)  # the new head's random weights
    with _quiet_progress():
        model = VideoMAEForVideoClassification.from_pretrained(
            checkpoint, label2id=label2id, id2label=id2label,
            ignore_mismatched_sizes=True,  # the checkpoint's head has other labels (or none): replace it
        )
    return model, processor


def make_datasets(preset: Preset, root: Path, image_processor, shuffle_frames: bool = False) -> dict:
    """The guide's PyTorchVideo datasets for train, val and test, of the videos ``labelled_videos`` checked."""
    from pytorchvideo.data import LabeledVideoDataset, make_clip_sampler

    logger = logging.getLogger("pytorchvideo.data.labeled_video_dataset")
    if not any(isinstance(h, SkippedClipWarnings) for h in logger.handlers):  # once; loader workers inherit it
        logger.addHandler(SkippedClipWarnings(level=logging.DEBUG))
        logger.setLevel(logging.DEBUG)
    label2id, _ = label_maps(class_names(root))
    train_transform, val_transform = build_transforms(
        image_processor, preset.num_frames, preset.hflip, shuffle_frames=shuffle_frames,
    )
    datasets = {}
    for split in ("train", "val", "test"):
        paths, labels = labelled_videos(root, split, label2id, clip_seconds=preset.clip_duration)
        videos = [(str(path), {"label": label}) for path, label in zip(paths, labels, strict=True)]
        train = split == "train"
        datasets[split] = LabeledVideoDataset(
            videos,
            clip_sampler=make_clip_sampler("random" if train else "uniform", preset.clip_duration),
            # training: a seeded shuffle, sharded between processes; val/test: the same order everywhere
            video_sampler=partial(ShardedVideoSampler, seed=preset.seed) if train
            else torch.utils.data.SequentialSampler,
            decode_audio=False, transform=train_transform if train else val_transform,
        )
        datasets[split].video_path_handler = upright_videos(image_processor)
    return datasets


def upright_videos(image_processor) -> UprightVideos:
    """The guide's datasets' ``video_path_handler`` (02_preprocess_and_visualize): ``helpers.video``'s reader,
    frames shrunk while decoded to what the transforms need."""
    return UprightVideos(short_side=max(scale_range(frame_size(image_processor))[1], KEEP_SHORT_SIDE))


def make_fast_datasets(preset: Preset, root: Path, image_processor, shuffle_frames: bool = False) -> dict:
    """``FastVideoDataset``s for train, val and test, the datasets of the fast pipeline (06_fast_pipeline)."""
    label2id, _ = label_maps(class_names(root))
    datasets = {}
    for split in ("train", "val", "test"):
        paths, labels = labelled_videos(root, split, label2id, clip_seconds=preset.clip_duration)
        datasets[split] = FastVideoDataset(
            paths, labels, preset.num_frames, preset.clip_duration, train=split == "train",
            short_side=scale_range(frame_size(image_processor))[1], shuffle_frames=shuffle_frames,
        )
    return datasets


def collate_fn(examples: list[dict]) -> dict[str, torch.Tensor]:
    """Stack clips into the model's (batch, frames, channels, height, width) ``pixel_values``."""
    # PyTorchVideo gives (channels, frames, height, width); VideoMAE wants frames first
    pixel_values = torch.stack([example["video"].permute(1, 0, 2, 3) for example in examples])
    labels = torch.tensor([example["label"] for example in examples])
    return {"pixel_values": pixel_values, "labels": labels}


def make_compute_metrics():
    """``compute_metrics`` for the Trainer: argmax of the logits, then accuracy (the project's own copy of
    ``evaluate``'s metric: no network needed)."""
    metric = evaluate.load(str(METRIC_DIR))

    def compute_metrics(eval_pred):
        predictions = np.argmax(eval_pred.predictions, axis=1)
        return metric.compute(predictions=predictions, references=eval_pred.label_ids)

    return compute_metrics


def steps_per_epoch(num_videos: int, batch_size: int, workers: int, processes: int = 1) -> int:
    """Batches in one pass over the training videos: every loader worker of every process ends its share of the
    videos with its own, smaller batch."""
    per_process = num_videos // processes
    shares = max(1, workers)
    sizes = [per_process // shares + (1 if i < per_process % shares else 0) for i in range(shares)]
    return max(1, sum(math.ceil(size / batch_size) for size in sizes))


def training_arguments(preset: Preset, output_dir: Path, num_train_videos: int, **overrides) -> TrainingArguments:
    """The guide's ``TrainingArguments`` in transformers 5's names."""
    workers = loader_workers(preset)
    processes = int(os.environ.get("WORLD_SIZE", 1))
    if preset.pipeline == "fast":  # a dataset with a length: one batch per batch_size videos, whatever the workers
        epoch_steps = math.ceil(num_train_videos / processes / preset.batch_size)
    else:
        epoch_steps = steps_per_epoch(num_train_videos, preset.batch_size, workers, processes)
    return TrainingArguments(**dict(
        output_dir=str(output_dir), report_to="none", seed=preset.seed, data_seed=preset.seed,
        remove_unused_columns=False,  # the model takes "pixel_values", the datasets yield "video": keep every column
        eval_strategy="epoch", save_strategy="epoch", save_total_limit=2, metric_for_best_model="accuracy",
        learning_rate=preset.learning_rate, weight_decay=preset.weight_decay,
        warmup_steps=preset.warmup,  # a float below 1 is a ratio of all steps
        per_device_train_batch_size=preset.batch_size, per_device_eval_batch_size=preset.batch_size,
        num_train_epochs=preset.num_epochs, logging_steps=max(1, min(10, epoch_steps // 2)),
        # the PyTorchVideo datasets have no length: the steps of the run, given (the fast ones have one)
        max_steps=epoch_steps * preset.num_epochs if preset.pipeline == "pytorchvideo" else -1,
        dataloader_num_workers=workers, use_cpu=pick_device() == "cpu",
        **mixed_precision(),  # bf16 where the GPU has it natively, fp16 on other CUDA GPUs, else float32
        # off: the Trainer reloads the best checkpoint without converting VideoMAE's q_bias/v_bias names, keeping the
        # last epoch's biases; run_training reloads it with from_pretrained, which converts them
        load_best_model_at_end=False,
        # off: the Trainer would create the Hub repository before training, so an unreachable Hub would cost the run;
        # run_training pushes the saved model folder at the end instead (push_model_folder)
        push_to_hub=False, hub_model_id=preset.hub_model_id or None,
    ) | overrides)


def make_trainer(preset: Preset, root: Path, output_dir: Path, shuffle_frames: bool = False):
    """Everything the Trainer needs, built from the preset: returns (trainer, datasets)."""
    label2id, id2label = label_maps(class_names(root))
    model, processor = build_model(preset, label2id, id2label)
    if preset.pipeline == "fast":
        datasets = make_fast_datasets(preset, root, processor, shuffle_frames=shuffle_frames)
        collator, transform = collate_uint8, VideoBatchTransform.from_processor(processor, hflip=preset.hflip)
    else:
        datasets = make_datasets(preset, root, processor, shuffle_frames=shuffle_frames)
        collator, transform = collate_fn, None
    args = training_arguments(preset, output_dir, datasets["train"].num_videos)
    trainer = VideoTrainer(
        model=model, args=args,
        train_dataset=datasets["train"], eval_dataset=datasets["val"],
        processing_class=processor,  # saved beside the model, so pipeline() finds it
        compute_metrics=make_compute_metrics(), data_collator=collator, video_transform=transform,
        callbacks=[ReportEpochs(preset.num_epochs, steps_per_epoch=args.max_steps // preset.num_epochs
                                if args.max_steps > 0 else None)],
    )
    return trainer, datasets


def prepare_output_dir(path: Path, overwrite: bool = False, resume: bool = False) -> Path:
    """Refuse to train into a folder that holds an earlier run (``RUN_ENTRIES``), unless asked to overwrite or
    resume. ``overwrite`` removes a run only from a folder that holds nothing else: a ``model`` beside your files
    may be yours."""
    path = Path(path)
    ours = [path / name for name in RUN_ENTRIES if (path / name).exists() or (path / name).is_symlink()]
    others = sorted(p.name for p in path.iterdir() if p.name not in (*RUN_ENTRIES, LOCK_NAME)) if path.is_dir() else []
    listed = f"{', '.join(others[:5])}{', ...' if len(others) > 5 else ''}"
    by_hand = f"remove the earlier run yourself (rm -r {' '.join(str(p) for p in ours)})"
    if ours and not (overwrite or resume):
        replace = (f"{by_hand}, as the folder holds other files too ({listed})" if others else
                   f"overwrite it (--overwrite, which removes {' and '.join(RUN_ENTRIES)} only)")
        raise FileExistsError(printable(
            f"{path} already holds a training run ({', '.join(p.name for p in ours)}); nothing was deleted. "
            f"Resume it (--resume, or RESUME=1 in the notebook), {replace}, or choose another folder (--output-dir)."))
    if overwrite and ours:
        if others:
            raise FileExistsError(printable(
                f"--overwrite refused: {path} holds {len(others)} entr{'y' if len(others) == 1 else 'ies'} besides "
                f"the earlier run that training does not write ({listed}); nothing was deleted. Choose another "
                f"folder (--output-dir), or {by_hand} if those are the run's to replace."))
        for entry in ours:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        print(printable(f"--overwrite: removed the earlier run ({', '.join(p.name for p in ours)}) from {path}."))
    return check_writable(path)


def save_model_folder(trainer: Trainer, model_dir: Path) -> Path:
    """Write the weights, the config with the label maps and the image processor (no ``training_args.bin``)."""
    trainer.model.save_pretrained(model_dir)
    trainer.processing_class.save_pretrained(model_dir)
    return Path(model_dir)


def write_model_card(model_dir: Path, preset: Preset, metrics: dict) -> Path:
    """A README.md beside the weights: what the model is, what it was trained on, how well it does."""
    import pytorchvideo

    about = describe(preset)
    if preset.data_dir:  # your folder by its name only: the card goes to the Hub, a full path can hold a user name
        about = about.replace(str(preset.dataset_dir), preset.dataset_dir.name)
    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "transformers": transformers.__version__, "pytorchvideo": pytorchvideo.__version__,
                "evaluate": evaluate.__version__}
    lines = [
        "---", "library_name: transformers", "pipeline_tag: video-classification", "tags: [videomae]", "---", "",
        f"# VideoMAE video classifier ({preset.name} preset)", "",
        "Trained with the video classification tutorial (notebook 04 or `python -m helpers.train`).", "",
        f"- {about}",
        f"- Labels: {', '.join(json.loads((model_dir / 'config.json').read_text())['id2label'].values())}",
        f"- Training: {preset.num_epochs} epochs, batch {preset.batch_size}, learning rate {preset.learning_rate}, "
        f"seed {preset.seed}",
        "", "## Results", "", "| metric | value |", "| --- | --- |",
        *[f"| {k} | {v:.4f} |" if isinstance(v, float) else f"| {k} | {v} |" for k, v in metrics.items()],
        "", "## Versions", "", *[f"- {k} {v}" for k, v in versions.items()], "",
        "## Use", "", "```python", "from transformers import pipeline",
        f'classifier = pipeline("video-classification", model="{model_dir.name}")',
        'classifier("video.mp4")', "```", "",
    ]
    card = model_dir / "README.md"
    card.write_text("\n".join(lines))
    return card


class HubPushError(RuntimeError):
    """The push to the Hub failed; the model folder is saved locally (the message says where)."""


def hub_failure(err: BaseException, repo_id: str, model_dir: Path) -> str:
    """One message for a push to the Hub that failed: why, what to do, and that the model is saved locally."""
    from huggingface_hub import constants

    chain, link = [], err
    while link is not None and len(chain) < 10:
        chain.append(link)
        link = link.__cause__ or link.__context__
    names = " ".join(type(e).__name__ for e in chain)
    status = next((getattr(getattr(e, "response", None), "status_code", None) for e in chain
                   if getattr(getattr(e, "response", None), "status_code", None)), None)
    first_line = (str(err).strip().splitlines() or [type(err).__name__])[0]
    if "OfflineModeIsEnabled" in names:
        reason, fix = "offline mode is on (HF_HUB_OFFLINE=1)", "Unset HF_HUB_OFFLINE"
    elif status in (401, 403):
        reason = f"the Hub refused the token ({status})"
        fix = ("Set HF_TOKEN to a token with write access (https://huggingface.co/settings/tokens), or log in "
               "with `hf auth login`")
    elif any(word in names for word in ("Connect", "Timeout", "NetworkError", "ProtocolError")):
        reason = f"the Hub at {constants.ENDPOINT} cannot be reached ({first_line})"
        fix = "Check the internet connection (and HF_ENDPOINT, if you set it)"
    else:
        reason, fix = first_line, "Check HF_TOKEN and VC_HUB_MODEL_ID"
    return (f"Pushing the model to the Hub as {repo_id} failed: {reason}. The trained model is saved in {model_dir} "
            f"and nothing is lost. {fix}, then push that folder: hf upload {repo_id} {model_dir}")


def push_model_folder(model_dir: Path, repo_id: str) -> str:
    """Upload a saved model folder to the Hub; return the repo's URL, or raise HubPushError (``hub_failure``)."""
    from huggingface_hub import create_repo, upload_folder

    try:
        url = create_repo(repo_id, exist_ok=True)
        upload_folder(repo_id=url.repo_id, folder_path=str(model_dir),
                      commit_message="VideoMAE fine-tuned with the video classification tutorial")
    except Exception as err:  # offline, unreachable, refused: the message says which
        raise HubPushError(hub_failure(err, repo_id, model_dir)) from None
    return str(url)


def run_training(preset: Preset, output_dir: Path, resume: bool = False, overwrite: bool = False,
                 shuffle_frames: bool = False) -> dict:
    """What the script does: train, evaluate on the test split (per clip and per video), save, push if asked.
    Another run in ``output_dir`` at the same time is refused (OutputError)."""
    state = PartialState()  # joins the process group when started by torchrun or accelerate launch
    output_dir = Path(output_dir)
    # on CPU, torchrun's processes are no process group yet (the Trainer makes one), so each says it is the main one
    first = state.is_main_process and int(os.environ.get("RANK", "0")) == 0
    check_apart(preset, output_dir, "choose another --output-dir")  # before its lock file is written there
    with contextlib.ExitStack() as stack:
        if first:  # one lock per run: the first process holds it for all of them
            stack.enter_context(run_folder_lock(output_dir))
            print(printable(describe(preset)))  # a data folder whose name is not UTF-8
        with state.main_process_first():  # the main process generates or downloads; the others then reuse it
            root = get_dataset(preset)
            if first:
                prepare_output_dir(output_dir, overwrite=overwrite, resume=resume)
        return _train_evaluate_save(preset, root, output_dir, resume, shuffle_frames)


def _train_evaluate_save(preset: Preset, root: Path, output_dir: Path, resume: bool, shuffle_frames: bool) -> dict:
    run_dir = output_dir / CHECKPOINTS
    trainer, datasets = make_trainer(preset, root, run_dir, shuffle_frames=shuffle_frames)
    checkpoint = last_checkpoint(run_dir) if resume else None
    if resume:
        print(f"Resuming from {checkpoint}" if checkpoint else "No checkpoint to resume from: starting afresh.")
    with clear_write_errors(run_dir):
        trainer.train(resume_from_checkpoint=checkpoint)
    best = trainer.state.best_model_checkpoint  # by validation accuracy
    if best:
        trainer.model = type(trainer.model).from_pretrained(best).to(trainer.args.device)
    print(f"Best checkpoint by validation accuracy: {best}")
    metrics = {"test accuracy per clip": trainer.evaluate(datasets["test"], metric_key_prefix="test")["test_accuracy"]}
    if not trainer.is_world_process_zero():
        return metrics
    paths, labels = labelled_videos(root, "test", trainer.model.config.label2id)
    result = evaluate_videos(trainer.model, trainer.processing_class, paths, labels, preset,
                             shuffle_frames=shuffle_frames)
    metrics.update({"test accuracy per video": result["accuracy"], "test videos": result["num_videos"],
                    "clips x crops per video": views(result)})
    model_dir = output_dir / MODEL
    with clear_write_errors(run_dir, doing=f"Saving the trained model into {model_dir}"):
        save_model_folder(trainer, model_dir)
        write_model_card(model_dir, preset, metrics)
    print(json.dumps(metrics, indent=1))
    if preset.push_to_hub:
        repo_id = preset.hub_model_id or f"videomae-{preset.name}"
        print(f"Pushing {model_dir} to the Hub as {repo_id} ...", flush=True)
        print("uploaded:", push_model_folder(model_dir, repo_id))
    print(printable(f"The model is saved in {model_dir}. Classify videos with it: python -m helpers.predict "
                    f"--model {shlex.quote(str(model_dir))} video.mp4"))
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fine-tune VideoMAE as in notebook 04.")
    parser.add_argument("--preset", default=None, help="smoke, cpu or full (default: $PRESET or cpu)")
    parser.add_argument("--data-dir", default=None,
                        help="a folder of your own videos: <Class>/<videos> (split here) or {train,val,test}/<Class>/"
                             "<videos> (default: $VC_DATA_DIR, else the preset's dataset)")
    parser.add_argument("--output-dir", type=Path, default=None, help="default: outputs/<preset>/script")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output-dir")
    parser.add_argument("--overwrite", action="store_true",
                        help=f"replace an earlier run in --output-dir (its {' and '.join(RUN_ENTRIES)} folders only)")
    parser.add_argument("--shuffle-frames", action="store_true", help="control run: frames in random order")
    args = parser.parse_args(argv)
    try:
        preset = get_preset(args.preset, data_dir=args.data_dir)
        output_dir = args.output_dir or preset.output_dir / "script"
        run_training(preset, output_dir, resume=args.resume, overwrite=args.overwrite,
                     shuffle_frames=args.shuffle_frames)
    except (ValueError, FileExistsError, FileNotFoundError, OutputError, HubPushError) as err:
        raise SystemExit(f"error: {err}") from None


if __name__ == "__main__":
    main()
