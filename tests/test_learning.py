"""Learning tests: the cpu preset really learns, and only by using the order of the frames.

Minutes each, so not part of `make test`: run them with `make test-learning`. The normal run is made with both
input pipelines: the guide's PyTorchVideo one and helpers.fast.
"""

import dataclasses

import pytest

from helpers.config import get_preset
from helpers.train import run_training

pytestmark = pytest.mark.learning


@pytest.fixture(scope="module")
def preset():
    return get_preset("cpu")


@pytest.mark.parametrize("pipeline", ["pytorchvideo", "fast"])
def test_the_cpu_preset_reaches_95_percent_per_video(preset, tmp_path, pipeline):
    metrics = run_training(dataclasses.replace(preset, pipeline=pipeline), tmp_path / "normal")
    print("normal run:", metrics)
    assert metrics["test videos"] >= 100
    assert metrics["test accuracy per video"] >= 0.95


def test_with_frames_shuffled_in_time_it_cannot_beat_the_order_blind_ceiling(preset, tmp_path):
    # twins differ only by frame order: an order-blind model can tell the pair (50 %), not the twin
    metrics = run_training(preset, tmp_path / "control", shuffle_frames=True)
    print("control run:", metrics)
    assert metrics["test videos"] >= 100
    assert metrics["test accuracy per video"] <= 0.60
