"""Fully-connected G and D from the source documents (SPEC section 3)."""
from __future__ import annotations

from typing import Tuple

import keras
import numpy as np

from keras_gan.layers import BatchNormalization

def torch_linear_init() -> keras.initializers.Initializer:
    """PyTorch's nn.Linear default, U(+-1/sqrt(fan_in)), so the ports start where the references
    start. A new instance per layer: an instance fixes its seed when made, so a shared module-level
    one would ignore `keras.utils.set_random_seed`."""
    return keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform")


def _torch_bn() -> BatchNormalization:
    """PyTorch-GAN's `BatchNorm1d(n, 0.8)`: eps 0.8, momentum 0.1 (Keras 0.9)."""
    return BatchNormalization(epsilon=0.8, momentum=0.9)


def pytorch_generator(image_shape: Tuple[int, int, int], z_dim: int) -> keras.Model:
    """PyTorch-GAN gan.py G: 128 -> 256 -> 512 -> 1024 (BN, LeakyReLU 0.2) -> tanh image (SPEC 3.3)."""
    z = keras.Input((z_dim,), name="z")
    h = keras.layers.Dense(128, kernel_initializer=torch_linear_init())(z)
    h = keras.layers.LeakyReLU(0.2)(h)
    for units in (256, 512, 1024):
        h = keras.layers.Dense(units, kernel_initializer=torch_linear_init())(h)
        h = _torch_bn()(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    h = keras.layers.Dense(int(np.prod(image_shape)), activation="tanh",
                           kernel_initializer=torch_linear_init())(h)
    return keras.Model(z, keras.layers.Reshape(image_shape)(h), name="generator")


def pytorch_discriminator(image_shape: Tuple[int, int, int]) -> keras.Model:
    """PyTorch-GAN gan.py D: 512 -> 256 (LeakyReLU 0.2) -> one logit (SPEC 3.3)."""
    image = keras.Input(image_shape, name="image")
    h = keras.layers.Flatten()(image)
    for units in (512, 256):
        h = keras.layers.Dense(units, kernel_initializer=torch_linear_init())(h)
        h = keras.layers.LeakyReLU(0.2)(h)
    logit = keras.layers.Dense(1, kernel_initializer=torch_linear_init())(h)
    return keras.Model(image, logit, name="discriminator")
