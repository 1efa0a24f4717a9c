"""Every change this project makes to other libraries, in one place: each with its reason and, where there is one,
the upstream issue that would make it unnecessary.

``helpers/__init__.py`` imports this module, so importing any ``helpers`` module applies all of them, once. The
notebooks import ``helpers`` before the libraries (``notebooks/ruff.toml`` sorts their imports that way), so the
guide's own ``from pytorchvideo.transforms import ...`` works unchanged.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path

import matplotlib
import torch
import torchvision.transforms._functional_tensor
from transformers.models.videomae import modeling_videomae

from helpers.config import writable


def pytorchvideo_on_current_torchvision() -> None:
    """PyTorchVideo 0.1.5, its newest release, imports ``torchvision.transforms.functional_tensor``, a module that
    torchvision 0.17 renamed to ``_functional_tensor`` (https://github.com/pytorch/vision/pull/7269). The fix is on
    PyTorchVideo's main branch, never released (https://github.com/facebookresearch/pytorchvideo/issues/258; the
    guide's notebook fails the same way: https://github.com/huggingface/notebooks/issues/602). The old name,
    registered for the renamed module, lets ``pytorchvideo.transforms`` import."""
    sys.modules.setdefault("torchvision.transforms.functional_tensor", torchvision.transforms._functional_tensor)
    # PyTorchVideo decorates a class with torch.jit.script_method, which torch deprecates: a warning that a learner
    # cannot act on. Imported here once, with that warning silenced, a later import of it is silent too.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.script_method` is deprecated")
        import pytorchvideo.transforms  # noqa: F401


def _load_attention_with_saved_bias_names(self, state_dict, prefix, *args, **kwargs):
    """Rename the saved ``q_bias`` / ``v_bias`` of one attention layer to ``query.bias`` / ``value.bias``."""
    for saved, ours in (("q_bias", "query.bias"), ("v_bias", "value.bias")):
        if prefix + saved in state_dict and prefix + ours not in state_dict:
            state_dict[prefix + ours] = state_dict.pop(prefix + saved)
    return torch.nn.Module._load_from_state_dict(self, state_dict, prefix, *args, **kwargs)


def videomae_resumes_with_its_biases() -> None:
    """VideoMAE's files keep the original ``q_bias`` / ``v_bias`` names, which the model calls ``query.bias`` /
    ``value.bias``. ``from_pretrained`` renames them, but the Trainer resumes a run with ``load_state_dict``, which
    does not (https://github.com/huggingface/transformers/issues/43701): it would warn "unexpected keys" and go on
    with the query and value biases of the model it was given instead of the checkpoint's. Every VideoMAE attention
    layer renames them itself, before it loads its weights."""
    modeling_videomae.VideoMAESelfAttention._load_from_state_dict = _load_attention_with_saved_bias_names


class _SameSecondCheckpoints(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "mtime may not be reliable" not in record.getMessage()


def quiet_checkpoint_order() -> None:
    """The Trainer orders checkpoints by modification time and, when two were written less than a second apart, warns
    "mtime may not be reliable on this filesystem" and orders them by step number instead
    (https://github.com/huggingface/transformers/pull/37260). The smoke preset's epochs can last less than a second:
    the filesystem is fine and step order is the right order, so the warning is dropped."""
    logging.getLogger("transformers.trainer_utils").addFilter(_SameSecondCheckpoints())


def writable_metric_caches() -> None:
    """``evaluate.load`` copies the metric's script into ``HF_MODULES_CACHE`` and the metric keeps its predictions
    in ``HF_METRICS_CACHE``, both under ``HF_HOME`` by default; with a read-only ``HOME`` or ``HF_HOME`` (a shared,
    pre-filled cache) it would fail at the first evaluation. Where they cannot be written, both point at a private
    temporary folder instead: through the environment, which ``evaluate`` reads when it is imported (importing it here
    would take seconds in every process), or in ``evaluate.config`` if it was imported already."""
    import atexit
    import shutil
    import tempfile

    from huggingface_hub import constants

    evaluate = sys.modules.get("evaluate")
    unwritable = []
    for name, default in (("HF_MODULES_CACHE", "modules"), ("HF_METRICS_CACHE", "metrics")):  # as evaluate.config
        folder = os.environ.get(name) or Path(constants.HF_HOME) / default
        if evaluate:
            folder = getattr(evaluate.config, name)
        if not writable(folder):
            unwritable.append(name)
    if not unwritable:
        return
    private = Path(tempfile.mkdtemp(prefix="vc-evaluate-"))  # not a fixed name: the modules cache holds code
    atexit.register(shutil.rmtree, private, ignore_errors=True)
    for name in unwritable:
        folder = private / name.removeprefix("HF_").lower()
        os.environ[name] = str(folder)
        if evaluate:
            setattr(evaluate.config, name, folder)


def cjk_class_names() -> None:
    """Class names in Korean, Chinese or Japanese (your own videos) appear in every plot of the series. matplotlib
    draws each character with the first font of this list that has it
    (https://matplotlib.org/stable/users/explain/text/fonts.html); where none is installed they show as boxes, and
    matplotlib would also warn once per missing character, which a learner cannot act on in a notebook:
    docs/troubleshooting.md names the font to install (fonts-noto-cjk), and the warning is silenced."""
    fonts = matplotlib.rcParams["font.sans-serif"]
    matplotlib.rcParams["font.sans-serif"] = [*fonts[:1], "Noto Sans CJK JP", "Noto Sans CJK KR", "NanumGothic",
                                              "AppleGothic", "Malgun Gothic", "Microsoft YaHei", *fonts[1:]]
    warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)


pytorchvideo_on_current_torchvision()
videomae_resumes_with_its_biases()
quiet_checkpoint_order()
writable_metric_caches()
cjk_class_names()
