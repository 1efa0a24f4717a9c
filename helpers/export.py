"""The trained model as ONNX, run by ONNX Runtime: what ``python -m helpers.predict --onnx`` classifies with.

Introduced in 07_what_the_model_sees, whose cells write the same export and check its logits against PyTorch's.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

ONNX_FILE = "model.onnx"  # written into the model folder, next to the weights it was exported from
WEIGHTS_FILE = "model.safetensors"


def export_onnx(model, path: Path) -> Path:
    """Write ``model`` (a VideoMAE classifier) to ``path`` as ONNX, the batch size left open."""
    config = model.config
    example = torch.zeros(2, config.num_frames, config.num_channels, config.image_size, config.image_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the torch.export-based exporter (dynamo=True), PyTorch's default: the TorchScript one (dynamo=False) warns that
    # it will be removed and prints tracer warnings a learner cannot act on. One file (external_data=False): the
    # weights inside, not in a model.onnx.data beside it that a copy of the file alone would lose
    torch.onnx.export(model.eval(), (example,), path, input_names=["pixel_values"], output_names=["logits"],
                      dynamic_shapes={"pixel_values": {0: torch.export.Dim("batch")}}, dynamo=True,
                      external_data=False, verbose=False)
    return path


class OnnxClassifier:
    """An ONNX Runtime session that answers as the PyTorch model does: ``model(pixel_values=x).logits``."""

    device = torch.device("cpu")
    dtype = torch.float32

    def __init__(self, path: Path, config):
        import onnxruntime

        self.config = config
        self.session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def __call__(self, pixel_values: torch.Tensor) -> SimpleNamespace:
        inputs = {"pixel_values": np.ascontiguousarray(pixel_values.detach().cpu().numpy(), dtype=np.float32)}
        return SimpleNamespace(logits=torch.from_numpy(self.session.run(None, inputs)[0]))


def onnx_classifier(model, model_dir: Path) -> OnnxClassifier:
    """``model``'s ONNX export in ``model_dir``, exported first when missing or older than the weights (a folder that
    notebook 04 trained again must not be answered by the export of its earlier weights)."""
    path, weights = model_dir / ONNX_FILE, model_dir / WEIGHTS_FILE
    if not path.is_file() or (weights.is_file() and path.stat().st_mtime < weights.stat().st_mtime):
        try:
            export_onnx(model, path)
        except OSError as err:  # a read-only or full folder: a message, not a traceback from inside the exporter
            raise ValueError(f"cannot write {path} ({err.strerror or err}): copy the model folder somewhere you can "
                             "write, and pass that folder") from None
    return OnnxClassifier(path, model.config)
