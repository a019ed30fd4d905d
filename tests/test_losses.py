import numpy as np
import pytest

from keras_gan import losses

LOGITS = np.array([-3.0, -0.5, 0.0, 0.7, 4.0], np.float32)
D = 1.0 / (1.0 + np.exp(-LOGITS))


def test_discriminator_losses_match_the_value_function():
    real, fake = losses.discriminator_losses(LOGITS, LOGITS, 0.9)
    np.testing.assert_allclose(real, -(0.9 * np.log(D) + 0.1 * np.log(1 - D)), rtol=1e-5)
    np.testing.assert_allclose(fake, -np.log(1 - D), rtol=1e-5)


@pytest.mark.parametrize("kind, expected", [("minimax", np.log(1 - D)),
                                            ("non_saturating", -np.log(D))])
def test_generator_losses(kind, expected):
    np.testing.assert_allclose(losses.generator_loss(LOGITS, kind), expected, rtol=1e-5)


def test_minimax_gradient_saturates_where_non_saturating_does_not():
    import tensorflow as tf

    logit = tf.Variable([-6.0])  # D confidently rejects the fake, as early in training
    grads = {}
    for kind in losses.G_LOSSES:
        with tf.GradientTape() as tape:
            loss = losses.generator_loss(logit, kind)
        grads[kind] = abs(float(tape.gradient(loss, logit)[0]))
    assert grads["minimax"] < 0.01 < 0.9 < grads["non_saturating"]


def test_optimal_discriminator_at_equilibrium_costs_log_4():
    """At p_g = p_data, D* = 1/2 and C(G) = -log 4 (Goodfellow et al. 2014, Theorem 1)."""
    real, fake = losses.discriminator_losses(np.zeros(3), np.zeros(3), 1.0)
    np.testing.assert_allclose(-(real + fake), -np.log(4.0) * np.ones(3), rtol=1e-6)
