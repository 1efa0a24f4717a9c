"""helpers.pretrain: tube masks, pretraining (loss, resume, reuse), the checkpoint folder, the fit check,
reconstructions."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import (
    BertConfig,
    BertModel,
    VideoMAEForPreTraining,
    VideoMAEForVideoClassification,
    VideoMAEImageProcessor,
)

import helpers.config
import helpers.model
import helpers.pretrain
from helpers.data import list_videos
from helpers.model import check_model_folder, save_checkpoint, scratch_config
from helpers.pretrain import LOG_FILE, pretrain, reconstruction_frames, tube_mask

MEAN, STD = [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]


@pytest.fixture(autouse=True)
def own_data_dir(tmp_path, monkeypatch):
    """Random-weight checkpoints go to a temporary folder, not the project's data/."""
    monkeypatch.setattr(helpers.config, "DATA_DIR", tmp_path / "data")


@pytest.fixture
def preset(tiny_preset):
    return tiny_preset


def small_model(preset) -> VideoMAEForPreTraining:
    torch.manual_seed(0)
    return VideoMAEForPreTraining(scratch_config(preset))


def processor(preset) -> VideoMAEImageProcessor:
    size = preset.image_size
    return VideoMAEImageProcessor(size={"shortest_edge": size}, crop_size={"height": size, "width": size})


def test_tube_mask_hides_the_same_patches_in_every_frame_and_the_right_count():
    mask = tube_mask(3, 8, 64, 64, 8, 2, 0.9, torch.Generator().manual_seed(0))
    assert mask.dtype == torch.bool and mask.shape == (3, 4 * 64)
    per_time = mask.view(3, 4, 64)  # tokens go time first, then rows and columns
    assert (per_time == per_time[:, :1]).all(), "a hidden patch must stay hidden at every time step"
    assert per_time.sum(-1).eq(57).all(), "int(0.9 * 64) patches hidden per time step, in every clip"
    assert not (per_time[0, 0] == per_time[1, 0]).all(), "each clip draws its own mask"


def test_tube_mask_is_reproducible_with_a_generator():
    first = tube_mask(2, 4, 32, 32, 8, 2, 0.75, torch.Generator().manual_seed(1))
    again = tube_mask(2, 4, 32, 32, 8, 2, 0.75, torch.Generator().manual_seed(1))
    assert torch.equal(first, again)


@pytest.mark.parametrize("ratio", [0.0, 1.0])
def test_tube_mask_refuses_a_ratio_that_hides_nothing_or_everything(ratio):
    with pytest.raises(ValueError, match="hides"):
        tube_mask(1, 4, 32, 32, 8, 2, ratio)


def test_a_few_pretraining_steps_lower_the_loss(preset, tiny_dataset, tmp_path):
    paths = list_videos(tiny_dataset)["train"]
    # plain pixel targets: the loop must learn the colours fast (the normalized target is VideoMAE's, slower to move)
    losses = pretrain(preset, paths, steps=30, folder=tmp_path / "ckpt", batch_size=4, learning_rate=3e-3,
                      norm_pix_loss=False)
    assert len(losses) == 30 and all(np.isfinite(losses))
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    log = json.loads((tmp_path / "ckpt" / LOG_FILE).read_text())
    assert log["losses"] == losses and log["settings"]["steps"] == 30


def test_an_interrupted_pretraining_resumes_where_it_stopped(preset, tiny_dataset, tmp_path, monkeypatch):
    paths = list_videos(tiny_dataset)["train"]
    settings = dict(steps=8, batch_size=2, save_every=3)
    whole = pretrain(preset, paths, folder=tmp_path / "whole", **settings)

    calls = {"n": 0}
    real_mask = helpers.pretrain.tube_mask

    def mask_then_die(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 7:  # during step 7: steps 1-6 are done, the state of step 6 is saved
            raise KeyboardInterrupt
        return real_mask(*args, **kwargs)

    monkeypatch.setattr(helpers.pretrain, "tube_mask", mask_then_die)
    with pytest.raises(KeyboardInterrupt):
        pretrain(preset, paths, folder=tmp_path / "cut", **settings)
    assert not (tmp_path / "cut").exists(), "no checkpoint folder until the run is finished"
    assert (tmp_path / "cut.partial" / "state.pt").is_file()
    monkeypatch.setattr(helpers.pretrain, "tube_mask", real_mask)

    resumed = pretrain(preset, paths, folder=tmp_path / "cut", **settings)
    assert resumed == pytest.approx(whole, rel=1e-5), "the resumed run continues as the whole run went on"
    assert not (tmp_path / "cut.partial").exists()
    a = VideoMAEForPreTraining.from_pretrained(tmp_path / "whole").state_dict()
    b = VideoMAEForPreTraining.from_pretrained(tmp_path / "cut").state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_a_finished_checkpoint_is_reused_and_other_settings_are_refused(preset, tiny_dataset, tmp_path, capsys):
    paths = list_videos(tiny_dataset)["train"]
    losses = pretrain(preset, paths, steps=2, folder=tmp_path / "ckpt", batch_size=2)
    assert pretrain(preset, paths, steps=2, folder=tmp_path / "ckpt", batch_size=2) == losses
    assert "Reusing" in capsys.readouterr().out
    with pytest.raises(FileExistsError, match=r"(?s)ckpt.*steps 2 instead of 3.*delete"):
        pretrain(preset, paths, steps=3, folder=tmp_path / "ckpt", batch_size=2)


def test_the_saved_folder_loads_as_the_guide_loads_a_checkpoint(preset, tmp_path):
    model = small_model(preset)
    folder = save_checkpoint(model, processor(preset), tmp_path / "ckpt")
    assert {"config.json", "model.safetensors", "preprocessor_config.json"} <= {p.name for p in folder.iterdir()}
    classifier = VideoMAEForVideoClassification.from_pretrained(
        folder, label2id={"a": 0, "b": 1}, id2label={0: "a", 1: "b"}, ignore_mismatched_sizes=True)
    assert classifier.config.num_labels == 2
    encoder = model.videomae.state_dict()
    assert all(torch.equal(encoder[k], v) for k, v in classifier.videomae.state_dict().items()), \
        "the classifier starts from the pretrained encoder"
    loaded = VideoMAEImageProcessor.from_pretrained(folder)
    assert loaded.crop_size == {"height": preset.image_size, "width": preset.image_size}
    assert check_model_folder(folder, preset, start=True) == folder


def test_the_fit_check_refuses_another_architecture(preset, tmp_path):
    folder = tmp_path / "bert"
    BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         vocab_size=50)).save_pretrained(folder)
    with pytest.raises(ValueError, match=r"(?s)bert.*not VideoMAE.*MCG-NJU/videomae-base"):
        check_model_folder(folder, preset, start=True)


def test_the_fit_check_refuses_other_num_frames_and_says_what_to_change(preset, tmp_path):
    other = dataclasses.replace(preset, num_frames=2 * preset.num_frames)
    folder = save_checkpoint(small_model(other), processor(other), tmp_path / "sixteen")
    with pytest.raises(ValueError) as err:
        check_model_folder(folder, preset, start=True)
    message = str(err.value)
    assert str(folder) in message
    assert f"num_frames {other.num_frames} (the preset has {preset.num_frames})" in message
    assert "pretrain" in message and f"num_frames={other.num_frames}" in message


def test_the_fit_check_refuses_a_folder_without_a_config(preset, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        check_model_folder(tmp_path / "empty", preset, start=True)


def test_reconstruction_frames_are_uint8_clips_and_keep_the_visible_patches(preset):
    model = small_model(preset)
    t, size, p = preset.num_frames, preset.image_size, preset.patch_size
    clip = torch.rand(t, 3, size, size) * 2 - 1  # normalized with mean 0.5, std 0.5
    mask = tube_mask(1, t, size, size, p, 2, 0.75, torch.Generator().manual_seed(0))
    original, masked, rebuilt = reconstruction_frames(model, clip, mask, MEAN, STD)
    for frames in (original, masked, rebuilt):
        assert frames.dtype == np.uint8 and frames.shape == (t, size, size, 3)
    expected = ((clip.permute(0, 2, 3, 1) * 0.5 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    assert np.abs(original.astype(int) - expected).max() <= 1
    hidden = mask.view(t // 2, size // p, size // p)[0].repeat_interleave(p, 0).repeat_interleave(p, 1).numpy()
    assert (masked[:, hidden] == 128).all(), "hidden patches are grey in the masked input"
    assert (rebuilt[:, ~hidden] == original[:, ~hidden]).all(), "visible patches are shown as they are"
    assert not (rebuilt[:, hidden] == original[:, hidden]).all(), "hidden patches are the model's prediction"


def test_a_prediction_of_zeros_is_drawn_as_each_hidden_patchs_mean_colour(preset):
    """Notebook 03's baseline panel: the decoder head set to zero predicts 0, which the display turns into the real
    patch's mean colour, flat; so the model's own panel shows what it adds to that."""
    model = small_model(preset)
    torch.nn.init.zeros_(model.decoder.head.weight)
    torch.nn.init.zeros_(model.decoder.head.bias)
    t, size, p = preset.num_frames, preset.image_size, preset.patch_size
    clip = torch.rand(t, 3, size, size) * 2 - 1
    mask = tube_mask(1, t, size, size, p, 2, 0.75, torch.Generator().manual_seed(0))
    original, _, rebuilt = reconstruction_frames(model, clip, mask, MEAN, STD)
    hidden = mask[0]
    drawn = helpers.pretrain._patches(torch.from_numpy(rebuilt).float(), p, 2)[hidden]
    real = helpers.pretrain._patches(torch.from_numpy(original).float(), p, 2)[hidden]
    assert (drawn == drawn[:, :1]).all(), "every hidden patch is one flat colour"
    assert (drawn[:, 0] - real.mean(dim=1)).abs().max() <= 1, "the colour is the real patch's mean"


def test_a_start_checkpoint_made_for_other_clips_stops_before_any_training(preset, tmp_path):
    """VC_MODEL pointing at a VideoMAE of 16 frames, with an 8-frame preset: the fit check runs where the
    notebooks and the script get their checkpoint, so nothing loads a model whose position embeddings do not fit."""
    other = dataclasses.replace(preset, num_frames=2 * preset.num_frames)
    folder = save_checkpoint(small_model(other), processor(other), tmp_path / "sixteen")
    with pytest.raises(ValueError, match=rf"{folder} was made for other clips: num_frames {other.num_frames}"):
        helpers.pretrain.base_checkpoint(dataclasses.replace(preset, model=str(folder)))


def test_the_preset_checkpoint_is_pretrained_once_and_found_by_fine_tuning(preset, tiny_dataset, monkeypatch,
                                                                            tmp_path, capsys):
    """Notebook 03 pretrains (pretrain_preset); notebook 04 and the script get the same folder from base_checkpoint,
    without training again; other settings get a folder of their own."""
    monkeypatch.setattr(helpers.pretrain, "unlabelled_videos", lambda p, **kw: list_videos(tiny_dataset)["train"])
    small = dataclasses.replace(preset, model="pretrained", pretrain_steps=2, pretrain_batch_size=2)
    folder, losses = helpers.pretrain.pretrain_preset(small)
    assert len(losses) == 2 and (tmp_path / "data" / "checkpoints") in Path(folder).parents
    made = (Path(folder) / "model.safetensors").stat().st_mtime_ns
    capsys.readouterr()
    assert helpers.pretrain.base_checkpoint(small) == folder
    assert "Reusing" in capsys.readouterr().out
    assert (Path(folder) / "model.safetensors").stat().st_mtime_ns == made
    other, _ = helpers.pretrain.pretrain_preset(dataclasses.replace(small, mask_ratio=0.5))
    assert other != folder


def test_videos_made_again_with_other_content_get_their_own_pretrained_checkpoint(tmp_path):
    # a new rendering of the built-in videos keeps every file name: the checkpoint of the old videos is not theirs
    from helpers.config import get_preset
    from helpers.pretrain import pretrained_folder

    preset = get_preset("smoke")
    paths = [tmp_path / f"v_Grow_g01_c0{i}.avi" for i in (1, 2)]
    for path in paths:
        path.write_bytes(b"x" * 100)
    before = pretrained_folder(preset, paths)
    assert pretrained_folder(preset, paths) == before
    paths[1].write_bytes(b"y" * 120)
    assert pretrained_folder(preset, paths) != before
