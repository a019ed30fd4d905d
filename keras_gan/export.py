"""The generator as a self-contained SavedModel: serving needs TensorFlow only, not keras_gan.

Endpoints (docs/serving.md):
  serving_default(z: float32 [None, z_dim]) -> {"images": [None, H, W, C]} in the data range
  sample(num: int32 [], seed: int32 [] optional) -> {"images": ...}, z from the model's own prior
  info() -> {"z_dim", "value_range", "noise", "num_classes", "class_prior"}: what a caller needs
    to know (class_prior: float32 [num_classes], empty for an unconditional G)

A class-conditional G (`--conditional`) takes the class too:
  serving_default(z, label: int32 [None]) -> {"images"}
  sample(num, seed optional, label: int32 [] optional; -1 or absent: a class per image drawn
    from class_prior, the training data's class frequencies)
"""
from __future__ import annotations

import os
from typing import Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf

from keras_gan import atomic
from keras_gan.errors import KerasGanError
from keras_gan.inputs import sample_noise
from keras_gan.models import num_classes as count_classes


def export_generator(generator: keras.Model, path: str, noise: str,
                     value_range: Tuple[float, float],
                     class_prior: Sequence[float] | None = None) -> None:
    """Writes G to `path` as a SavedModel (atomically: a half-written export is never left).
    A conditional G's `class_prior` (default: uniform) is what `sample` draws classes from, so
    its samples are distributed as the data it learnt: p(x) = sum_y p_data(y) G(x | y)."""
    z_dim = int(generator.inputs[0].shape[-1])
    classes = count_classes(generator)
    prior = np.ones(classes) if class_prior is None else np.asarray(class_prior, np.float64)
    if prior.shape != (classes,) or np.any(prior < 0) or (classes and prior.sum() <= 0):
        raise ValueError(f"class_prior {class_prior!r}: expected {classes} non-negative "
                         f"frequencies, not all zero")
    prior = prior / max(prior.sum(), 1e-12)
    archive = keras.export.ExportArchive()
    archive.track(generator)
    z_spec = tf.TensorSpec([None, z_dim], tf.float32, name="z")
    count, seed_spec = tf.TensorSpec([], tf.int32, name="num"), tf.TensorSpec([], tf.int32,
                                                                              name="seed")

    def draw_z(num, seed):
        if seed is None:
            seed = tf.random.uniform([], 0, tf.int32.max, tf.int32)
        return sample_noise(tf.stack([num, z_dim]), noise, tf.stack([seed, 0])), seed

    if classes:
        def generate(z, label):
            return {"images": generator([z, label], training=False)}

        @tf.function
        def sample(num, seed=None, label=None):
            z, seed = draw_z(num, seed)
            log_prior = tf.math.log(tf.constant(prior[np.newaxis], tf.float32))
            drawn = tf.random.stateless_categorical(log_prior, num, tf.stack([seed, 1]),
                                                    tf.int32)[0]
            if label is None:
                return generate(z, drawn)
            return generate(z, tf.where(label < 0, drawn, tf.fill([num], label)))

        serving_specs = [z_spec, tf.TensorSpec([None], tf.int32, name="label")]
        sample.get_concrete_function(count, seed_spec, tf.TensorSpec([], tf.int32, name="label"))
    else:
        def generate(z):
            return {"images": generator(z, training=False)}

        @tf.function
        def sample(num, seed=None):
            return generate(draw_z(num, seed)[0])

        serving_specs = [z_spec]
    sample.get_concrete_function(count, seed_spec)
    sample.get_concrete_function(count)

    def info():
        return {"z_dim": tf.constant(z_dim), "value_range": tf.constant(value_range, tf.float32),
                "noise": tf.constant(noise), "num_classes": tf.constant(classes),
                "class_prior": tf.constant(prior, tf.float32)}

    archive.add_endpoint("serving_default", generate, serving_specs)
    archive.add_endpoint("sample", sample)
    archive.add_endpoint("info", info, [])
    with atomic.directory(path) as temporary:
        archive.write_out(temporary, verbose=False)


def num_classes(loaded) -> int:
    """The classes a loaded export draws: 0 for an unconditional one, and for exports written
    before `info()` reported classes."""
    info = loaded.info()
    return int(info["num_classes"]) if "num_classes" in info else 0


def class_prior(loaded) -> np.ndarray:
    """The class frequencies a loaded conditional export draws from; uniform for exports
    written before `info()` reported them."""
    info = loaded.info()
    if "class_prior" in info:
        return info["class_prior"].numpy()
    classes = num_classes(loaded)
    return np.full(classes, 1 / max(classes, 1))


def load_generator(path: str, flag: str = "--model"):
    """Loads an exported generator with plain `tf.saved_model.load`, checking it is one; errors
    name `flag`, the option the user gave the path with."""
    if not path:
        raise KerasGanError(f"{flag} is required: the directory of an exported generator")
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
        raise KerasGanError(f"{flag}={path}: not a SavedModel directory (no saved_model.pb); "
                            f"expected RUN/generator written by training")
    loaded = tf.saved_model.load(path)
    if not all(hasattr(loaded, name) for name in ("serving_default", "sample", "info")):
        raise KerasGanError(f"{flag}={path}: a SavedModel, but not a keras_gan generator "
                            f"(no serving_default/sample/info endpoints)")
    return loaded
