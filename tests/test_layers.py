import keras
import numpy as np

from keras_gan.layers import BatchNormalization, Maxout

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
