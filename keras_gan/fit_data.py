"""What `GAN.fit` and `GAN.evaluate` accept as data, checked once and turned into global batches.

A batched `tf.data.Dataset` of examples or (examples, labels), NumPy examples with `y` labels,
or `keras_gan.data.LabelledImages`. Training draws batches forever from a given batch on (random
by (seed, batch) for in-memory data, so a resumed run sees the same ones); evaluation takes one
pass.
"""
from __future__ import annotations

import dataclasses
from typing import Callable, Tuple

import numpy as np
import tensorflow as tf

from keras_gan import inputs
from keras_gan.data import ImageFiles, LabelledImages
from keras_gan.errors import KerasGanError, check_positive


@dataclasses.dataclass(frozen=True)
class FitData:
    """`batches(start)`: global batches of (examples, labels) from batch `start` on, forever;
    `one_pass()`: every full batch once; `prepare` runs on a pipeline's own rows (decoding image
    files); `class_frequencies` the labels' shares when they are known up front."""

    batches: Callable[[int], tf.data.Dataset]
    one_pass: Callable[[], tf.data.Dataset]
    global_batch_size: int
    batches_per_epoch: int | None
    prepare: Callable | None = None
    class_frequencies: np.ndarray | None = None

    @classmethod
    def of(cls, x, y, batch_size, seed: int, example_shape: Tuple[int, ...], num_classes: int,
           argument: str = "x", value_range: Tuple[float, float] = (-1.0, 1.0)) -> "FitData":
        """`x` (and `y`, `batch_size`) checked against D's input shape, G's classes and value
        range; errors name the argument (`x`, `validation_data`)."""
        if isinstance(x, tf.data.Dataset):
            if y is not None or batch_size is not None:
                raise KerasGanError(f"y, batch_size: a tf.data.Dataset ({argument}) brings its "
                                    f"own labels and batches; expected neither")
            return cls._from_dataset(x, example_shape, num_classes, argument, value_range)
        if isinstance(x, LabelledImages):
            data = x
        elif isinstance(x, np.ndarray) or hasattr(x, "__array__"):
            data = LabelledImages(np.asarray(x), None if y is None else np.asarray(y))
        else:
            raise KerasGanError(f"{argument}: expected a batched tf.data.Dataset, NumPy examples "
                                f"or LabelledImages, not {type(x).__name__}")
        if not isinstance(data.images, ImageFiles):
            check_value_range(data.images, value_range, argument)
        return cls._from_examples(data, 32 if batch_size is None else batch_size, seed,
                                  example_shape, num_classes, argument)

    @classmethod
    def _from_examples(cls, data: LabelledImages, batch_size: int, seed: int,
                       example_shape, num_classes: int, argument: str) -> "FitData":
        check_positive(batch_size=batch_size)
        check_example_shape(tuple(data.images.shape[1:]), example_shape, argument)
        if batch_size > len(data):
            raise KerasGanError(f"batch_size={batch_size}: more than the {len(data)} examples "
                                f"of {argument}")
        frequencies = None
        if num_classes:
            if data.labels is None:
                raise KerasGanError(f"y: G is conditional ({num_classes} classes); expected "
                                    f"a label per example of {argument}")
            if len(data.labels) != len(data):
                raise KerasGanError(f"y: {len(data.labels)} labels for {len(data)} examples")
            check_labels(data.labels, num_classes, "y")
            frequencies = np.bincount(data.labels, minlength=num_classes) / len(data)
        labels = np.full(len(data), -1) if data.labels is None else data.labels
        prepare = inputs.file_decoder(data)
        rows = data.images.paths if prepare else data.images

        def one_pass():
            return (tf.data.Dataset.from_tensor_slices((rows, labels.astype(np.int32)))
                    .batch(batch_size, drop_remainder=True))

        return cls(lambda start: inputs.example_batches(data, batch_size, seed, start), one_pass,
                   batch_size, inputs.batches_per_epoch(len(data), batch_size), prepare,
                   frequencies)

    @classmethod
    def _from_dataset(cls, dataset: tf.data.Dataset, example_shape, num_classes: int,
                      argument: str, value_range: Tuple[float, float]) -> "FitData":
        spec = dataset.element_spec
        labelled = isinstance(spec, tuple)
        if labelled and len(spec) != 2:
            raise KerasGanError(f"{argument}: dataset elements of {len(spec)} parts; expected "
                                f"examples or (examples, labels)")
        example_spec = spec[0] if labelled else spec
        if not isinstance(example_spec, tf.TensorSpec):
            raise KerasGanError(f"{argument}: dataset elements are "
                                f"{type(example_spec).__name__}; expected tensors of examples "
                                f"(or (examples, labels))")
        if len(example_spec.shape) == len(example_shape):
            raise KerasGanError(f"{argument}: an unbatched dataset (elements of shape "
                                f"{tuple(example_spec.shape)}); expected batches: call "
                                f".batch(batch_size) on it")
        check_example_shape(tuple(example_spec.shape[1:]), example_shape, argument)
        if num_classes and not labelled:
            raise KerasGanError(f"{argument}: G is conditional ({num_classes} classes); "
                                f"expected a dataset of (examples, labels)")
        first = next(iter(dataset.take(1)), None)
        if first is None:
            raise KerasGanError(f"{argument}: the dataset is empty")
        examples = first[0] if labelled else first
        check_value_range(np.asarray(examples), value_range, f"{argument}'s first batch")
        batch = int(example_spec.shape[0] or examples.shape[0])
        if num_classes:
            check_labels(np.asarray(first[1]), num_classes, f"{argument}'s labels")

        def with_labels(*element):
            examples = element[0]
            labels = (tf.cast(tf.reshape(element[1], [-1]), tf.int32) if labelled
                      else tf.fill([tf.shape(examples)[0]], -1))
            return examples, labels

        full = (dataset.map(with_labels)
                .filter(lambda examples, labels: tf.shape(examples)[0] == batch))
        cardinality = int(dataset.cardinality())
        known = cardinality if cardinality > 0 else None
        return cls(lambda start: full.repeat().skip(start), lambda: full, batch, known)


def steps_per_epoch(batches: int | None, batch_size: int, d_steps: int, accumulate_steps: int,
                    given: int | None = None) -> int:
    """G steps per epoch: `given`, or the data's batches over the batches one step takes
    (d_steps x accumulate_steps); one error, for `fit` and the programs, when that makes none."""
    if given is not None:
        check_positive(steps_per_epoch=given)
        return given
    if batches is None:
        raise KerasGanError("steps_per_epoch: required for a dataset of unknown or infinite "
                            "length; expected a positive integer")
    steps = batches // (d_steps * accumulate_steps)
    if steps < 1:
        raise KerasGanError(f"batch_size={batch_size} x d_steps={d_steps} x accumulate_steps="
                            f"{accumulate_steps}: more than the data holds ({batches} batches "
                            f"of {batch_size})")
    return steps


def check_example_shape(shape: Tuple[int, ...], wanted: Tuple[int, ...], argument: str) -> None:
    if tuple(shape) != tuple(wanted):
        raise KerasGanError(f"{argument}: examples of shape {tuple(shape)}; expected D's input "
                            f"shape {tuple(wanted)} (G's output shape)")


def check_value_range(examples: np.ndarray, value_range: Tuple[float, float],
                      argument: str) -> None:
    """Float images must lie in G's range (uint8 ones are scaled to it): 0-255 floats, as
    `keras.utils.image_dataset_from_directory` gives, would otherwise train silently as if
    they were in it. A margin of a tenth of the range allows for interpolation overshoot.
    Vectors (tabular data, points) may lie anywhere: their G need not be bounded."""
    if (examples.dtype == np.uint8 or not np.issubdtype(examples.dtype, np.floating)
            or examples.ndim < 4):
        return
    low, high = value_range
    margin = 0.1 * (high - low)
    smallest, largest = float(np.min(examples)), float(np.max(examples))
    if smallest < low - margin or largest > high + margin:
        raise KerasGanError(
            f"{argument}: float images in [{smallest:g}, {largest:g}]; expected G's value_range "
            f"[{low:g}, {high:g}]: pass uint8 images (scaled for you) or rescale the floats, "
            f"e.g. with keras.layers.Rescaling({(high - low) / 255:g}, offset={low:g}) for "
            f"0-255 floats")


def check_labels(labels: np.ndarray, num_classes: int, argument: str) -> None:
    labels = np.asarray(labels)
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < 0
                        or labels.max() >= num_classes):
        raise KerasGanError(f"{argument}: labels {labels.min()}..{labels.max()} "
                            f"({labels.dtype}); expected integers in [0, {num_classes})")
