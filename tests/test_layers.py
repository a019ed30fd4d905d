import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan.layers import (BatchNormalization, Maxout, Pack, SpectralNormalization, Unpack,
                              UpsampleConv2D)

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


@pytest.mark.parametrize("shape", [(16, 5), (8, 3, 4, 5)])
@pytest.mark.parametrize("trainable", [True, False])
def test_batchnorm_fused_kernel_matches_keras_statistics_outputs_and_gradients(shape, trainable):
    """One replica takes TensorFlow's fused kernel; Keras's own layer is the reference."""
    inputs = tf.constant(np.random.RandomState(1).normal(3.0, 2.0, shape).astype(np.float32))
    ours, keras_layer = BatchNormalization(momentum=0.7), keras.layers.BatchNormalization(
        momentum=0.7)
    for layer in (ours, keras_layer):
        layer.build(shape)
        layer.gamma.assign(np.linspace(0.5, 1.5, 5).astype(np.float32))
        layer.beta.assign(np.linspace(-1, 1, 5).astype(np.float32))
    ours.trainable = trainable
    assert ours._fusable(inputs, None)
    assert not ours._fusable(tf.cast(inputs, tf.float64), None)  # not a dtype of the kernel
    results = []
    for layer in (ours, keras_layer):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs, training=True)
            loss = tf.reduce_sum(outputs ** 3)
        results.append((outputs, tape.gradient(loss, [inputs, layer.gamma.value,
                                                      layer.beta.value])))
    (outputs, gradients), (expected, expected_gradients) = results
    np.testing.assert_allclose(outputs, expected, rtol=1e-5, atol=1e-5)
    for gradient, expected_gradient in zip(gradients, expected_gradients):
        if not trainable and gradient is None:
            continue
        np.testing.assert_allclose(gradient, expected_gradient, rtol=1e-4, atol=1e-4)
    if trainable:  # moving statistics as Keras keeps them (the batch's biased variance)
        np.testing.assert_allclose(ours.moving_mean, keras_layer.moving_mean, rtol=1e-6)
        np.testing.assert_allclose(ours.moving_variance, keras_layer.moving_variance, rtol=1e-5)
    else:
        np.testing.assert_array_equal(ours.moving_mean, np.zeros(5))
        np.testing.assert_array_equal(ours.moving_variance, np.ones(5))


def test_batchnorm_under_mixed_bfloat16_keeps_bfloat16_and_float32_statistics():
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        layer = BatchNormalization(momentum=0.0)
        outputs = layer(tf.constant(X, tf.bfloat16), training=True)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert outputs.dtype == tf.bfloat16 and layer.moving_mean.dtype == "float32"
    np.testing.assert_allclose(layer.moving_mean, X.mean(0), rtol=1e-2)
    np.testing.assert_allclose(tf.cast(outputs, tf.float32),
                               (X - X.mean(0)) / np.sqrt(X.var(0) + 1e-3), atol=0.05)


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


def _upsample_conv_pair(channels, filters, **kwargs):
    """The same weights in the sub-pixel layer and in the upsample-then-convolve one."""
    fast = UpsampleConv2D(filters, **kwargs)
    plain = UpsampleConv2D(filters, subpixel=False, **kwargs)
    fast.build((None, 5, 6, channels))
    plain.build((None, 5, 6, channels))
    rng = np.random.RandomState(0)
    for layer in (fast, plain):
        layer.kernel.assign(rng.standard_normal((3, 3, channels, filters)).astype("float32") * 0.2
                            if layer is fast else fast.kernel)
        layer.bias.assign(np.linspace(-1, 1, filters).astype("float32"))
    return fast, plain


def test_upsample_conv_is_upsampling_then_a_same_convolution_with_the_same_gradients():
    fast, plain = _upsample_conv_pair(3, 4, activation="tanh")
    images = tf.constant(np.random.RandomState(1).standard_normal((2, 5, 6, 3)), tf.float32)
    reference = keras.layers.Conv2D(4, 3, padding="same", activation="tanh")
    reference.build((None, 10, 12, 3))
    reference.set_weights(plain.get_weights())
    expected = reference(keras.layers.UpSampling2D(2)(images))
    np.testing.assert_allclose(plain(images), expected, atol=1e-6)
    gradients = []
    for layer in (fast, plain):
        with tf.GradientTape() as tape:
            tape.watch(images)
            outputs = layer(images)
            loss = tf.reduce_sum(outputs * tf.range(outputs.shape[-1], dtype=tf.float32))
        gradients.append(tape.gradient(loss, [images, layer.kernel.value, layer.bias.value]))
        assert outputs.shape == (2, 10, 12, 4)
        np.testing.assert_allclose(outputs, expected, atol=1e-5)
    for fast_gradient, plain_gradient in zip(*gradients):
        assert fast_gradient is not None and plain_gradient is not None
        np.testing.assert_allclose(fast_gradient, plain_gradient, rtol=1e-5, atol=1e-4)


def test_upsample_conv_round_trips_through_config_and_refuses_another_kernel():
    layer = UpsampleConv2D(8, subpixel=False, use_bias=False)
    copy = UpsampleConv2D.from_config(layer.get_config())
    assert copy.filters == 8 and copy.subpixel is False and copy.use_bias is False
    with pytest.raises(ValueError, match="kernel_size cannot be set"):
        UpsampleConv2D(8, kernel_size=5)
