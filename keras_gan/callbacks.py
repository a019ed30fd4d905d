"""Keras callbacks the trainer drives: grids, CSV, curves, progress, TensorBoard, checkpoints.

`GANTrainer.fit` calls `on_train_batch_end(step, logs)` with the zero-based global step, so
"after step N" below means `step + 1 == N`.
"""
from __future__ import annotations

import csv
import dataclasses
import os
import time
from typing import Callable, Sequence, Tuple

import keras
import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow.core.framework import summary_pb2

from keras_gan import atomic, plotting
from keras_gan.refinement import calibrated_once


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


def resumed_step(logs) -> int | None:
    """The step training starts at (`fit` passes it to `on_train_begin`), None for a fresh run. A
    run resumed at its last step trains nothing but is still drawn and scored at the end (e.g.
    with a new --refine_steps); a fresh one has nothing to show before its first step."""
    return int((logs or {}).get("step", 0)) or None


class SampleGrid(keras.callbacks.Callback):
    """Writes a PNG of G(fixed inputs) every `every_n_steps` steps and at the end, drawn by
    `draw(path, samples)` (an image grid, or a scatter plot for 2-D points), and shows it in
    TensorBoard under `samples` when given a `logdir`."""

    def __init__(self, generator: keras.Model, fixed_inputs, directory: str,
                 draw: Callable[[str, np.ndarray], None], every_n_steps: int,
                 logdir: str | None = None):
        super().__init__()
        self.generator, self.fixed_inputs, self.directory = generator, fixed_inputs, directory
        self.draw, self.every_n_steps, self.logdir = draw, every_n_steps, logdir
        self._last_written = None
        self._last_step = None
        self._writer = None

    def write(self, step: int) -> str:
        path = os.path.join(self.directory, f"step_{step:07d}.png")
        self.draw(path, np.asarray(self.generator(self.fixed_inputs, training=False)))
        if self.logdir:
            self._writer = self._writer or tf.summary.create_file_writer(self.logdir)
            write_image_summary(self._writer, "samples", path, step)
        self._last_written = step
        return path

    def on_train_begin(self, logs=None):
        self._last_step = resumed_step(logs)

    def on_train_batch_end(self, batch, logs=None):
        self._last_step = batch + 1
        if self.every_n_steps and self._last_step % self.every_n_steps == 0:
            self.write(self._last_step)

    def on_train_end(self, logs=None):
        if self._last_step is not None and self._last_written != self._last_step:
            self.write(self._last_step)


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


class StepCSVLogger(keras.callbacks.Callback):
    """Appends one CSV row per training step: the trainer's `metric_names` (losses, D(x),
    D(G(z)) before and after D's update, and what the objective adds).

    On a resumed run, rows past the restored step (written after the last checkpoint) are dropped
    first, so the file continues exactly where the weights do.
    """

    def __init__(self, path: str, start_step: int, names: Sequence[str]):
        super().__init__()
        self.path, self.start_step, self.names = path, start_step, tuple(names)
        self._descriptor = None

    def on_train_begin(self, logs=None):
        header = ",".join(("step", *self.names)) + "\n"
        kept = header
        if os.path.exists(self.path):
            with open(self.path) as stream:
                rows = stream.read().splitlines()[1:]
            kept += "".join(row + "\n" for row in rows if row.split(",")[0].isdigit()
                            and int(row.split(",")[0]) <= self.start_step)
        atomic.write_text(self.path, kept)
        self._descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def on_train_batch_end(self, batch, logs=None):
        row = ",".join([str(batch + 1)] + [f"{logs[name]:.6g}" for name in self.names]) + "\n"
        os.write(self._descriptor, row.encode())  # one write per row: never a half row

    def on_train_end(self, logs=None):
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None


def read_history(path: str) -> dict[str, np.ndarray]:
    """A CSV of numbers (history.csv, eval_history.csv) as columns; empty cells are NaN."""
    with open(path) as stream:
        rows = list(csv.DictReader(stream))
    return {name: np.array([float(row[name] or "nan") for row in rows])
            for name in (rows[0] if rows else {})}


class LossCurves(keras.callbacks.Callback):
    """Plots the CSV's losses and D outputs to a PNG at the end of training."""

    def __init__(self, csv_path: str, png_path: str, smoothing: int = 0):
        super().__init__()
        self.csv_path, self.png_path, self.smoothing = csv_path, png_path, smoothing

    def on_train_end(self, logs=None):
        history = read_history(self.csv_path)
        if not history or not len(history["step"]):
            return
        panels = [{label: history[name] for name, label in labels.items() if name in history}
                  for labels in self._PANELS]
        plotting.write_curves(self.png_path, history["step"], panels,
                              ["losses", "discriminator outputs"], self.smoothing)

    _PANELS = ({"d_loss": "D loss", "g_loss": "G loss", "penalty": "D's penalty (unweighted)"},
               {"d_real": "D(x)", "d_fake": "D(G(z)) in D step",
                "d_fake_after": "D(G(z)) in G step",
                "divergence": "mean D(x) / (D(x) + D(G(z)))"})


class ProgressLogger(keras.callbacks.Callback):
    """Logs epoch, step, losses and images/s every `every_n_steps` steps."""

    def __init__(self, global_batch_size: int, steps_per_epoch: int, total_steps: int,
                 every_n_steps: int):
        super().__init__()
        self.global_batch_size, self.steps_per_epoch = global_batch_size, steps_per_epoch
        self.total_steps, self.every_n_steps = total_steps, every_n_steps
        self._clock = self._clock_step = None

    def on_train_batch_end(self, batch, logs=None):
        step = batch + 1
        if self._clock is None:
            self._clock, self._clock_step = time.perf_counter(), step
        if step % self.every_n_steps and step != self.total_steps:
            return
        now = time.perf_counter()
        rate = (step - self._clock_step) * self.global_batch_size / max(now - self._clock, 1e-9)
        self._clock, self._clock_step = now, step
        logging.info(
            "epoch %d step %d/%d  d_loss %.4f  g_loss %.4f  D(x) %.3f  D(G(z)) %.3f/%.3f  "
            "%.0f images/s", (step - 1) // self.steps_per_epoch + 1, step, self.total_steps,
            logs["d_loss"], logs["g_loss"], logs["d_real"], logs["d_fake"], logs["d_fake_after"],
            rate)


class ScalarSummaries(keras.callbacks.Callback):
    """Writes the step metrics to TensorBoard every `every_n_steps` steps.

    TensorFlow 2.21 no longer ships the `tensorboard` package that `tf.summary.scalar` lives in,
    so scalars are written with `tf.summary.write` and the scalars plugin's metadata: the same
    event records, readable by any TensorBoard, without adding a dependency.
    """

    _METADATA = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))

    def __init__(self, logdir: str, every_n_steps: int):
        super().__init__()
        self.logdir, self.every_n_steps = logdir, every_n_steps
        self._writer = None

    def on_train_begin(self, logs=None):
        self._writer = tf.summary.create_file_writer(self.logdir)

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % self.every_n_steps == 0:
            with self._writer.as_default(step=batch + 1):
                for name, value in logs.items():
                    tf.summary.write(name, tf.constant(value, tf.float32),
                                     metadata=self._METADATA)

    def on_train_end(self, logs=None):
        self._writer.flush()


class Checkpointer(keras.callbacks.Callback):
    """Saves through a `tf.train.CheckpointManager` every `every_n_steps` steps and at the end."""

    def __init__(self, manager: tf.train.CheckpointManager, every_n_steps: int):
        super().__init__()
        self.manager, self.every_n_steps = manager, every_n_steps
        self._last_step = self._saved_step = None

    def on_train_batch_end(self, batch, logs=None):
        self._last_step = batch + 1
        if self.every_n_steps and self._last_step % self.every_n_steps == 0:
            self.save()

    def save(self) -> None:
        if self._last_step is not None and self._saved_step != self._last_step:
            self.manager.save(checkpoint_number=self._last_step)
            self._saved_step = self._last_step

    def on_train_end(self, logs=None):
        self.save()


class EvaluationCallback(keras.callbacks.Callback):
    """Scores G's samples every `every_n_epochs` epochs (0: only at the end) and at the end with
    `evaluate(samples, labels)`, a function of G's outputs (and for a conditional G the labels
    they were drawn for: class by class in shares of `class_prior`, the training data's class
    frequencies; empty for an unconditional G) returning named numbers; rows go to a CSV (with the
    training wall time so far, across resumes), the numbers to TensorBoard and, as curves against
    step and wall time, to a PNG beside the CSV; the last scores stay in `scores`."""

    # Scores that are bookkeeping, not quality: not drawn.
    _NOT_DRAWN = ("step", "epoch", "train_seconds", "num_samples", "parzen_se", "parzen_sigma",
                  "parzen_validation_ll")

    def __init__(self, generator: keras.Model, evaluate, noise: str, class_prior: Sequence[float],
                 num_samples: int, every_n_epochs: int, csv_path: str, logdir: str,
                 seed: int = 0):
        super().__init__()
        self.generator, self.evaluate, self.class_prior = generator, evaluate, class_prior
        self.noise, self.num_samples, self.every_n_epochs = noise, num_samples, every_n_epochs
        self.csv_path, self.logdir, self.seed = csv_path, logdir, seed
        self._step = self._evaluated_step = None
        self._writer = None
        self.scores = {}

    def on_train_begin(self, logs=None):
        self._step = resumed_step(logs)
        self._writer = tf.summary.create_file_writer(self.logdir)
        previous = read_history(self.csv_path) if os.path.exists(self.csv_path) else {}
        earlier = previous.get("train_seconds", np.zeros(0))
        self._clock = time.perf_counter() - (float(earlier[-1]) if len(earlier) else 0.0)

    def on_train_batch_end(self, batch, logs=None):
        self._step = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
            self.run(epoch + 1)

    def on_train_end(self, logs=None):
        if self._step is not None and self._evaluated_step != self._step:
            self.run(None)

    def _append_row(self, row: dict) -> None:
        """Rewrites the CSV with `row` added (evaluations are rare): a column that an older run
        did not write stays empty in its rows, so columns never shift."""
        rows = []
        if os.path.exists(self.csv_path):
            with open(self.csv_path) as stream:
                rows = list(csv.DictReader(stream))
        names = list(dict.fromkeys([*(rows[0] if rows else {}), *row]))
        lines = [",".join(names)] + [",".join(str(r.get(n, "")) for n in names)
                                     for r in [*rows, row]]
        atomic.write_text(self.csv_path, "\n".join(lines) + "\n")

    def run(self, epoch) -> dict:
        from keras_gan.inputs import class_shares, sample_noise

        z_dim = int(self.generator.inputs[0].shape[-1])
        z = sample_noise([self.num_samples, z_dim], self.noise,
                         tf.constant([self.seed, -2], tf.int64)).numpy()
        classes = len(self.class_prior)
        labels = (np.repeat(np.arange(classes, dtype=np.int32),
                            class_shares(self.class_prior, self.num_samples)) if classes else None)
        batch = lambda i: (z[i:i + 1000] if labels is None  # noqa: E731
                           else [z[i:i + 1000], labels[i:i + 1000]])
        with calibrated_once(self.generator):
            images = np.concatenate([np.asarray(self.generator(batch(i), training=False))
                                     for i in range(0, self.num_samples, 1000)])
        self.scores = self.evaluate(images, labels)
        scores = {k: v for k, v in self.scores.items() if isinstance(v, (int, float))}
        # Undefined scores (None) keep their column empty, so every row has the same columns.
        row = {"step": self._step, "epoch": epoch if epoch is not None else "",
               "train_seconds": round(time.perf_counter() - self._clock, 1),
               **{k: "" if v is None else v for k, v in self.scores.items()
                  if v is None or isinstance(v, (int, float))}}
        self._append_row(row)
        history = read_history(self.csv_path)
        plotting.write_evaluation_curves(
            os.path.splitext(self.csv_path)[0] + ".png", history,
            [name for name in history if name not in self._NOT_DRAWN])
        with self._writer.as_default(step=self._step):
            for name, value in scores.items():
                tf.summary.write(f"eval/{name}", tf.constant(float(value)),
                                 metadata=ScalarSummaries._METADATA)
        self._writer.flush()
        self._evaluated_step = self._step
        logging.info("evaluation at step %d: %s", self._step,
                     "  ".join(f"{k} {v:.4g}" for k, v in scores.items()))
        return scores


def standard_callbacks(run_dir: str, generator: keras.Model, fixed: FixedInputs,
                       value_range: Tuple[float, float], manager: tf.train.CheckpointManager,
                       *, global_batch_size: int, steps_per_epoch: int, start_step: int,
                       total_steps: int, sample_every: int, log_every: int, checkpoint_every: int,
                       metric_names: Sequence[str], smoothing: int = 0,
                       grid_history: bool = False,
                       draw_samples: Callable[[str, np.ndarray], None] | None = None
                       ) -> Sequence[keras.callbacks.Callback]:
    """The callbacks every experiment writes its run directory with. `draw_samples(path,
    samples)` pictures G's fixed-input samples; by default an image grid in `value_range`."""
    csv_path = os.path.join(run_dir, "history.csv")
    draw = draw_samples or (lambda path, images: plotting.write_grid(path, images, value_range,
                                                                     fixed.columns))
    history = [GridHistory(generator, fixed.history_row(),
                           os.path.join(run_dir, "grid_history.png"), value_range)
               ] if grid_history else []
    return history + [
        StepCSVLogger(csv_path, start_step, metric_names),
        SampleGrid(generator, fixed.inputs, os.path.join(run_dir, "samples"), draw, sample_every,
                   os.path.join(run_dir, "tensorboard")),
        ScalarSummaries(os.path.join(run_dir, "tensorboard"), log_every),
        ProgressLogger(global_batch_size, steps_per_epoch, total_steps, log_every),
        Checkpointer(manager, checkpoint_every),
        LossCurves(csv_path, os.path.join(run_dir, "loss_curves.png"), smoothing),
    ]
