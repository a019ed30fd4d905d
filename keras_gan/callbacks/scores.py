"""Scores of G's samples during training: a CSV, curves and TensorBoard scalars."""
from __future__ import annotations

import csv
import os
import time
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from keras_gan import atomic, plotting
from keras_gan.callbacks.logs import ScalarSummaries, read_history
from keras_gan.callbacks.step import StepCallback
from keras_gan.refinement import calibrated_once


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
