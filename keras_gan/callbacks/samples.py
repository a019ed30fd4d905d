"""Pictures of G while it trains: a sample grid every N steps, a strip per epoch."""
from __future__ import annotations

import dataclasses
import os
from typing import Callable, Tuple

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from keras_gan import plotting
from keras_gan.callbacks.step import StepCallback


@dataclasses.dataclass(frozen=True)
class FixedInputs:
    """What sample grids feed G: `count` fixed noise vectors, or for a conditional G one row per
    class with the same noise down each of `columns` columns."""

    inputs: object  # z (N, z_dim), or [z, labels (N,)]
    columns: int | None = None
    num_classes: int = 0

    @classmethod
    def draw(cls, count: int, z_dim: int, noise: str, num_classes: int, seed: int
             ) -> "FixedInputs":
        from keras_gan.inputs import sample_noise

        z = sample_noise([count, z_dim], noise, tf.constant([seed, -1], tf.int64)).numpy()
        if not num_classes:
            return cls(z)
        columns = max(1, count // num_classes)
        labels = np.repeat(np.arange(num_classes, dtype=np.int32), columns)
        return cls([np.tile(z[:columns], (num_classes, 1)), labels], columns, num_classes)

    def history_row(self, columns: int = 10):
        """One grid-history row: the first `columns` noise vectors, or the first column's
        noise for every class."""
        if not self.num_classes:
            return self.inputs[:columns]
        return [part[::self.columns] for part in self.inputs]


_IMAGE_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="images"))


def write_image_summary(writer, name: str, png_path: str, step: int) -> None:
    """A PNG file as a TensorBoard image (the images plugin's [width, height, png] record)."""
    png = tf.io.read_file(png_path)
    height, width = tf.io.decode_png(png).shape[:2]
    with writer.as_default(step=step):
        tf.summary.write(name, tf.stack([tf.as_string(width), tf.as_string(height), png]),
                         metadata=_IMAGE_METADATA)
    writer.flush()


class SampleGrid(StepCallback):
    """Writes a PNG of G's samples from fixed inputs to `directory` every `every_n_steps` steps
    (0: at every epoch end) and at the end, and shows it in TensorBoard under `samples` when
    given a `logdir`.

    By default it needs nothing else: G is the model's sampling generator (the average of G's
    weights when kept), the inputs are `count` fixed noise vectors (for a conditional G one row
    per class) and the picture an image grid in the model's value range, or a scatter plot of
    2-D points. `generator`, `fixed_inputs` (a `FixedInputs`) and `draw(path, samples)` replace
    these.
    """

    def __init__(self, directory: str, every_n_steps: int = 0, count: int = 25, seed: int = 0,
                 logdir: str | None = None, generator: keras.Model | None = None,
                 fixed_inputs: "FixedInputs | None" = None,
                 draw: Callable[[str, np.ndarray], None] | None = None):
        super().__init__()
        self.directory, self.every_n_steps = directory, every_n_steps
        self.count, self.seed, self.logdir = count, seed, logdir
        self.generator, self.fixed_inputs, self.draw = generator, fixed_inputs, draw
        self.boundary = every_n_steps
        self._last_written = None
        self._writer = None

    def _complete(self) -> None:
        """Fills in what was not given from the model (a `keras_gan.GAN`)."""
        gan = self.model
        self.generator = self.generator or gan.sampling_generator
        if self.fixed_inputs is None:
            self.fixed_inputs = FixedInputs.draw(self.count, gan.z_dim, gan.noise_prior,
                                                 gan.num_classes, self.seed)
        if self.draw is None:
            self.draw = default_drawing(gan.value_range, self.fixed_inputs.columns)

    def write(self, step: int) -> str:
        self._complete()
        path = os.path.join(self.directory, f"step_{step:07d}.png")
        self.draw(path, np.asarray(self.generator(self.fixed_inputs.inputs, training=False)))
        if self.logdir:
            self._writer = self._writer or tf.summary.create_file_writer(self.logdir)
            write_image_summary(self._writer, "samples", path, step)
        self._last_written = step
        return path

    def on_step_end(self, step, logs):
        if self.every_n_steps and step % self.every_n_steps == 0:
            self.write(step)

    def on_epoch_end(self, epoch, logs=None):
        if not self.every_n_steps and self.step is not None:
            self.write(self.step)

    def on_train_end(self, logs=None):
        if self.step is not None and self._last_written != self.step:
            self.write(self.step)


def default_drawing(value_range: Tuple[float, float], columns: int | None = None
                    ) -> Callable[[str, np.ndarray], None]:
    """How samples are pictured unless said otherwise: an image grid in `value_range`, or a
    scatter plot when the samples are 2-D points."""

    def draw(path: str, samples: np.ndarray) -> None:
        if samples.ndim == 2 and samples.shape[1] == 2:
            plotting.write_scatter(path, samples)
        else:
            plotting.write_grid(path, samples, value_range, columns)

    return draw


class GridHistory(keras.callbacks.Callback):
    """One row of G(fixed inputs) per epoch, stacked into one picture (the blog's history image),
    rewritten at every epoch end so an interrupted run still shows its history."""

    def __init__(self, generator: keras.Model, row_inputs, path: str,
                 value_range: Tuple[float, float]):
        super().__init__()
        self.generator, self.row_inputs = generator, row_inputs
        self.path, self.value_range = path, value_range
        self._rows = []

    def on_train_begin(self, logs=None):
        self._rows = []

    def on_epoch_end(self, epoch, logs=None):
        self._rows.append(np.asarray(self.generator(self.row_inputs, training=False)))
        plotting.write_grid(self.path, np.concatenate(self._rows), self.value_range,
                            columns=len(self._rows[0]))
