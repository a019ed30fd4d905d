"""Dynamic loss scaling for float16 (Micikevicius et al. 2018), inside the trainer's own step.

The rule is Keras's `LossScaleOptimizer`'s: multiply the loss by the scale; when any gradient
is not finite, skip the update (weights, optimiser slots and its step counter stay as they
were) and halve the scale; after `growth_interval` finite steps in a row, double it.

Keras 3.15's `LossScaleOptimizer` cannot run in this trainer: it wraps the optimiser's update,
which under `tf.distribute` is a `merge_call`, in a `cond`, and a merge_call inside a cond fails
in replica context. Here the decision is taken in replica context (finite on every replica,
agreed by an all-reduce) and the skip happens per variable inside the fused optimisers'
cross-replica update (`keras_gan.optimizers.FusedAdam` / `FusedMomentumSGD`), where a `cond`
is allowed.
"""
from __future__ import annotations

from typing import List, Sequence

import keras
import tensorflow as tf


class DynamicLossScale:
    """The scale and its count of finite steps, for one optimiser; checkpointable. Its two
    variables belong to a Keras layer (`create`), so Keras saves them with the model.
    `TrainingOptions` checks the initial scale and the growth interval."""

    def __init__(self, scale, finite_steps, growth_interval: int = 2000):
        self.scale, self.finite_steps = scale, finite_steps
        self.growth_interval = int(growth_interval)

    @classmethod
    def create(cls, owner, name: str, initial_scale: float = 2.0 ** 15,
               growth_interval: int = 2000) -> "DynamicLossScale":
        """A loss scale whose variables are `owner`'s (a Keras layer's) weights `name`_scale and
        `name`_finite_steps."""
        # Every replica computes the same update (the finiteness is all-reduced), so the first
        # replica's value is everyone's.
        scale = owner.add_weight(shape=(), dtype="float32", trainable=False,
                                 initializer=keras.initializers.Constant(float(initial_scale)),
                                 name=f"{name}_scale", aggregation="only_first_replica")
        finite_steps = owner.add_weight(shape=(), dtype="int64", trainable=False,
                                        initializer="zeros", name=f"{name}_finite_steps",
                                        aggregation="only_first_replica")
        return cls(scale, finite_steps, growth_interval)

    def reset(self, initial_scale: float, growth_interval: int) -> None:
        """Starts over at `initial_scale` (0: none, the scale is then unused)."""
        if initial_scale > 0:
            self.scale.assign(float(initial_scale))
        self.finite_steps.assign(0)
        self.growth_interval = int(growth_interval)

    def checkpointable(self) -> tf.train.Checkpoint:
        return tf.train.Checkpoint(scale=self.scale, finite_steps=self.finite_steps)

    def scale_loss(self, loss: tf.Tensor) -> tf.Tensor:
        return loss * tf.cast(self.scale, loss.dtype)

    def unscale(self, gradients: Sequence[tf.Tensor]) -> tuple[List[tf.Tensor], tf.Tensor]:
        """Gradients divided by the scale, and whether all of them are finite on every
        replica (one all-reduce, so every replica takes the same decision)."""
        inverse = 1.0 / self.scale
        gradients = [tf.cast(g, tf.float32) * inverse for g in gradients]
        bad = tf.cast(tf.logical_not(tf.reduce_all(
            [tf.reduce_all(tf.math.is_finite(g)) for g in gradients])), tf.float32)
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            bad = context.all_reduce(tf.distribute.ReduceOp.SUM, bad)
        return gradients, tf.equal(bad, 0.0)

    def update(self, finite: tf.Tensor) -> None:
        """Halves the scale after a skipped step; doubles it after `growth_interval` finite ones."""
        grown = self.finite_steps + 1 >= self.growth_interval
        self.scale.assign(tf.where(finite, tf.where(grown, self.scale * 2.0, self.scale),
                                   self.scale / 2.0))
        self.finite_steps.assign(tf.where(finite & ~grown, self.finite_steps + 1,
                                          tf.zeros_like(self.finite_steps)))
