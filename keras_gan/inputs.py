"""The training input stream and the step's random draws.

Everything random about a step (the data order, z, smoothed real labels, the penalty's mixes,
the augmentation's uniforms) is a stateless function of (seed, global batch index). So a resumed
run rebuilds exactly what the uninterrupted run saw, and a run split over replicas or workers
sees the same global batch as a single-device run.
"""
from __future__ import annotations

import dataclasses
from typing import Tuple

import numpy as np
import tensorflow as tf

from keras_gan.data import ImageFiles, LabelledImages

NOISE_PRIORS = ("normal", "uniform")


@dataclasses.dataclass(frozen=True)
class StreamSpec:
    """What one element of the training stream holds: a replica's share of a global batch of
    examples scaled to `value_range`, with its labels when `conditional`."""

    global_batch_size: int
    value_range: Tuple[float, float] = (-1.0, 1.0)
    conditional: bool = False


def sample_noise(shape, prior: str, seed) -> tf.Tensor:
    """z from the model's prior: N(0, 1), or the paper's uniform on [-sqrt 3, sqrt 3] (unit
    variance)."""
    if prior == "normal":
        return tf.random.stateless_normal(shape, seed=seed, alg="philox")
    if prior == "uniform":
        limit = float(np.sqrt(3.0))
        return uniform(shape, seed, -limit, limit)
    raise ValueError(f"unknown noise prior {prior!r}; expected one of {NOISE_PRIORS}")


def uniform(shape, seed, low=0.0, high=1.0) -> tf.Tensor:
    """Stateless uniforms by one named algorithm (Philox, the CPU's default): an XLA-compiled
    step would otherwise pick another and draw other numbers."""
    return tf.random.stateless_uniform(shape, seed, low, high, alg="philox")


def class_shares(prior, count: int) -> np.ndarray:
    """How many of `count` samples each class gets in proportion to `prior` (rounded so the
    shares sum to `count`): stratified, so a score does not also measure the label draw."""
    edges = np.round(np.cumsum(np.concatenate([[0.0], prior])) / np.sum(prior) * count)
    return np.diff(edges).astype(np.int64)


def scale_images(images: tf.Tensor, value_range: Tuple[float, float]) -> tf.Tensor:
    """uint8 pixels to float32 in `value_range`."""
    low, high = value_range
    return tf.cast(images, tf.float32) * ((high - low) / 255.0) + low


def batches_per_epoch(num_examples: int, global_batch_size: int) -> int:
    return num_examples // global_batch_size


def example_batches(data: LabelledImages, global_batch_size: int, seed: int,
                    start_batch: int = 0) -> tf.data.Dataset:
    """Infinite global batches of `data`'s rows (uint8 images, image paths or float vectors) and
    labels (-1 where the data has none), from batch `start_batch` on. Epoch e is the stateless
    permutation (seed, e) cut into full batches, so any batch is found without replaying the
    ones before it."""
    num_examples = len(data)
    steps_per_epoch = batches_per_epoch(num_examples, global_batch_size)
    streamed = isinstance(data.images, ImageFiles)
    all_rows = tf.constant(data.images.paths if streamed else data.images)
    all_labels = tf.constant(np.full(num_examples, -1) if data.labels is None else data.labels,
                             tf.int32)
    seed = tf.constant(seed, tf.int64)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(num_examples, dtype=tf.int64), seed=tf.stack([seed, epoch]))
        order = tf.reshape(order[: steps_per_epoch * global_batch_size],
                           [steps_per_epoch, global_batch_size])
        return tf.data.Dataset.from_tensor_slices(order)

    start_epoch, skip = divmod(start_batch, steps_per_epoch)
    return (tf.data.Dataset.range(start_epoch, np.iinfo(np.int64).max)
            .flat_map(epoch_batches).skip(skip)
            .map(lambda ids: (tf.gather(all_rows, ids), tf.gather(all_labels, ids))))


def training_elements(batches: tf.data.Dataset, spec: StreamSpec,
                      input_context: tf.distribute.InputContext | None = None,
                      prepare=None) -> tf.data.Dataset:
    """Per-replica batches, `real` or `(real, labels)` when conditional, from global `batches` of
    (examples, labels): what `GAN.train_step` receives as `data`.

    Each global batch is cut into contiguous per-replica slices; an input pipeline keeps the
    slices of its own replicas, in replica order, as `distribute_datasets_from_function`
    expects, and only then runs `prepare` (decoding files) on its rows. uint8 examples are
    scaled to the value range; anything else is cast to float32 as it is.
    """
    num_pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    per_replica = (input_context.get_per_replica_batch_size(spec.global_batch_size)
                   if input_context else spec.global_batch_size)
    replicas_here = spec.global_batch_size // (per_replica * num_pipelines)
    rows = slice(pipeline_id * replicas_here * per_replica,
                 (pipeline_id + 1) * replicas_here * per_replica)

    def element(examples, labels):
        real = examples[rows]
        if prepare is not None:
            real = prepare(real)
        real = (scale_images(real, spec.value_range) if real.dtype == tf.uint8
                else tf.cast(real, tf.float32))
        split = lambda t: tf.reshape(t, [replicas_here, per_replica, *t.shape[1:]])  # noqa: E731
        if spec.conditional:
            return split(real), split(tf.cast(labels[rows], tf.int32))
        return split(real)

    return (batches.map(element, num_parallel_calls=tf.data.AUTOTUNE)
            .unbatch()
            .prefetch(tf.data.AUTOTUNE))


def file_decoder(data: LabelledImages):
    """`training_elements`'s `prepare` for `data`: decodes a batch of image paths when the
    images are files, else None."""
    if not isinstance(data.images, ImageFiles):
        return None
    return lambda paths: tf.map_fn(data.images.decode, paths, fn_output_signature=tf.uint8)


def training_stream(data: LabelledImages | np.ndarray, spec: StreamSpec, start_index: int = 0,
                    input_context: tf.distribute.InputContext | None = None, seed: int = 0
                    ) -> tf.data.Dataset:
    """The training elements of in-memory or on-disk `data` (`training_elements` of its
    `example_batches`), from global batch `start_index` on, shuffled by `seed`."""
    data = data if isinstance(data, LabelledImages) else LabelledImages(data)
    batches = example_batches(data, spec.global_batch_size, seed, start_index)
    return training_elements(batches, spec, input_context, prepare=file_decoder(data))
