"""Runs that resume and never collide: RESUME=1 continues an interrupted run, a second training on a folder in use
is refused (and a killed one leaves no stuck lock), a full disk or a read-only folder is one message that names
the folder and the fix with the earlier checkpoints kept, and a push to the Hub that fails keeps the trained model.

Read-only folders: root writes into them anyway, so as root the command runs under ``setpriv`` without the two
capabilities that let root ignore permissions (the project's Python may live in /root, out of reach of an ordinary
user such as ``learner``). A full disk: as root, a small tmpfs filled up while training runs (the real write path,
torch.save's "unexpected pos" error included); elsewhere that test is skipped and a simulated one runs."""

import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers.train import last_checkpoint, new_run_dir

PROJECT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1", "VC_NUM_WORKERS": "0", "PRESET": "smoke"}
SCRIPT = [sys.executable, "-m", "helpers.train", "--preset", "smoke"]
FAKE_TOKEN = "hf_FakeTokenForThePushTest1234567890abcd"
sys.path.insert(0, str(PROJECT / "tools"))
import editions  # noqa: E402


def start(command: list, env: dict | None = None, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([str(c) for c in command], env=env or ENV, cwd=PROJECT, text=True, **kwargs)


def run(command: list, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], env=env or ENV, cwd=PROJECT, text=True, capture_output=True,
                          timeout=timeout)


def complete(run_dir: Path) -> list[Path]:
    """Checkpoints whose trainer_state.json (written last) reads, by step."""
    found = []
    for path in run_dir.glob("checkpoint-*"):
        try:
            json.loads((path / "trainer_state.json").read_text())
            found.append(path)
        except (OSError, ValueError):
            pass
    return sorted(found, key=lambda p: int(p.name.split("-")[1]))


def wait_for_checkpoint(run_dir: Path, process: subprocess.Popen, timeout: float = 300) -> list[Path]:
    import time

    deadline = time.monotonic() + timeout
    while not complete(run_dir) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    assert complete(run_dir), f"no checkpoint appeared (exit status {process.poll()})"
    return complete(run_dir)


def kill_with_children(process: subprocess.Popen) -> None:
    """SIGKILL a process and everything it started (the tutorial's notebook kernel runs in a session of its own)."""
    psutil = pytest.importorskip("psutil")
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for child in [*children, psutil.Process(process.pid)] if process.poll() is None else children:
        try:
            child.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    process.wait()
    psutil.wait_procs(children, timeout=30)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def without_root_powers(tmp_path: Path) -> list[str]:
    """A prefix under which file permissions apply: none for an ordinary user; for root, setpriv without
    CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH. Skips when permissions cannot be made to apply."""
    if os.geteuid() != 0:
        return []
    prefix = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search",
              "--inh-caps", "-dac_override,-dac_read_search"]
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv: root writes into read-only folders, nothing to simulate with")
    probe = tmp_path / "probe"
    probe.mkdir()
    probe.chmod(0o555)
    try:
        result = subprocess.run([*prefix, sys.executable, "-c", f"open({str(probe / 'x')!r}, 'w')"],
                                capture_output=True, text=True)
    finally:
        probe.chmod(0o755)
    if "PermissionError" not in result.stderr:
        pytest.skip(f"setpriv cannot take root's write-anywhere capability here: {result.stderr[-300:]}")
    return prefix


def short_message(stderr: str) -> str:
    """The one message a failure should print: no traceback, one line starting with 'error:'."""
    assert "Traceback" not in stderr, stderr[-3000:]
    lines = [line for line in stderr.strip().splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr[-3000:]
    return lines[0]


# --- 1. RESUME=1 continues the interrupted run ---------------------------------------------------------------------

def test_resume_keeps_the_previous_results_where_notebook_04_finds_them(tmp_path, monkeypatch):
    import helpers.tutorial as tutorial

    # what happens to the folder before any notebook runs
    monkeypatch.setattr(tutorial, "notebooks", lambda edition="en": [])
    monkeypatch.setenv("TUTORIAL_OUTPUT", str(tmp_path))
    monkeypatch.setenv("PRESET", "smoke")
    checkpoint = tmp_path / "smoke" / "runs" / "20261125-101010" / "checkpoint-4"
    checkpoint.mkdir(parents=True)
    monkeypatch.setenv("RESUME", "1")
    assert tutorial.main(["--preset", "smoke"]) == 0
    assert checkpoint.is_dir() and [p.name for p in tmp_path.iterdir()] == ["smoke"]
    monkeypatch.delenv("RESUME")  # without it, a new tutorial run moves the previous one aside, as before
    assert tutorial.main(["--preset", "smoke"]) == 0
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("smoke-")]
    assert len(moved) == 1 and (moved[0] / "runs" / "20261125-101010" / "checkpoint-4").is_dir()


def test_resume_with_another_value_than_1_is_refused(tmp_path, monkeypatch, capsys):
    import helpers.tutorial as tutorial

    monkeypatch.setenv("TUTORIAL_OUTPUT", str(tmp_path))
    monkeypatch.setenv("RESUME", "yes")
    assert tutorial.main(["--preset", "smoke"]) == 2
    assert "RESUME=yes: use RESUME=1" in capsys.readouterr().err


def test_the_tutorial_command_resumes_an_interrupted_notebook_04_in_the_korean_editions_folder(tmp_path):
    """`make tutorial EDITION=ko RESUME=1` after a kill: the command runs notebooks/ko/ into <output>/ko/<preset>/,
    continues the interrupted run from its last checkpoint, and never writes the token anywhere. (Its code is the
    English code, tests/test_editions.py; nbmake runs the whole Korean series in `make test`.)"""
    import time

    made = subprocess.run(["make", "-n", "tutorial", "EDITION=ko"], cwd=PROJECT, capture_output=True, text=True)
    assert "--edition ko" in made.stdout, made.stdout
    env = {**ENV, "TUTORIAL_OUTPUT": str(tmp_path), "VC_NUM_EPOCHS": "4", "VC_COMPARE_STEPS": "0",
           "HF_TOKEN": FAKE_TOKEN}
    command = [sys.executable, "-m", "helpers.tutorial", "--preset", "smoke", "--only", "04", "--edition", "ko"]
    out = tmp_path / "ko" / "smoke"
    runs = out / "runs"
    first = start(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 600
        while not list(runs.glob("*/checkpoint-*/trainer_state.json")) and time.monotonic() < deadline:
            assert first.poll() is None, "the first run ended before it could be interrupted"
            time.sleep(0.1)
    finally:
        kill_with_children(first)  # the interruption: the tutorial and its kernel, killed
    [run_dir] = [p for p in runs.iterdir() if p.is_dir()]
    interrupted = complete(run_dir)[-1]
    assert int(interrupted.name.split("-")[1]) < json.loads((interrupted / "trainer_state.json").read_text())[
        "max_steps"], "the first run finished before it was killed"
    # mark the interrupted run's state: a run that continues from it carries the mark, one from step 0 does not
    state = json.loads((interrupted / "trainer_state.json").read_text())
    state["log_history"][0]["marked"] = "before the interruption"
    (interrupted / "trainer_state.json").write_text(json.dumps(state))

    result = run(command, env={**env, "RESUME": "1"}, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert not result.stderr.strip(), f"the tutorial command printed to stderr: {result.stderr[-2000:]}"
    assert str(out) in result.stdout
    assert not (tmp_path / "smoke").exists(), "the Korean run wrote into the English edition's folder"
    assert [p.name for p in runs.iterdir() if p.is_dir()] == [run_dir.name], "resume started another run"
    final = complete(run_dir)[-1]
    final_state = json.loads((final / "trainer_state.json").read_text())
    assert final_state["global_step"] == final_state["max_steps"] > state["global_step"]
    assert final_state["log_history"][0].get("marked") == "before the interruption"
    assert (out / "model" / "model.safetensors").exists()
    nb = nbformat.read(out / "notebooks" / "04_train.ipynb", as_version=4)
    assert editions.HANGUL.search(nb.cells[0].source), "the executed copy is not the Korean notebook"
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert f"Resuming {run_dir} from {interrupted.name}." in printed
    errors = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                     if o.get("name") == "stderr")
    assert "unexpected keys" not in errors, errors  # the resumed model got all of the checkpoint's weights
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert FAKE_TOKEN.encode() not in path.read_bytes(), f"the token leaked into {path}"
    assert FAKE_TOKEN not in result.stdout


def test_a_checkpoint_loaded_as_the_trainer_resumes_gives_back_every_weight(tmp_path):
    """The Trainer resumes with model.load_state_dict(weights of the file, strict=False): VideoMAE's saved q_bias and
    v_bias must land in the model's query.bias and value.bias, not be dropped as unexpected keys."""
    import torch
    from safetensors.torch import load_file
    from transformers import VideoMAEConfig, VideoMAEForVideoClassification

    import helpers.model  # noqa: F401  (what notebooks 03 and 05 and the script import)

    config = VideoMAEConfig(image_size=32, patch_size=16, num_frames=4, hidden_size=32, num_hidden_layers=1,
                            num_attention_heads=2, intermediate_size=64, num_labels=3)
    torch.manual_seed(0)
    trained = VideoMAEForVideoClassification(config)
    with torch.no_grad():
        for parameter in trained.parameters():
            parameter.normal_()  # every weight differs from a fresh model's, biases included
    trained.save_pretrained(tmp_path)
    assert "videomae.encoder.layer.0.attention.attention.q_bias" in load_file(tmp_path / "model.safetensors")
    fresh = VideoMAEForVideoClassification(config)
    result = fresh.load_state_dict(load_file(tmp_path / "model.safetensors"), strict=False)
    assert not result.unexpected_keys and not result.missing_keys
    for (name, ours), theirs in zip(fresh.state_dict().items(), trained.state_dict().values(), strict=True):
        assert torch.equal(ours, theirs), name


# --- 2. one training per folder ------------------------------------------------------------------------------------

def test_a_second_training_on_a_folder_in_use_is_refused_until_the_first_is_killed(tmp_path):
    out = tmp_path / "run"
    first = start([*SCRIPT, "--output-dir", out], env={**ENV, "VC_NUM_EPOCHS": "40"},
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_checkpoint(out / "checkpoints", first)
        second = run([*SCRIPT, "--output-dir", out, "--resume"], timeout=120)
        assert first.poll() is None, "the first training ended before the second one started"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait()
    assert second.returncode == 1
    message = short_message(second.stderr)
    assert f"{out} is in use by another training (process {first.pid}" in message
    assert "--output-dir" in message and "Resuming" not in second.stdout
    # the killed process held the lock: it went with it
    third = run([*SCRIPT, "--output-dir", out, "--overwrite"], env={**ENV, "VC_NUM_EPOCHS": "1"})
    assert third.returncode == 0, third.stderr[-3000:]
    assert (out / "model" / "model.safetensors").is_file()


def test_a_notebook_run_folder_is_refused_to_a_second_process_while_the_first_lives(tmp_path):
    base = tmp_path / "runs"
    holder = start([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                    "from helpers.train import new_run_dir; print(new_run_dir(Path(sys.argv[1])), flush=True); "
                    "time.sleep(600)", base], stdout=subprocess.PIPE)
    try:
        held = Path(holder.stdout.readline().strip())
        with pytest.raises(RuntimeError, match=rf"{re.escape(str(held))} is in use by another training "
                                               rf"\(process {holder.pid} .*shut the kernel down"):
            new_run_dir(base, resume=True)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert new_run_dir(base, resume=True) == held  # a killed process leaves no stuck lock


# --- 3. a full disk, a read-only folder ----------------------------------------------------------------------------

def fill_up(folder: Path) -> None:
    """Write zeros into ``folder`` until its disk is full."""
    fd = os.open(folder / "filler", os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError as err:
                assert err.errno == errno.ENOSPC
    finally:
        os.close(fd)


def test_a_disk_that_fills_up_during_training_stops_with_one_message_and_keeps_the_checkpoints(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; the simulated test below runs instead")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr[-300:]}")
    try:
        out = disk / "run"
        process = start([*SCRIPT, "--output-dir", out], env={**ENV, "VC_NUM_EPOCHS": "40"},
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            wait_for_checkpoint(out / "checkpoints", process)
            fill_up(disk)
            stdout, stderr = process.communicate(timeout=300)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        assert process.returncode == 1, stderr[-3000:]
        message = short_message(stderr)
        assert f"Saving a checkpoint failed: the disk that holds {out / 'checkpoints'} is full" in message
        assert "TUTORIAL_OUTPUT" in message and "--output-dir" in message and "--resume" in message
        assert "unexpected pos" not in stderr
        kept = complete(out / "checkpoints")
        assert kept and sorted(p.name for p in (out / "checkpoints").iterdir()) == [p.name for p in kept]
        assert f"The earlier checkpoints are intact ({', '.join(p.name for p in kept)} in" in message
        assert last_checkpoint(out / "checkpoints") == str(kept[-1])
        from transformers import VideoMAEForVideoClassification

        VideoMAEForVideoClassification.from_pretrained(kept[-1])  # its weights read back
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_checkpoint_cut_off_by_a_full_disk_is_removed_and_the_earlier_ones_kept(tmp_path):
    """Simulated: torch.save's error text on a full disk (it carries no errno), raised while a checkpoint is half
    written. The test above meets the real one, as root."""
    from helpers.runs import clear_write_errors

    run_dir = tmp_path / "checkpoints"
    good = run_dir / "checkpoint-4"
    good.mkdir(parents=True)
    (good / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    cut = run_dir / "checkpoint-8"
    with pytest.raises(RuntimeError) as err, clear_write_errors(run_dir):
        cut.mkdir()
        (cut / "model.safetensors").write_bytes(b"\0" * 10)
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 17060992 vs 17060880")
    message = str(err.value)
    assert message.startswith(f"Saving a checkpoint failed: the disk that holds {run_dir} is full (")
    assert "The incomplete checkpoint-8 was removed. The earlier checkpoints are intact (checkpoint-4 in" in message
    assert not cut.exists() and (good / "trainer_state.json").is_file()
    with pytest.raises(ValueError, match="not about writing"), clear_write_errors(run_dir):
        raise ValueError("not about writing")  # other errors pass through as they are


def test_a_read_only_output_folder_is_one_message_and_its_checkpoints_stay_as_they_are(tmp_path):
    prefix = without_root_powers(tmp_path)
    out = tmp_path / "run"
    checkpoint = out / "checkpoints" / "checkpoint-4"
    checkpoint.mkdir(parents=True)
    (checkpoint / "trainer_state.json").write_text(json.dumps({"global_step": 4}))
    before = snapshot(out)
    folders = [checkpoint, checkpoint.parent, out]
    for folder in folders:
        folder.chmod(0o555)
    try:
        result = run([*prefix, *SCRIPT, "--output-dir", out, "--resume"])
    finally:
        for folder in folders:
            folder.chmod(0o755)
    assert result.returncode == 1
    message = short_message(result.stderr)
    assert f"{out} cannot be written (permission denied). Check the permissions of {out} (ls -ld" in message
    assert "--output-dir" in message
    assert snapshot(out) == before


def test_a_folder_made_read_only_during_training_stops_with_one_message(tmp_path):
    prefix = without_root_powers(tmp_path)
    out = tmp_path / "run"
    process = start([*prefix, *SCRIPT, "--output-dir", out], env={**ENV, "VC_NUM_EPOCHS": "40"},
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_checkpoint(out / "checkpoints", process)
        (out / "checkpoints").chmod(0o555)
        stdout, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        (out / "checkpoints").chmod(0o755)
    assert process.returncode == 1, stderr[-3000:]
    message = short_message(stderr)
    assert "Saving a checkpoint failed:" in message and "(permission denied)" in message
    assert f"Check the permissions of {out / 'checkpoints'}" in message
    kept = complete(out / "checkpoints")
    assert kept and f"The earlier checkpoints are intact ({', '.join(p.name for p in kept)} in" in message


def test_the_tutorial_refuses_a_read_only_output_folder_before_running_a_notebook(tmp_path):
    prefix = without_root_powers(tmp_path)
    out = tmp_path / "outputs"
    out.mkdir()
    out.chmod(0o555)
    try:
        result = run([*prefix, sys.executable, "-m", "helpers.tutorial", "--preset", "smoke"],
                     env={**ENV, "TUTORIAL_OUTPUT": str(out)}, timeout=600)
    finally:
        out.chmod(0o755)
    assert result.returncode == 1
    message = short_message(result.stderr)
    assert f"{out / 'smoke'} cannot be written (permission denied)" in message and "TUTORIAL_OUTPUT" in message
    assert "running 01" not in result.stdout


# --- 5. a push to the Hub that fails -------------------------------------------------------------------------------

def test_a_push_that_fails_keeps_the_trained_model_and_says_so(tmp_path):
    out = tmp_path / "run"
    env = {**ENV, "VC_PUSH_TO_HUB": "1", "VC_HUB_MODEL_ID": "me/videomae-test", "HF_TOKEN": FAKE_TOKEN}
    result = run([*SCRIPT, "--output-dir", out], env=env)  # HF_HUB_OFFLINE=1
    assert result.returncode == 1
    message = short_message(result.stderr)
    assert message == (
        f"error: Pushing the model to the Hub as me/videomae-test failed: offline mode is on (HF_HUB_OFFLINE=1). "
        f"The trained model is saved in {out / 'model'} and nothing is lost. Unset HF_HUB_OFFLINE, then push that "
        f"folder: hf upload me/videomae-test {out / 'model'}")
    assert '"test accuracy per video"' in result.stdout
    assert {"model.safetensors", "config.json", "preprocessor_config.json", "README.md"} <= {
        p.name for p in (out / "model").iterdir()}
    assert FAKE_TOKEN not in result.stdout + result.stderr


def test_an_unreachable_hub_is_one_message_naming_the_endpoint(tmp_path):
    from helpers.config import get_preset
    from helpers.model import scratch_checkpoint

    folder = scratch_checkpoint(get_preset("smoke"), tmp_path / "model")
    env = {key: value for key, value in ENV.items() if key != "HF_HUB_OFFLINE"}
    env.update(HF_ENDPOINT="http://127.0.0.1:9", HF_TOKEN=FAKE_TOKEN)  # nothing listens on port 9
    code = ("import sys; from helpers.train import HubPushError, push_model_folder\n"
            "try:\n    push_model_folder(sys.argv[1], 'me/videomae-test')\n"
            "except HubPushError as err:\n    sys.exit(f'error: {err}')")
    result = run([sys.executable, "-c", code, folder], env=env, timeout=300)
    message = short_message(result.stderr)
    assert message.startswith("error: Pushing the model to the Hub as me/videomae-test failed: the Hub at "
                              "http://127.0.0.1:9 cannot be reached (")
    assert f"The trained model is saved in {folder} and nothing is lost. Check the internet connection" in message
    assert FAKE_TOKEN not in result.stdout + result.stderr
