import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import inputs, losses
from keras_gan.layers import BatchNormalization
from keras_gan.trainer import GANTrainer, TrainerConfig
from tests.conftest import two_cpu_mirrored

IMAGE_SHAPE, Z_DIM, BATCH = (4, 4, 1), 3, 8
IMAGES = np.random.RandomState(0).randint(0, 256, (64, *IMAGE_SHAPE)).astype(np.uint8)


def tiny_models(d_batchnorm=True, seed=0):
    keras.utils.set_random_seed(seed)
    z = keras.Input((Z_DIM,))
    h = keras.layers.Dense(8)(z)
    h = keras.layers.ReLU()(BatchNormalization()(h))
    image = keras.layers.Reshape(IMAGE_SHAPE)(keras.layers.Dense(16, activation="tanh")(h))
    x = keras.Input(IMAGE_SHAPE)
    h = keras.layers.Dense(8)(keras.layers.Flatten()(x))
    if d_batchnorm:
        h = BatchNormalization()(h)
    logit = keras.layers.Dense(1)(keras.layers.LeakyReLU(0.2)(h))
    return keras.Model(z, image, name="generator"), keras.Model(x, logit, name="discriminator")


def make_trainer(strategy=None, d_batchnorm=True, g_rate=0.1, **config):
    config = TrainerConfig(global_batch_size=BATCH, **config)
    return GANTrainer(lambda: tiny_models(d_batchnorm),
                      lambda: (keras.optimizers.SGD(g_rate), keras.optimizers.SGD(0.1)),
                      config, strategy or tf.distribute.OneDeviceStrategy("/cpu:0"))


def stream(trainer, real_label=(1.0, 1.0)):
    spec = inputs.StreamSpec(BATCH, Z_DIM, real_label=real_label, seed=1)
    return iter(trainer.strategy.distribute_datasets_from_function(
        lambda context: inputs.training_stream(IMAGES, spec, 0, context)))


def snapshot(model):
    return [v.numpy().copy() for v in model.variables]


def changed(before, model):
    return [not np.array_equal(a, v.numpy()) for a, v in zip(before, model.variables)]


def test_g_step_leaves_d_unchanged_including_batchnorm_statistics():
    trainer = make_trainer()
    element = next(stream(trainer))
    d_before, g_before = snapshot(trainer.discriminator), snapshot(trainer.generator)
    tf.function(lambda e: trainer.g_update(e["z_g"])[0])(element)
    assert not any(changed(d_before, trainer.discriminator))
    assert all(changed(g_before, trainer.generator))  # weights and G's own BN statistics


def test_d_step_leaves_g_unchanged_including_batchnorm_statistics():
    trainer = make_trainer()
    element = next(stream(trainer))
    d_before, g_before = snapshot(trainer.discriminator), snapshot(trainer.generator)
    tf.function(lambda e: trainer.d_update(e, trainer.generate(e["z_d"])))(element)
    assert not any(changed(g_before, trainer.generator))
    assert all(changed(d_before, trainer.discriminator))


def test_frozen_d_in_g_step_normalises_with_batch_statistics():
    trainer = make_trainer()
    element = next(stream(trainer))
    z = element["z_g"]
    d_before = snapshot(trainer.discriminator)
    g_state = snapshot(trainer.generator)
    # The reference: D in training mode on G's training-mode output, with D trainable.
    reference = losses.generator_loss(
        trainer.discriminator(trainer.generator(z, training=True), training=True),
        "non_saturating").numpy().mean()
    for variable, value in zip(trainer.discriminator.variables + trainer.generator.variables,
                               d_before + g_state):
        variable.assign(value)
    metrics = tf.function(lambda e: trainer.g_update(e["z_g"])[0])(element)
    np.testing.assert_allclose(float(metrics["g_loss"]), reference, rtol=1e-5)


@pytest.mark.parametrize("d_style", ["concat", "separate"])
@pytest.mark.parametrize("d_reduction, factor", [("mean", 0.5), ("sum", 1.0)])
def test_d_loss_is_the_documented_bce(d_style, d_reduction, factor):
    trainer = make_trainer(d_batchnorm=False, d_style=d_style, d_reduction=d_reduction)
    element = next(stream(trainer, real_label=(0.9, 0.9)))
    fake = trainer.generator(element["z_d"], training=False)
    real_p = tf.sigmoid(trainer.discriminator(element["real"])).numpy().ravel()
    fake_p = tf.sigmoid(trainer.discriminator(fake)).numpy().ravel()
    expected = factor * (np.mean(-(0.9 * np.log(real_p) + 0.1 * np.log(1 - real_p)))
                         + np.mean(-np.log(1 - fake_p)))
    metrics = tf.function(trainer.d_update)(element, fake)
    np.testing.assert_allclose(float(metrics["d_loss"]), expected, rtol=1e-5)
    np.testing.assert_allclose(float(metrics["d_real"]), real_p.mean(), rtol=1e-5)


def test_simultaneous_step_applies_both_gradients_of_one_forward_pass():
    """pylearn2's AdversaryCost2: d_obj and g_obj from the same fake batch, both updates at once."""
    trainer = make_trainer(d_batchnorm=False, order="simultaneous")
    element = next(stream(trainer))
    g_vars, d_vars = trainer.generator.trainable_variables, trainer.discriminator.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        fake_logits = trainer.discriminator(trainer.generator(element["z_g"], training=True))
        real_logits = trainer.discriminator(element["real"])
        d_loss = tf.reduce_mean(losses.discriminator_losses(real_logits, fake_logits, 1.0))
        g_loss = tf.reduce_mean(losses.generator_loss(fake_logits, "non_saturating"))
    expected_g = [v - 0.1 * g for v, g in zip(g_vars, tape.gradient(g_loss, g_vars))]
    expected_d = [v - 0.1 * g for v, g in zip(d_vars, tape.gradient(d_loss, d_vars))]
    expected = [v.numpy() for v in expected_g + expected_d]
    metrics = trainer.train_steps(stream(trainer), 1)  # its first element is `element`
    np.testing.assert_allclose(metrics["d_loss"][0], d_loss.numpy(), rtol=1e-5)
    np.testing.assert_allclose(metrics["g_loss"][0], g_loss.numpy(), rtol=1e-5)
    for want, got in zip(expected, g_vars + d_vars):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)


def test_simultaneous_order_takes_one_d_step():
    from keras_gan.errors import KerasGanError

    with pytest.raises(KerasGanError, match="expected --d_steps=1, not 2"):
        TrainerConfig(global_batch_size=BATCH, order="simultaneous", d_steps=2)


def test_d_loss_falls_against_a_fixed_generator():
    trainer = make_trainer(d_batchnorm=False, g_rate=0.0, steps_per_call=50)
    history = trainer.train_steps(stream(trainer), 200)
    assert history["d_loss"][:10].mean() > 0.6 and history["d_loss"][-10:].mean() < 0.3
    assert trainer.step.numpy() == 200


@pytest.mark.parametrize("order, d_steps", [("g_first", 1), ("d_first", 1), ("g_first", 2),
                                            ("d_first", 2), ("simultaneous", 1)])
def test_mirrored_two_replicas_match_one_device(order, d_steps):
    runs = []
    for strategy in (tf.distribute.OneDeviceStrategy("/cpu:0"),
                     two_cpu_mirrored()):
        trainer = make_trainer(strategy, order=order, d_steps=d_steps)
        history = trainer.train_steps(stream(trainer), 3)
        runs.append((history, snapshot(trainer.generator) + snapshot(trainer.discriminator)))
    (single, single_weights), (mirrored, mirrored_weights) = runs
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose(mirrored[name], single[name], rtol=1e-5, atol=1e-6)
    for a, b in zip(single_weights, mirrored_weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_fused_calls_match_single_step_calls():
    weights = []
    for steps_per_call in (1, 5):
        trainer = make_trainer(steps_per_call=steps_per_call)
        trainer.train_steps(stream(trainer), 10)
        weights.append(snapshot(trainer.generator) + snapshot(trainer.discriminator))
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_batch_not_divisible_by_replicas_is_rejected():
    from keras_gan.errors import KerasGanError

    with pytest.raises(KerasGanError, match="--batch_size=7: must be divisible by the 2"):
        GANTrainer(tiny_models, lambda: (keras.optimizers.SGD(), keras.optimizers.SGD()),
                   TrainerConfig(global_batch_size=7),
                   two_cpu_mirrored())


def test_divergence_stops_with_the_step_and_saves_nothing(tmp_path):
    from keras_gan.callbacks import Checkpointer
    from keras_gan.trainer import DivergenceError

    trainer = GANTrainer(lambda: tiny_models(False),
                         lambda: (keras.optimizers.SGD(1e30), keras.optimizers.SGD(1e30)),
                         TrainerConfig(global_batch_size=BATCH, steps_per_call=4),
                         tf.distribute.OneDeviceStrategy("/cpu:0"))
    manager = tf.train.CheckpointManager(trainer.checkpoint, str(tmp_path), max_to_keep=2)
    spec = inputs.StreamSpec(BATCH, Z_DIM, seed=1)
    dataset = trainer.strategy.distribute_datasets_from_function(
        lambda context: inputs.training_stream(IMAGES, spec, 0, context))
    with pytest.raises(DivergenceError, match=r"training diverged: .* step \d+"):
        trainer.fit(dataset, 8, 100, [Checkpointer(manager, 1000)])
    assert manager.latest_checkpoint is None


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_steps_are_finite_with_float32_losses(policy):
    from keras_gan.optimizers import make_optimizer

    scale = 1024.0 if policy == "mixed_float16" else None
    keras.mixed_precision.set_global_policy(policy)
    try:
        trainer = GANTrainer(
            tiny_models, lambda: (make_optimizer("g", "adam", 1e-3, loss_scale=scale),
                                  make_optimizer("d", "adam", 1e-3, loss_scale=scale)),
            TrainerConfig(global_batch_size=BATCH, d_style="concat", steps_per_call=5),
            tf.distribute.OneDeviceStrategy("/cpu:0"))
        history = trainer.train_steps(stream(trainer), 10)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert trainer.generator.layers[1].compute_dtype == policy.split("_")[1]
    assert all(np.isfinite(history[name]).all() for name in ("d_loss", "g_loss"))
    assert trainer.g_optimizer.scale_loss(1.0) == (scale or 1.0)


def test_fused_loop_traces_once_whatever_the_step_count():
    trainer = make_trainer(steps_per_call=8)
    iterator = stream(trainer)
    for steps in (3, 8, 5, 8, 1):
        trainer.train_steps(iterator, steps)
    assert trainer._train_calls.experimental_get_tracing_count() == 1
    assert trainer.step.numpy() == 25


def test_fused_xla_calls_match_single_step_calls():
    weights = []
    for steps_per_call, jit in ((1, False), (5, True)):
        trainer = make_trainer(d_batchnorm=False, steps_per_call=steps_per_call, jit_compile=jit)
        trainer.train_steps(stream(trainer), 10)
        weights.append(snapshot(trainer.generator) + snapshot(trainer.discriminator))
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
