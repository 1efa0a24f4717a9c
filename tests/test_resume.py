import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from helpers.runs import complete_checkpoints
from helpers.train import last_checkpoint

PROJECT = Path(__file__).resolve().parent.parent


def test_a_checkpoint_cut_off_while_being_written_is_never_resumed_from(tmp_path):
    good = tmp_path / "checkpoint-4"
    good.mkdir()
    (good / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    cut = tmp_path / "checkpoint-6"
    cut.mkdir()
    (cut / "model.safetensors").write_bytes(b"\0" * 10)  # killed before trainer_state.json
    truncated = tmp_path / "checkpoint-8"
    truncated.mkdir()
    (truncated / "trainer_state.json").write_text('{"global_step": 8, "log_hi')  # killed while writing it
    assert last_checkpoint(tmp_path) == str(good)
    assert last_checkpoint(tmp_path / "none") is None
    assert complete_checkpoints(tmp_path) == [good]


def test_training_killed_with_sigkill_resumes_and_finishes_all_steps(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "VC_NUM_EPOCHS": "8", "VC_NUM_WORKERS": "0"}
    command = [sys.executable, "-m", "helpers.train", "--preset", "smoke", "--output-dir", str(run)]
    process = subprocess.Popen(command, env=env, cwd=PROJECT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not complete_checkpoints(run / "checkpoints") and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL, "training ended before it could be killed"
    assert not (run / "model").exists()
    # what a kill in the middle of a save leaves behind: a newer checkpoint folder without its state
    (run / "checkpoints" / "checkpoint-999").mkdir()

    result = subprocess.run([*command, "--resume"], env=env, cwd=PROJECT, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Resuming from" in result.stdout and "checkpoint-999" not in result.stdout.split("Resuming from")[1][:200]
    final = max(complete_checkpoints(run / "checkpoints"), key=lambda p: int(p.name.split("-")[1]))
    state = json.loads((final / "trainer_state.json").read_text())
    assert state["global_step"] == state["max_steps"]
    assert (run / "model" / "model.safetensors").exists()
