"""GAN losses as plain functions of D's logits (Goodfellow et al. 2014, eq. 1 and section 3).

Each returns per-example losses; the trainer scales them by the global batch, so the same code is
right on one device and across replicas.
"""
from __future__ import annotations

import tensorflow as tf

G_LOSSES = ("minimax", "non_saturating")
D_STYLES = ("concat", "separate")
D_REDUCTIONS = ("mean", "sum")


def bce_with_logits(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy from logits, per example (logits of shape (N, 1) or (N,))."""
    logits = tf.reshape(tf.cast(logits, tf.float32), [-1])
    labels = tf.broadcast_to(tf.cast(labels, tf.float32), tf.shape(logits))
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)


def generator_loss(fake_logits: tf.Tensor, kind: str) -> tf.Tensor:
    """G's per-example loss.

    `minimax`: G minimises log(1 - D(G(z))) (eq. 1), which saturates early in training.
    `non_saturating`: G minimises -log D(G(z)), the paper's practical heuristic.
    """
    if kind == "minimax":
        return -bce_with_logits(0.0, fake_logits)
    if kind == "non_saturating":
        return bce_with_logits(1.0, fake_logits)
    raise ValueError(f"unknown generator loss {kind!r}; expected one of {G_LOSSES}")


def discriminator_losses(real_logits: tf.Tensor, fake_logits: tf.Tensor, real_labels: tf.Tensor
                         ) -> tuple[tf.Tensor, tf.Tensor]:
    """D's per-example losses on the real half (labels `real_labels`, one-sided smoothing) and the
    fake half (label 0): D maximises log D(x) + log(1 - D(G(z)))."""
    return bce_with_logits(real_labels, real_logits), bce_with_logits(0.0, fake_logits)
