"""Augmentations of every image D sees, for training on little data.

D memorises a small training set and G's gradient then carries no information: augmenting both
halves D sees, in D's update and in G's (differentiably, so G learns through it), keeps D from
memorising while G still learns the un-augmented distribution.

- `diffaugment` (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN
  Training"): its color, translation and cutout policies, every one applied to every image;
  `diffaugment:translation,cutout` picks policies.
- `ada` (Karras et al. 2020, "Training Generative Adversarial Networks with Limited Data"):
  non-leaking transforms for images of any size (integer translation, isotropic scaling, cutout,
  brightness, contrast, saturation; `xflip` only where asked: `ada:xflip,translation,...`),
  each applied to an image with probability p, which the training step tunes from the
  overfitting heuristic r_t = E[sign(D(real))] towards a target (`ada_target`, the paper's 0.6).

Every random choice comes from per-example uniforms that the training stream draws from (seed,
step) for the global batch (`RANDOM_NUMBERS` per example and use), so augmented training is
deterministic per (seed, step), resumes exactly and is the same over any number of replicas.

Your own: `@keras_gan.augment.register("name")` on a function `(images, uniforms, p) -> images`
(uniforms: (batch, RANDOM_NUMBERS) in [0, 1); p: the adaptive probability, 1 unless the
augmentation is adaptive), or on an `Augmentation` subclass.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Sequence, Tuple

import tensorflow as tf

from keras_gan.errors import KerasGanError
from keras_gan.registry import registrar

RANDOM_NUMBERS = 16  # uniforms per example per use (D's real half, D's fake half, G's fakes)
USES = 3


class Augmentation:
    """An augmentation of image batches: `__call__(images, uniforms, p)`, differentiable in
    `images`. `adaptive` ones get ADA's tuned p; the others get 1."""

    name = "augmentation"
    adaptive = False

    def __call__(self, images, uniforms, p):
        raise NotImplementedError


# ----- the transforms, each a function of images (N, H, W, C) and per-example uniforms --------

def _shift(images, dy, dx, mode: str):
    """Each image moved by its integer (dy, dx) pixels, the border filled by `mode` padding
    (CONSTANT: zeros, DiffAugment's; REFLECT: ADA's)."""
    height, width = images.shape[1], images.shape[2]
    pad_y, pad_x = max(1, height // 8), max(1, width // 8)
    padded = tf.pad(images, [[0, 0], [pad_y, pad_y], [pad_x, pad_x], [0, 0]], mode=mode)
    rows = tf.range(height)[None, :] + pad_y - dy[:, None]
    columns = tf.range(width)[None, :] + pad_x - dx[:, None]
    shifted = tf.gather(padded, rows, axis=1, batch_dims=1)
    return tf.gather(shifted, columns, axis=2, batch_dims=1)


def translation(images, u, mode: str = "CONSTANT"):
    """Shifts of up to 1/8 of the height and width (uniforms 0 and 1)."""
    height, width = images.shape[1], images.shape[2]
    limit_y, limit_x = max(1, height // 8), max(1, width // 8)
    dy = tf.cast(tf.floor(u[:, 0] * (2 * limit_y + 1)), tf.int32) - limit_y
    dx = tf.cast(tf.floor(u[:, 1] * (2 * limit_x + 1)), tf.int32) - limit_x
    return _shift(images, dy, dx, mode)


def cutout(images, u, ratio: float = 0.5):
    """A zeroed rectangle of `ratio` of the height and width, centred anywhere (uniforms 2, 3)."""
    height, width = images.shape[1], images.shape[2]
    half_y, half_x = ratio * height / 2, ratio * width / 2
    cy = u[:, 2] * height
    cx = u[:, 3] * width
    rows = tf.range(height, dtype=tf.float32)[None, :] + 0.5
    columns = tf.range(width, dtype=tf.float32)[None, :] + 0.5
    inside_y = tf.abs(rows - cy[:, None]) < half_y
    inside_x = tf.abs(columns - cx[:, None]) < half_x
    keep = tf.logical_not(inside_y[:, :, None] & inside_x[:, None, :])
    return images * tf.cast(keep[..., None], images.dtype)


def brightness(images, u, scale: float = 1.0):
    """Adds (u4 - 0.5) * scale (DiffAugment's; images in (-1, 1))."""
    return images + _column(images, (u[:, 4] - 0.5) * scale)


def saturation(images, u):
    """Scales each pixel's distance from its channels' mean by 2 u5 (colour images only)."""
    if images.shape[-1] == 1:
        return images
    mean = tf.reduce_mean(images, axis=-1, keepdims=True)
    return (images - mean) * _column(images, u[:, 5] * 2.0) + mean


def contrast(images, u):
    """Scales each image's distance from its mean by u6 + 0.5."""
    mean = tf.reduce_mean(images, axis=[1, 2, 3], keepdims=True)
    return (images - mean) * _column(images, u[:, 6] + 0.5) + mean


def color(images, u):
    """DiffAugment's colour policy: brightness, saturation, contrast."""
    return contrast(saturation(brightness(images, u), u), u)


def xflip(images, u):
    """Mirrors left-right where u7 < 1/2."""
    return tf.where(_column(images, u[:, 7]) < 0.5, tf.reverse(images, axis=[2]), images)


def scaling(images, u, std: float = 0.2):
    """Isotropic scaling by 2^N(0, std) about the centre (uniform 8, as a normal), bilinear,
    the border reflected (ADA's)."""
    height, width = images.shape[1], images.shape[2]
    normal = math.sqrt(2.0) * tf.math.erfinv(tf.clip_by_value(2.0 * u[:, 8] - 1.0, -0.999, 0.999))
    inverse = tf.pow(2.0, -std * normal)  # output pixel -> input pixel
    cy, cx = (height - 1) / 2.0, (width - 1) / 2.0
    zeros = tf.zeros_like(inverse)
    transforms = tf.stack([inverse, zeros, cx * (1.0 - inverse), zeros, inverse,
                           cy * (1.0 - inverse), zeros, zeros], axis=1)
    scaled = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32), transforms=transforms,
        output_shape=tf.constant([height, width], tf.int32), fill_value=0.0,
        interpolation="BILINEAR", fill_mode="REFLECT")
    return tf.cast(scaled, images.dtype)


def _column(images, values):
    """Per-example values broadcast over an image batch."""
    return tf.reshape(tf.cast(values, images.dtype), [-1, 1, 1, 1])


# ----- the two methods -------------------------------------------------------------------------

class DiffAugment(Augmentation):
    """Zhao et al. 2020: every chosen policy on every image."""

    name = "diffaugment"
    POLICIES = {"color": color, "translation": translation, "cutout": cutout}

    def __init__(self, policies: Sequence[str] = ("color", "translation", "cutout")):
        self.policies = _choose(policies, self.POLICIES, "diffaugment")

    def __call__(self, images, uniforms, p):
        for policy in self.policies:
            images = self.POLICIES[policy](images, uniforms)
        return images


class AdaptiveAugment(Augmentation):
    """Karras et al. 2020: each chosen transform applied to an image with probability p (its own
    uniform decides), in a fixed order."""

    name, adaptive = "ada", True
    TRANSFORMS = {"xflip": xflip,
                  "translation": lambda images, u: translation(images, u, "REFLECT"),
                  "scaling": scaling, "cutout": cutout,
                  "brightness": lambda images, u: brightness(images, u, 0.4),
                  "contrast": contrast, "saturation": saturation}
    DEFAULT = ("translation", "scaling", "cutout", "brightness", "contrast", "saturation")

    def __init__(self, transforms: Sequence[str] = DEFAULT):
        self.transforms = _choose(transforms, self.TRANSFORMS, "ada")

    def __call__(self, images, uniforms, p):
        gates = 9  # uniforms 9.. decide which transforms apply
        for index, name in enumerate(self.transforms):
            applied = self.TRANSFORMS[name](images, uniforms)
            chosen = _column(images, uniforms[:, gates + index]) < tf.cast(p, images.dtype)
            images = tf.where(chosen, applied, images)
        return images


def _choose(names: Sequence[str], known: Dict[str, Callable], method: str) -> Tuple[str, ...]:
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        raise KerasGanError(f"augment={method}:{','.join(names)}: expected some of "
                            f"{', '.join(known)}")
    if len(names) > RANDOM_NUMBERS - 9:
        raise KerasGanError(f"augment={method}: at most {RANDOM_NUMBERS - 9} transforms")
    return tuple(names)


class FunctionAugmentation(Augmentation):
    """A user's function `(images, uniforms, p) -> images` (p is 1: not adaptive)."""

    def __init__(self, name: str, function: Callable):
        self.name, self.function = name, function

    def __call__(self, images, uniforms, p):
        return self.function(images, uniforms, p)


AUGMENTATIONS: Dict[str, Callable[..., Augmentation]] = {
    "diffaugment": DiffAugment, "ada": AdaptiveAugment}
BUILT_IN = ("none",) + tuple(AUGMENTATIONS)


def register(name: str):
    """Decorator: makes an augmentation available as `augment=name` (and `--augment=name`): a
    function `(images, uniforms, p) -> images`, or an `Augmentation` subclass (built with the
    names after `name:` as its one argument, when given)."""
    return _register(name)


_register = registrar("augmentation", AUGMENTATIONS, Augmentation, FunctionAugmentation)


def make_augmentation(augment) -> Augmentation | None:
    """The augmentation `augment` names (`name` or `name:a,b`), is, or wraps (a function);
    None for `none`."""
    if isinstance(augment, Augmentation):
        return augment
    if callable(augment) and not isinstance(augment, str):
        return FunctionAugmentation(getattr(augment, "__name__", "augmentation"), augment)
    if not isinstance(augment, str):
        raise KerasGanError(f"augment={augment!r}: expected a registered name, a function "
                            f"(images, uniforms, p) -> images or an Augmentation")
    name, _, choices = augment.partition(":")
    if name == "none" and not choices:
        return None
    if name not in AUGMENTATIONS:
        raise KerasGanError(f"augment={augment}: expected one of {', '.join(BUILT_IN)} or a "
                            f"registered augmentation (keras_gan.augment.register)")
    if choices:
        return AUGMENTATIONS[name](tuple(c.strip() for c in choices.split(",") if c.strip()))
    return AUGMENTATIONS[name]()


class AdaptiveProbability:
    """ADA's p and its heuristic: every `interval` steps, p moves by sign(mean r_t - target)
    times batch * interval / `speed_images` (so p can go from 0 to 1 in that many images), kept
    in [0, 1]. Its three variables belong to a Keras layer (`create`), so Keras and the run
    directory's checkpoints save them; call `update` in cross-replica context."""

    def __init__(self, p, signs, count, target: float, interval: int, speed_images: int):
        self.p, self.signs, self.count = p, signs, count
        self.target, self.interval, self.speed_images = target, interval, speed_images

    @classmethod
    def create(cls, owner, target: float, interval: int, speed_images: int
               ) -> "AdaptiveProbability":
        made = [owner.add_weight(shape=(), dtype=dtype, trainable=False, initializer="zeros",
                                 name=name, aggregation="only_first_replica")
                for name, dtype in (("augment_p", "float32"), ("augment_signs", "float32"),
                                    ("augment_count", "int64"))]
        return cls(*made, target, interval, speed_images)

    def checkpointable(self):
        return tf.train.Checkpoint(p=self.p, signs=self.signs, count=self.count)

    def update(self, sign_mean, global_batch_size: int) -> None:
        """Adds one step's E[sign(D(real))]; adjusts p at the end of an interval."""
        signs = self.signs + sign_mean
        count = self.count + 1
        adjust = count >= self.interval
        step = tf.cast(global_batch_size, tf.float32) * self.interval / self.speed_images
        moved = tf.clip_by_value(
            self.p + tf.sign(signs / tf.cast(count, tf.float32) - self.target) * step, 0.0, 1.0)
        self.p.assign(tf.where(adjust, moved, self.p))
        self.signs.assign(tf.where(adjust, tf.zeros_like(signs), signs))
        self.count.assign(tf.where(adjust, tf.zeros_like(count), count))
