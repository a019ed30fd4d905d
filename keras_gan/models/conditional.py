"""Class-conditional G and D around any architecture's pair (docs/conditional.md).

G(z, y) is the architecture's G on z joined to onehot(y) (Mirza & Osindero 2014; in both modes:
the architectures have no conditional BatchNorm). D(x, y) is either the architecture's D on x
joined to onehot(y) (`concat`: after flattening for the fully-connected Ds, as constant extra
channels for the convolutional ones) or its logit plus <embed(y), phi(x)> with phi(x) the input of
D's last linear layer (`projection`, Miyato & Koyama 2018).
"""
from __future__ import annotations

from typing import Tuple

import keras

from keras_gan.layers import SpectralNormalization

MODES = ("none", "concat", "projection")


def _inputs(z_or_image_shape: Tuple[int, ...], name: str) -> Tuple[keras.KerasTensor, ...]:
    return (keras.Input(z_or_image_shape, name=name),
            keras.Input((), dtype="int32", name="label"))


def _one_hot(label, num_classes: int):
    return keras.layers.CategoryEncoding(num_classes, output_mode="one_hot",
                                         dtype="float32")(label)


def concat_generator(base: keras.Model, num_classes: int) -> keras.Model:
    """G(z, y) = base(z ⊕ onehot(y)); `base` takes z_dim + num_classes inputs."""
    z, label = _inputs((int(base.input_shape[-1]) - num_classes,), "z")
    joined = keras.layers.Concatenate(dtype="float32")([z, _one_hot(label, num_classes)])
    return keras.Model([z, label], base(joined), name="generator")


def concat_discriminator(base: keras.Model, image_shape: Tuple[int, ...], num_classes: int,
                         flat: bool) -> keras.Model:
    """D(x, y) = base(x ⊕ onehot(y)): `base` was built for flat inputs of size pixels +
    num_classes when `flat`, else for images with num_classes more channels."""
    image, label = _inputs(tuple(image_shape), "image")
    one_hot = _one_hot(label, num_classes)
    if flat:
        joined = keras.layers.Concatenate(dtype="float32")(
            [keras.layers.Flatten()(image), one_hot])
    else:
        height, width = image_shape[:2]
        planes = keras.layers.UpSampling2D((height, width), dtype="float32")(
            keras.layers.Reshape((1, 1, num_classes))(one_hot))
        joined = keras.layers.Concatenate(dtype="float32")([image, planes])
    return keras.Model([image, label], base(joined), name="discriminator")


def _last_linear_layer(model: keras.Model) -> keras.layers.Layer:
    for layer in reversed(model.layers):
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D, SpectralNormalization)):
            return layer
    raise ValueError(f"{model.name} has no Dense or Conv2D layer to project onto")


def projection_discriminator(base: keras.Model, num_classes: int) -> keras.Model:
    """d(x, y) = base(x) + <embed(y), phi(x)>, phi(x) the (flattened) input of base's last
    linear layer."""
    features = _last_linear_layer(base).input
    image, label = _inputs(base.input_shape[1:], "image")
    logit, phi = keras.Model(base.input, [base.output, features], name="features")(image)
    phi = keras.layers.Flatten()(phi)
    embedded = keras.layers.Embedding(num_classes, phi.shape[-1], name="label_embedding")(label)
    projection = keras.layers.Dot(axes=1)([embedded, phi])
    return keras.Model([image, label], keras.layers.Add()([logit, projection]),
                       name="discriminator")
