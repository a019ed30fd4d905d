"""D-guided refinement of G's samples: latent-space discriminator optimal transport (DOT,
Tanaka, NeurIPS 2019).

A continuous G maps its connected noise space onto every mode, so some of its samples lie on the
threads between modes, and a trained D knows where they are. Each z takes a few Adam steps
towards argmin_z' ||z' - z|| - D(G(z')) / k, with D's logit and k the Lipschitz constant of
D(G(.)) in z: a sample moves only as far as D's gain pays for the distance, so samples inside a
mode barely move and thread samples slide onto one. No retraining, only D kept beside G.

k is the `quantile` of |D(G(a)) - D(G(b))| / ||a - b|| over fixed random pairs of noise,
recomputed from the current G and D at every call while training changes them, held for the
batches of one evaluation by `calibrated_once`, and fixed by `freeze` for an export, so serving
one sample does not pay for 4,096 calibration samples.
Tanaka takes the maximum (quantile 1), which the one steepest pair decides: on the 2-D grid's
tuning run the steepest pair, across a thread, was 230x the 95th percentile.
"""
from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from keras_gan.inputs import sample_noise
from keras_gan.models import num_classes

_BETA_1, _BETA_2, _EPSILON = 0.9, 0.999, 1e-8  # Adam's defaults


class LatentRefinement(keras.layers.Layer):
    """z (or [z, label]) -> z*, z after `steps` Adam steps of the DOT objective (see the module);
    a conditional G's label stays as it is."""

    def __init__(self, generator: keras.Model, discriminator: keras.Model, steps: int,
                 learning_rate: float, quantile: float, noise: str, seed: int = 0,
                 pairs: int = 2048, **kwargs):
        super().__init__(dtype="float32", **kwargs)
        if steps < 1 or learning_rate <= 0 or not 0 < quantile <= 1 or pairs < 1:
            raise ValueError(f"refinement needs steps >= 1, learning_rate > 0, quantile in "
                             f"(0, 1] and pairs >= 1; got {steps}, {learning_rate}, {quantile}, "
                             f"{pairs}")
        self.generator, self.discriminator = generator, discriminator
        self.num_classes = num_classes(generator)
        self.steps, self.learning_rate, self.quantile = steps, learning_rate, quantile
        self.noise, self.seed, self.pairs = noise, seed, pairs
        self.frozen_k = self.add_weight(shape=(), initializer="zeros", trainable=False,
                                        name="frozen_k")  # 0: not frozen

    def compute_output_shape(self, input_shape):
        return input_shape[0] if self.num_classes else input_shape

    def _logits(self, z: tf.Tensor, label: tf.Tensor | None) -> tf.Tensor:
        fake = self.generator(z if label is None else [z, label], training=False)
        outputs = self.discriminator(fake if label is None else [fake, label], training=False)
        return tf.reshape(tf.cast(outputs, tf.float32), [-1])

    def lipschitz(self) -> tf.Tensor:
        """k: the quantile of D(G(.))'s slope between `pairs` fixed random pairs of noise (with a
        random class shared by each pair for a conditional G)."""
        z_dim = int(self.generator.inputs[0].shape[-1])
        seed = tf.constant([self.seed, -3], tf.int64)
        z = sample_noise([2 * self.pairs, z_dim], self.noise, seed)
        label = None
        if self.num_classes:
            label = tf.tile(tf.random.stateless_uniform([self.pairs], seed + [0, 1], 0,
                                                        self.num_classes, tf.int32), [2])
        a, b = tf.split(z, 2)
        logit_a, logit_b = tf.split(self._logits(z, label), 2)
        slopes = tf.sort(tf.abs(logit_a - logit_b) / tf.norm(a - b, axis=-1))
        return slopes[round(self.quantile * (self.pairs - 1))]

    def freeze(self) -> None:
        """Fixes k at the current G's and D's (once they have finished training)."""
        self.frozen_k.assign(self.lipschitz())

    def call(self, inputs):
        z, label = inputs if self.num_classes else (inputs, None)
        z = tf.cast(z, tf.float32)
        k = tf.cond(self.frozen_k > 0, lambda: tf.identity(self.frozen_k), self.lipschitz)
        k = tf.maximum(k, 1e-12)  # a D flat over most pairs (k = 0) would make the cost NaN

        def adam_step(t, moved, first, second):
            with tf.GradientTape() as tape:
                tape.watch(moved)
                # The 1e-12 keeps the distance's gradient finite (zero) where z' = z.
                distance = tf.sqrt(tf.reduce_sum(tf.square(moved - z), -1) + 1e-12)
                cost = distance - self._logits(moved, label) / k
            gradient = tape.gradient(cost, moved)  # per example: the costs do not interact
            first = _BETA_1 * first + (1 - _BETA_1) * gradient
            second = _BETA_2 * second + (1 - _BETA_2) * tf.square(gradient)
            step = (first / (1 - _BETA_1 ** t)) / (tf.sqrt(second / (1 - _BETA_2 ** t)) + _EPSILON)
            return t + 1, moved - self.learning_rate * step, first, second

        # A loop in the graph, not unrolled: an export traces G and D's gradient once.
        _, moved, _, _ = tf.while_loop(
            lambda t, *_: t <= self.steps, adam_step,
            (tf.constant(1.0), z, tf.zeros_like(z), tf.zeros_like(z)))
        return moved


def refined_generator(generator: keras.Model, discriminator: keras.Model, *, steps: int,
                      learning_rate: float, quantile: float, noise: str, seed: int = 0
                      ) -> keras.Model:
    """G(z*) with G's inputs, so grids, evaluation and `export` take it as G. It shares G's and
    D's weights; `freeze_refinement` fixes its k before an export. D must score single samples
    (not PacGAN's packs)."""
    inputs = [keras.Input(t.shape[1:], dtype=t.dtype, name=t.name) for t in generator.inputs]
    refinement = LatentRefinement(generator, discriminator, steps, learning_rate, quantile, noise,
                                  seed, name="latent_refinement")
    if len(inputs) == 1:
        return keras.Model(inputs[0], generator(refinement(inputs[0])),
                           name=f"{generator.name}_refined")
    return keras.Model(inputs, generator([refinement(inputs), inputs[1]]),
                       name=f"{generator.name}_refined")


def _refinement(model: keras.Model) -> LatentRefinement | None:
    """The refinement layer of a `refined_generator`; None for any other model."""
    return next((layer for layer in model.layers if isinstance(layer, LatentRefinement)), None)


def freeze_refinement(model: keras.Model) -> None:
    """Fixes the k of a `refined_generator` (see `LatentRefinement.freeze`)."""
    refinement = _refinement(model)
    if refinement is None:
        raise ValueError(f"{model.name} is not a refined_generator: it has no refinement to freeze")
    refinement.freeze()


@contextlib.contextmanager
def calibrated_once(model: keras.Model):
    """Within, a `refined_generator`'s k is estimated once, so the batches of one evaluation share
    it (and do not each pay for its 4,096 calibration samples); after, k follows training again
    (or stays frozen if it was). Any other model passes through."""
    refinement = _refinement(model)
    if refinement is None:
        yield
        return
    previous = refinement.frozen_k.numpy()
    if not previous:
        refinement.freeze()
    try:
        yield
    finally:
        refinement.frozen_k.assign(previous)
