"""The fault matrix of a run directory (docs/run_directory.md): a full disk, a kill in the middle
of a write, a directory that turns read-only or vanishes. Each fault ends with one line (or a
killed process), leaves no partial file, and the same command rerun ends as an uninterrupted run.

Full disks are real tmpfs mounts where the host allows mounting (root, as in CI); writes that a
small disk cannot aim at (one history row, one grid) fail by `KERAS_GAN_FAULT` injection.
"""
import os
import shutil
import signal
import subprocess

import numpy as np
import pytest

from keras_gan import atomic, storage
from keras_gan.callbacks import read_history
from tests.conftest import make_mnist_dir, run_module
from tests.test_resume import checkpoint_tensors, start, wait_for_checkpoint

STEPS = 40


def command(mnist_dir, run_dir, *extra):
    return ["experiments.vanilla", "--flagfile=experiments/configs/gan_pytorch.cfg",
            f"--data_dir={mnist_dir}", f"--run_dir={run_dir}", f"--max_steps={STEPS}",
            "--batch_size=8", "--epochs=100", "--checkpoint_every=10", "--sample_every=20",
            "--log_every=20", "--steps_per_execution=10", *extra]


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    return make_mnist_dir(str(tmp_path_factory.mktemp("mnist")))


@pytest.fixture(scope="module")
def reference(mnist, tmp_path_factory):
    """An uninterrupted run: its directory."""
    run_dir = str(tmp_path_factory.mktemp("reference") / "run")
    result = run_module(*command(mnist, run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir


def partial_files(run_dir):
    return [os.path.join(root, name) for root, directories, files in os.walk(run_dir)
            for name in directories + files
            if atomic.is_partial(name) or name.endswith("_temp") or ".tmp" in name]


def assert_ends_as(run_dir, reference):
    """The same history (every step once) and the same final weights as the uninterrupted run."""
    assert partial_files(run_dir) == []
    expected, actual = (read_history(os.path.join(d, "history.csv")) for d in (reference, run_dir))
    np.testing.assert_array_equal(actual["step"], np.arange(1, STEPS + 1))
    np.testing.assert_allclose(actual["g_loss"], expected["g_loss"], rtol=1e-5)
    expected, actual = checkpoint_tensors(reference), checkpoint_tensors(run_dir)
    assert expected.keys() == actual.keys()
    for name in set(expected) - {"save_counter/.ATTRIBUTES/VARIABLE_VALUE"}:  # saves, not steps
        np.testing.assert_allclose(actual[name], expected[name], rtol=1e-6, atol=1e-7,
                                   err_msg=name)
    assert os.path.exists(os.path.join(run_dir, "generator", "saved_model.pb"))


def error_line(result):
    """The CLI's one line; nothing from a traceback."""
    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ")
    return line


def megabytes(path):
    return os.path.getsize(path) / 2 ** 20


class Disk:
    """A tmpfs of a given size at `path`, resized in place."""

    def __init__(self, path):
        self.path = path
        os.makedirs(path)

    def mount(self, size):
        options = f"size={size}k"
        if os.path.ismount(self.path):
            options = f"remount,{options}"
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", self.path], check=True,
                       capture_output=True)

    def remount(self, option):
        subprocess.run(["mount", "-o", f"remount,{option}", self.path], check=True,
                       capture_output=True)


@pytest.fixture
def disk(tmp_path):
    disk = Disk(str(tmp_path / "disk"))
    try:
        disk.mount(1024)
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        pytest.skip(f"mounting a tmpfs needs root and mount(8) ({error}); CI runs as root")
    yield disk
    subprocess.run(["umount", "-l", disk.path], capture_output=True)


def sizes(reference):
    """Kilobytes of one checkpoint, of the export and of everything else an uninterrupted run
    writes, from the reference run."""
    checkpoint = sum(megabytes(os.path.join(reference, "checkpoints", name))
                     for name in os.listdir(os.path.join(reference, "checkpoints"))
                     if name.startswith("ckpt-40."))
    export = sum(megabytes(os.path.join(root, name))
                 for root, _, names in os.walk(os.path.join(reference, "generator"))
                 for name in names)
    return int(checkpoint * 1024), int(export * 1024)


@pytest.mark.parametrize("fitting, flags, what", [
    (0, [], "the checkpoint of step 10"),
    (2, [], "the checkpoint of step 30"),
    (1, ["--checkpoint_every=1000"], "the exported SavedModel"),
], ids=["first_checkpoint", "third_checkpoint", "export"])
def test_a_full_disk_stops_with_one_line_and_the_rerun_ends_as_uninterrupted(
        mnist, reference, disk, fitting, flags, what):
    checkpoint, export = sizes(reference)
    # Room for `fitting` checkpoints and the small files, not one more (nor the export).
    disk.mount(fitting * checkpoint + min(checkpoint, export) // 2 + 512)
    run_dir = os.path.join(disk.path, "run")
    line = error_line(run_module(*command(mnist, run_dir, *flags)))
    assert "the disk is full" in line and what in line and run_dir in line, line
    assert partial_files(run_dir) == []
    if fitting:
        assert "resumes from ckpt-" in line
    else:
        assert "starts over" in line
    disk.mount(4 * checkpoint + 2 * export + 4096)
    result = run_module(*command(mnist, run_dir, *flags))
    assert result.returncode == 0, result.stderr[-3000:]
    assert ("resumed from" in result.stderr) == bool(fitting)
    assert_ends_as(run_dir, reference)


@pytest.mark.parametrize("point, what", [
    ("row:history.csv", "the history"),
    ("written:step_0000020.png", "a sample grid"),
    ("half:flags.cfg", "the run's flags"),
], ids=["history", "grid", "flags"])
def test_a_full_disk_in_any_write_is_one_line_and_the_rerun_ends_as_uninterrupted(
        mnist, reference, tmp_path, point, what):
    run_dir = str(tmp_path / "run")
    line = error_line(run_module(*command(mnist, run_dir),
                                 env={"KERAS_GAN_FAULT": f"full@{point}"}))
    assert "the disk is full" in line and what in line, line
    assert partial_files(run_dir) == []
    result = run_module(*command(mnist, run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert_ends_as(run_dir, reference)


@pytest.mark.parametrize("point", [
    "half:flags.cfg", "written:flags.cfg", "half:history.csv", "half:step_0000020.png",
    "written:generator", "swapping:generator",
])
def test_a_kill_in_any_phase_of_a_write_loses_nothing(mnist, reference, tmp_path, point):
    run_dir = str(tmp_path / "run")
    if point == "swapping:generator":  # a second export replaces the first
        first = run_module(*command(mnist, run_dir), "--max_steps=20")
        assert first.returncode == 0, first.stderr[-3000:]
    killed = run_module(*command(mnist, run_dir), env={"KERAS_GAN_FAULT": f"kill@{point}"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert partial_files(run_dir), "the kill left no partial file: the point was not reached"
    result = run_module(*command(mnist, run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "removed the partial files of an interrupted write" in result.stderr
    assert_ends_as(run_dir, reference)


def test_what_a_kill_inside_a_checkpoint_save_leaves_is_removed_and_never_restored(
        mnist, reference, tmp_path):
    run_dir = str(tmp_path / "run")
    first = run_module(*command(mnist, run_dir), "--max_steps=20")
    assert first.returncode == 0, first.stderr[-3000:]
    checkpoints = os.path.join(run_dir, "checkpoints")
    # What TensorFlow's save leaves when killed in each phase: its temporary shard, the data
    # moved without its index (the index is written last), the state file's temporary.
    os.makedirs(os.path.join(checkpoints, "ckpt-30_temp"))
    with open(os.path.join(checkpoints, "ckpt-30_temp", "part-00000-of-00001.data-00000-of-00001"),
              "wb") as stream:
        stream.write(b"\0" * 1000)
    shutil.copy(os.path.join(checkpoints, "ckpt-20.data-00000-of-00001"),
                os.path.join(checkpoints, "ckpt-30.data-00000-of-00001"))
    with open(os.path.join(checkpoints, "checkpoint.tmp5f3a"), "w") as stream:
        stream.write('model_checkpoint_path: "ckpt-3')
    result = run_module(*command(mnist, run_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed from" in result.stderr and "ckpt-20 at step 20" in result.stderr
    assert_ends_as(run_dir, reference)


def test_a_vanished_run_directory_stops_with_one_line_and_is_not_recreated(mnist, tmp_path):
    run_dir, moved = str(tmp_path / "run"), str(tmp_path / "moved")
    process = start(command(mnist, run_dir, "--max_steps=100000", "--checkpoint_every=20"))
    wait_for_checkpoint(run_dir, 20, process)
    os.rename(run_dir, moved)
    _, stderr = process.communicate(timeout=120)
    line = error_line(subprocess.CompletedProcess([], process.returncode, "", stderr))
    assert "no longer exists" in line and run_dir in line, line
    assert sorted(os.listdir(tmp_path)) == ["moved"]


def test_a_read_only_run_directory_stops_with_one_line_and_resumes_once_writable(
        mnist, tmp_path):
    run_dir = str(tmp_path / "run")
    process = start(command(mnist, run_dir, "--max_steps=100000", "--checkpoint_every=20"))
    wait_for_checkpoint(run_dir, 20, process)
    checkpoints = os.path.join(run_dir, "checkpoints")
    try:  # a read-only view of the directory, as a remount would give
        for options in (["--bind", run_dir, run_dir], ["-o", "remount,bind,ro", run_dir]):
            subprocess.run(["mount", *options], check=True, capture_output=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        process.kill()
        subprocess.run(["umount", "-l", run_dir], capture_output=True)
        pytest.skip(f"a read-only bind mount needs root and mount(8) ({error}); CI runs as root")
    try:
        before = {name: os.path.getsize(os.path.join(checkpoints, name))
                  for name in os.listdir(checkpoints)}
        _, stderr = process.communicate(timeout=120)
    finally:
        subprocess.run(["umount", "-l", run_dir], capture_output=True)
    line = error_line(subprocess.CompletedProcess([], process.returncode, "", stderr))
    assert "read-only" in line and run_dir in line, line
    assert {name: os.path.getsize(os.path.join(checkpoints, name))
            for name in os.listdir(checkpoints)} == before
    result = run_module(*command(mnist, run_dir), "--max_steps=40")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resumed from" in result.stderr


def test_a_full_disk_under_tensorflows_writers_is_recognised(disk):
    """TensorFlow reports a full disk as an OpError whose text holds the path and the reason."""
    import tensorflow as tf

    disk.mount(64)
    writer = tf.summary.create_file_writer(os.path.join(disk.path, "tensorboard"))
    with pytest.raises(tf.errors.OpError) as raised:
        with writer.as_default(step=0):
            for step in range(10000):
                tf.summary.write("x" * 100, tf.zeros(100), step=step)
            writer.flush()
    path = storage.failed_path(raised.value)
    assert storage.reason(raised.value) == "the disk is full"
    assert path.startswith(os.path.join(disk.path, "tensorboard"))
    assert storage.what_is(path, disk.path) == "TensorBoard summaries"


def fill(directory):
    """Fills the disk of `directory` to its last byte."""
    with pytest.raises(OSError):
        with open(os.path.join(directory, "filler"), "wb") as stream:
            while True:
                stream.write(b"\0" * 4096)
                stream.flush()


def test_a_lock_the_disk_has_no_room_for_is_not_left_behind(disk):
    from keras_gan import run_directory

    fill(disk.path)
    with pytest.raises(OSError):
        with run_directory.lock(disk.path):
            pass
    assert not os.path.exists(os.path.join(disk.path, run_directory.LOCK_NAME))


def test_gan_fit_with_run_checkpoint_on_a_full_disk_raises_one_clear_error(disk):
    import keras

    import keras_gan
    from keras_gan.errors import KerasGanError

    g = keras.Sequential([keras.Input((2,)), keras.layers.Dense(16),
                          keras.layers.Reshape((4, 4, 1))])
    d = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(), keras.layers.Dense(1)])
    gan = keras_gan.GAN(g, d).compile()
    directory = os.path.join(disk.path, "checkpoints")
    fill(disk.path)
    with pytest.raises(KerasGanError, match=r"the checkpoint of step 4 .*: the disk is full; "
                                            r"its partial files were removed; .* starts over"):
        gan.fit(np.zeros((32, 4, 4, 1), np.uint8), batch_size=8, verbose=0,
                callbacks=[keras_gan.callbacks.RunCheckpoint(directory, every_n_steps=4)])
    assert os.listdir(directory) == []


def test_a_failed_paths_target_and_reason():
    assert storage.target_of("/r/.generator.k2_x.partial/variables/v.data") == "/r/generator"
    assert storage.target_of("/r/.generator.k2_x.old.partial") == "/r/generator"
    assert storage.target_of("/r/samples/.step_0000020.png.a_b.partial") == (
        "/r/samples/step_0000020.png")
    assert storage.target_of("/r/checkpoints/ckpt-20_temp/part-0") == "/r/checkpoints/ckpt-20"
    assert storage.what_is("/r/samples/step_0000020.png", "/r") == "a sample grid"
    assert storage.reason(OSError(30, "Read-only file system")) == "the file system is read-only"
    assert storage.reason(ValueError("No space left on device")) is None


def test_a_missing_file_outside_the_run_directory_is_not_called_a_failed_write(tmp_path):
    missing = FileNotFoundError(2, "No such file or directory", str(tmp_path / "data" / "x.png"))
    run_dir = str(tmp_path / "run")
    os.makedirs(run_dir)
    assert storage.write_error(missing, run_dir, run_dir) is None
    inside = OSError(28, "No space left on device", os.path.join(run_dir, "history.csv"))
    assert "the history" in str(storage.write_error(inside, run_dir, run_dir))
