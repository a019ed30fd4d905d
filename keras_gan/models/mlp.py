"""Fully-connected G and D from the source documents (docs/configs.md names each source).

Where a source gives no initialisation, layers keep Keras's (Glorot uniform, zero bias). PyTorch's
nn.Linear default, U(+-1/sqrt(fan_in)), was tried for the PyTorch-GAN port and measured worse here:
the IS analogue was 2.2 with 5 digits covered after 10 epochs, against 3.9 and 9 digits after 6
epochs with Glorot.
"""
from __future__ import annotations

from typing import Tuple

import keras
import numpy as np

from keras_gan.layers import BatchNormalization, Dropout, Maxout


def _torch_bn() -> BatchNormalization:
    """PyTorch-GAN's `BatchNorm1d(n, 0.8)`: eps 0.8, momentum 0.1 (Keras 0.9)."""
    return BatchNormalization(epsilon=0.8, momentum=0.9)


def pytorch_generator(image_shape: Tuple[int, int, int], z_dim: int) -> keras.Model:
    """PyTorch-GAN gan.py G: 128 -> 256 -> 512 -> 1024 (BN, LeakyReLU 0.2) -> tanh image
    (PyTorch-GAN gan.py)."""
    z = keras.Input((z_dim,), name="z")
    h = keras.layers.Dense(128)(z)
    h = keras.layers.LeakyReLU(0.2)(h)
    for units in (256, 512, 1024):
        h = keras.layers.Dense(units)(h)
        h = _torch_bn()(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Dense(int(np.prod(image_shape)), activation="tanh")(h)
    return keras.Model(z, keras.layers.Reshape(image_shape)(h), name="generator")


def pytorch_discriminator(image_shape: Tuple[int, int, int]) -> keras.Model:
    """PyTorch-GAN gan.py D: 512 -> 256 (LeakyReLU 0.2) -> one logit."""
    image = keras.Input(image_shape, name="image")
    h = keras.layers.Flatten()(image)
    for units in (512, 256):
        h = keras.layers.Dense(units)(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    logit = keras.layers.Dense(1)(h)
    return keras.Model(image, logit, name="discriminator")


def paper_generator(image_shape: Tuple[int, int, int], z_dim: int,
                    pixel_mean: np.ndarray | None = None) -> keras.Model:
    """pylearn2 `adversarial/mnist.yaml` G: 1200 ReLU -> 1200 ReLU -> sigmoid, U(+-0.05) weights,
    output bias the logit of each pixel's mean intensity in the training data."""
    pixels = int(np.prod(image_shape))
    output_bias = "zeros"
    if pixel_mean is not None:
        # pylearn2's init_sigmoid_bias_from_array clips the marginals to [1e-7, 1 - 1e-7].
        mean = np.clip(np.asarray(pixel_mean, np.float64).reshape(pixels), 1e-7, 1 - 1e-7)
        output_bias = keras.initializers.Constant(np.log(mean / (1 - mean)).astype(np.float32))
    z = keras.Input((z_dim,), name="z")
    h = z
    for _ in range(2):
        h = keras.layers.Dense(1200, activation="relu",
                               kernel_initializer=keras.initializers.RandomUniform(-0.05, 0.05))(h)
    h = keras.layers.Dense(pixels, activation="sigmoid", bias_initializer=output_bias,
                           kernel_initializer=keras.initializers.RandomUniform(-0.05, 0.05))(h)
    return keras.Model(z, keras.layers.Reshape(image_shape)(h), name="generator")


def paper_discriminator(image_shape: Tuple[int, int, int]) -> keras.Model:
    """pylearn2 `adversarial/mnist.yaml` D: dropout keep 0.8 on the input, Maxout(240, 5) twice with
    dropout keep 0.5 on their inputs and the output's, U(+-0.005) weights (pylearn2 mnist.yaml)."""
    image = keras.Input(image_shape, name="image")
    h = Dropout(0.2)(keras.layers.Flatten()(image))
    for _ in range(2):
        h = Maxout(240, 5, kernel_initializer=keras.initializers.RandomUniform(-0.005, 0.005))(h)
        h = Dropout(0.5)(h)
    logit = keras.layers.Dense(1, kernel_initializer=keras.initializers.RandomUniform(
        -0.005, 0.005))(h)
    return keras.Model(image, logit, name="discriminator")


def blog_generator(image_shape: Tuple[int, int, int], z_dim: int,
                   batchnorm: bool = False) -> keras.Model:
    """The blog posts' G: 256 ReLU -> 512 ReLU -> 784 sigmoid, BN after each hidden Dense in
    the third stage."""
    z = keras.Input((z_dim,), name="z")
    h = z
    for units in (256, 512):
        h = keras.layers.Dense(units)(h)
        if batchnorm:
            h = BatchNormalization()(h)
        h = keras.layers.ReLU()(h)
    h = keras.layers.Dense(int(np.prod(image_shape)), activation="sigmoid")(h)
    return keras.Model(z, keras.layers.Reshape(image_shape)(h), name="generator")


def blog_discriminator(image_shape: Tuple[int, int, int]) -> keras.Model:
    """The blog posts' D: Dense 512 -> maxout -> Dropout 0.5 -> Dense 256 -> maxout -> logit.

    Each "Dense n -> maxout" is one Maxout layer with n linear outputs max-pooled in pairs (the
    blog's Dense followed by a maxout over groups of two), i.e. Maxout(n / 2, 2).
    """
    image = keras.Input(image_shape, name="image")
    h = Maxout(256, 2)(keras.layers.Flatten()(image))
    h = Dropout(0.5)(h)
    h = Maxout(128, 2)(h)
    return keras.Model(image, keras.layers.Dense(1)(h), name="discriminator")


def heuristic_generator(image_shape: Tuple[int, int, int], z_dim: int) -> keras.Model:
    """Deep MLP G of the non-saturating-GAN write-up: seven Dense + BN + LeakyReLU + Dropout
    blocks widening to 784, then a sigmoid image (the heuristic GAN)."""
    z = keras.Input((z_dim,), name="z")
    h = z
    for units, rate in zip((196, 289, 361, 400, 512, 625, 784),
                           (0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4)):
        h = keras.layers.Dense(units)(h)
        h = keras.layers.LeakyReLU(0.2)(BatchNormalization()(h))
        h = Dropout(rate)(h)
    h = keras.layers.Dense(int(np.prod(image_shape)), activation="sigmoid")(h)
    return keras.Model(z, keras.layers.Reshape(image_shape)(h), name="generator")


def heuristic_discriminator(image_shape: Tuple[int, int, int]) -> keras.Model:
    """D of the non-saturating-GAN write-up: 441 -> 256 (LeakyReLU, Dropout 0.2) -> 32 -> logit."""
    image = keras.Input(image_shape, name="image")
    h = keras.layers.Flatten()(image)
    for units, rate in ((441, 0.2), (256, 0.2), (32, 0.0)):
        h = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(units)(h))
        if rate:
            h = Dropout(rate)(h)
    return keras.Model(image, keras.layers.Dense(1)(h), name="discriminator")


def pacgan_generator(data_shape: Tuple[int, ...], z_dim: int,
                     batchnorm: bool = True) -> keras.Model:
    """PacGAN's 2-D mixture G (Lin et al. 2018, their code's config): 4 x 400 ReLU with BN, then
    a linear point. Without BN (`batchnorm=False`) G makes the steep steps between modes that
    precision needs more easily: BN divides a layer's weight scale back out, leaving only its
    gamma and the arrangement of the ReLU kinks to make a step steep."""
    z = keras.Input((z_dim,), name="z")
    h = z
    for _ in range(4):
        h = keras.layers.Dense(400)(h)
        h = keras.layers.ReLU()(BatchNormalization()(h) if batchnorm else h)
    return keras.Model(z, keras.layers.Dense(int(np.prod(data_shape)))(h), name="generator")


def pacgan_discriminator(data_shape: Tuple[int, ...]) -> keras.Model:
    """PacGAN's 2-D mixture D: 3 x Maxout(200 units, 5 pieces), then one logit."""
    point = keras.Input(data_shape, name="point")
    h = point
    for _ in range(3):
        h = Maxout(200, 5)(h)
    return keras.Model(point, keras.layers.Dense(1)(h), name="discriminator")
