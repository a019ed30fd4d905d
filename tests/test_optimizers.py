import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan.optimizers import FusedAdam, FusedMomentumSGD, RampedMomentumSGD, make_optimizer
from tests.conftest import one_device, two_replica_mirrored

RNG = np.random.RandomState(0)
INITIAL = [RNG.normal(size=(6, 5)).astype(np.float32), RNG.normal(size=(5,)).astype(np.float32)]
GRADIENTS = [[RNG.normal(size=w.shape).astype(np.float32) for w in INITIAL] for _ in range(5)]


def train(make, strategy):
    """Applies the fixed GRADIENTS (summed over replicas: each replica gets its share) in a
    tf.function under `strategy`; returns the final weights."""
    replicas = strategy.num_replicas_in_sync
    with strategy.scope():
        weights = [tf.Variable(w) for w in INITIAL]
        optimizer = make()
        optimizer.build(weights)

    @tf.function
    def step(gradients):
        strategy.run(lambda: optimizer.apply_gradients(
            zip([g / replicas for g in gradients], weights)))

    for gradients in GRADIENTS:
        step([tf.constant(g) for g in gradients])
    return [w.numpy() for w in weights]


@pytest.mark.parametrize("strategy", [lambda: one_device(),
                                      two_replica_mirrored], ids=["one_device", "mirrored"])
@pytest.mark.parametrize("fused, stock", [
    (lambda: FusedAdam(0.01, 0.5, 0.9), lambda: keras.optimizers.Adam(0.01, 0.5, 0.9)),
    (lambda: FusedMomentumSGD(0.1, momentum=0.9), lambda: keras.optimizers.SGD(0.1, momentum=0.9)),
], ids=["adam", "momentum_sgd"])
@pytest.mark.device
def test_fused_kernels_match_keras_optimizers(fused, stock, strategy):
    expected = train(stock, one_device())
    for got, want, initial in zip(train(fused, strategy()), expected, INITIAL):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        assert not np.allclose(want, initial)


def test_momentum_ramp_follows_pylearn2_momentum_adjustor():
    """v <- m_t v - lr g; w <- w + v, with m_t rising linearly from 0.5 to 0.7 over 4 steps."""
    got = train(lambda: RampedMomentumSGD(0.1, 0.5, 0.7, ramp_steps=4),
                one_device())
    weights = [w.astype(np.float64) for w in INITIAL]
    velocity = [np.zeros_like(w) for w in weights]
    for t, gradients in enumerate(GRADIENTS):
        momentum = 0.5 + 0.2 * min(t / 4, 1.0)
        velocity = [momentum * v - 0.1 * g for v, g in zip(velocity, gradients)]
        weights = [w + v for w, v in zip(weights, velocity)]
    for a, b in zip(got, weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_learning_rate_decays_per_step_to_its_floor():
    optimizer = make_optimizer("g", "sgd", 0.1, decay_factor=2.0, minimum_rate=0.02)
    rates = [float(optimizer.learning_rate.numpy())]
    for _ in range(3):
        optimizer.iterations.assign_add(1)
        rates.append(float(optimizer.learning_rate.numpy()))
    np.testing.assert_allclose(rates, [0.1, 0.05, 0.025, 0.02], rtol=1e-6)


def test_make_optimizer_picks_fused_kernels_unless_asked_not_to():
    assert type(make_optimizer("g", "adam", 1e-3)) is FusedAdam
    assert type(make_optimizer("g", "sgd", 1e-3, momentum=0.9)) is FusedMomentumSGD
    assert type(make_optimizer("g", "adam", 1e-3, fused=False)) is keras.optimizers.Adam
    assert type(make_optimizer("g", "sgd", 1e-3, fused=False)) is keras.optimizers.SGD
