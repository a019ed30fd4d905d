"""Architectures by name, so a config file selects G and D with one flag; `register` adds one."""
from __future__ import annotations

import dataclasses
from typing import Callable, Dict, Tuple

import keras
import numpy as np

from keras_gan.errors import KerasGanError
from keras_gan.layers import Maxout, Pack, SpectralNormalization, Unpack, WithoutBatchNorm
from keras_gan.models import conditional as conditional_models
from keras_gan.models import dcgan, mlp

ModelPair = Tuple[keras.Model, keras.Model]
Builder = Callable[[Tuple[int, ...], int, np.ndarray], ModelPair]


@dataclasses.dataclass(frozen=True)
class Architecture:
    """How to build a G/D pair and the data it is built for: square images of `image_size`
    (any channel count), or flat vectors (2-D points) when `image_size` is None; with a
    `divisor`, images of any height and width it divides (its strides), `image_size` being the
    default. A `flat` D flattens its input first (a label joins it there under
    `--conditional=concat`)."""

    build: Builder
    image_size: int | None
    flat: bool = True
    divisor: int = 0


ARCHITECTURES: Dict[str, Architecture] = {
    "paper_maxout": Architecture(lambda shape, z_dim, pixel_mean: (
        mlp.paper_generator(shape, z_dim, pixel_mean), mlp.paper_discriminator(shape)), 28),
    "pytorch_mlp": Architecture(lambda shape, z_dim, pixel_mean: (
        mlp.pytorch_generator(shape, z_dim), mlp.pytorch_discriminator(shape)), 28),
    "blog_mlp": Architecture(lambda shape, z_dim, pixel_mean: (
        mlp.blog_generator(shape, z_dim), mlp.blog_discriminator(shape)), 28),
    "blog_mlp_bn": Architecture(lambda shape, z_dim, pixel_mean: (
        mlp.blog_generator(shape, z_dim, batchnorm=True), mlp.blog_discriminator(shape)), 28),
    "heuristic_mlp": Architecture(lambda shape, z_dim, pixel_mean: (
        mlp.heuristic_generator(shape, z_dim), mlp.heuristic_discriminator(shape)), 28),
    "dcgan32": Architecture(lambda shape, z_dim, pixel_mean: (
        dcgan.mnist32_generator(shape, z_dim), dcgan.mnist32_discriminator(shape)), 32, flat=False,
        divisor=4),
    "infogan28": Architecture(lambda shape, z_dim, pixel_mean: (
        dcgan.infogan28_generator(shape, z_dim), dcgan.infogan28_discriminator(shape)), 28,
        flat=False, divisor=4),
    # InfoGAN's G against a D of half InfoGAN's width (a quarter of its multiplies): D sees the
    # real and the fake batch in D's update and the fake one again in G's, so most of a step is
    # D's: the main job trains twice as fast on a 2-core AVX2 CPU (docs/throughput.md)
    "infogan28_half_d": Architecture(lambda shape, z_dim, pixel_mean: (
        dcgan.infogan28_generator(shape, z_dim), dcgan.infogan28_discriminator(shape, 32)), 28,
        flat=False, divisor=4),
    "dcgan64": Architecture(lambda shape, z_dim, pixel_mean: (
        dcgan.celeba64_generator(shape, z_dim), dcgan.celeba64_discriminator(shape)), 64,
        flat=False, divisor=16),
    "pacgan_mlp": Architecture(lambda shape, z_dim, pixel_mean: (
        mlp.pacgan_generator(shape, z_dim), mlp.pacgan_discriminator(shape)), None),
    "pacgan_mlp_nobn": Architecture(lambda shape, z_dim, pixel_mean: (
        mlp.pacgan_generator(shape, z_dim, batchnorm=False), mlp.pacgan_discriminator(shape)),
        None),
}


BUILT_IN = tuple(ARCHITECTURES)


def register(name: str, image_size: int | None, flat: bool = True, divisor: int = 0):
    """Decorator: makes a builder `(data_shape, z_dim, pixel_mean) -> (G, D)` available as
    `architecture=name` (and `--architecture=name`). `image_size`: the square images it is built
    for (None: flat vectors); `divisor`: it builds for any height and width this divides;
    `flat`: D flattens its input first (a label joins it there).
    `pixel_mean` is the training data's mean image in [0, 1], or None; most builders ignore it."""
    if not name.isidentifier():
        raise KerasGanError(f"architecture name {name!r}: expected a Python identifier")

    def add(build: Builder) -> Builder:
        ARCHITECTURES[name] = Architecture(build, image_size, flat, divisor)
        return build

    return add


def build_gan(architecture: str, image_shape: Tuple[int, int, int], z_dim: int,
              pixel_mean: np.ndarray | None = None, spectral_norm: bool = False,
              conditional: str = "none", num_classes: int = 0, pack: int = 1) -> ModelPair:
    """(G, D) of the named architecture; unknown names and impossible shapes fail early.

    `pixel_mean`, the training data's mean image in [0, 1], sets output biases where the
    reference does (the paper's G). `spectral_norm` normalises D's linear layers.
    `conditional` (`concat` or `projection`, see `models.conditional`) makes G(z, y) and D(x, y)
    for labels y in [0, num_classes). `pack` > 1 makes PacGAN's D (see `packed`).
    """
    check_architecture(architecture, tuple(image_shape[:2]) if len(image_shape) == 3 else None)
    if conditional not in conditional_models.MODES:
        raise KerasGanError(f"conditional={conditional}: expected one of "
                            f"{', '.join(conditional_models.MODES)}")
    if pack > 1 and conditional != "none":
        raise KerasGanError(f"pack={pack} needs an unconditional model, not "
                            f"conditional={conditional}")
    if conditional != "none" and num_classes < 2:
        raise KerasGanError(f"conditional={conditional} needs labelled data with at least two "
                            f"classes; this data has {num_classes}")
    record, shape = ARCHITECTURES[architecture], tuple(image_shape)
    extra = num_classes if conditional != "none" else 0
    generator, discriminator = record.build(shape, z_dim + extra, pixel_mean)
    d_extra = extra if conditional == "concat" else 0
    if d_extra or pack > 1:  # D sees more than one example's features
        discriminator = record.build(joined_shape(shape, pack, record.flat, d_extra), z_dim,
                                     None)[1]
    if spectral_norm:
        discriminator = spectral_normalized(discriminator)
    if pack > 1:
        return generator, packed(discriminator, shape, pack, record.flat)
    if conditional == "none":
        return generator, discriminator
    generator = conditional_models.concat_generator(generator, num_classes)
    if conditional == "concat":
        return generator, conditional_models.concat_discriminator(discriminator, shape,
                                                                  num_classes, record.flat)
    return generator, conditional_models.projection_discriminator(discriminator, num_classes)


def joined_shape(shape: Tuple[int, ...], copies: int, flat: bool, extra: int = 0
                 ) -> Tuple[int, ...]:
    """The input shape of a D that sees `copies` examples joined (flat: side by side, else along
    the channels) plus `extra` label features or channels."""
    if flat:
        return (copies * int(np.prod(shape)) + extra,)
    return (*shape[:-1], copies * shape[-1] + extra)


def packed(discriminator: keras.Model, shape: Tuple[int, ...], pack: int, flat: bool
           ) -> keras.Model:
    """PacGAN's D (Lin et al. 2018): `discriminator`, built for `pack` joined examples, scores
    each run of `pack` consecutive examples; every member gets its pack's logit."""
    examples = keras.Input(shape, name="image")
    logits = discriminator(Pack(pack, flat)(examples))
    return keras.Model(examples, Unpack(pack)(logits), name="packed_discriminator")


def check_architecture(architecture: str, image_size) -> None:
    """Fails with one line for an unknown name or data of the wrong kind or size;
    `image_size` is one side, (height, width) or None (flat vectors)."""
    from keras_gan.data import image_size_of

    if architecture not in ARCHITECTURES:
        raise KerasGanError(f"architecture={architecture}: unknown; expected one of "
                            f"{', '.join(sorted(ARCHITECTURES))}")
    record, size = ARCHITECTURES[architecture], image_size_of(image_size)
    given = f"{size[0]}x{size[1]} images" if size else "flat vectors"
    if record.divisor and size:
        if size[0] % record.divisor or size[1] % record.divisor:
            raise KerasGanError(f"architecture={architecture} builds images whose height and "
                                f"width are multiples of {record.divisor}, not {given}")
        return
    expected = record.image_size
    if (expected and (expected, expected)) != size:
        built_for = f"{expected}x{expected} images" if expected else "flat vectors (2-D points)"
        raise KerasGanError(f"architecture={architecture} is built for {built_for}, not {given}")


def spectral_normalized(model: keras.Model) -> keras.Model:
    """A copy of `model` with every Dense, Conv2D and Maxout spectrally normalised (Miyato et
    al. 2018), so any architecture's D takes `--spectral_norm` without a second definition.

    Spectral norm takes the place of D's BatchNormalization, which becomes a pass-through: SN-GAN's
    D has none, and compare_gan offers the two as alternatives. BN after a normalised kernel
    would rescale what SN bounds, and PyTorch-GAN's BN epsilon of 0.8 flattens the small
    activations normalised kernels give.
    """

    def clone(layer):
        config = layer.get_config()
        if isinstance(layer, keras.layers.BatchNormalization):
            return WithoutBatchNorm(name=layer.name)
        if isinstance(layer, Maxout):
            return Maxout.from_config({**config, "spectral_norm": True})
        if isinstance(layer, (keras.layers.Dense, keras.layers.Conv2D)):
            return SpectralNormalization(type(layer).from_config(config))
        return type(layer).from_config(config)

    return keras.models.clone_model(model, clone_function=clone)


def build_combined(generator: keras.Model, discriminator: keras.Model) -> keras.Model:
    """GD: z -> (G(z), D(G(z))), the model G trains through while D is frozen.

    It also returns G(z) so a `g_first` step can hand the same fake batch to D's update. A
    conditional pair gives GD(z, y) = (G(z, y), D(G(z, y), y)).
    """
    if is_conditional(generator):
        z, label = (keras.Input(t.shape[1:], dtype=t.dtype, name=t.name)
                    for t in generator.inputs)
        fake = generator([z, label])
        return keras.Model([z, label], [fake, discriminator([fake, label])], name="combined")
    z = keras.Input(generator.input_shape[1:], name="z")
    fake = generator(z)
    return keras.Model(z, [fake, discriminator(fake)], name="combined")


def is_conditional(model: keras.Model) -> bool:
    """G(z, y) or D(x, y): a model with a label input."""
    return len(model.inputs) == 2


def num_classes(generator: keras.Model) -> int:
    """The classes a conditional G draws, read from its first one-hot (CategoryEncoding) or
    Embedding layer: 0 for an unconditional G or one with neither."""
    if not is_conditional(generator):
        return 0
    for layer in nested_layers(generator):
        if isinstance(layer, keras.layers.CategoryEncoding):
            return int(layer.num_tokens)
        if isinstance(layer, keras.layers.Embedding):
            return int(layer.input_dim)
    return 0


def nested_layers(model: keras.Model):
    """Every layer of `model`, those of the models inside it too (a refined G wraps G)."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from nested_layers(layer)


def called_as_built(model: keras.Model) -> keras.Model:
    """`model`, or for one built on a list of one input (`keras.Model([z], x)`) a model of the
    same layers taking that input alone: everything here calls a one-input model with a tensor,
    which Keras would answer with a warning about the input structure at every call."""
    structure = getattr(model, "_inputs_struct", None)
    if not isinstance(structure, (list, tuple)) or len(structure) != 1:
        return model
    tensor = model.inputs[0]
    single = keras.Input(tensor.shape[1:], dtype=tensor.dtype, name=tensor.name)
    return keras.Model(single, model([single]), name=model.name)


_SQUASHING = ("sigmoid", "softmax", "log_softmax")


def final_activation(model: keras.Model) -> str | None:
    """The sigmoid or softmax that `model`'s output goes through last, if any (a D must return
    logits): a layer's `activation`, an Activation or Softmax layer, or a nested model's."""
    operation = model.outputs[0]._keras_history.operation
    if isinstance(operation, keras.Model):
        return final_activation(operation)
    if isinstance(operation, keras.layers.Softmax):
        return f"{operation.name} (softmax)"
    activation = getattr(operation, "activation", None)
    name = getattr(activation, "__name__", activation if isinstance(activation, str) else "")
    if name in _SQUASHING:
        return f"{operation.name}'s {name}"
    return None


def weighted_layers(model: keras.Model):
    """The layers of `model` that hold weights, in order, those of models inside it too."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from weighted_layers(layer)
        elif layer.weights:
            yield layer
