"""Timing a compiled GAN's real training step, and the step's matrix-product floor
(keras_gan.floor), the way `experiments.benchmark` and `experiments.device_check` report them."""
from __future__ import annotations

import time


def synthetic_images(size: int, count: int, seed: int = 0):
    """Random uint8 single-channel images with random labels of 10 classes: timing needs no
    real data (and a conditional config needs labels)."""
    import numpy as np

    from keras_gan.data import LabelledImages

    rng = np.random.RandomState(seed)
    return LabelledImages(rng.randint(0, 256, (count, size, size, 1)).astype(np.uint8),
                          rng.randint(0, 10, count), tuple(str(c) for c in range(10)))


class TimedStep:
    """The fused steps `fit` would train `data` with, warmed up once (tracing, XLA), then timed
    as often as asked."""

    def __init__(self, gan, data, batch_size: int, seed: int, warmup_steps: int):
        self.gan, self.batch_size = gan, batch_size
        self.steps_per_call = gan.options.steps_per_execution
        self.train_step, self.iterator = gan.training_elements(data, batch_size=batch_size,
                                                               seed=seed)
        self.train_step(self.iterator, warmup_steps)

    @property
    def images_per_step(self) -> int:
        """Real images a step reads: D's `d_steps` batches."""
        return self.batch_size * self.gan.options.d_steps

    def time(self, steps: int) -> float:
        """Images per second of `steps` more steps."""
        started = time.perf_counter()
        self.train_step(self.iterator, steps)
        return steps * self.images_per_step / (time.perf_counter() - started)

    def concrete_call(self):
        import tensorflow as tf

        return self.train_step.function.get_concrete_function(
            self.iterator, tf.constant(self.steps_per_call, tf.int32))


class Floor:
    """A timed step's matrix products alone, one after another, timed like the step."""

    def __init__(self, step: TimedStep, warmup_steps: int = 20):
        from keras_gan import floor

        self.products = floor.step_products(step.concrete_call())
        self.steps_per_call, self.images_per_step = step.steps_per_call, step.images_per_step
        self.warmup_steps = warmup_steps
        self.flops = sum(p.flops for p in self.products)

    def time(self, steps: int) -> float:
        """Images per second of the products of `steps` steps."""
        from keras_gan import floor

        seconds = floor.time_products(self.products, steps, self.steps_per_call,
                                      self.warmup_steps)
        return self.images_per_step / seconds
