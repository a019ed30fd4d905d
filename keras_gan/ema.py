"""An exponential moving average of G's weights (compare_gan's `g_use_ema`, StudioGAN's `ema`).

Averaged weights give smoother, better samples than the last iterate (Yazici et al. 2019); they
are what grids, evaluation and the exported `generator/` use.
"""
from __future__ import annotations

import keras


def average_copy(model: keras.Model) -> keras.Model:
    """A frozen copy of `model` (same architecture and weights) to hold its average."""
    average = keras.models.clone_model(model)
    average.name = f"{model.name}_ema"
    average.set_weights(model.get_weights())
    average.trainable = False
    return average


class ExponentialMovingAverage:
    """Keeps `average`, a copy of `model` (`average_copy`), as its average: after update n
    (counting from 0), w_ema <- d * w_ema + (1 - d) * w with d = min(decay, (1 + n) / (warmup +
    n)), TF's `num_updates` warm-up at `warmup` 10: without it the average of a short run is
    mostly G's random initial weights (0.9995**2000 = 37% after 2,000 steps). While the warm-up
    sets d the average spans about the last 1 / (warmup - 1) of the steps, a ninth at 10; a
    smaller `warmup` averages longer (2: the plain mean of every step).

    BatchNorm's moving statistics are averaged the same way; integer state (the
    replica-aware Dropout's call counter) is copied. Create the copy inside `strategy.scope()`
    and call `update` in cross-replica context, after G's update. `TrainingOptions` checks
    the decay and the warm-up.
    """

    def __init__(self, model: keras.Model, average: keras.Model, decay: float,
                 warmup: float = 10.0):
        self.decay = decay
        self.warmup = warmup
        self.model = average
        self._pairs = list(zip(average.weights, model.weights))

    def copy_from_model(self) -> None:
        """Sets the average to the model's current weights (its start, or an old checkpoint's)."""
        for shadow, weight in self._pairs:
            shadow.assign(weight)

    def update(self, num_updates) -> None:
        """`num_updates`: how many updates came before this one (the trainer's step counter, so a
        resumed run continues the warm-up where it stopped)."""
        n = keras.ops.cast(num_updates, "float32")
        decay = keras.ops.minimum(self.decay, (1.0 + n) / (self.warmup + n))
        for shadow, weight in self._pairs:
            if keras.backend.is_float_dtype(shadow.dtype):
                shadow.assign(decay * shadow + (1.0 - decay) * weight)
            else:
                shadow.assign(weight)
