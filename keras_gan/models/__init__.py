"""Architectures by name, so a config file selects G and D with one flag."""
from __future__ import annotations

from typing import Callable, Dict, Tuple

import keras
import numpy as np

from keras_gan.errors import KerasGanError
from keras_gan.models import dcgan, mlp

ModelPair = Tuple[keras.Model, keras.Model]
Builder = Callable[[Tuple[int, int, int], int, np.ndarray], ModelPair]

ARCHITECTURES: Dict[str, Builder] = {
    "paper_maxout": lambda shape, z_dim, pixel_mean: (
        mlp.paper_generator(shape, z_dim, pixel_mean), mlp.paper_discriminator(shape)),
    "pytorch_mlp": lambda shape, z_dim, pixel_mean: (
        mlp.pytorch_generator(shape, z_dim), mlp.pytorch_discriminator(shape)),
    "blog_mlp": lambda shape, z_dim, pixel_mean: (
        mlp.blog_generator(shape, z_dim), mlp.blog_discriminator(shape)),
    "blog_mlp_bn": lambda shape, z_dim, pixel_mean: (
        mlp.blog_generator(shape, z_dim, batchnorm=True), mlp.blog_discriminator(shape)),
    "heuristic_mlp": lambda shape, z_dim, pixel_mean: (
        mlp.heuristic_generator(shape, z_dim), mlp.heuristic_discriminator(shape)),
    "dcgan32": lambda shape, z_dim, pixel_mean: (
        dcgan.mnist32_generator(shape, z_dim), dcgan.mnist32_discriminator(shape)),
    "dcgan64": lambda shape, z_dim, pixel_mean: (
        dcgan.celeba64_generator(shape, z_dim), dcgan.celeba64_discriminator(shape)),
}
# The image sizes (height = width) each architecture is built for; any channel count.
IMAGE_SIZES = {"paper_maxout": 28, "pytorch_mlp": 28, "blog_mlp": 28, "blog_mlp_bn": 28,
               "heuristic_mlp": 28, "dcgan32": 32, "dcgan64": 64}


def build_gan(architecture: str, image_shape: Tuple[int, int, int], z_dim: int,
              pixel_mean: np.ndarray | None = None) -> ModelPair:
    """(G, D) of the named architecture; unknown names and impossible shapes fail early.

    `pixel_mean`, the training data's mean image in [0, 1], sets output biases where the
    reference does (the paper's G).
    """
    check_architecture(architecture, image_shape)
    return ARCHITECTURES[architecture](tuple(image_shape), z_dim, pixel_mean)


def check_architecture(architecture: str, image_shape: Tuple[int, int, int]) -> None:
    if architecture not in ARCHITECTURES:
        raise KerasGanError(f"--architecture={architecture}: unknown; expected one of "
                            f"{', '.join(sorted(ARCHITECTURES))}")
    size = IMAGE_SIZES[architecture]
    if tuple(image_shape[:2]) != (size, size):
        raise KerasGanError(f"--architecture={architecture} is built for {size}x{size} images, "
                            f"not {image_shape[0]}x{image_shape[1]}")


def build_combined(generator: keras.Model, discriminator: keras.Model) -> keras.Model:
    """GD: z -> (G(z), D(G(z))), the model G trains through while D is frozen.

    It also returns G(z) so a `g_first` step can hand the same fake batch to D's update.
    """
    z = keras.Input(generator.input_shape[1:], name="z")
    fake = generator(z)
    return keras.Model(z, [fake, discriminator(fake)], name="combined")
