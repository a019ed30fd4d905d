"""A run directory nobody can corrupt: each row of issue 12's table as a test."""
import os
import re
import shutil
import stat

import numpy as np
import pytest
import tensorflow as tf
from absl import flags as absl_flags

from keras_gan import run_checkpoint, run_directory
from keras_gan.callbacks import read_history
from keras_gan.errors import KerasGanError
from tests.conftest import Steps, run_module
from tests.test_step import make_gan, snapshot, stream

CONFIG = "--flagfile=experiments/configs/gan_pytorch.cfg"
TINY = ["--batch_size=8", "--sample_every=2", "--checkpoint_every=2", "--log_every=2",
        "--steps_per_execution=2"]


def one_error_line(result, message):
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last, last


def tree(path):
    return {os.path.relpath(os.path.join(root, name), path):
            open(os.path.join(root, name), "rb").read()
            for root, _, names in os.walk(path) for name in names}


# ----- flags.cfg ---------------------------------------------------------------------------------

def test_flags_cfg_reproduces_the_run_and_files_follow_the_umask(mnist_dir, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    old_mask = os.umask(0o022)
    try:
        result = run_module("experiments.vanilla", CONFIG, f"--data_dir={mnist_dir}",
                            f"--run_dir={first}", "--max_steps=4", "--seed=3", *TINY)
    finally:
        os.umask(old_mask)
    assert result.returncode == 0, result.stderr[-3000:]
    recorded = (first / "flags.cfg").read_text()
    assert "--seed=3" in recorded and "--batch_size=8" in recorded
    assert "test_random_seed" not in recorded and "op_conversion" not in recorded
    assert "--z_dim" not in recorded  # left at its default
    result = run_module("experiments.vanilla", f"--flagfile={first / 'flags.cfg'}",
                        f"--run_dir={second}")
    assert result.returncode == 0, result.stderr[-3000:]
    a, b = read_history(str(first / "history.csv")), read_history(str(second / "history.csv"))
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
    for path in ("flags.cfg", "history.csv", "loss_curves.png", "samples/step_0000004.png",
                 "generator/saved_model.pb"):
        assert stat.S_IMODE(os.stat(first / path).st_mode) == 0o644, path
    assert stat.S_IMODE(os.stat(first / "generator").st_mode) == 0o755


def test_resume_that_changes_the_model_names_the_flags_and_keeps_flags_cfg(mnist_dir, tmp_path):
    run_dir = tmp_path / "run"
    base = [CONFIG, f"--data_dir={mnist_dir}", f"--run_dir={run_dir}", *TINY]
    assert run_module("experiments.vanilla", *base, "--max_steps=2").returncode == 0
    before = tree(run_dir)
    one_error_line(run_module("experiments.vanilla", *base, "--max_steps=2", "--batch_size=16",
                              "--epochs=6"), "--batch_size=16 (run has --batch_size=8)")
    assert tree(run_dir) == before
    other = run_module("experiments.vanilla", "--flagfile=experiments/configs/gan_blog_mlp_sgd.cfg",
                       f"--data_dir={mnist_dir}", f"--run_dir={run_dir}", *TINY)
    one_error_line(other, "--architecture=blog_mlp")
    assert "shape" not in other.stderr  # it never reaches the checkpoint
    assert not [line for line in other.stderr.splitlines()
                if line[:1] == "W" and line[1:2].isdigit()]
    assert tree(run_dir) == before
    # Flags that do not change what is trained may change; the change is appended, not rewritten.
    result = run_module("experiments.vanilla", *base, "--max_steps=4", "--log_every=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert (run_dir / "flags.cfg").read_bytes() == before["flags.cfg"]
    changes = (run_dir / "flag_changes.cfg").read_text()
    assert "# resumed at step 2" in changes and "--max_steps=4" in changes
    assert "--log_every=1" in changes


def test_a_total_decay_fixes_the_runs_length_on_resume(mnist_dir, tmp_path):
    """The decay spreads over --epochs: another length would make the rate jump."""
    run_dir = tmp_path / "run"
    base = [CONFIG, f"--data_dir={mnist_dir}", f"--run_dir={run_dir}", *TINY,
            "--g_learning_rate_total_decay=8"]
    assert run_module("experiments.vanilla", *base, "--max_steps=2").returncode == 0
    before = tree(run_dir)
    one_error_line(run_module("experiments.vanilla", *base, "--max_steps=4", "--epochs=7"),
                   "schedule: --epochs=7 (run has")
    assert tree(run_dir) == before


def test_flagfile_from_an_older_run_with_every_flag_still_resumes(tmp_path):
    """Earlier versions dumped all flags, absl's and TensorFlow's included."""
    flag_values = absl_flags.FlagValues()
    for name, default in (("batch_size", 64), ("epochs", 1)):
        absl_flags.DEFINE_integer(name, default, "", flag_values=flag_values,
                                  module_name="experiments.common")
    flag_values(["prog", "--epochs=5"])
    (tmp_path / "flags.cfg").write_text("--batch_size=64\n--epochs=1\n--test_random_seed=301\n")
    changes = run_directory.check_resumable_flags(str(tmp_path), flag_values, ("epochs",))
    assert changes == ["--epochs=5"]
    flag_values["batch_size"].value = 32
    with pytest.raises(KerasGanError, match=r"--batch_size=32 \(run has --batch_size=64\)"):
        run_directory.check_resumable_flags(str(tmp_path), flag_values, ("epochs",))


def test_the_flags_of_the_module_run_with_python_m_are_the_programs(monkeypatch):
    """`python -m experiments.mixture` files --mixture under mixture.py's path, not a module
    name: it must be recorded and checked on resume like the shared flags."""
    monkeypatch.setattr("sys.argv", ["/repo/experiments/mixture.py"])
    flag_values = absl_flags.FlagValues()
    absl_flags.DEFINE_string("mixture", "ring", "", flag_values=flag_values,
                             module_name="/repo/experiments/mixture.py")
    absl_flags.DEFINE_integer("epochs", 1, "", flag_values=flag_values,
                              module_name="experiments.common")
    absl_flags.DEFINE_integer("verbosity", 0, "", flag_values=flag_values,
                              module_name="absl.logging")
    flag_values(["prog", "--mixture=grid", "--verbosity=1"])
    assert run_directory.non_default_flags(flag_values) == {"mixture": "--mixture=grid"}


# ----- one writer ----------------------------------------------------------------------------

def test_a_second_writer_fails_at_once_naming_the_holder(mnist_dir, tmp_path):
    run_dir = tmp_path / "run"
    with run_directory.lock(str(run_dir.parent)):
        with pytest.raises(KerasGanError, match=rf"is in use by process {os.getpid()} on "):
            with run_directory.lock(str(run_dir.parent)):
                pass
    assert not (tmp_path / ".lock").exists()  # released
    run_dir.mkdir()
    with run_directory.lock(str(run_dir)):  # held by this (live) process
        result = run_module("experiments.vanilla", CONFIG, f"--data_dir={mnist_dir}",
                            f"--run_dir={run_dir}", "--max_steps=2", *TINY)
    one_error_line(result, f"is in use by process {os.getpid()}")
    assert os.listdir(run_dir) == []


def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path):
    import json
    import socket
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname()}))
    with run_directory.lock(str(tmp_path)):
        assert json.loads((tmp_path / ".lock").read_text())["pid"] == os.getpid()
    assert not (tmp_path / ".lock").exists()


@pytest.mark.parametrize("make_path, message", [
    (lambda tmp: str(tmp / "a_file"), "exists and is not a directory"),
    (lambda tmp: str(tmp / "a_file" / "run"), "is not a directory"),
    (lambda tmp: "/proc/keras_gan_run", "cannot be created"),
])
def test_run_dir_that_cannot_be_a_directory_is_one_line(tmp_path, make_path, message):
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(KerasGanError, match=f"--run_dir=.*: .*{message}"):
        run_directory.create(make_path(tmp_path))


def test_run_dir_under_dev_null_is_one_line_from_the_program(mnist_dir):
    result = run_module("experiments.vanilla", CONFIG, f"--data_dir={mnist_dir}",
                        "--run_dir=/dev/null/x", "--max_steps=2")
    one_error_line(result,
                   "--run_dir=/dev/null/x: cannot be created (/dev/null is not a directory)")


# ----- checkpoints -------------------------------------------------------------------------------

def saved_run(tmp_path, steps=(2, 4, 6)):
    """A GAN with checkpoints after each of `steps`, and each checkpoint's weights."""
    gan = make_gan()
    trainer = Steps(gan, 8)
    iterator = stream(trainer)
    manager = tf.train.CheckpointManager(run_checkpoint.training_checkpoint(gan), str(tmp_path),
                                         max_to_keep=5)
    weights, done = {}, 0
    for step in steps:
        trainer(iterator, step - done)
        done = step
        manager.save(checkpoint_number=step)
        weights[step] = snapshot(trainer.generator)
    return weights


def restore_into_new_gan(directory):
    gan = make_gan()
    checkpoint = run_checkpoint.training_checkpoint(gan)
    prefix = run_directory.restore_newest(
        directory, lambda path: run_checkpoint.restore(gan, checkpoint, path))
    return gan, prefix


@pytest.mark.parametrize("damage", ["garbage_state", "corrupt_data", "empty_index",
                                    "killed_while_writing"])
def test_resume_falls_back_to_the_newest_checkpoint_that_restores(tmp_path, damage):
    weights = saved_run(tmp_path)
    newest = tmp_path / "ckpt-6"
    if damage == "garbage_state":
        (tmp_path / "checkpoint").write_text("this is not a checkpoint state\x00\x01")
        expected = 6
    elif damage == "corrupt_data":
        data = next(tmp_path.glob("ckpt-6.data-*"))
        data.write_bytes(b"\x00" * data.stat().st_size)
        expected = 4
    elif damage == "empty_index":
        (tmp_path / "ckpt-6.index").write_bytes(b"")
        expected = 4
    else:  # SIGKILL while TensorFlow writes ckpt-8: its temp shard, or data before the index
        (tmp_path / "ckpt-8_temp").mkdir()
        data = next(tmp_path.glob("ckpt-6.data-*"))
        shutil.copy(data, tmp_path / "ckpt-8_temp" / "part-0")
        shutil.copy(data, tmp_path / data.name.replace("ckpt-6", "ckpt-8"))
        expected = 6
    before = tree(tmp_path)
    gan, prefix = restore_into_new_gan(str(tmp_path))
    assert prefix == str(tmp_path / f"ckpt-{expected}")
    assert gan.step.numpy() == expected
    for a, b in zip(weights[expected], snapshot(gan.generator)):
        np.testing.assert_array_equal(a, b)
    assert tree(tmp_path) == before  # nothing deleted or rewritten
    assert newest.with_suffix(".index").exists()


def test_when_no_checkpoint_restores_it_stops_and_leaves_every_file(tmp_path):
    saved_run(tmp_path, steps=(2, 4))
    for index in tmp_path.glob("ckpt-*.index"):
        index.write_bytes(b"garbage")
    before = tree(tmp_path)
    with pytest.raises(KerasGanError, match="none of the 2 checkpoints .* restores"):
        restore_into_new_gan(str(tmp_path))
    assert tree(tmp_path) == before


def test_program_resumes_past_a_garbage_state_file_and_corrupt_newest(mnist_dir, tmp_path):
    run_dir = tmp_path / "run"
    base = [CONFIG, f"--data_dir={mnist_dir}", f"--run_dir={run_dir}", *TINY]
    assert run_module("experiments.vanilla", *base, "--max_steps=4").returncode == 0
    checkpoints = run_dir / "checkpoints"
    (checkpoints / "checkpoint").write_text("garbage")
    (checkpoints / "ckpt-4.index").write_bytes(b"")
    good = {name: data for name, data in tree(checkpoints).items() if name.startswith("ckpt-2")}
    result = run_module("experiments.vanilla", *base, "--max_steps=6")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "does not restore" in result.stderr and "resumed from" in result.stderr
    assert "DataLossError" not in result.stderr and "Traceback" not in result.stderr
    np.testing.assert_array_equal(read_history(str(run_dir / "history.csv"))["step"],
                                  np.arange(1, 7))
    after = tree(checkpoints)
    assert all(after[name] == data for name, data in good.items())


# ----- data and other programs -----------------------------------------------------------------

def test_a_broken_image_is_skipped_with_one_warning(tmp_path, caplog):
    from keras_gan import data

    for index in range(3):
        pixels = np.full((20, 20, 3), index * 50, np.uint8)
        (tmp_path / f"{index}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with caplog.at_level("WARNING"):
        images = data.load_image_folder(str(tmp_path), 16, 3).images
    assert images.shape == (3, 16, 16, 3)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "skipped 1 of 4 files" in warnings[0]
    assert "function_node" not in warnings[0] and "broken.png" in warnings[0]


def test_evaluate_names_its_own_flag_for_a_missing_generator(tmp_path):
    result = run_module("experiments.evaluate", f"--generator={tmp_path / 'nope'}")
    one_error_line(result, f"--generator={tmp_path / 'nope'}: not a SavedModel directory")


def test_the_console_filter_drops_a_cpp_records_further_lines_only():
    from keras_gan.cli import _ConsoleFilter

    lines = [b"I1206 17:22:30.700375 1 logs.py:129] epoch 4 step 100/6400\n",
             b"E0000 00:00:1796576 1 collective.cc:1] Collective ops is aborted by: reset\n",
             b"Additional GRPC error information from remote target /job:worker/task:1\n",
             b"\t [[{{node while/CollectiveReduceV2_3}}]]\n",
             b"Traceback (most recent call last):\n", b"  File \"x.py\", line 1\n",
             b"I0000 00:00:1796576 1 server.cc:1] Started server with target\n",
             b"/job:worker/replica:0/task:1\n",
             b"error: lost worker 1 of this multi-worker run after step 22\n"]
    keep = _ConsoleFilter()
    assert [line for line in lines if keep(line)] == [lines[0], *lines[4:6], lines[8]]


def test_console_shows_no_tensorflow_log_lines_unless_asked(mnist_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = run_module("experiments.vanilla", CONFIG, f"--data_dir={mnist_dir}",
                        f"--run_dir={run_dir}", "--max_steps=4", "--refine_steps=2", *TINY,
                        env={"TF_CPP_MIN_LOG_LEVEL": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    err = result.stderr
    assert not re.search(r"^[IWEF]0000 |All log messages before|To enable the following", err,
                         re.M), err[:2000]
    assert "Sharding callback duration" not in err and "will be renamed" not in err
    assert "step 4/4" in err and "images/s" in err  # our own progress lines stay
    # Sampling a refined export (grappler declines a fusion in its gradient graph) is quiet too.
    sampled = run_module("keras_gan.sample", f"--model={run_dir / 'generator'}", "--num=4",
                         f"--out={tmp_path / 'grid.png'}", env={"TF_CPP_MIN_LOG_LEVEL": ""})
    assert sampled.returncode == 0, sampled.stderr[-3000:]
    assert not re.search(r"^[IWEF]0000 ", sampled.stderr, re.M), sampled.stderr[:2000]
    assert "wrote 4 samples" in sampled.stdout + sampled.stderr
    # Asked for, TensorFlow's own lines come back.
    loud = run_module("keras_gan.sample", f"--model={run_dir / 'generator'}", "--num=4",
                      f"--out={tmp_path / 'grid.png'}", env={"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert re.search(r"^I0000 ", loud.stderr, re.M)


def test_help_lists_the_flags_section_by_section():
    result = run_module("experiments.mixture", "--help")
    assert result.returncode == 0
    out = result.stdout
    sections = ["Data:", "Model:", "Training step:", "G's optimiser:", "D's optimiser:",
                "Schedule:",
                "Devices and speed:", "Sampling:", "Outputs:", "Evaluation:", "Plug-ins:",
                "This program:"]
    positions = [out.index(f"\n{title}\n") for title in sections]
    assert positions == sorted(positions)
    objective = out[positions[2]:positions[3]]
    assert "--objective" in objective and "--penalty_weight" in objective
    assert "--g_learning_rate" in out[positions[3]:positions[4]]
    assert "--mixture" in out[positions[-1]:]  # the program's own flags last
    assert "built in: paper_maxout, pytorch_mlp" in out
