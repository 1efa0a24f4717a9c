"""One video reader for every step: awkward files get the same verdict and the same upright frames everywhere.

The files are what phones, cameras and converters write, made with the ffmpeg command line: a phone video (frames
stored sideways, with rotation metadata), a file whose first video stream is its thumbnail (``attached_pic``), a
raw H.264 stream, the containers .3gp .mpg .mts .wmv, an upper-case .MP4, a file name that is not UTF-8, a JPEG and
a song with cover art named .mp4. Every step reads them: the scan (``labelled_videos``), ``read_frames``, the fast
pipeline, the guide's PyTorchVideo datasets (``make_datasets``), ``evaluate_videos`` and ``helpers.predict``.
"""

import dataclasses
import os
import re
import shutil
import struct
import subprocess
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from helpers.data import class_names, label_maps, labelled_videos, list_videos, scan_videos
from helpers.evaluation import evaluate_videos
from helpers.fast import FastVideoDataset
from helpers.predict import decode, predict_files
from helpers.video import VideoError, read_frames, write_video

FPS, FRAMES, HEIGHT, WIDTH = 30, 40, 48, 64
README = Path(__file__).resolve().parent.parent / "docs" / "troubleshooting.md"


def source_frames() -> np.ndarray:
    """Landscape frames that look different upside down or sideways: a square crossing left to right, a red corner."""
    video = np.full((FRAMES, HEIGHT, WIDTH, 3), 80, np.uint8)
    video[:, :10, :14] = (230, 30, 30)
    for t, x in enumerate(np.linspace(0, WIDTH - 16, FRAMES).astype(int)):
        video[t, 20:36, x:x + 16] = 250
    return video


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True, timeout=60)


def cover_first(mp4: Path, out: Path) -> Path:
    """``mp4`` with its cover picture (in moov/udta) moved before the tracks: FFmpeg then lists it as stream 0."""
    def boxes(data: bytes, start: int, end: int) -> list[tuple[bytes, bytes]]:
        found = []
        while start < end:
            size, kind = struct.unpack(">I4s", data[start:start + 8])
            found.append((kind, data[start:start + size]))
            start += size
        return found

    data = mp4.read_bytes()
    parts = []
    for kind, box in boxes(data, 0, len(data)):
        if kind == b"moov":  # same size, and mdat comes before it: no offset changes
            children = boxes(box, 8, len(box))
            order = sorted(children, key=lambda child: {b"mvhd": 0, b"udta": 1}.get(child[0], 2))
            box = box[:8] + b"".join(child for _, child in order)
        parts.append(box)
    out.write_bytes(b"".join(parts))
    return out


@pytest.fixture(scope="module")
def awkward(tmp_path_factory) -> dict[str, Path]:
    """The awkward files, and ``upright``: the same clip as an ordinary H.264 MP4."""
    if shutil.which("ffmpeg") is None:
        pytest.skip("needs the ffmpeg command line (Debian/Ubuntu: apt-get install ffmpeg)")
    folder = tmp_path_factory.mktemp("awkward")
    source = folder / "source.avi"
    write_video(source, source_frames(), fps=FPS)
    files = {"upright": folder / "upright.mp4"}
    ffmpeg("-i", str(source), "-c:v", "libx264", str(files["upright"]))
    # a phone video: frames stored turned a quarter clockwise, with a display matrix that turns them back
    files["sideways"] = folder / "sideways.mp4"
    ffmpeg("-i", str(source), "-vf", "transpose=1", "-c:v", "libx264", str(files["sideways"]))
    files["phone"] = folder / "phone.mp4"
    ffmpeg("-i", str(files["sideways"]), "-c", "copy", "-metadata:s:v", "rotate=90", str(files["phone"]))
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_streams", str(files["phone"])], capture_output=True,
                           text=True, check=True).stdout
    assert "Display Matrix" in probe and "rotation=90" in probe, "this ffmpeg wrote no rotation: use -display_rotation"
    cover = folder / "cover.jpg"
    ffmpeg("-i", str(source), "-frames:v", "1", str(cover))
    with_cover = folder / "with_cover.mp4"
    ffmpeg("-i", str(cover), "-i", str(source), "-map", "0", "-map", "1", "-c:v:0", "mjpeg", "-c:v:1", "libx264",
           "-disposition:v:0", "attached_pic", str(with_cover))
    files["thumbnail_first"] = cover_first(with_cover, folder / "thumbnail_first.mp4")
    for name, codec in {"x.3gp": "libx264", "x.mpg": "mpeg2video", "x.mts": "libx264", "x.wmv": "wmv2",
                        "UPPER.MP4": "libx264"}.items():
        files[name] = folder / name
        ffmpeg("-i", str(source), "-c:v", codec, str(files[name]))
    try:  # a file name that is not UTF-8 (Latin-1 "café"), where the filesystem takes one
        files["latin1"] = Path(os.fsdecode(str(folder).encode() + b"/caf\xe9.mp4"))
        shutil.copy(files["upright"], files["latin1"])
    except (OSError, UnicodeError):
        files.pop("latin1")
    # not usable
    files["raw"] = folder / "raw.h264"
    ffmpeg("-i", str(source), "-c:v", "libx264", "-f", "h264", str(files["raw"]))
    files["raw_named_mp4"] = folder / "raw.mp4"
    shutil.copy(files["raw"], files["raw_named_mp4"])
    files["jpeg"] = folder / "photo.mp4"
    shutil.copy(cover, files["jpeg"])
    files["song"] = folder / "song.mp4"
    ffmpeg("-f", "lavfi", "-i", "sine=duration=2", "-i", str(cover), "-map", "0", "-map", "1", "-c:a", "aac",
           "-c:v", "mjpeg", "-disposition:v", "attached_pic", str(files["song"]))
    return files


USABLE = ["upright", "phone", "thumbnail_first", "x.3gp", "x.mpg", "x.mts", "x.wmv", "UPPER.MP4", "latin1"]
# the file, and words its one message must hold
UNUSABLE = {"raw": "a raw h264 stream", "raw_named_mp4": "a raw h264 stream", "jpeg": "a picture, not a video",
            "song": "no video stream (audio only"}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A tiny untrained VideoMAE and its image processor, saved as notebook 03 saves them."""
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification, VideoMAEImageProcessor

    folder = tmp_path_factory.mktemp("model")
    torch.manual_seed(0)
    config = VideoMAEConfig(image_size=32, patch_size=16, num_frames=4, tubelet_size=2, hidden_size=32,
                            num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                            label2id={"A": 0, "B": 1}, id2label={0: "A", 1: "B"})
    VideoMAEForVideoClassification(config).save_pretrained(folder)
    VideoMAEImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def outcome(read) -> str:
    """"usable", or the message of the VideoError that ``read()`` raised."""
    try:
        read()
    except VideoError as err:
        return str(err)
    return "usable"


def scan_outcome(path: Path) -> str:
    good, bad = scan_videos([path])
    return "usable" if good else bad[0]


def test_every_step_gives_one_verdict_per_file_with_one_message(awkward):
    from helpers.video import UprightVideos

    steps = {
        "scan": lambda p: scan_outcome(p),
        "read_frames": lambda p: outcome(lambda: read_frames(p)),
        "fast pipeline": lambda p: outcome(lambda: FastVideoDataset([p], [0], 4, 0.5, train=False)[0]),
        "guide's pipeline": lambda p: outcome(lambda: UprightVideos().video_from_path(str(p)).get_clip(0, 0.5)),
        "predict": lambda p: outcome(lambda: decode(p, 4)),
    }
    for name in [n for n in USABLE if n in awkward] + list(UNUSABLE):
        verdicts = {step: read(awkward[name]) for step, read in steps.items()}
        assert len(set(verdicts.values())) == 1, (name, verdicts)
        verdict = verdicts["scan"]
        if name in UNUSABLE:
            assert UNUSABLE[name] in verdict and str(awkward[name]) in verdict, verdict
        else:
            assert verdict == "usable", verdict


def upright_distance(frames: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor) -> float:
    """Mean absolute difference, in 0-255 grey levels; infinite when the shapes differ (a sideways frame)."""
    frames, reference = (torch.as_tensor(np.asarray(x), dtype=torch.float32) for x in (frames, reference))
    return float((frames - reference).abs().mean()) if frames.shape == reference.shape else float("inf")


# codec error between two H.264 encodings of the same frames, in grey levels (a sideways or wrong frame: 20 or more)
CODEC_ERROR = 4


def test_a_phone_video_and_a_thumbnail_first_file_read_upright_and_whole(awkward):
    upright = read_frames(awkward["upright"])
    for name in ("phone", "thumbnail_first"):
        assert upright_distance(read_frames(awkward[name]), upright) < CODEC_ERROR, name
        fast = FastVideoDataset([awkward["upright"], awkward[name]], [0, 0], 8, FRAMES / FPS, train=False)
        assert fast.info[1] == fast.info[0], name  # frames, fps, height, width
        assert upright_distance(fast[1]["pixel_values"], fast[0]["pixel_values"]) < CODEC_ERROR, name
    # the fast pipeline seeks when a clip starts past SEEK_AFTER_SECONDS: the rotation survives the seek
    fast = FastVideoDataset([awkward["upright"], awkward["phone"]], [0, 0], 4, 0.2, train=False)
    half = len(fast) // 2
    assert upright_distance(fast[2 * half - 1]["pixel_values"], fast[half - 1]["pixel_values"]) < CODEC_ERROR


class Recorder(torch.nn.Module):
    """A stand-in model for ``evaluate_videos``: keeps the pixel values it is given, scores two classes alike."""

    def __init__(self, image_size: int):
        super().__init__()
        self.config, self.seen = SimpleNamespace(image_size=image_size), []
        self.device, self.dtype = torch.device("cpu"), torch.float32

    def forward(self, pixel_values):
        self.seen.append(pixel_values)
        return SimpleNamespace(logits=torch.zeros(len(pixel_values), 2))


def dataset_of(awkward: dict[str, Path], folder: Path, twin: str) -> Path:
    """A dataset whose every split holds the upright clip (class A) and its awkward twin (class B)."""
    for split in ("train", "val", "test"):
        for label, name in (("A", "upright"), ("B", twin)):
            (folder / split / label).mkdir(parents=True)
            shutil.copy(awkward[name], folder / split / label / f"v_{label}_g01_c01.mp4")
    return folder


@pytest.mark.parametrize("twin", ["phone", "thumbnail_first"])
def test_the_guides_pipeline_and_evaluation_see_the_twins_alike(awkward, tmp_path, twin):
    from transformers import VideoMAEImageProcessor

    from helpers.config import get_preset
    from helpers.pretrain import base_checkpoint
    from helpers.train import make_datasets

    preset = dataclasses.replace(get_preset("smoke"), num_workers=0)
    root = dataset_of(awkward, tmp_path / "data", twin)
    processor = VideoMAEImageProcessor.from_pretrained(base_checkpoint(preset))
    val = make_datasets(preset, root, processor)["val"]
    clips = {sample["label"]: sample["video"] for sample in val}
    assert clips[0].shape == clips[1].shape
    assert upright_distance(clips[1], clips[0]) < CODEC_ERROR / 255 / min(processor.image_std)

    label2id, _ = label_maps(class_names(root))
    paths, labels = labelled_videos(root, "test", label2id)
    model = Recorder(32)
    evaluate_videos(model, processor, paths, labels, preset)
    assert upright_distance(model.seen[1], model.seen[0]) < CODEC_ERROR / 255 / min(processor.image_std)


def test_odd_containers_are_listed_scanned_trained_on_and_classified(awkward, tmp_path, model_dir):
    root = tmp_path / "data"
    names = [n for n in USABLE if n in awkward]
    for split in ("train", "val", "test"):
        folder = root / split / "A"
        folder.mkdir(parents=True)
        for name in names:
            shutil.copy(awkward[name], folder / awkward[name].name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no file skipped
        listed = list_videos(root)["train"]
        paths, _ = labelled_videos(root, "train", {"A": 0})
    assert sorted(p.name for p in listed) == sorted(p.name for p in paths) == sorted(awkward[n].name for n in names)
    fast = FastVideoDataset(paths, [0] * len(paths), 4, 0.5, train=True)
    assert all(fast[i]["pixel_values"].shape == (4, HEIGHT, WIDTH, 3) for i in range(len(paths)))
    results, failures = predict_files(paths, model_dir, top_k=2, progress=False)
    assert failures == [] and len(results) == len(paths)
    # the same clip in another container: the model is given the same frames as from the ordinary MP4
    reference = decode(awkward["upright"], 4)[0]
    for path in paths:
        assert upright_distance(decode(path, 4)[0], reference) < CODEC_ERROR, path


def test_predict_sees_a_phone_video_and_a_thumbnail_first_file_as_their_upright_twin(awkward, model_dir):
    names = ["upright", "phone", "thumbnail_first", "sideways"]
    results, failures = predict_files([awkward[n] for n in names], model_dir, top_k=2, progress=False)
    assert failures == []
    assert [(r["width"], r["height"], r["frames"]) for r in results] == [(WIDTH, HEIGHT, FRAMES)] * 3 + [
        (HEIGHT, WIDTH, FRAMES)]
    seen = {name: decode(awkward[name], 4)[0] for name in names}  # the frames the model is given
    assert upright_distance(seen["phone"], seen["upright"]) < CODEC_ERROR
    assert upright_distance(seen["thumbnail_first"], seen["upright"]) < CODEC_ERROR
    # the phone video's frames as stored, without the rotation: sideways, so the checks above can fail
    assert upright_distance(seen["sideways"], seen["upright"]) == float("inf")


def test_the_readme_explains_every_message_of_the_reader():
    # the messages, as the troubleshooting tables quote them
    quoted = [m for line in README.read_text().splitlines() for m in re.findall(r"`([^`]+)`", line)]
    for words in ("a picture, not a video", "no video stream (audio only", "a raw ... stream without a container",
                  "not a video file name", "its header gives 0 frames per second"):
        assert any(words in message for message in quoted), words


def test_the_guides_pipeline_reads_an_ordinary_video_exactly_as_pytorchvideo_does(tiny_dataset):
    from pytorchvideo.data.encoded_video import EncodedVideo

    from helpers.video import UprightVideos

    path = sorted(tiny_dataset.glob("train/*/*.avi"))[0]
    theirs = EncodedVideo.from_path(str(path), decode_audio=False)
    ours = UprightVideos(short_side=320).video_from_path(str(path))
    assert ours.duration == pytest.approx(theirs.duration) and ours.name == theirs.name == path.name
    for start in (0.0, 0.5, theirs.duration - 0.6):  # the later windows seek
        expected, got = theirs.get_clip(start, start + 0.6)["video"], ours.get_clip(start, start + 0.6)["video"]
        assert got.dtype == expected.dtype == torch.float32 and torch.equal(got, expected), start


def test_large_frames_are_shrunk_as_they_are_decoded_for_training_evaluation_and_gifs(tmp_path, monkeypatch):
    """4K input once took 15 GB for 8 clips in the guide's pipeline (full-size float32 frames): frames larger than
    the transforms need are now shrunk by swscale while decoding. Checked here on 960x720 frames."""
    from transformers import VideoMAEImageProcessor

    import helpers.evaluation
    from helpers.config import get_preset
    from helpers.train import make_datasets

    frames = np.repeat(source_frames()[:8], 15, axis=1).repeat(15, axis=2)  # 720x960
    root = tmp_path / "data"
    for split in ("train", "val", "test"):
        write_video(root / split / "A" / "v_A_g01_c01.avi", frames, fps=FPS)
    preset = dataclasses.replace(get_preset("smoke"), num_workers=0)
    processor = VideoMAEImageProcessor()  # 224 pixels, as VideoMAE-base: the training scale goes up to 320
    val = make_datasets(preset, root, processor)["val"]
    path = root / "val" / "A" / "v_A_g01_c01.avi"
    clip = val.video_path_handler.video_from_path(str(path)).get_clip(0, 1)["video"]
    assert tuple(clip.shape) == (3, 8, 320, 426)
    assert next(iter(val))["video"].shape == (3, preset.num_frames, 224, 224)
    # evaluation: the frames it decodes are shrunk to the view size (224) or 240, not kept at 720
    read = []
    monkeypatch.setattr(helpers.evaluation, "read_frames",
                        lambda *args, **kwargs: read.append(read_frames(*args, **kwargs)) or read[-1])
    evaluate_videos(Recorder(224), processor, [path], [0], preset)
    assert read[0].shape[1:] == (240, 320, 3)
    # the GIF previews of notebook 05 too
    import helpers.video
    from helpers.viz import preview

    monkeypatch.setattr(helpers.video, "read_frames", helpers.evaluation.read_frames)
    preview(path, ["a caption"])
    assert read[1].shape[1:] == (256, 342, 3)  # the preview's 256 pixels high, not 4K


def test_clips_anywhere_in_every_container_are_the_frames_read_frames_gives(awkward):
    """Clips that start past the first second make both pipelines seek; MPEG-TS (one keyframe, timestamps that
    start at 1.4 s) and MPEG-PS seek badly: the readers then decode from the start instead of giving no clip."""
    from helpers.fast import clip_indices
    from helpers.video import UprightVideos

    for name in [n for n in USABLE if n in awkward]:
        path = awkward[name]
        every = read_frames(path)
        fast = FastVideoDataset([path], [0], 4, 6 / FPS, train=False)  # windows of 6 frames, the last at 1.0 s
        for k in range(len(fast)):
            expected = every[clip_indices(6 * k, 6, 4)]
            assert upright_distance(fast[k]["pixel_values"], expected) < 1, (name, k)
        video = UprightVideos().video_from_path(str(path))
        for start in (0.0, 0.5, 1.0):
            clip = video.get_clip(start, start + 0.2)["video"]
            assert clip is not None, (name, start)
            first = round(start * FPS)
            assert upright_distance(clip.permute(1, 2, 3, 0), every[first:first + clip.shape[1]]) < 1, (name, start)
