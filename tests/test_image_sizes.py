"""Images that are not square: the loaders keep the aspect (crop or pad), the convolutional
architectures build for any size their strides divide, and the CLI trains and exports them."""
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import data, models
from keras_gan.callbacks import read_history
from keras_gan.errors import KerasGanError
from tests.conftest import run_module


def test_fit_crops_the_centre_or_pads_keeping_the_aspect():
    image = np.zeros((10, 20, 1), np.uint8)
    image[:, 5:15] = 200  # the centre 10x10 square is bright, the sides dark
    cropped = data.fit_to_size(tf.constant(image), (10, 10), "crop").numpy()
    assert cropped.shape == (10, 10, 1) and cropped.min() == 200
    padded = data.fit_to_size(tf.constant(image), (10, 10), "pad").numpy()[:, :, 0]
    assert (padded[:2] == 0).all() and (padded[-3:] == 0).all()  # 5 rows of image, centred
    assert padded[2:7, 3:7].min() > 150 and padded[2:7, :2].max() < 50
    same = data.resize_images(np.full((3, 28, 28, 1), 7, np.uint8), 32)
    assert same.shape == (3, 32, 32, 1) and (same == 7).all()  # 28 * 32/28 is 32, not 33


@pytest.mark.parametrize("architecture, size", [("dcgan32", (48, 32)), ("dcgan64", (48, 32)),
                                                ("infogan28_half_d", (28, 20))])
def test_convolutional_architectures_build_for_any_size_their_strides_divide(architecture, size):
    g, d = models.build_gan(architecture, (*size, 3), 16)
    assert tuple(g.outputs[0].shape[1:]) == (*size, 3)
    assert tuple(d(g(tf.zeros((2, 16)))).shape) == (2, 1)
    with pytest.raises(KerasGanError, match="multiples of"):
        models.check_architecture(architecture, (size[0] + 2, size[1]))
    with pytest.raises(KerasGanError, match="built for 28x28 images, not 48x32"):
        models.check_architecture("pytorch_mlp", (48, 32))


def test_the_cli_trains_and_exports_a_folder_of_48_by_32_images(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.RandomState(0)
    for index in range(16):  # 64x48 and other aspect ratios
        shape = (64, 48, 3) if index % 2 else (50 + index, 90, 3)
        (folder / f"{index}.png").write_bytes(
            tf.io.encode_png(rng.randint(0, 256, shape).astype(np.uint8)).numpy())
    for fit in ("pad",):  # crop, the default, trains in tests/test_configs.py's folder test
        run_dir = tmp_path / f"run_{fit}"
        result = run_module("experiments.dcgan",
                            "--flagfile=experiments/configs/dcgan_celeba64.cfg",
                            f"--image_dir={folder}", f"--run_dir={run_dir}", "--image_size=48,32",
                            f"--resize={fit}", "--max_steps=2", "--batch_size=8", "--epochs=1")
        assert result.returncode == 0, result.stderr[-3000:]
        assert len(read_history(str(run_dir / "history.csv"))["step"]) == 2
        generator = tf.saved_model.load(str(run_dir / "generator"))
        images = generator.sample(tf.constant(2))["images"]
        assert tuple(images.shape) == (2, 48, 32, 3)
    bad = run_module("experiments.dcgan", "--flagfile=experiments/configs/dcgan_celeba64.cfg",
                     f"--image_dir={folder}", f"--run_dir={tmp_path / 'bad'}",
                     "--image_size=48,x")
    assert bad.returncode == 2 and "--image_size=48,x: expected HEIGHT,WIDTH" in bad.stderr
