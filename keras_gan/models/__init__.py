"""Architectures by name, so a config file selects G and D with one flag."""
from __future__ import annotations

from typing import Callable, Dict, Tuple

import keras

from keras_gan.errors import KerasGanError
from keras_gan.models import mlp

ModelPair = Tuple[keras.Model, keras.Model]
ARCHITECTURES: Dict[str, Callable[..., ModelPair]] = {
    "pytorch_mlp": lambda image_shape, z_dim: (mlp.pytorch_generator(image_shape, z_dim),
                                               mlp.pytorch_discriminator(image_shape)),
}
# The image shapes each architecture is built for (None: any).
IMAGE_SHAPES = {"pytorch_mlp": [(28, 28, 1)]}


def build_gan(architecture: str, image_shape: Tuple[int, int, int], z_dim: int) -> ModelPair:
    """(G, D) of the named architecture; unknown names and impossible shapes fail early."""
    if architecture not in ARCHITECTURES:
        raise KerasGanError(f"--architecture={architecture}: unknown; expected one of "
                            f"{', '.join(sorted(ARCHITECTURES))}")
    allowed = IMAGE_SHAPES[architecture]
    if allowed and tuple(image_shape) not in allowed:
        raise KerasGanError(f"--architecture={architecture} is built for images of shape "
                            f"{' or '.join(map(str, allowed))}, not {tuple(image_shape)}")
    return ARCHITECTURES[architecture](tuple(image_shape), z_dim)


def build_combined(generator: keras.Model, discriminator: keras.Model) -> keras.Model:
    """GD: z -> (G(z), D(G(z))), the model G trains through while D is frozen.

    It also returns G(z) so a `g_first` step can hand the same fake batch to D's update.
    """
    z = keras.Input(generator.input_shape[1:], name="z")
    fake = generator(z)
    return keras.Model(z, [fake, discriminator(fake)], name="combined")
