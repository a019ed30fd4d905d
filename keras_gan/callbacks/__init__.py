"""Keras callbacks for what Keras lacks: sample grids, a CSV row per step, loss curves, progress
with images/s, TensorBoard scalars without the tensorboard package, scores during training and the
run directory's checkpoints. Keras's own callbacks work with `keras_gan.GAN` unchanged.

The ones here that act every N steps count global training steps, resumed runs included
(`StepCallback`), so "after step N" means N steps since the run's first.
"""
from __future__ import annotations

import os
from typing import Callable, Sequence, Tuple

import keras
import numpy as np

from keras_gan.callbacks.checkpoints import RunCheckpoint
from keras_gan.callbacks.guard import RunDirectoryGuard
from keras_gan.callbacks.logs import (LossCurves, ProgressLogger, ScalarSummaries, StepCSVLogger,
                                      read_history)
from keras_gan.callbacks.samples import (FixedInputs, GridHistory, SampleGrid, default_drawing,
                                         write_image_summary)
from keras_gan.callbacks.scores import EvaluationCallback
from keras_gan.callbacks.step import StepCallback

__all__ = ["EvaluationCallback", "FixedInputs", "GridHistory", "LossCurves", "ProgressLogger",
           "RunCheckpoint", "RunDirectoryGuard", "SampleGrid", "ScalarSummaries", "StepCSVLogger",
           "StepCallback",
           "default_drawing", "read_history", "standard_callbacks", "write_image_summary"]


def standard_callbacks(run_dir: str, generator: keras.Model, fixed: FixedInputs,
                       value_range: Tuple[float, float], backup: RunCheckpoint,
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
    return [RunDirectoryGuard(run_dir)] + history + [
        StepCSVLogger(csv_path, metric_names),
        SampleGrid(os.path.join(run_dir, "samples"), sample_every,
                   logdir=os.path.join(run_dir, "tensorboard"), generator=generator,
                   fixed_inputs=fixed, draw=draw),
        ScalarSummaries(os.path.join(run_dir, "tensorboard"), log_every),
        ProgressLogger(global_batch_size, steps_per_epoch, total_steps, log_every),
        backup,
        LossCurves(csv_path, os.path.join(run_dir, "loss_curves.png"), smoothing),
    ]
