"""The bad-input matrix: broken, odd and hostile files through the functions the notebooks use.

Every case has one documented outcome (the README's troubleshooting table): skipped with a warning that counts
and names the files, a clear error naming the file and the fix, or used as it is. None hangs, none gives a
wrong label.
"""

import dataclasses
import os
import shutil
import signal
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from helpers.data import DataError, class_names, label_maps, labelled_videos, parse_name
from helpers.evaluation import evaluate_videos
from helpers.predict import predict_files
from helpers.train import make_datasets, make_trainer, save_model_folder
from helpers.video import VideoError, write_video

KOREAN = "위로 이동"  # "moving up", with a space


def moving_bar(frames: int, height: int, width: int) -> np.ndarray:
    video = np.zeros((frames, height, width, 3), np.uint8)
    for t in range(frames):
        x = int(t / max(1, frames - 1) * (width - 8))
        video[t, :, x:x + 8] = 230
    return video


def write_audio_only(path: Path) -> Path:
    """An AVI with a single MP2 audio stream and no video."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mp2", rate=44100, layout="mono")
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1152 * 20), np.int16), format="s16", layout="mono")
        frame.sample_rate = 44100
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)
    return path


def truncate(source: Path, path: Path) -> Path:
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def rename_class(root: Path, old: str, new: str) -> None:
    for split in ("train", "val", "test"):
        folder = root / split / old
        for video in folder.iterdir():
            video.rename(folder / video.name.replace(f"v_{old}_", f"v_{new}_"))
        folder.rename(root / split / new)


@pytest.fixture
def messy_dataset(tiny_dataset, tmp_path) -> tuple[Path, dict[str, Path]]:
    """The tiny dataset at a path with a space and Korean, one class named in Korean, and every kind of bad file:
    returns the root and the bad files (which must be skipped)."""
    root = tmp_path / "my videos 동영상"
    shutil.copytree(tiny_dataset, root)
    rename_class(root, "MoveUp", KOREAN)
    left, right = root / "train" / "MoveLeft", root / "train" / "MoveRight"
    good = next(left.iterdir())
    bad = {
        "empty": left / "v_MoveLeft_g07_c01.avi",
        "text": left / "v_MoveLeft_g07_c02.avi",
        "audio": write_audio_only(left / "v_MoveLeft_g07_c03.avi"),
        "truncated": truncate(good, left / "v_MoveLeft_g07_c04.avi"),
    }
    bad["empty"].write_bytes(b"")
    bad["text"].write_text("this is not a video\n")
    # non-video files beside the videos, and a class folder with nothing in it (sorted first)
    (left / ".DS_Store").write_bytes(b"\0\1")
    (right / "notes.txt").write_text("filmed on Tuesday\n")
    for split in ("train", "val"):
        (root / split / "AAA_empty").mkdir()
    # odd and portrait sizes, and a video shorter than one clip, all usable
    write_video(right / "v_MoveRight_g08_c01.avi", moving_bar(40, 61, 97))
    write_video(right / "v_MoveRight_g08_c02.avi", moving_bar(40, 320, 240))
    write_video(root / "test" / KOREAN / f"v_{KOREAN}_g09_c01.avi", moving_bar(3, 240, 320))
    return root, bad


def test_bad_files_are_skipped_with_one_warning_that_counts_and_names_them(messy_dataset):
    root, bad = messy_dataset
    label2id, _ = label_maps(class_names(root))
    with pytest.warns(UserWarning) as caught:
        paths, labels = labelled_videos(root, "train", label2id)
    (skipped,) = [str(w.message) for w in caught if "Skipping" in str(w.message)]
    assert f"Skipping 4 of {len(paths) + 4} files in {root / 'train'}" in skipped
    for reason, (kind, path) in zip(["empty", "cannot be decoded", "no video stream", "truncated"], bad.items(),
                                    strict=True):
        assert any(str(path) in line and reason in line for line in skipped.splitlines()), kind
    assert not set(bad.values()) & set(paths)
    # odd sizes are kept; every label is its folder's class
    assert {"v_MoveRight_g08_c01.avi", "v_MoveRight_g08_c02.avi"} <= {p.name for p in paths}
    assert labels == [label2id[p.parent.name] for p in paths]


def test_an_empty_class_folder_is_ignored_and_shifts_no_label(messy_dataset):
    root, _ = messy_dataset
    classes = class_names(root)
    assert "AAA_empty" not in classes and KOREAN in classes
    label2id, _ = label_maps(classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        datasets = make_datasets(get_smoke(), root, processor_for(get_smoke()))
    # PyTorchVideo's Ucf101 numbers every folder, empty ones too: here the label always matches the class name
    for sample, _ in zip(datasets["val"], range(12), strict=False):
        assert sample["label"] == label2id[parse_name(Path(sample["video_name"]))[0]]


def test_a_class_whose_videos_are_all_unreadable_is_an_error_naming_it(dataset_copy):
    for video in (dataset_copy / "val" / "MoveDown").iterdir():
        video.write_bytes(b"")
    label2id, _ = label_maps(class_names(dataset_copy))
    with pytest.warns(UserWarning, match="Skipping"), pytest.raises(DataError, match=r"MoveDown.*Add videos"):
        labelled_videos(dataset_copy, "val", label2id)


def test_a_video_shorter_than_one_clip_is_used_and_counted(messy_dataset, capsys):
    root, _ = messy_dataset
    label2id, _ = label_maps(class_names(root))
    paths, _ = labelled_videos(root, "test", label2id, clip_seconds=1.0)
    assert any(p.name == f"v_{KOREAN}_g09_c01.avi" for p in paths)
    assert "1 of" in capsys.readouterr().out


def get_smoke():
    from helpers.config import get_preset

    return dataclasses.replace(get_preset("smoke"), num_workers=0)


def processor_for(preset):
    from transformers import VideoMAEImageProcessor

    from helpers.pretrain import base_checkpoint

    return VideoMAEImageProcessor.from_pretrained(base_checkpoint(preset))


@pytest.mark.parametrize("pipeline", ["pytorchvideo", "fast"])
def test_training_on_a_messy_folder_works_and_the_model_reads_korean_paths(messy_dataset, tmp_path, pipeline):
    root, bad = messy_dataset
    preset = dataclasses.replace(get_smoke(), pipeline=pipeline)
    with pytest.warns(UserWarning, match="Skipping 4 of"):
        trainer, datasets = make_trainer(preset, root, tmp_path / "run")
    result = trainer.train()
    assert result.global_step == trainer.state.max_steps > 0
    assert KOREAN in trainer.model.config.id2label.values()
    label2id = {name: i for i, name in trainer.model.config.id2label.items()}
    paths, labels = labelled_videos(root, "test", label2id)
    per_video = evaluate_videos(trainer.model, trainer.processing_class, paths, labels, preset)
    assert per_video["num_videos"] == len(paths)
    model_dir = save_model_folder(trainer, tmp_path / "모델 folder")
    korean_video = root / "test" / KOREAN / f"v_{KOREAN}_g09_c01.avi"
    results, failures = predict_files([korean_video, bad["audio"]], model_dir, top_k=5, progress=False)
    assert [r["file"] for r in results] == [str(korean_video)] and results[0]["padded"]
    assert {p["label"] for p in results[0]["predictions"]} == set(label2id)
    (failure,) = failures
    assert str(bad["audio"]) in failure["error"] and "no video stream" in failure["error"]


def test_fast_pipeline_a_file_broken_mid_epoch_stops_training_naming_it(dataset_copy, tmp_path):
    preset = dataclasses.replace(get_smoke(), pipeline="fast", num_workers=1)
    trainer, datasets = make_trainer(preset, dataset_copy, tmp_path / "run")
    broken = datasets["train"].paths[0]
    broken.write_text("overwritten while training\n")
    with pytest.raises(VideoError, match=broken.name):
        trainer.train()


def test_pytorchvideo_a_file_broken_mid_epoch_is_a_warning_naming_it(dataset_copy):
    preset = get_smoke()
    datasets = make_datasets(preset, dataset_copy, processor_for(preset))
    broken = Path(datasets["train"]._labeled_videos[0][0])
    broken.write_text("overwritten while training\n")
    with pytest.warns(UserWarning, match=f"skipped a video.*{broken.name}"):
        names = [sample["video_name"] for sample in datasets["train"]]
    assert broken.name not in names and names


class DiesInWorker(torch.utils.data.Dataset):
    """A dataset whose loader worker is killed (as the kernel's out-of-memory killer would)."""

    def __len__(self):
        return 8

    def __getitem__(self, index):
        if torch.utils.data.get_worker_info() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        return {"pixel_values": torch.zeros(4, 3, 32, 32), "labels": 0}


def test_a_loader_worker_that_dies_stops_training_with_advice(tmp_path):
    from transformers import TrainingArguments, VideoMAEConfig, VideoMAEForVideoClassification

    from helpers.train import VideoTrainer

    config = VideoMAEConfig(image_size=32, num_frames=4, patch_size=16, hidden_size=32, num_hidden_layers=1,
                            num_attention_heads=2, intermediate_size=64, num_labels=2)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none", max_steps=2,
                             per_device_train_batch_size=2, dataloader_num_workers=1)
    trainer = VideoTrainer(model=VideoMAEForVideoClassification(config), args=args, train_dataset=DiesInWorker())
    with pytest.raises(RuntimeError, match=r"(?s)DataLoader worker.*VC_NUM_WORKERS=1.*--resume"):
        trainer.train()


# --- frame rates: memory bounded by the clip, not the rate; one message for a header without one ----------------

def write_10000_fps(path: Path, seconds: float = 0.3) -> Path:
    """A real 10,000-fps MP4 (a screen recorder's or a broken header's rate): 3,000 frames in 0.3 s."""
    write_video(path, moving_bar(round(seconds * 10_000), 48, 64), fps=10_000)
    return path


def write_0_fps(path: Path) -> Path:
    """A real MP4 whose header gives 0 fps: written at 25 fps, then its sample durations (``stts``) and the movie's,
    track's and media's durations (``mvhd``, ``tkhd``, ``mdhd``) set to 0, as broken muxers leave them. FFmpeg
    still decodes its 20 frames, but reports neither an average nor a guessed frame rate."""
    write_video(path, moving_bar(20, 48, 64), fps=25)
    data = bytearray(path.read_bytes())
    stts = data.find(b"stts") - 4
    for entry in range(int.from_bytes(data[stts + 12:stts + 16], "big")):
        data[stts + 20 + 8 * entry:stts + 24 + 8 * entry] = bytes(4)
    for box, duration_at in ((b"mvhd", 24), (b"tkhd", 28), (b"mdhd", 24)):
        start = data.find(box) - 4
        assert data[start + 8] == 0, f"{box} is not a version 0 box"
        data[start + duration_at:start + duration_at + 4] = bytes(4)
    path.write_bytes(data)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert not stream.average_rate and not stream.guessed_rate and any(container.decode(stream))
    return path


@pytest.fixture
def tiny_model_dir(tmp_path) -> Path:
    """An untrained one-layer VideoMAE and its processor, as ``save_pretrained`` writes them."""
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification, VideoMAEImageProcessor

    config = VideoMAEConfig(image_size=32, patch_size=16, num_frames=4, hidden_size=32, num_hidden_layers=1,
                            num_attention_heads=2, intermediate_size=64, num_labels=2)
    VideoMAEForVideoClassification(config).save_pretrained(tmp_path / "model")
    VideoMAEImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        tmp_path / "model")
    return tmp_path / "model"


def test_a_10000_fps_video_trains_with_the_frames_of_a_30_fps_one_in_both_pipelines(dataset_copy, monkeypatch,
                                                                                     tiny_model_dir):
    from helpers.fast import collate_uint8
    from helpers.train import make_fast_datasets
    from helpers.video import UprightClips

    left = dataset_copy / "train" / "MoveLeft"
    group = parse_name(next(left.iterdir()))[1]
    fast_video = write_10000_fps(left / f"v_MoveLeft_{group}_c09.mp4")
    bound = 30 * 0.3 + 1  # one frame per 1/30 s of the 0.3 s video (helpers.video.MAX_FPS)
    preset = get_smoke()
    # the guide's pipeline: what the reader hands PyTorchVideo for each clip of the file
    clip_frames = []
    get_clip = UprightClips.get_clip

    def counting(self, start, end):
        clip = get_clip(self, start, end)
        if self.path == fast_video:
            clip_frames.append(clip["video"].shape[1])
        return clip

    monkeypatch.setattr(UprightClips, "get_clip", counting)
    train = make_datasets(preset, dataset_copy, processor_for(preset))["train"]
    samples = list(train)
    assert clip_frames and max(clip_frames) <= bound, clip_frames
    assert {s["video"].shape[1] for s in samples} == {preset.num_frames}
    # the fast pipeline: the file is counted at 30 fps, and its whole video (the cache) is as short
    fast = make_fast_datasets(dataclasses.replace(preset, pipeline="fast"), dataset_copy,
                              processor_for(preset))["train"]
    index = fast.paths.index(fast_video)
    frames, fps, _, _ = fast.info[index]
    assert fps == 30 and frames <= bound
    fast.cache_bytes = 2**30
    assert len(fast.cached(index, frames, fps, None)) <= bound
    batch = collate_uint8([fast[index]])
    assert batch["pixel_values"].shape[1] == preset.num_frames
    # the evaluation and predict read it too, a clip's frames each
    (result,), failures = predict_files([fast_video], tiny_model_dir, progress=False)
    assert not failures and len(result["indices"]) == 4


def test_a_0_fps_header_gives_one_message_in_the_scan_the_fast_pipeline_and_predict(dataset_copy, tiny_model_dir):
    from helpers.fast import FastVideoDataset

    left = dataset_copy / "train" / "MoveLeft"
    group = parse_name(next(left.iterdir()))[1]
    zero = write_0_fps(left / f"v_MoveLeft_{group}_c09.mp4")
    message = f"{zero}: its header gives 0 frames per second"
    fix = f"ffmpeg -r 30 -i '{zero}' out.mp4"
    label2id, _ = label_maps(class_names(dataset_copy))
    with pytest.warns(UserWarning) as caught:
        paths, _ = labelled_videos(dataset_copy, "train", label2id)
    (skipped,) = [str(w.message) for w in caught if "Skipping" in str(w.message)]
    assert message in skipped and fix in skipped and zero not in paths
    with pytest.raises(VideoError) as fast_error:
        FastVideoDataset([zero], [0], num_frames=8, clip_duration=1.0)
    results, (failure,) = predict_files([zero], tiny_model_dir, progress=False)
    assert not results
    for text in (str(fast_error.value), failure["error"]):
        assert message in text and fix in text
