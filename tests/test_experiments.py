"""End-to-end: the README's commands as subprocesses on tiny MNIST-format data."""
import json
import os
import re
import socket

import numpy as np
import pytest
import tensorflow as tf

from keras_gan import SETS_ONEDNN_DEFAULT
from keras_gan.callbacks import read_history
from tests.conftest import run_module

CONFIG = "--flagfile=experiments/configs/gan_pytorch.cfg"
TINY = ["--batch_size=8", "--sample_every=3", "--checkpoint_every=3", "--log_every=2",
        "--steps_per_execution=2"]


def test_vanilla_run_writes_every_output_and_the_sample_cli_reads_it(mnist_dir, tmp_path):
    run_dir = str(tmp_path / "run")
    result = run_module("experiments.vanilla", CONFIG, f"--data_dir={mnist_dir}",
                        f"--run_dir={run_dir}", "--max_steps=6", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "step 6/6" in result.stderr and "images/s" in result.stderr
    history = read_history(os.path.join(run_dir, "history.csv"))
    np.testing.assert_array_equal(history["step"], np.arange(1, 7))
    assert np.isfinite(history["d_loss"]).all() and np.isfinite(history["g_loss"]).all()
    for name in ("flags.cfg", "loss_curves.png", "samples/step_0000003.png",
                 "samples/step_0000006.png", "generator/saved_model.pb", "checkpoints/checkpoint"):
        assert os.path.exists(os.path.join(run_dir, name)), name
    assert "--batch_size=8" in open(os.path.join(run_dir, "flags.cfg")).read()
    grid = tf.io.decode_png(open(os.path.join(run_dir, "samples/step_0000006.png"), "rb").read())
    assert grid.shape == (5 * 30 + 2, 5 * 30 + 2, 1)

    out = str(tmp_path / "grid.png")
    result = run_module("keras_gan.sample", f"--model={run_dir}/generator", "--num=16",
                        f"--out={out}")
    assert result.returncode == 0, result.stderr[-3000:]
    assert tf.io.decode_png(open(out, "rb").read()).shape == (4 * 30 + 2, 4 * 30 + 2, 1)


@pytest.mark.parametrize("flags, message", [
    (["--data_dir=/nonexistent/mnist"], "--data_dir=/nonexistent/mnist: not a directory"),
    (["--batch_size=0"], "--batch_size=0: expected a positive integer"),
    (["--architecture=resnet"], "--architecture=resnet: unknown; expected one of "),
    (["--objective=hinge", "--g_loss=minimax"], "--g_loss=minimax is a choice of --objective=bce"),
    (["--g_ema_decay=1.5"], "--g_ema_decay=1.5: expected 0 (off) or a decay in (0, 1)"),
    (["--g_ema_decay=0.9", "--g_ema_warmup=1"], "--g_ema_warmup=1.0: expected at least 2"),
    (["--real_label=2"], "--real_label=2: expected one label in [0, 1]"),
    (["--g_learning_rate_total_decay=0.5"],
     "--g_learning_rate_total_decay=0.5: expected a factor >= 1"),
    (["--d_learning_rate_total_decay=8", "--d_learning_rate_decay=1.01"],
     "--d_learning_rate_total_decay=8.0 and --d_learning_rate_decay=1.01 both set D's decay"),
    (["--refine_quantile=0"], "--refine_quantile=0.0: expected a quantile in (0, 1]"),
    (["--refine_steps=3", "--pack=2"], "it does not combine with --pack=2, whose D scores packs"),
])
def test_bad_input_is_one_line_and_status_2(mnist_dir, tmp_path, flags, message):
    run_dir = tmp_path / "run"
    args = [CONFIG, f"--data_dir={mnist_dir}", f"--run_dir={run_dir}", "--max_steps=2", *flags]
    result = run_module("experiments.vanilla", *args)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {message}" or (
        message in result.stderr.strip().splitlines()[-1])
    assert "Traceback" not in result.stderr
    assert not run_dir.exists()


def test_sample_cli_rejects_a_path_that_is_not_a_saved_model(tmp_path):
    result = run_module("keras_gan.sample", f"--model={tmp_path}", "--out=x.png")
    assert result.returncode == 2 and "not a SavedModel" in result.stderr
    assert "Traceback" not in result.stderr


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_workers(mnist_dir, run_dirs, *flags, quiet=False):
    """One `experiments.vanilla` process per worker of a local two-worker cluster. `quiet`: the
    console as a user sees it (TensorFlow's C++ lines filtered), else everything."""
    import subprocess
    import sys

    from tests.conftest import REPO

    workers = [f"127.0.0.1:{port}" for port in _free_ports(len(run_dirs))]
    processes = []
    for index, run_dir in enumerate(run_dirs):
        env = {**os.environ, "TF_CONFIG": json.dumps(
            {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}
        if quiet:
            env.pop("TF_CPP_MIN_LOG_LEVEL", None)
        else:
            env["TF_CPP_MIN_LOG_LEVEL"] = "2"
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "experiments.vanilla", CONFIG, f"--data_dir={mnist_dir}",
             f"--run_dir={run_dir}", "--strategy=multi_worker", *TINY, *flags], cwd=REPO,
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    return processes


def test_two_multi_worker_processes_end_with_identical_weights(mnist_dir, tmp_path):
    run_dirs = [tmp_path / f"worker{index}" for index in range(2)]
    for process in start_workers(mnist_dir, run_dirs, "--max_steps=4"):
        _, stderr = process.communicate(timeout=240)
        assert process.returncode == 0, stderr[-3000:]
    assert_same_checkpoints(run_dirs, step=4)


def test_a_killed_worker_stops_the_other_in_one_line_and_a_restart_resumes(mnist_dir, tmp_path):
    import signal

    from tests.test_resume import wait_for_checkpoint

    run_dirs = [tmp_path / f"worker{index}" for index in range(2)]
    flags = ["--checkpoint_every=10", "--sample_every=1000", "--log_every=1000"]
    survivor, killed = start_workers(mnist_dir, run_dirs, "--max_steps=100000", *flags,
                                     quiet=True)
    try:
        wait_for_checkpoint(str(run_dirs[0]), 10, survivor, timeout=300)
    finally:
        killed.send_signal(signal.SIGKILL)
        killed.communicate()
    _, stderr = survivor.communicate(timeout=600)
    assert survivor.returncode == 2, stderr[-3000:]
    assert "Traceback" not in stderr and "GRPC" not in stderr, stderr[-3000:]
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("error: lost worker 1 of this multi-worker run after step ") and (
        "restart every worker with the same command" in line), line
    resumed = []
    for process in start_workers(mnist_dir, run_dirs, "--max_steps=30", *flags):
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
        resumed.append(re.findall(r"resumed from \S+ at step (\d+)", stderr))
    # The killed worker may be a checkpoint behind (or have none): both resume at the newest
    # step both hold, or both start over.
    assert resumed[0] == resumed[1], resumed
    assert_same_checkpoints(run_dirs, step=30)


def test_workers_a_checkpoint_apart_resume_together_at_the_older(mnist_dir, tmp_path):
    run_dirs = [tmp_path / f"worker{index}" for index in range(2)]
    flags = ["--checkpoint_every=4", "--sample_every=1000", "--log_every=1000"]
    for process in start_workers(mnist_dir, run_dirs, "--max_steps=8", *flags):
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
    for name in os.listdir(run_dirs[1] / "checkpoints"):  # worker 1 died before its ckpt-8
        if name.startswith("ckpt-8."):
            os.remove(run_dirs[1] / "checkpoints" / name)
    stderrs = []
    for process in start_workers(mnist_dir, run_dirs, "--max_steps=12", *flags):
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
        stderrs.append(stderr)
    assert all(re.search(r"resumed from \S+ckpt-4 at step 4", s) for s in stderrs), stderrs
    assert "another worker's newest checkpoint is of step 4" in stderrs[0]
    assert_same_checkpoints(run_dirs, step=12)


def assert_same_checkpoints(run_dirs, step):
    readers = [tf.train.load_checkpoint(str(run_dir / "checkpoints")) for run_dir in run_dirs]
    # Every variable: weights (saved under the optimisers' paths), BN statistics, slots, step.
    names = [n for n in readers[0].get_variable_to_shape_map()
             if n != "_CHECKPOINTABLE_OBJECT_GRAPH"]
    assert len(names) > 40
    for name in names:
        np.testing.assert_array_equal(readers[0].get_tensor(name), readers[1].get_tensor(name))
    assert readers[0].get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE") == step


def test_benchmark_reports_fast_and_plain_throughput_as_json():
    result = run_module("experiments.benchmark", CONFIG, "--synthetic_data", "--steps=20",
                        "--warmup_steps=5", "--steps_per_execution=10", "--rounds=2", "--profile",
                        "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["images_per_sec"] > 0 and summary["plain_images_per_sec"] > 0
    assert summary["rounds"] == 2
    for round_index in (1, 2):
        for mode in ("fast", "plain"):
            assert f"round {round_index}/2 {mode:>5}:" in result.stdout
    assert "fast:" in result.stdout and "plain:" in result.stdout
    # the profile of one fused call: the MLP's matrix products lead it
    profile = result.stdout.split("by op type:")[1].splitlines()[1:4]
    assert any("MatMul" in line for line in profile), profile
    if SETS_ONEDNN_DEFAULT:
        assert summary["onednn"] is True  # the package's default reached the programs


def test_benchmark_refuses_a_pytorch_comparison_of_a_different_step():
    result = run_module("experiments.benchmark", CONFIG, "--synthetic_data", "--pytorch",
                        "--order=d_first")
    assert result.returncode == 2  # a user error
    assert "--pytorch: the PyTorch step has --order=g_first; got --order=d_first" in result.stderr
    assert "Traceback" not in result.stderr


def test_every_built_in_registry_entry_is_named_in_its_flags_help():
    """The flags name their built-in choices without importing TensorFlow (fast --help); the
    registries decide what a value may be (plugins add to them), and --help names them all."""
    from absl import flags

    from experiments import common  # noqa: F401  (defines the flags)
    from keras_gan import models, objectives, penalties

    for flag, built_in in (("architecture", models.BUILT_IN), ("objective", objectives.BUILT_IN),
                           ("penalty", penalties.BUILT_IN)):
        for name in built_in:
            assert name in flags.FLAGS[flag].help, (flag, name)
    assert set(flags.FLAGS["conditional"].parser.enum_values) == set(
        models.conditional_models.MODES)


@pytest.mark.parametrize("batch_size", [8, 16])
def test_total_decay_ends_the_run_at_its_fraction_for_any_batch_size(mnist_dir, batch_size):
    """G and D each reach rate / total at their last update of the run's --epochs; D makes
    --d_steps updates per G step."""
    from absl.testing import flagsaver

    from experiments import common

    with flagsaver.flagsaver():
        common.FLAGS(["prog", CONFIG, f"--data_dir={mnist_dir}", f"--batch_size={batch_size}",
                      "--epochs=3", "--d_steps=2", "--g_learning_rate=1e-3",
                      "--d_learning_rate=2e-3", "--g_learning_rate_total_decay=8",
                      "--d_learning_rate_total_decay=4"])
        setup = common.prepare(lambda split: common.load_data(split, 28), 28,
                               strategy=tf.distribute.get_strategy())
    g_updates = 3 * (256 // batch_size // 2)
    assert setup.steps_per_epoch * 3 == g_updates
    gan = setup.gan
    for optimizer, updates, start, end in ((gan.g_optimizer, g_updates, 1e-3, 1e-3 / 8),
                                           (gan.d_optimizer, 2 * g_updates, 2e-3, 5e-4)):
        assert float(optimizer.learning_rate) == pytest.approx(start, rel=1e-6)
        optimizer.iterations.assign(updates)
        assert float(optimizer.learning_rate) == pytest.approx(end, rel=1e-4)
