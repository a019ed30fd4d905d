"""Numbers of a run while it trains: a CSV row per step, loss curves, progress lines,
TensorBoard scalars."""
from __future__ import annotations

import contextlib
import csv
import errno
import os
import time
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
from absl import logging
from tensorflow.core.framework import summary_pb2

from keras_gan import atomic, faults, plotting
from keras_gan.callbacks.step import StepCallback


class StepCSVLogger(StepCallback):
    """Appends one CSV row per training step: `names` (losses, D(x), D(G(z)) before and after
    D's update, and whatever the objective logs).

    On a resumed run, rows past the restored step (written after the last checkpoint) and a row
    cut short by a kill or a full disk are dropped first, so the file continues exactly where the
    weights do. A row the disk has no room for is removed again before the error is raised.
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
            fields = len(self.names) + 1
            kept += "".join(row + "\n" for row in rows if len(row.split(",")) == fields
                            and row.split(",")[0].isdigit()
                            and int(row.split(",")[0]) <= (self.step or 0))
        atomic.write_text(self.path, kept)
        self._descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND)

    def on_step_end(self, step, logs):
        row = (",".join([str(step)] + [f"{logs[name]:.6g}" for name in self.names])
               + "\n").encode()
        end = os.lseek(self._descriptor, 0, os.SEEK_END)
        try:
            faults.point("row", self.path)
            if os.write(self._descriptor, row) != len(row):  # one write per row
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._descriptor, end)
            raise

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
                "divergence": "mean D(x) / (D(x) + D(G(z)))",
                "d_real_sign": "E[sign D(x)] (ADA's r_t)", "augment_p": "ADA's p"})


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
