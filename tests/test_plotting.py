import numpy as np
import tensorflow as tf

from keras_gan import plotting


def test_smooth_keeps_length_and_level_and_removes_noise():
    noisy = 1.0 + np.random.RandomState(0).normal(0, 0.5, 2000)
    smoothed = plotting.smooth(noisy, 100)
    assert smoothed.shape == noisy.shape
    assert abs(smoothed.mean() - 1.0) < 0.05 and smoothed.std() < noisy.std() / 5
    np.testing.assert_array_equal(plotting.smooth(noisy, 1), noisy)


def test_write_curves_writes_one_png_panel_per_group(tmp_path):
    steps = np.arange(1, 501)
    path = str(tmp_path / "curves.png")
    plotting.write_curves(path, steps, [{"D loss": np.sin(steps / 50.0)}, {"D(x)": steps / 500.0}],
                          ["losses", "discriminator outputs"])
    image = tf.io.decode_png(open(path, "rb").read())
    assert image.shape[0] == 640 and image.shape[1] == 900  # 9 x 3.2 inches a panel, 100 dpi
