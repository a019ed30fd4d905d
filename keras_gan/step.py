"""What runs `GAN.train_step`: the fused, distributed loop `fit` calls.

`FusedSteps` traces one `tf.function` that runs up to `steps_per_execution` training steps per
call and returns every step's logs; `EvaluationStep` scores real data and fresh fakes without
updating anything (`GAN.evaluate`).
"""
from __future__ import annotations

from typing import Dict, Tuple

import keras
import numpy as np
import tensorflow as tf

from keras_gan import inputs
from keras_gan.errors import KerasGanError, check_positive
from keras_gan.models import weighted_layers
from keras_gan.training_step import draw_seed, replica_share

# GAN methods that run on each replica: `fit` XLA-compiles them with jit_compile.
REPLICA_FUNCTIONS = ("_fakes_replica", "_d_replica", "_g_replica", "_simultaneous_replica")


class FusedSteps:
    """`gan.train_step` for global batches of `global_batch_size`, epochs of `steps_per_epoch`
    G steps (top-k's decay is per epoch) and the noise of `seed`. Calling it with a distributed
    iterator runs steps, up to `steps_per_execution` per traced call, and returns every step's
    logs stacked."""

    def __init__(self, gan, global_batch_size: int, steps_per_epoch: int = 1, seed: int = 0):
        replicas = gan.distribute_strategy.num_replicas_in_sync
        check_positive(batch_size=global_batch_size)
        if global_batch_size % replicas:
            raise KerasGanError(f"batch_size={global_batch_size}: expected a positive multiple of "
                                f"the {replicas} replicas of the strategy")
        if global_batch_size // replicas % gan.options.pack:
            raise KerasGanError(f"pack={gan.options.pack}: each replica's batch of "
                                f"{global_batch_size // replicas} must be a multiple of it")
        self.gan, self.global_batch_size, self.seed = gan, global_batch_size, seed
        self.top_k_decay = gan.options.g_top_k_decay ** (1.0 / steps_per_epoch)
        # Replica functions are traced inline by the outer tf.function; a nested tf.function is
        # only used to mark an XLA cluster (a shared inner trace would give every replica the
        # same collective keys as the first one, and MirroredStrategy then mismatches them).
        self.replica_functions = (
            {name: tf.function(getattr(gan, name), jit_compile=True)
             for name in REPLICA_FUNCTIONS} if gan.options.jit_compile else {})
        self.names: Tuple[str, ...] = ()
        self.function = tf.function(self._loop, reduce_retracing=True)

    def _one_step(self, iterator):
        """Sets what the traced step depends on, then `train_step` on the next batches."""
        gan = self.gan
        gan.noise_seed, gan._top_k_decay = self.seed, self.top_k_decay
        gan._replica_functions = self.replica_functions
        per_step = gan.options.elements_per_step
        batches = tuple(next(iterator) for _ in range(per_step))
        logs = gan.train_step(batches if per_step > 1 else batches[0])
        if not isinstance(logs, dict):
            raise KerasGanError(f"train_step returned a {type(logs).__name__}; expected a dict "
                                f"of scalar logs")
        self.names = tuple(logs)
        return tf.stack([tf.cast(tf.reshape(logs[name], []), tf.float32)
                         for name in self.names])

    def _loop(self, iterator, num_steps: tf.Tensor) -> Dict[str, tf.Tensor]:
        """`num_steps` training steps in one call; per-step logs come back stacked."""
        history = tf.TensorArray(tf.float32, size=num_steps)
        for i in tf.range(num_steps):
            history = history.write(i, self._one_step(iterator))
            self.gan.step.assign_add(1)
        gan = self.gan
        stacked = dict(zip(self.names, tf.unstack(history.stack(), num=len(self.names), axis=1)))
        stacked["weights_finite"] = tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(v)) for v in gan.g_variables + gan.d_variables])
        return stacked

    def __call__(self, iterator, num_steps: int) -> Dict[str, np.ndarray]:
        """Runs `num_steps` steps in calls of at most `steps_per_execution`; returns each
        step's logs. Training that turned NaN or Inf raises `DivergenceError`."""
        first_step = int(self.gan.step.numpy())
        collected = []
        while num_steps > 0:
            n = min(num_steps, self.gan.options.steps_per_execution)
            collected.append({k: v.numpy() for k, v in
                              self.function(iterator, tf.constant(n, tf.int32)).items()})
            num_steps -= n
        history = {name: np.concatenate([np.atleast_1d(c[name]) for c in collected])
                   for name in collected[0]}
        check_finite(history, first_step)
        del history["weights_finite"]
        return history


class EvaluationStep:
    """D's and G's losses and D's outputs on real batches and fresh fakes (noise of `seed`),
    every model in inference mode and nothing updated (`GAN.evaluate`): the sums over examples
    of each of `gan.evaluation_names`."""

    def __init__(self, gan, seed: int):
        self.gan, self.seed = gan, seed
        self.names = gan.evaluation_names
        self._function = tf.function(self._step, reduce_retracing=True)

    def _replica(self, batch, index) -> Dict[str, tf.Tensor]:
        gan = self.gan
        real, labels = batch if isinstance(batch, tuple) else (batch, None)
        size = real.shape[0] if real.shape[0] is not None else tf.shape(real)[0]
        z = replica_share(lambda n: inputs.sample_noise(
            [n, gan.z_dim], gan.noise_prior, draw_seed(self.seed, index, "z_d")), size)
        real_labels = replica_share(lambda n: inputs.uniform(
            [n], draw_seed(self.seed, index, "real_labels"), *gan.options.real_label),
            size)
        fake = gan.generate(z, labels, training=False)
        discriminate = (lambda x: gan.discriminator(x if labels is None else [x, labels],
                                                    training=False))
        real_outputs, fake_outputs = discriminate(real), discriminate(tf.cast(fake, real.dtype))
        real_losses, fake_losses = gan.objective.d_losses(real_outputs, fake_outputs,
                                                          real_labels)
        d_losses = real_losses + fake_losses
        if gan.options.d_reduction == "mean":
            d_losses = d_losses / 2.0
        values = {"d_loss": d_losses, "g_loss": gan.objective.g_losses(fake_outputs),
                  **gan.objective.summaries(real_outputs, fake_outputs)}
        return {name: tf.reduce_sum(values[name]) for name in self.names}

    def _step(self, batch, index) -> Dict[str, tf.Tensor]:
        strategy = self.gan.distribute_strategy
        per_replica = strategy.run(self._replica, args=(batch, index))
        return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica[name], axis=None)
                for name in self.names}

    def run(self, dataset, callbacks=None) -> Tuple[Dict[str, float], int]:
        """The summed values over `dataset`'s batches and how many batches there were."""
        totals, batches = dict.fromkeys(self.names, 0.0), 0
        for batch in dataset:
            if callbacks is not None:
                callbacks.on_test_batch_begin(batches)
            sums = self._function(batch, tf.constant(batches, tf.int64))
            for name in self.names:
                totals[name] += float(sums[name])
            if callbacks is not None:
                callbacks.on_test_batch_end(batches, {name: float(sums[name])
                                                      for name in self.names})
            batches += 1
        return totals, batches


def unfrozen_variables(discriminator: keras.Model, frozen_layers: int) -> list:
    """D's trainable variables but those of its first `frozen_layers` layers with weights."""
    layers = list(weighted_layers(discriminator))
    if frozen_layers > len(layers):
        raise KerasGanError(f"freeze_d_layers={frozen_layers}: D ({discriminator.name}) has "
                            f"only {len(layers)} layers with weights")
    fixed = {id(v) for layer in layers[:frozen_layers] for v in layer.weights}
    return [v for v in discriminator.trainable_variables if id(v) not in fixed]


class DivergenceError(KerasGanError):
    """Training produced NaN or Inf; the last checkpoint is the last good state."""


def check_finite(history: Dict[str, np.ndarray], first_step: int) -> None:
    for name, values in history.items():
        if name == "weights_finite":
            continue
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DivergenceError(f"training diverged: {name} is {values[bad[0]]} at step "
                                  f"{first_step + int(bad[0]) + 1}")
    if not history["weights_finite"].all():
        steps = len(next(iter(history.values())))
        raise DivergenceError(f"training diverged: a weight became NaN or Inf by step "
                              f"{first_step + steps}")
