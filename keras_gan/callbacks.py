"""Keras callbacks for `keras_gan.GAN.fit`: grids, CSV, curves, progress, TensorBoard,
checkpoints.

`fit` calls them as `keras.Model.fit` does (the batch index within its epoch); the ones here
that act every N steps count global training steps, resumed runs included (`StepCallback`), so
"after step N" below means N steps since the run's first.
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
from keras_gan.errors import KerasGanError
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


class StepCallback(keras.callbacks.Callback):
    """A callback that knows the global step: `fit` passes the step training starts at to
    `on_train_begin`, and every `on_train_batch_end` is one step more. Subclasses act in
    `on_step_end(step, logs)` and call `super().on_train_begin(logs)` if they override it."""

    step = None  # steps completed; None until the first step of a fresh run
    boundary = 0  # a fused call of several steps never crosses a multiple of this (0: none)

    def on_train_begin(self, logs=None):
        self.step = resumed_step(logs)

    def on_train_batch_end(self, batch, logs=None):
        self.step = (self.step or 0) + 1
        self.on_step_end(self.step, logs or {})

    def on_step_end(self, step: int, logs: dict) -> None:
        pass


def resumed_step(logs) -> int | None:
    """The step training starts at (`fit` passes it to `on_train_begin`), None for a fresh run. A
    run resumed at its last step trains nothing but is still drawn and scored at the end (e.g.
    with a new --refine_steps); a fresh one has nothing to show before its first step."""
    return int((logs or {}).get("step", 0)) or None


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
            self.fixed_inputs = FixedInputs.draw(self.count, gan.z_dim, gan.noise,
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


class StepCSVLogger(StepCallback):
    """Appends one CSV row per training step: `names` (losses, D(x), D(G(z)) before and after
    D's update, and whatever the objective logs).

    On a resumed run, rows past the restored step (written after the last checkpoint) are dropped
    first, so the file continues exactly where the weights do.
    """

    def __init__(self, path: str, names: Sequence[str]):
        super().__init__()
        self.path, self.names = path, tuple(names)
        self._descriptor = None

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        header = ",".join(("step", *self.names)) + "\n"
        kept = header
        if os.path.exists(self.path):
            with open(self.path) as stream:
                rows = stream.read().splitlines()[1:]
            kept += "".join(row + "\n" for row in rows if row.split(",")[0].isdigit()
                            and int(row.split(",")[0]) <= (self.step or 0))
        atomic.write_text(self.path, kept)
        self._descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def on_step_end(self, step, logs):
        row = ",".join([str(step)] + [f"{logs[name]:.6g}" for name in self.names]) + "\n"
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
        losses, outputs = self._PANELS
        panels = [{label: history[name] for name, label in losses.items() if name in history},
                  {outputs.get(name, name): history[name] for name in history
                   if name != "step" and name not in losses}]
        plotting.write_curves(self.png_path, history["step"], panels,
                              ["losses", "discriminator outputs"], self.smoothing)

    _PANELS = ({"d_loss": "D loss", "g_loss": "G loss", "penalty": "D's penalty (unweighted)"},
               {"d_real": "D(x)", "d_fake": "D(G(z)) in D step",
                "d_fake_after": "D(G(z)) in G step",
                "divergence": "mean D(x) / (D(x) + D(G(z)))"})


class ProgressLogger(StepCallback):
    """Logs epoch, step, every logged value and images/s every `every_n_steps` steps."""

    _ORDER = ("d_loss", "g_loss", "d_real", "d_fake", "d_fake_after")

    def __init__(self, global_batch_size: int, steps_per_epoch: int, total_steps: int,
                 every_n_steps: int):
        super().__init__()
        self.global_batch_size, self.steps_per_epoch = global_batch_size, steps_per_epoch
        self.total_steps, self.every_n_steps = total_steps, every_n_steps
        self._clock = self._clock_step = None

    def on_train_begin(self, logs=None):
        # The first rate includes tracing: logs arrive once per fused call, all at its end.
        super().on_train_begin(logs)
        self._clock, self._clock_step = time.perf_counter(), self.step or 0

    def on_step_end(self, step, logs):
        if step % self.every_n_steps and step != self.total_steps:
            return
        now = time.perf_counter()
        rate = (step - self._clock_step) * self.global_batch_size / max(now - self._clock, 1e-9)
        self._clock, self._clock_step = now, step
        # The losses and D's outputs first, in a fixed order; then what the objective adds.
        names = sorted(logs, key=lambda n: (self._ORDER.index(n) if n in self._ORDER
                                            else len(self._ORDER), n))
        values = "  ".join(f"{name} {logs[name]:.4g}" for name in names)
        logging.info("epoch %d step %d/%d  %s  %.0f images/s",
                     (step - 1) // self.steps_per_epoch + 1, step, self.total_steps, values, rate)


class ScalarSummaries(StepCallback):
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
        super().on_train_begin(logs)
        self._writer = tf.summary.create_file_writer(self.logdir)

    def on_step_end(self, step, logs):
        if step % self.every_n_steps == 0:
            with self._writer.as_default(step=step):
                for name, value in logs.items():
                    tf.summary.write(name, tf.constant(value, tf.float32),
                                     metadata=self._METADATA)

    def on_train_end(self, logs=None):
        self._writer.flush()


class BackupAndRestore(StepCallback):
    """Checkpoints everything training needs (G, D, G's weight average, both optimisers, the
    step) to `directory` every `every_n_steps` steps and at the end, keeping the newest `keep`.

    `GAN.fit` calls `restore` before its first step: the newest checkpoint that restores is
    loaded (an unreadable one is reported and skipped for an older one, and left on disk), so
    rerunning the same script continues at the step it stopped at, with the same noise and
    batches as an uninterrupted run. Keras's own BackupAndRestore saves Keras's model state
    only, not both optimisers and the training stream's position.
    """

    def __init__(self, directory: str, every_n_steps: int = 1000, keep: int = 3,
                 flag: str | None = None):
        super().__init__()
        self.flag = flag or f"directory={directory}"  # how errors name the directory
        if every_n_steps < 1 or keep < 1:
            raise KerasGanError(f"every_n_steps={every_n_steps}, keep={keep}: expected positive "
                                f"integers")
        self.directory, self.every_n_steps, self.keep = directory, every_n_steps, keep
        self.boundary = every_n_steps
        self.manager = None
        self.restored = None
        self._saved_step = None

    def restore(self, gan) -> str | None:
        """Loads the newest usable checkpoint into `gan` (once); its path, or None."""
        if self.manager is None:
            from keras_gan import run_directory

            self.restored = run_directory.restore_newest(self.directory, gan.trainer.restore,
                                                         flag=self.flag)
            self.manager = tf.train.CheckpointManager(gan.trainer.checkpoint, self.directory,
                                                      max_to_keep=self.keep)
        return self.restored

    def on_step_end(self, step, logs):
        if step % self.every_n_steps == 0:
            self.save()

    def save(self) -> None:
        if self.step is not None and self._saved_step != self.step:
            self.manager.save(checkpoint_number=self.step)
            self._saved_step = self.step

    def on_train_end(self, logs=None):
        self.save()


class EvaluationCallback(StepCallback):
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
        self._evaluated_step = None
        self._writer = None
        self.scores = {}

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._writer = tf.summary.create_file_writer(self.logdir)
        previous = read_history(self.csv_path) if os.path.exists(self.csv_path) else {}
        earlier = previous.get("train_seconds", np.zeros(0))
        self._clock = time.perf_counter() - (float(earlier[-1]) if len(earlier) else 0.0)

    def on_epoch_end(self, epoch, logs=None):
        if self.every_n_epochs and (epoch + 1) % self.every_n_epochs == 0:
            self.run(epoch + 1)

    def on_train_end(self, logs=None):
        if self.step is not None and self._evaluated_step != self.step:
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
        row = {"step": self.step, "epoch": epoch if epoch is not None else "",
               "train_seconds": round(time.perf_counter() - self._clock, 1),
               **{k: "" if v is None else v for k, v in self.scores.items()
                  if v is None or isinstance(v, (int, float))}}
        self._append_row(row)
        history = read_history(self.csv_path)
        plotting.write_evaluation_curves(
            os.path.splitext(self.csv_path)[0] + ".png", history,
            [name for name in history if name not in self._NOT_DRAWN])
        with self._writer.as_default(step=self.step):
            for name, value in scores.items():
                tf.summary.write(f"eval/{name}", tf.constant(float(value)),
                                 metadata=ScalarSummaries._METADATA)
        self._writer.flush()
        self._evaluated_step = self.step
        logging.info("evaluation at step %d: %s", self.step,
                     "  ".join(f"{k} {v:.4g}" for k, v in scores.items()))
        return scores


def standard_callbacks(run_dir: str, generator: keras.Model, fixed: FixedInputs,
                       value_range: Tuple[float, float], backup: BackupAndRestore,
                       *, global_batch_size: int, steps_per_epoch: int, total_steps: int,
                       sample_every: int, log_every: int, metric_names: Sequence[str],
                       smoothing: int = 0, grid_history: bool = False,
                       draw_samples: Callable[[str, np.ndarray], None] | None = None
                       ) -> list:
    """The callbacks every experiment writes its run directory with. `draw_samples(path,
    samples)` pictures G's fixed-input samples; by default an image grid in `value_range`."""
    csv_path = os.path.join(run_dir, "history.csv")
    draw = draw_samples or default_drawing(value_range, fixed.columns)
    history = [GridHistory(generator, fixed.history_row(),
                           os.path.join(run_dir, "grid_history.png"), value_range)
               ] if grid_history else []
    return history + [
        StepCSVLogger(csv_path, metric_names),
        SampleGrid(os.path.join(run_dir, "samples"), sample_every,
                   logdir=os.path.join(run_dir, "tensorboard"), generator=generator,
                   fixed_inputs=fixed, draw=draw),
        ScalarSummaries(os.path.join(run_dir, "tensorboard"), log_every),
        ProgressLogger(global_batch_size, steps_per_epoch, total_steps, log_every),
        backup,
        LossCurves(csv_path, os.path.join(run_dir, "loss_curves.png"), smoothing),
    ]
