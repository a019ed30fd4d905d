import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan.layers import BatchNormalization, Maxout, Pack, SpectralNormalization, Unpack

X = np.random.RandomState(0).normal(3.0, 2.0, (16, 5)).astype(np.float32)


def test_frozen_batchnorm_uses_batch_statistics_and_updates_nothing():
    layer = BatchNormalization(epsilon=1e-5)
    layer.build(X.shape)
    before = [v.numpy().copy() for v in layer.variables]
    layer.trainable = False
    out = layer(X, training=True).numpy()
    np.testing.assert_allclose(out, (X - X.mean(0)) / np.sqrt(X.var(0) + 1e-5), atol=1e-4)
    for old, new in zip(before, layer.variables):
        np.testing.assert_array_equal(old, new.numpy())


def test_trainable_batchnorm_updates_moving_statistics_and_frozen_inference_uses_them():
    layer = BatchNormalization(momentum=0.5)
    layer(X, training=True)
    np.testing.assert_allclose(layer.moving_mean.numpy(), 0.5 * X.mean(0), rtol=1e-4)
    layer.trainable = False
    out = layer(X, training=False).numpy()
    expected = (X - layer.moving_mean.numpy()) / np.sqrt(layer.moving_variance.numpy() + 1e-3)
    np.testing.assert_allclose(out, expected, atol=1e-4)


def test_keras_batchnorm_has_the_trap_this_layer_avoids():
    """Keras 3's own frozen BN switches to moving statistics: the reason for our subclass."""
    layer = keras.layers.BatchNormalization()
    layer.build(X.shape)
    layer.trainable = False
    np.testing.assert_allclose(layer(X, training=True).numpy(), X / np.sqrt(1 + 1e-3), rtol=1e-5)


def test_maxout_is_the_max_over_linear_pieces():
    layer = Maxout(units=3, pieces=4)
    out = layer(X).numpy()
    kernel, bias = (w.numpy() for w in layer.linear.weights)
    pieces = (X @ kernel + bias).reshape(16, 3, 4)
    np.testing.assert_allclose(out, pieces.max(-1), rtol=1e-5)
    assert layer.count_params() == 5 * 12 + 12


def test_maxout_round_trips_through_config():
    layer = Maxout(240, 5)
    clone = Maxout.from_config(layer.get_config())
    assert (clone.units, clone.pieces) == (240, 5)


def test_spectral_norm_gradient_flows_through_sigma():
    """W / sigma(W) ignores W's scale (sigma = v W u^T is linear in W), so SN-GAN's gradient is
    orthogonal to W; a kernel rewritten as W / sigma without sigma's gradient is not."""
    layer = SpectralNormalization(keras.layers.Dense(3, kernel_initializer="he_normal"))
    layer(X)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(layer(X, training=True) - 1.0))
    gradient = tape.gradient(loss, layer.layer.kernel).numpy().ravel()
    kernel = layer.layer.kernel.numpy().ravel()
    assert np.linalg.norm(gradient) > 0.1
    cosine = gradient @ kernel / (np.linalg.norm(gradient) * np.linalg.norm(kernel))
    assert abs(cosine) < 1e-4  # Keras's own wrapper gave 0.57 in one such check


def test_spectral_norm_round_trips_through_config_and_rejects_a_nonlinear_layer():
    layer = SpectralNormalization(keras.layers.Dense(4), power_iterations=2)
    copy = SpectralNormalization.from_config(layer.get_config())
    assert copy.power_iterations == 2 and copy.layer.units == 4
    with pytest.raises(ValueError, match="needs a linear layer.*relu"):
        SpectralNormalization(keras.layers.Dense(4, activation="relu"))


def test_pack_joins_consecutive_examples_along_the_features_or_the_channels():
    images = np.arange(4 * 2 * 2 * 3, dtype=np.float32).reshape(4, 2, 2, 3)
    channels = Pack(2, flat=False)(images).numpy()
    assert channels.shape == (2, 2, 2, 6)
    np.testing.assert_array_equal(channels[1, 0, 1], np.concatenate([images[2, 0, 1],
                                                                     images[3, 0, 1]]))
    flat = Pack(2, flat=True)(images).numpy()
    assert flat.shape == (2, 24)
    np.testing.assert_array_equal(flat[0], np.concatenate([images[0].ravel(), images[1].ravel()]))
    np.testing.assert_array_equal(Unpack(2)(np.array([[1.0], [5.0]])).numpy().ravel(),
                                  [1.0, 1.0, 5.0, 5.0])
