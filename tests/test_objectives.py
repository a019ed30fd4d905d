import numpy as np
import pytest
import tensorflow as tf

from keras_gan import objectives, penalties
from keras_gan.errors import KerasGanError

LOGITS = np.array([-3.0, -0.5, 0.0, 0.7, 4.0], np.float32)
D = 1.0 / (1.0 + np.exp(-LOGITS))
REAL = np.array([1.5, -0.2, 0.3], np.float32)
FAKE = np.array([-1.2, 0.4, 2.0], np.float32)


def test_bce_discriminator_losses_match_the_value_function():
    real, fake = objectives.bce().d_losses(LOGITS, LOGITS, 0.9)
    np.testing.assert_allclose(real, -(0.9 * np.log(D) + 0.1 * np.log(1 - D)), rtol=1e-5)
    np.testing.assert_allclose(fake, -np.log(1 - D), rtol=1e-5)


@pytest.mark.parametrize("kind, expected", [("minimax", np.log(1 - D)),
                                            ("non_saturating", -np.log(D))])
def test_bce_generator_losses(kind, expected):
    np.testing.assert_allclose(objectives.bce(kind).g_losses(LOGITS), expected, rtol=1e-5)


def test_minimax_gradient_saturates_where_non_saturating_does_not():
    logit = tf.Variable([-6.0])  # D confidently rejects the fake, as early in training
    grads = {}
    for kind in objectives.G_LOSSES:
        with tf.GradientTape() as tape:
            loss = objectives.bce(kind).g_losses(logit)
        grads[kind] = abs(float(tape.gradient(loss, logit)[0]))
    assert grads["minimax"] < 0.01 < 0.9 < grads["non_saturating"]


def test_optimal_discriminator_at_equilibrium_costs_log_4():
    """At p_g = p_data, D* = 1/2 and C(G) = -log 4 (Goodfellow et al. 2014, Theorem 1)."""
    real, fake = objectives.bce().d_losses(np.zeros(3), np.zeros(3), 1.0)
    np.testing.assert_allclose(-(real + fake), -np.log(4.0) * np.ones(3), rtol=1e-6)


@pytest.mark.parametrize("name, d_real, d_fake, g_fake", [
    ("least_squares", 0.5 * (REAL - 0.9) ** 2, 0.5 * FAKE ** 2, 0.5 * (FAKE - 1) ** 2),
    ("hinge", np.maximum(0, 1 - REAL), np.maximum(0, 1 + FAKE), -FAKE),
    ("wasserstein", -REAL, FAKE, -FAKE),
])
def test_objectives_match_hand_computation(name, d_real, d_fake, g_fake):
    objective = objectives.OBJECTIVES[name]()
    labels = 0.9 if objective.smooths_labels else 1.0
    real, fake = objective.d_losses(REAL[:, None], FAKE[:, None], labels)  # (N, 1) like D's output
    np.testing.assert_allclose(real, d_real, rtol=1e-6)
    np.testing.assert_allclose(fake, d_fake, rtol=1e-6)
    np.testing.assert_allclose(objective.g_losses(FAKE[:, None]), g_fake, rtol=1e-6)
    assert set(objective.summaries(REAL, FAKE)) == set(objective.summary_names)


def test_options_an_objective_cannot_use_fail_with_one_line():
    with pytest.raises(KerasGanError, match="g_loss=minimax is a choice of objective=bce"):
        objectives.make_objective("hinge", "minimax")
    with pytest.raises(KerasGanError, match="objective=wasserstein has no labels"):
        objectives.make_objective("wasserstein", real_label=(0.9, 1.0))
    with pytest.raises(KerasGanError, match="objective=nope: expected one of bce"):
        objectives.make_objective("nope")
    assert objectives.make_objective("least_squares", real_label=(0.9, 0.9)).name == "least_squares"


def linear_critic(weights):
    """d(x) = <w, x>: its input gradient is w for every x, so both penalties have known values."""
    w = tf.constant(weights, tf.float32)
    return lambda x: tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]) * w, 1, keepdims=True)


def test_gradient_penalty_of_a_linear_critic_is_its_known_value():
    weights = np.full(12, 0.5, np.float32)  # ||w|| = sqrt(12) / 2
    real = tf.random.normal([4, 2, 2, 3])
    fake = tf.random.normal([4, 2, 2, 3])
    penalty = penalties.gradient_penalty(linear_critic(weights), real, fake,
                                         tf.random.uniform([4]))
    np.testing.assert_allclose(penalty, np.full(4, (np.sqrt(12) / 2 - 1) ** 2), rtol=1e-5)
    r1 = penalties.r1_penalty(linear_critic(weights), real, fake, None)
    np.testing.assert_allclose(r1, np.full(4, 0.5 * 12 * 0.25), rtol=1e-5)


def test_penalties_of_a_packed_linear_critic_are_those_of_the_whole_pack():
    """PacGAN's D judges a pack: its input gradient is w over the pack's joined examples, so each
    member carries the pack's penalty (not its own slice's, nor `pack` times it)."""
    from keras_gan.layers import Pack, Unpack

    weights = np.arange(1, 9, dtype=np.float32) / 4  # two joined examples of 4 features
    packed_critic = lambda x: Unpack(2)(linear_critic(weights)(Pack(2, flat=True)(x)))  # noqa
    real, fake = tf.random.normal([6, 2, 2]), tf.random.normal([6, 2, 2])
    squared_norm = float(np.sum(weights ** 2))
    r1 = penalties.make_penalty("r1", pack=2)(packed_critic, real, fake, None)
    np.testing.assert_allclose(r1, np.full(6, 0.5 * squared_norm), rtol=1e-5)
    gradient_penalty = penalties.make_penalty("gradient", pack=2)
    gradient = gradient_penalty(packed_critic, real, fake, tf.random.uniform([6]))
    np.testing.assert_allclose(gradient, np.full(6, (np.sqrt(squared_norm) - 1) ** 2), rtol=1e-5)


def test_gradient_penalty_uses_one_alpha_per_example():
    """A per-pixel alpha (a known PyTorch-GAN bug) would move x^ off the line real-fake."""
    seen = []

    def critic(x):
        seen.append(x)
        return tf.reduce_sum(tf.reshape(x, [tf.shape(x)[0], -1]), 1)

    real, fake = tf.ones([2, 3, 3, 1]), tf.zeros([2, 3, 3, 1])
    penalties.gradient_penalty(critic, real, fake, tf.constant([0.25, 0.75]))
    np.testing.assert_allclose(seen[0][0], np.full((3, 3, 1), 0.25))
    np.testing.assert_allclose(seen[0][1], np.full((3, 3, 1), 0.75))


def test_penalty_is_differentiable_with_respect_to_critic_weights():
    """The penalty's nested tape must let D's outer tape reach its weights (double backprop)."""
    w = tf.Variable(np.full(4, 2.0, np.float32))
    critic = lambda x: tf.reduce_sum(x * w, 1)  # noqa: E731
    real = tf.random.normal([3, 4])
    with tf.GradientTape() as tape:
        penalty = tf.reduce_mean(penalties.r1_penalty(critic, real, None, None))
    # R1 = 1/2 ||w||^2, so d/dw = w.
    np.testing.assert_allclose(tape.gradient(penalty, w), w.numpy(), rtol=1e-5)


@pytest.mark.parametrize("fraction, expected", [(0.5, [2, 0, 2, 0]), (1.0, [1, 1, 1, 1]),
                                                (0.75, [4 / 3, 0, 4 / 3, 4 / 3]),
                                                (0.01, [4, 0, 0, 0])])
def test_top_k_weights_keep_the_fraction_d_scores_most_real(fraction, expected):
    outputs = tf.constant([[3.0], [-1.0], [2.0], [0.0]])
    weights = objectives.top_k_weights(outputs, tf.constant(fraction))
    np.testing.assert_allclose(weights.numpy(), expected, rtol=1e-6)
