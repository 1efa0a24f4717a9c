"""Mixed precision follows the GPU: bfloat16 where it is native (Ampere and later), float16 on other CUDA GPUs (T4,
V100), float32 on a CPU; the script (``helpers.model.mixed_precision``) and notebook 04's ``TrainingArguments`` cell
choose alike. The GPU's capabilities are stubbed: this machine has none."""

import json
import re
from pathlib import Path

import pytest
import torch

from helpers.model import mixed_precision

NOTEBOOK = Path(__file__).parents[1] / "notebooks" / "04_train.ipynb"


def notebook_precision() -> dict[str, bool]:
    """The values of notebook 04's ``bf16=`` and ``fp16=`` lines, evaluated here."""
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "TrainingArguments(" in "".join(c["source"])
                  and c["cell_type"] == "code")
    found = dict(re.findall(r"^\s*(bf16|fp16)=(.+),\s*$", source, flags=re.M))
    assert set(found) == {"bf16", "fp16"}, "notebook 04's TrainingArguments cell should set both bf16 and fp16"
    return {name: bool(eval(expression, {"torch": torch})) for name, expression in found.items()}


@pytest.mark.parametrize("gpu, native_bf16, expected", [
    (None, False, {"bf16": False, "fp16": False}),  # CPU (or MPS): float32
    ("A100", True, {"bf16": True, "fp16": False}),
    ("T4", False, {"bf16": False, "fp16": True}),  # bf16 only emulated: float16
])
def test_mixed_precision_follows_the_gpu(monkeypatch, gpu, native_bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu is not None)
    # is_bf16_supported() counts emulation by default: True on any CUDA GPU, which is why it is asked without it
    monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                        lambda including_emulation=True: gpu is not None and (including_emulation or native_bf16))
    assert mixed_precision() == expected
    assert notebook_precision() == expected
