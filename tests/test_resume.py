"""Faults: SIGKILL then resume, SIGTERM, divergence. Real subprocesses on tiny data."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from keras_gan.callbacks import read_history
from tests.conftest import REPO, run_module

STEPS, EVERY = 400, 100


def command(mnist_dir, run_dir):
    return ["experiments.vanilla", "--flagfile=experiments/configs/gan_pytorch.cfg",
            f"--data_dir={mnist_dir}", f"--run_dir={run_dir}", f"--max_steps={STEPS}",
            "--batch_size=8", "--epochs=100", f"--checkpoint_every={EVERY}",
            # the flag's older name, which older flagfiles and run directories hold
            f"--sample_every={EVERY}", "--log_every=100", "--steps_per_call=10"]


def start(args):
    return subprocess.Popen([sys.executable, "-m", *args], cwd=REPO, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def wait_for_checkpoint(run_dir, step, process, timeout=120):
    """Waits until the CheckpointManager has recorded `step` (its state file, written last)."""
    state = os.path.join(run_dir, "checkpoints", "checkpoint")
    deadline = time.monotonic() + timeout
    while not (os.path.exists(state) and f"ckpt-{step}" in open(state).read()):
        assert process.poll() is None, process.stderr.read()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.01)


def checkpoint_tensors(run_dir):
    reader = tf.train.load_checkpoint(os.path.join(run_dir, "checkpoints"))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def test_sigkilled_run_resumes_to_the_uninterrupted_weights(mnist_dir, tmp_path):
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    result = run_module(*command(mnist_dir, straight))
    assert result.returncode == 0, result.stderr[-3000:]

    process = start(command(mnist_dir, resumed))
    wait_for_checkpoint(resumed, EVERY, process)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL
    assert not os.path.exists(os.path.join(resumed, "generator"))
    result = run_module(*command(mnist_dir, resumed))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed from" in result.stderr

    expected, actual = checkpoint_tensors(straight), checkpoint_tensors(resumed)
    assert expected.keys() == actual.keys()
    for name in expected:
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-6, atol=1e-7,
                                   err_msg=name)
    expected_rows, actual_rows = (read_history(os.path.join(d, "history.csv"))
                                  for d in (straight, resumed))
    np.testing.assert_array_equal(actual_rows["step"], np.arange(1, STEPS + 1))
    np.testing.assert_allclose(actual_rows["g_loss"], expected_rows["g_loss"], rtol=1e-5)


def test_sigterm_writes_a_final_checkpoint_and_the_outputs(mnist_dir, tmp_path):
    run_dir = str(tmp_path / "run")
    process = start(command(mnist_dir, run_dir))
    wait_for_checkpoint(run_dir, EVERY, process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-3000:]
    assert "interrupted at step" in stderr
    step = int(tf.train.load_checkpoint(os.path.join(run_dir, "checkpoints")).get_tensor(
        "step/.ATTRIBUTES/VARIABLE_VALUE"))
    assert EVERY <= step < STEPS
    assert read_history(os.path.join(run_dir, "history.csv"))["step"][-1] == step
    for name in ("generator/saved_model.pb", "loss_curves.png", f"samples/step_{step:07d}.png"):
        assert os.path.exists(os.path.join(run_dir, name)), name


def snapshot_tree(directory):
    """Every file's bytes under `directory`, to prove a failed run touched nothing."""
    files = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            files[os.path.relpath(path, directory)] = open(path, "rb").read()
    return files


TINY = ["--batch_size=8", "--checkpoint_every=4", "--sample_every=4", "--log_every=2",
        "--steps_per_execution=2"]


def test_divergence_exits_nonzero_naming_the_step_and_keeps_the_good_checkpoint(
        mnist_dir, tmp_path):
    run_dir = str(tmp_path / "run")
    base = ["experiments.vanilla", "--flagfile=experiments/configs/gan_pytorch.cfg",
            f"--data_dir={mnist_dir}", f"--run_dir={run_dir}", *TINY]
    assert run_module(*base, "--max_steps=4").returncode == 0
    checkpoints = snapshot_tree(os.path.join(run_dir, "checkpoints"))
    result = run_module(*base, "--max_steps=40", "--d_learning_rate=1e30",
                        "--g_learning_rate=1e30")
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: training diverged:") and "step" in last
    assert snapshot_tree(os.path.join(run_dir, "checkpoints")) == checkpoints


@pytest.mark.parametrize("flags, message", [
    (["--flagfile=experiments/configs/no_such_variant.cfg"],
     "--flagfile=experiments/configs/no_such_variant.cfg: no such file"),
    (["--batch_size=-3"], "--batch_size=-3: expected a positive integer"),
    (["--noresume"], "already holds a run"),
    (["--architecture=dcgan64"], "multiples of 16, not 28x28 images"),
])
def test_bad_input_leaves_an_existing_run_directory_as_it_was(mnist_dir, tmp_path, flags,
                                                              message):
    run_dir = str(tmp_path / "run")
    base = ["experiments.vanilla", "--flagfile=experiments/configs/gan_pytorch.cfg",
            f"--data_dir={mnist_dir}", f"--run_dir={run_dir}", "--max_steps=4", *TINY]
    assert run_module(*base).returncode == 0
    before = snapshot_tree(run_dir)
    result = run_module(*base, *flags)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1]
    assert "Traceback" not in result.stderr
    assert snapshot_tree(run_dir) == before


def test_unknown_config_key_is_one_line(mnist_dir, tmp_path):
    config = tmp_path / "bad.cfg"
    config.write_text("--architecture=pytorch_mlp\n--learning_rat=0.1\n")
    result = run_module("experiments.vanilla", f"--flagfile={config}", f"--data_dir={mnist_dir}",
                        f"--run_dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith(
        "error: Unknown command line flag 'learning_rat'. Did you mean: d_learning_rate")
    assert not (tmp_path / "run").exists()


def test_truncated_idx_file_is_named_and_nothing_is_written(mnist_dir, tmp_path):
    path = os.path.join(mnist_dir, "train-images-idx3-ubyte.gz")
    import gzip

    raw = gzip.open(path).read()
    with gzip.open(path, "wb") as stream:
        stream.write(raw[:-500])
    result = run_module("experiments.vanilla", "--flagfile=experiments/configs/gan_pytorch.cfg",
                        f"--data_dir={mnist_dir}", f"--run_dir={tmp_path / 'run'}")
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert "train-images-idx3-ubyte.gz: truncated or corrupt IDX file" in last
    assert not (tmp_path / "run").exists()


def test_empty_data_directory_names_the_missing_file(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_module("experiments.vanilla", "--flagfile=experiments/configs/gan_pytorch.cfg",
                        f"--data_dir={empty}", f"--run_dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert "missing train-images-idx3-ubyte.gz" in result.stderr.strip().splitlines()[-1]
