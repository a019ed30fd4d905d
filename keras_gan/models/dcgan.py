"""Convolutional G and D: PyTorch-GAN dcgan.py at 32x32 and the DCGAN tutorial at 64x64."""
from __future__ import annotations

from typing import Tuple

import keras

from keras_gan.layers import BatchNormalization, Dropout, UpsampleConv2D


def dcgan_conv_init() -> keras.initializers.Initializer:
    """DCGAN (Radford et al. 2015): convolution kernels from N(0, 0.02)."""
    return keras.initializers.RandomNormal(0.0, 0.02)


def dcgan_batchnorm(**kwargs) -> BatchNormalization:
    """DCGAN BN init: gamma from N(1, 0.02), beta 0; PyTorch's eps 1e-5, momentum 0.1."""
    kwargs.setdefault("epsilon", 1e-5)
    return BatchNormalization(momentum=0.9, gamma_initializer=keras.initializers.RandomNormal(
        1.0, 0.02), **kwargs)


def mnist32_generator(image_shape: Tuple[int, int, int], z_dim: int) -> keras.Model:
    """PyTorch-GAN dcgan.py G: Dense to 8x8x128, two (upsample, 3x3 conv, BN(0.8), LeakyReLU)
    blocks, a 3x3 conv to the image channels and tanh (PyTorch-GAN dcgan.py). Each upsampling
    convolution runs at its input's resolution (layers.UpsampleConv2D)."""
    (height, width), channels = image_shape[:2], image_shape[-1]
    start = (height // 4, width // 4)
    z = keras.Input((z_dim,), name="z")
    h = keras.layers.Reshape((*start, 128))(keras.layers.Dense(128 * start[0] * start[1])(z))
    h = dcgan_batchnorm()(h)
    for filters in (128, 64):
        h = UpsampleConv2D(filters, kernel_initializer=dcgan_conv_init())(h)
        h = keras.layers.LeakyReLU(0.2)(dcgan_batchnorm(epsilon=0.8)(h))
    image = keras.layers.Conv2D(channels, 3, padding="same", activation="tanh",
                                kernel_initializer=dcgan_conv_init())(h)
    return keras.Model(z, image, name="generator")


def mnist32_discriminator(image_shape: Tuple[int, int, int]) -> keras.Model:
    """PyTorch-GAN dcgan.py D: four (3x3 stride-2 conv, LeakyReLU, Dropout2d 0.25, BN(0.8))
    blocks of 16, 32, 64, 128 filters, no BN in the first, then one logit (PyTorch-GAN dcgan.py)."""
    image = keras.Input(image_shape, name="image")
    h = image
    for index, filters in enumerate((16, 32, 64, 128)):
        h = keras.layers.Conv2D(filters, 3, strides=2, padding="same",
                                kernel_initializer=dcgan_conv_init())(h)
        h = Dropout(0.25, spatial=True)(keras.layers.LeakyReLU(0.2)(h))
        if index:
            h = dcgan_batchnorm(epsilon=0.8)(h)
    logit = keras.layers.Dense(1)(keras.layers.Flatten()(h))
    return keras.Model(image, logit, name="discriminator")


def celeba64_generator(image_shape: Tuple[int, int, int], z_dim: int, width: int = 64
                       ) -> keras.Model:
    """DCGAN tutorial G: z as 1x1 -> ConvT 4x4 to 4x4x(8 ngf), then stride-2 ConvT + BN + ReLU
    blocks to 64x64, tanh; no biases (the DCGAN tutorial). For another size the first ConvT's
    kernel is a sixteenth of it (4x4 at 64x64)."""
    start = (image_shape[0] // 16, image_shape[1] // 16)
    z = keras.Input((z_dim,), name="z")
    h = keras.layers.Reshape((1, 1, z_dim))(z)
    for index, filters in enumerate((width * 8, width * 4, width * 2, width)):
        h = keras.layers.Conv2DTranspose(filters, start if index == 0 else 4,
                                         strides=1 if index == 0 else 2,
                                         padding="valid" if index == 0 else "same",
                                         use_bias=False, kernel_initializer=dcgan_conv_init())(h)
        h = keras.layers.ReLU()(dcgan_batchnorm()(h))
    image = keras.layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same",
                                         use_bias=False, activation="tanh",
                                         kernel_initializer=dcgan_conv_init())(h)
    return keras.Model(z, image, name="generator")


def celeba64_discriminator(image_shape: Tuple[int, int, int], width: int = 64) -> keras.Model:
    """DCGAN tutorial D: stride-2 4x4 convs of ndf, 2, 4, 8 ndf (BN after all but the first,
    LeakyReLU 0.2), then a valid 4x4 conv to one logit; no biases (the DCGAN tutorial). For
    another size the last kernel is a sixteenth of it."""
    image = keras.Input(image_shape, name="image")
    h = image
    for index, filters in enumerate((width, width * 2, width * 4, width * 8)):
        h = keras.layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=False,
                                kernel_initializer=dcgan_conv_init())(h)
        if index:
            h = dcgan_batchnorm()(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    logit = keras.layers.Conv2D(1, (image_shape[0] // 16, image_shape[1] // 16), strides=1,
                                padding="valid", use_bias=False,
                                kernel_initializer=dcgan_conv_init())(h)
    return keras.Model(image, keras.layers.Flatten()(logit), name="discriminator")


def infogan28_generator(image_shape: Tuple[int, int, int], z_dim: int) -> keras.Model:
    """InfoGAN's MNIST G (Chen et al. 2016, as compare_gan's `infogan`): Dense 1024 and Dense
    7x7x128, each with BN and ReLU, a stride-2 4x4 ConvT to 14x14x64 with BN and ReLU, and a
    stride-2 4x4 ConvT to the image with tanh. A small convolutional G for 28x28 images."""
    start = (image_shape[0] // 4, image_shape[1] // 4)
    z = keras.Input((z_dim,), name="z")
    h = keras.layers.ReLU()(dcgan_batchnorm()(keras.layers.Dense(1024)(z)))
    h = keras.layers.ReLU()(dcgan_batchnorm()(keras.layers.Dense(128 * start[0] * start[1])(h)))
    h = keras.layers.Reshape((*start, 128))(h)
    h = keras.layers.Conv2DTranspose(64, 4, strides=2, padding="same",
                                     kernel_initializer=dcgan_conv_init())(h)
    h = keras.layers.ReLU()(dcgan_batchnorm()(h))
    image = keras.layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same",
                                         activation="tanh", kernel_initializer=dcgan_conv_init())(h)
    return keras.Model(z, image, name="generator")


def infogan28_discriminator(image_shape: Tuple[int, int, int], width: int = 64
                            ) -> keras.Model:
    """InfoGAN's MNIST D: stride-2 4x4 convs of 64 and 128 filters (BN after the second),
    Dense 1024 with BN, LeakyReLU 0.1 throughout, then one logit; `width` (64) scales every
    layer's size."""
    image = keras.Input(image_shape, name="image")
    h = keras.layers.Conv2D(width, 4, strides=2, padding="same",
                            kernel_initializer=dcgan_conv_init())(image)
    h = keras.layers.LeakyReLU(0.1)(h)
    h = keras.layers.Conv2D(2 * width, 4, strides=2, padding="same",
                            kernel_initializer=dcgan_conv_init())(h)
    h = keras.layers.LeakyReLU(0.1)(dcgan_batchnorm()(h))
    h = keras.layers.Dense(16 * width)(keras.layers.Flatten()(h))
    h = keras.layers.LeakyReLU(0.1)(dcgan_batchnorm()(h))
    return keras.Model(image, keras.layers.Dense(1)(h), name="discriminator")
