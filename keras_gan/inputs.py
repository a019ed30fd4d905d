"""The training input stream: real batches plus the noise and labels each step needs.

Everything random about a step (the data order, z, smoothed real labels) is a stateless function of
(seed, element index). So a resumed run rebuilds exactly the stream the uninterrupted run saw, and a
run split over replicas or workers sees the same global batch as a single-device run.
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
    """What one element of the training stream holds and how it is drawn."""

    global_batch_size: int
    z_dim: int = 100
    noise: str = "normal"
    value_range: Tuple[float, float] = (-1.0, 1.0)
    real_label: Tuple[float, float] = (1.0, 1.0)
    seed: int = 0
    conditional: bool = False  # elements carry the real batch's class labels


def sample_noise(shape, prior: str, seed) -> tf.Tensor:
    """z from the model's prior: N(0, 1), or the paper's uniform on [-sqrt 3, sqrt 3] (unit
    variance)."""
    if prior == "normal":
        return tf.random.stateless_normal(shape, seed=seed)
    if prior == "uniform":
        limit = float(np.sqrt(3.0))
        return tf.random.stateless_uniform(shape, seed=seed, minval=-limit, maxval=limit)
    raise ValueError(f"unknown noise prior {prior!r}; expected one of {NOISE_PRIORS}")


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


def training_stream(data: LabelledImages | np.ndarray, spec: StreamSpec, start_index: int = 0,
                    input_context: tf.distribute.InputContext | None = None) -> tf.data.Dataset:
    """Infinite stream of per-replica elements {real, real_labels, z_d, z_g, alpha}, from
    `start_index` on; `alpha` ~ U[0, 1] per example mixes real and fake for a gradient penalty.
    A conditional stream adds `labels`, the real batch's classes, which G's fakes are also asked
    for (so D sees both halves with one label distribution, the data's).

    In-memory images are gathered from one constant; `ImageFiles` are read and decoded here,
    only the rows of this pipeline's replicas, in parallel over elements.

    Each global element is cut into contiguous per-replica slices; an input pipeline yields the
    slices of its own replicas in replica order, as `distribute_datasets_from_function` expects.
    """
    num_pipelines = input_context.num_input_pipelines if input_context else 1
    pipeline_id = input_context.input_pipeline_id if input_context else 0
    per_replica = (input_context.get_per_replica_batch_size(spec.global_batch_size)
                   if input_context else spec.global_batch_size)
    replicas_here = spec.global_batch_size // (per_replica * num_pipelines)
    rows = slice(pipeline_id * replicas_here * per_replica,
                 (pipeline_id + 1) * replicas_here * per_replica)

    data = data if isinstance(data, LabelledImages) else LabelledImages(data)
    num_examples = len(data)
    steps_per_epoch = batches_per_epoch(num_examples, spec.global_batch_size)
    streamed = isinstance(data.images, ImageFiles)
    all_images = tf.constant(data.images.paths if streamed else data.images)
    all_labels = tf.constant(data.labels, tf.int32) if spec.conditional else None
    seed = tf.constant(spec.seed, tf.int64)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(num_examples, dtype=tf.int64), seed=tf.stack([seed, epoch]))
        order = tf.reshape(order[: steps_per_epoch * spec.global_batch_size],
                           [steps_per_epoch, spec.global_batch_size])
        return tf.data.Dataset.from_tensor_slices(order)

    def element(index, ids):
        z_d_seed, z_g_seed, label_seed, alpha_seed = tf.unstack(
            tf.random.experimental.stateless_split(tf.stack([seed + 1, index]), num=4))
        batch = spec.global_batch_size
        z_d = sample_noise([batch, spec.z_dim], spec.noise, z_d_seed)[rows]
        z_g = sample_noise([batch, spec.z_dim], spec.noise, z_g_seed)[rows]
        labels = tf.random.stateless_uniform([batch], label_seed, *spec.real_label)[rows]
        alpha = tf.random.stateless_uniform([batch], alpha_seed)[rows]
        real = tf.gather(all_images, ids[rows])
        if streamed:
            real = tf.map_fn(data.images.decode, real, fn_output_signature=tf.uint8)
        # uint8 images are scaled to the value range; float data (2-D points) is used as is.
        real = (scale_images(real, spec.value_range) if data.images.dtype == np.uint8
                else tf.cast(real, tf.float32))
        split = lambda t: tf.reshape(t, [replicas_here, per_replica, *t.shape[1:]])  # noqa: E731
        element = {"real": split(real), "real_labels": split(labels), "z_d": split(z_d),
                   "z_g": split(z_g), "alpha": split(alpha)}
        if spec.conditional:
            element["labels"] = split(tf.gather(all_labels, ids[rows]))
        return element

    start_epoch, skip = divmod(start_index, steps_per_epoch)
    index_batches = (tf.data.Dataset.range(start_epoch, np.iinfo(np.int64).max)
                     .flat_map(epoch_batches).skip(skip))
    indices = tf.data.Dataset.range(start_index, np.iinfo(np.int64).max)
    return (tf.data.Dataset.zip(indices, index_batches)
            .map(element, num_parallel_calls=tf.data.AUTOTUNE)
            .unbatch()
            .prefetch(tf.data.AUTOTUNE))
