"""Every variant's flagfile trains a few steps through its experiment program on tiny data."""
import glob
import os

import numpy as np
import pytest

from keras_gan.callbacks import read_history
from keras_gan.errors import KerasGanError
from tests.conftest import REPO, run_module

CONFIGS = sorted(os.path.basename(p)
                 for p in glob.glob(os.path.join(REPO, "experiments", "configs", "*.cfg")))
PROGRAMS = {"dcgan": "experiments.dcgan", "mixture": "experiments.mixture"}


def program(config):
    return PROGRAMS.get(config.split("_")[0], "experiments.vanilla")


def test_every_seed_variant_has_a_config():
    assert set(CONFIGS) >= {"gan_paper.cfg", "gan_pytorch.cfg", "gan_blog_mlp_sgd.cfg",
                            "gan_blog_mlp_adam.cfg", "gan_blog_mlp_bn.cfg", "gan_heuristic.cfg",
                            "gan_keras_concat.cfg", "dcgan_mnist32.cfg", "dcgan_celeba64.cfg",
                            "dcgan_mnist64.cfg"}


# celeb_a needs its tfds data; cgan_mnist.cfg trains in tests/test_conditional.py
@pytest.mark.parametrize(
    "config", [c for c in CONFIGS if c not in ("dcgan_celeba64.cfg", "cgan_mnist.cfg")])
def test_config_trains_a_few_steps_with_finite_losses(config, mnist_dir, tmp_path):
    run_dir = tmp_path / "run"
    result = run_module(program(config), f"--flagfile=experiments/configs/{config}",
                        f"--data_dir={mnist_dir}", f"--run_dir={run_dir}", "--max_steps=3",
                        "--batch_size=16", "--steps_per_execution=3", "--noeval_d_accuracy")
    assert result.returncode == 0, result.stderr[-3000:]
    history = read_history(str(run_dir / "history.csv"))
    assert len(history["step"]) == 3
    for column in ("d_loss", "g_loss", "d_real", "d_fake"):
        assert np.isfinite(history[column]).all()
    assert (run_dir / "generator" / "saved_model.pb").exists()


def test_celeba_config_without_tfds_data_points_to_image_dir(tmp_path):
    result = run_module("experiments.dcgan", "--flagfile=experiments/configs/dcgan_celeba64.cfg",
                        f"--run_dir={tmp_path / 'run'}", "--max_steps=1")
    assert result.returncode == 2
    assert "--image_dir" in result.stderr.strip().splitlines()[-1]


def test_dcgan64_trains_on_an_image_folder(tmp_path):
    import tensorflow as tf

    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.RandomState(0)
    for index in range(20):  # mixed sizes are resized and centre-cropped, like the tutorial
        size = (70 + index, 90)
        pixels = rng.randint(0, 256, (*size, 3)).astype(np.uint8)
        (folder / f"{index}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    run_dir = tmp_path / "run"
    result = run_module("experiments.dcgan", "--flagfile=experiments/configs/dcgan_celeba64.cfg",
                        f"--image_dir={folder}", f"--run_dir={run_dir}", "--max_steps=2",
                        "--batch_size=8", "--epochs=1")
    assert result.returncode == 0, result.stderr[-3000:]
    assert len(read_history(str(run_dir / "history.csv"))["step"]) == 2


@pytest.mark.parametrize("setup, message", [
    ("empty", "no JPEG, PNG, BMP or GIF images"),
    ("broken", "none of its 1 image files decodes"),
])
def test_bad_image_folders_are_one_line_errors(tmp_path, setup, message):
    folder = tmp_path / "images"
    folder.mkdir()
    if setup == "broken":
        (folder / "a.png").write_bytes(b"not a png")
    result = run_module("experiments.dcgan", "--flagfile=experiments/configs/dcgan_celeba64.cfg",
                        f"--image_dir={folder}", f"--run_dir={tmp_path / 'run'}")
    assert result.returncode == 2 and message in result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr and not (tmp_path / "run").exists()


def test_mlp_config_with_a_64_pixel_dcgan_program_fails_at_once(tmp_path):
    result = run_module("experiments.dcgan", "--flagfile=experiments/configs/gan_pytorch.cfg",
                        "--image_size=64", f"--run_dir={tmp_path / 'run'}")
    assert result.returncode == 2
    assert "built for 28x28 images, not 64x64" in result.stderr


@pytest.mark.parametrize("values, message", [
    ({"epochs": 0}, "epochs=0: expected a positive integer, or 0 with max_steps"),
    ({"epochs": -1, "max_steps": 10}, "epochs=-1: expected a positive integer"),
])
def test_epochs_zero_needs_max_steps(values, message):
    from keras_gan import runner
    from keras_gan.config import from_values

    with pytest.raises(KerasGanError, match=message):
        runner.check(from_values(values))


def test_epochs_zero_runs_as_many_epochs_as_max_steps_takes():
    from keras_gan import runner
    from keras_gan.config import from_values

    assert runner.run_epochs(from_values({"epochs": 0, "max_steps": 600}), 40) == 15
    assert runner.run_epochs(from_values({"epochs": 0, "max_steps": 601}), 40) == 16
    assert runner.run_epochs(from_values({"epochs": 3, "max_steps": 601}), 40) == 3
