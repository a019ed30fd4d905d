import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import inputs, models, objectives, penalties, run_checkpoint
from keras_gan.gan import GAN
from keras_gan.layers import BatchNormalization
from keras_gan.options import TrainingOptions
from keras_gan.step import DivergenceError
from tests.conftest import Steps, one_device, step_noise, step_uniforms, two_replica_mirrored

IMAGE_SHAPE, Z_DIM, BATCH = (4, 4, 1), 3, 8
IMAGES = np.random.RandomState(0).randint(0, 256, (64, *IMAGE_SHAPE)).astype(np.uint8)


def tiny_models(d_batchnorm=True, seed=0, pack=1, g_batchnorm=True):
    """A small G and D; `pack` > 1 makes D PacGAN's, judging `pack` joined examples."""
    keras.utils.set_random_seed(seed)
    z = keras.Input((Z_DIM,))
    h = keras.layers.Dense(8)(z)
    h = keras.layers.ReLU()(BatchNormalization()(h) if g_batchnorm else h)
    image = keras.layers.Reshape(IMAGE_SHAPE)(keras.layers.Dense(16, activation="tanh")(h))
    x = keras.Input(IMAGE_SHAPE if pack == 1 else models.joined_shape(IMAGE_SHAPE, pack, True))
    h = keras.layers.Dense(8)(keras.layers.Flatten()(x))
    if d_batchnorm:
        h = BatchNormalization()(h)
    logit = keras.layers.Dense(1)(keras.layers.LeakyReLU(0.2)(h))
    discriminator = keras.Model(x, logit, name="discriminator")
    if pack > 1:
        discriminator = models.packed(discriminator, IMAGE_SHAPE, pack, flat=True)
    return keras.Model(z, image, name="generator"), discriminator


def make_gan(strategy=None, d_batchnorm=True, g_rate=0.1, models=None, optimizers=None,
             **options):
    """A compiled GAN of `models()` (default: the tiny pair), under `strategy`."""
    strategy = strategy or one_device()
    models = models or (lambda: tiny_models(d_batchnorm, pack=options.get("pack", 1)))
    optimizers = optimizers or (lambda: (keras.optimizers.SGD(g_rate),
                                         keras.optimizers.SGD(0.1)))
    with strategy.scope():
        return GAN(*models()).compile(*optimizers(), **options)


def make_trainer(strategy=None, d_batchnorm=True, g_rate=0.1, batch=BATCH, **options):
    """The fused step of `make_gan(...)` for batches of `batch`."""
    return Steps(make_gan(strategy, d_batchnorm, g_rate, **options), batch)


def stream(trainer):
    spec = inputs.StreamSpec(BATCH)
    return iter(trainer.strategy.distribute_datasets_from_function(
        lambda context: inputs.training_stream(IMAGES, spec, 0, context, seed=1)))


def restore(gan, path):
    """The checkpoint at `path` restored into `gan`, as a run directory resumes."""
    run_checkpoint.restore(gan, run_checkpoint.training_checkpoint(gan), path)


def snapshot(model):
    return [v.numpy().copy() for v in model.variables]


def changed(before, model):
    return [not np.array_equal(a, v.numpy()) for a, v in zip(before, model.variables)]


def test_g_step_leaves_d_unchanged_including_batchnorm_statistics():
    trainer = make_trainer()
    element = next(stream(trainer))
    d_before, g_before = snapshot(trainer.discriminator), snapshot(trainer.generator)
    tf.function(lambda e: trainer.g_update(e)[0])(element)
    assert not any(changed(d_before, trainer.discriminator))
    assert all(changed(g_before, trainer.generator))  # weights and G's own BN statistics


def test_d_step_leaves_g_unchanged_including_batchnorm_statistics():
    trainer = make_trainer()
    element = next(stream(trainer))
    d_before, g_before = snapshot(trainer.discriminator), snapshot(trainer.generator)
    tf.function(lambda e: trainer.d_update(e))(element)
    assert not any(changed(g_before, trainer.generator))
    assert all(changed(d_before, trainer.discriminator))


def test_frozen_d_in_g_step_normalises_with_batch_statistics():
    trainer = make_trainer()
    element = next(stream(trainer))
    z = step_noise(0, "g")
    d_before = snapshot(trainer.discriminator)
    g_state = snapshot(trainer.generator)
    # The reference: D in training mode on G's training-mode output, with D trainable.
    reference = objectives.bce().g_losses(
        trainer.discriminator(trainer.generator(z, training=True), training=True)).numpy().mean()
    for variable, value in zip(trainer.discriminator.variables + trainer.generator.variables,
                               d_before + g_state):
        variable.assign(value)
    metrics = tf.function(lambda e: trainer.g_update(e)[0])(element)
    np.testing.assert_allclose(float(metrics["g_loss"]), reference, rtol=1e-5)


@pytest.mark.parametrize("d_style", ["concat", "separate"])
@pytest.mark.parametrize("d_reduction, factor", [("mean", 0.5), ("sum", 1.0)])
def test_d_loss_is_the_documented_bce(d_style, d_reduction, factor):
    trainer = make_trainer(d_batchnorm=False, d_style=d_style, d_reduction=d_reduction,
                           real_label=0.9)
    element = next(stream(trainer))
    fake = trainer.generator(step_noise(0, "d"), training=False)
    real_p = tf.sigmoid(trainer.discriminator(element)).numpy().ravel()
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
    g_vars = trainer.generator.trainable_variables
    d_vars = trainer.discriminator.trainable_variables
    with tf.GradientTape(persistent=True) as tape:
        fake_logits = trainer.discriminator(trainer.generator(step_noise(0, "g"), training=True))
        real_logits = trainer.discriminator(element)
        d_loss = tf.reduce_mean(objectives.bce().d_losses(real_logits, fake_logits, 1.0))
        g_loss = tf.reduce_mean(objectives.bce().g_losses(fake_logits))
    expected_g = [v - 0.1 * g for v, g in zip(g_vars, tape.gradient(g_loss, g_vars))]
    expected_d = [v - 0.1 * g for v, g in zip(d_vars, tape.gradient(d_loss, d_vars))]
    expected = [v.numpy() for v in expected_g + expected_d]
    metrics = trainer(stream(trainer), 1)  # its first element is `element`
    np.testing.assert_allclose(metrics["d_loss"][0], d_loss.numpy(), rtol=1e-5)
    np.testing.assert_allclose(metrics["g_loss"][0], g_loss.numpy(), rtol=1e-5)
    for want, got in zip(expected, g_vars + d_vars):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)


def test_simultaneous_order_takes_one_d_step():
    from keras_gan.errors import KerasGanError

    with pytest.raises(KerasGanError, match="expected d_steps=1, not 2"):
        TrainingOptions(order="simultaneous", d_steps=2)


def test_d_loss_falls_against_a_fixed_generator():
    trainer = make_trainer(d_batchnorm=False, g_rate=0.0, steps_per_execution=50)
    history = trainer(stream(trainer), 200)
    assert history["d_loss"][:10].mean() > 0.6 and history["d_loss"][-10:].mean() < 0.3
    assert trainer.gan.step.numpy() == 200


@pytest.mark.device
@pytest.mark.parametrize("order, d_steps", [("g_first", 1), ("d_first", 1), ("g_first", 2),
                                            ("d_first", 2), ("simultaneous", 1)])
def test_mirrored_two_replicas_match_one_device(order, d_steps):
    runs = []
    for strategy in (one_device(),
                     two_replica_mirrored()):
        trainer = make_trainer(strategy, order=order, d_steps=d_steps)
        history = trainer(stream(trainer), 3)
        runs.append((history, snapshot(trainer.generator) + snapshot(trainer.discriminator)))
    (single, single_weights), (mirrored, mirrored_weights) = runs
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose(mirrored[name], single[name], rtol=1e-5, atol=1e-6)
    for a, b in zip(single_weights, mirrored_weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


@pytest.mark.device
def test_fused_calls_match_single_step_calls():
    weights = []
    for steps_per_call in (1, 5):
        trainer = make_trainer(steps_per_execution=steps_per_call)
        trainer(stream(trainer), 10)
        weights.append(snapshot(trainer.generator) + snapshot(trainer.discriminator))
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_batch_not_divisible_by_replicas_is_rejected():
    from keras_gan.errors import KerasGanError

    with pytest.raises(KerasGanError, match="batch_size=7: expected a positive multiple "
                                            "of the 2 replicas"):
        make_trainer(two_replica_mirrored(), batch=7)


def test_batch_per_replica_not_a_multiple_of_the_pack_is_rejected():
    from keras_gan.errors import KerasGanError

    with pytest.raises(KerasGanError, match="pack=3: each replica's batch of 4 must be a "
                                            "multiple of it"):
        make_trainer(two_replica_mirrored(), pack=3)


@pytest.mark.device
def test_packed_d_with_r1_matches_across_two_replicas():
    """Each replica packs its own consecutive examples, so the split changes nothing."""
    runs = []
    for strategy in (one_device(), two_replica_mirrored()):
        trainer = make_trainer(strategy, d_batchnorm=False, penalty="r1", penalty_weight=1.0,
                               pack=2, steps_per_execution=3)
        history = trainer(stream(trainer), 3)
        runs.append((history, snapshot(trainer.generator) + snapshot(trainer.discriminator)))
    (single, single_weights), (mirrored, mirrored_weights) = runs
    for name in trainer.metric_names:
        np.testing.assert_allclose(mirrored[name], single[name], rtol=1e-4, atol=1e-6)
    for a, b in zip(single_weights, mirrored_weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    assert trainer.discriminator.layers[-2].input.shape[-1] == 2 * 16  # two examples joined


def test_divergence_stops_with_the_step_and_saves_nothing(tmp_path):
    from keras_gan.callbacks import RunCheckpoint

    gan = make_gan(d_batchnorm=False, steps_per_execution=4,
                   optimizers=lambda: (keras.optimizers.SGD(1e30), keras.optimizers.SGD(1e30)))
    backup = RunCheckpoint(str(tmp_path), every_n_steps=1000)
    with pytest.raises(DivergenceError, match=r"training diverged: .* step \d+"):
        gan.fit(IMAGES, batch_size=BATCH, epochs=100, verbose=0, callbacks=[backup], seed=1)
    assert backup.manager.latest_checkpoint is None


def mixed_gan(policy, strategy=None, loss_scale=0.0, growth=2000, steps_per_execution=5):
    from keras_gan.optimizers import make_optimizer

    keras.mixed_precision.set_global_policy(policy)
    try:
        return make_gan(strategy, optimizers=lambda: (make_optimizer("g", "adam", 1e-3),
                                                      make_optimizer("d", "adam", 1e-3)),
                        d_style="concat", steps_per_execution=steps_per_execution,
                        loss_scale=loss_scale, loss_scale_growth_interval=growth)
    finally:
        keras.mixed_precision.set_global_policy("float32")


def mixed_trainer(*args, **kwargs):
    return Steps(mixed_gan(*args, **kwargs), BATCH)


@pytest.mark.device
@pytest.mark.parametrize("policy, loss_scale", [("mixed_float16", 2.0 ** 15),
                                                ("mixed_bfloat16", 0.0)])
def test_mixed_precision_steps_are_finite_with_float32_losses(policy, loss_scale):
    trainer = mixed_trainer(policy, loss_scale=loss_scale)
    history = trainer(stream(trainer), 10)
    assert trainer.generator.layers[1].compute_dtype == policy.split("_")[1]
    assert all(np.isfinite(history[name]).all() for name in ("d_loss", "g_loss"))


def optimizer_state(trainer):
    """Weights, Adam moments and step counters (BN statistics move in any forward pass)."""
    return [v.numpy().copy() for v in (trainer.g_optimizer.variables + trainer.d_optimizer.variables
                                       + trainer.generator.trainable_variables
                                       + trainer.discriminator.trainable_variables)]


@pytest.mark.device
def test_float16_overflow_is_skipped_then_the_scale_halves_and_regrows():
    trainer = mixed_trainer("mixed_float16", loss_scale=2.0 ** 15, growth=2, steps_per_execution=1)
    iterator = stream(trainer)
    trainer(iterator, 1)
    for scale in (trainer.g_loss_scale, trainer.d_loss_scale):
        scale.scale.assign(3e38)  # scaled gradients overflow
    before = optimizer_state(trainer)
    history = trainer(iterator, 1)
    assert np.isfinite(history["d_loss"]).all()  # the losses themselves are fine
    for a, b in zip(before, optimizer_state(trainer)):
        np.testing.assert_array_equal(a, b)  # weights, Adam moments, iterations untouched
    assert trainer.d_loss_scale.scale.numpy() == np.float32(1.5e38)
    trainer.d_loss_scale.scale.assign(1024.0)
    trainer.g_loss_scale.scale.assign(1024.0)
    trainer(iterator, 1)
    assert trainer.d_loss_scale.scale.numpy() == 1024.0
    assert trainer.d_loss_scale.finite_steps.numpy() == 1
    trainer(iterator, 1)
    assert trainer.d_loss_scale.scale.numpy() == 2048.0  # two finite steps in a row
    assert trainer.d_loss_scale.finite_steps.numpy() == 0
    assert trainer.d_optimizer.iterations.numpy() == 3


def bias_before_batchnorm(model):
    layers = model.layers
    return {a.bias.path for a, b in zip(layers, layers[1:])
            if isinstance(b, BatchNormalization) and getattr(a, "bias", None) is not None}


@pytest.mark.device
def test_float16_loss_scale_agrees_across_two_replicas_and_is_checkpointed(tmp_path):
    runs = []
    for strategy in (one_device(), two_replica_mirrored()):
        gan = mixed_gan("mixed_float16", strategy, loss_scale=2.0 ** 15, growth=2,
                        steps_per_execution=3)
        trainer = Steps(gan, BATCH)
        trainer(stream(trainer), 3)
        runs.append((gan, trainer))
    (single_gan, single), (_, mirrored) = runs
    assert single.d_loss_scale.scale.numpy() == mirrored.d_loss_scale.scale.numpy() == 2.0 ** 16
    # A bias feeding BatchNormalization has an exactly-zero gradient: in float16 it is rounding
    # noise, which Adam scales up to a full step, different on each device layout.
    for model in ("generator", "discriminator"):
        noise_only = bias_before_batchnorm(getattr(single, model))
        for a, b in zip(getattr(single, model).variables, getattr(mirrored, model).variables):
            if a.path not in noise_only:
                np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-2, atol=1e-4)
    path = run_checkpoint.training_checkpoint(single_gan).save(str(tmp_path / "ckpt"))
    resumed = mixed_gan("mixed_float16", loss_scale=2.0 ** 15, growth=2)
    restore(resumed, path)
    assert resumed.d_loss_scale.scale.numpy() == 2.0 ** 16
    assert resumed.d_loss_scale.finite_steps.numpy() == single.d_loss_scale.finite_steps.numpy()


@pytest.mark.device
def test_divergence_guard_still_catches_real_nan_under_float16():
    gan = mixed_gan("mixed_float16", loss_scale=2.0 ** 15, steps_per_execution=2)
    gan.discriminator.layers[-1].kernel.assign(
        np.full(gan.discriminator.layers[-1].kernel.shape, np.nan, np.float32))
    with pytest.raises(DivergenceError, match="training diverged"):
        gan.fit(IMAGES, batch_size=BATCH, epochs=1, verbose=0, max_steps=4)


def test_fused_loop_traces_once_whatever_the_step_count():
    trainer = make_trainer(steps_per_execution=8)
    iterator = stream(trainer)
    for steps in (3, 8, 5, 8, 1):
        trainer(iterator, steps)
    assert trainer.function.experimental_get_tracing_count() == 1
    assert trainer.gan.step.numpy() == 25


@pytest.mark.device
def test_fused_xla_calls_match_single_xla_step_calls():
    """Under XLA the step's random numbers come from XLA's kernels: a run repeats exactly with
    the same jit_compile, not across it."""
    weights = []
    for steps, jit in ((1, True), (5, True)):
        trainer = make_trainer(d_batchnorm=False, steps_per_execution=steps, jit_compile=jit)
        trainer(stream(trainer), 10)
        weights.append(snapshot(trainer.generator) + snapshot(trainer.discriminator))
    for a, b in zip(*weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


OBJECTIVE_CASES = [("bce", "none"), ("least_squares", "none"), ("hinge", "none"),
                   ("wasserstein", "gradient"), ("bce", "r1"), ("hinge", "gradient")]


@pytest.mark.parametrize("objective, penalty", OBJECTIVE_CASES)
def test_every_objective_and_penalty_matches_across_two_replicas(objective, penalty):
    runs = []
    for strategy in (one_device(), two_replica_mirrored()):
        trainer = make_trainer(strategy, d_batchnorm=penalty == "none", objective=objective,
                               penalty=penalty, steps_per_execution=3)
        history = trainer(stream(trainer), 3)
        runs.append((history, snapshot(trainer.generator) + snapshot(trainer.discriminator)))
    (single, single_weights), (mirrored, mirrored_weights) = runs
    assert set(single) >= set(trainer.metric_names)
    assert ("penalty" in trainer.metric_names) == (penalty != "none")
    for name in trainer.metric_names:
        np.testing.assert_allclose(mirrored[name], single[name], rtol=1e-4, atol=1e-6)
    for a, b in zip(single_weights, mirrored_weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("penalty", ["gradient", "r1"])
def test_d_loss_adds_the_weighted_penalty(penalty):
    losses, expected = {}, {}
    for weight in (0.0, 3.0):
        trainer = make_trainer(d_batchnorm=False, objective="wasserstein", penalty=penalty,
                               penalty_weight=weight)
        element = next(stream(trainer))
        fake = trainer.generator(step_noise(0, "d"), training=False)
        critic = lambda x: trainer.discriminator(x, training=True)  # noqa: E731
        expected[weight] = np.mean(penalties.PENALTIES[penalty](
            critic, element, fake, step_uniforms("alpha")))
        losses[weight] = tf.function(trainer.d_update)(element, fake)
    np.testing.assert_allclose(float(losses[3.0]["penalty"]), expected[3.0], rtol=1e-4)
    np.testing.assert_allclose(float(losses[3.0]["d_loss"]),
                               float(losses[0.0]["d_loss"]) + 3.0 * expected[3.0], rtol=1e-4)


@pytest.mark.parametrize("warmup, beta", [(10.0, 0.4), (4.0, 0.7)])
def test_ema_of_g_equals_the_closed_form(warmup, beta):
    """w_ema <- d_n w_ema + (1 - d_n) w after step n, d_n = min(beta, (1 + n) / (K + n)), for
    weights and BN statistics: the warm-up rate for the first steps, beta after (TF's K = 10:
    steps 0-4, then 0.4 from 6/15; K = 4: steps 0-5, then 0.7 from 7/10)."""
    trainer = make_trainer(g_ema_decay=beta, g_ema_warmup=warmup)
    iterator = stream(trainer)
    expected = snapshot(trainer.generator)
    for n in range(8):
        trainer(iterator, 1)
        d = min(beta, (1 + n) / (warmup + n))
        expected = [d * e + (1 - d) * w for e, w in zip(expected, snapshot(trainer.generator))]
    for want, got in zip(expected, snapshot(trainer.gan.generator_ema)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert any(changed(expected, trainer.generator))  # the average is not the last iterate


def test_ema_checkpoint_resumes_and_an_old_checkpoint_without_it_starts_the_average(tmp_path):
    gan = make_gan(g_ema_decay=0.9)
    trainer = Steps(gan, BATCH)
    trainer(stream(trainer), 3)
    path = run_checkpoint.training_checkpoint(gan).save(str(tmp_path / "with" / "ckpt"))
    resumed = make_gan(g_ema_decay=0.9)
    restore(resumed, path)
    assert gan.sampling_generator is gan.generator_ema
    for a, b in zip(snapshot(gan.generator_ema), snapshot(resumed.generator_ema)):
        np.testing.assert_array_equal(a, b)

    old = make_gan()  # a run directory from before EMA existed
    old_step = Steps(old, BATCH)
    old_step(stream(old_step), 3)
    old_path = run_checkpoint.training_checkpoint(old).save(str(tmp_path / "without" / "ckpt"))
    upgraded = make_gan(g_ema_decay=0.9)
    restore(upgraded, old_path)
    assert upgraded.step.numpy() == 3
    for a, b in zip(snapshot(old.generator), snapshot(upgraded.generator_ema)):
        np.testing.assert_array_equal(a, b)


def spectral_models():
    from keras_gan.models import spectral_normalized

    generator, discriminator = tiny_models(d_batchnorm=False)
    return generator, spectral_normalized(discriminator)


def test_frozen_spectrally_normalised_d_does_not_move_in_g_step():
    trainer = Steps(make_gan(models=spectral_models, objective="hinge"), BATCH)
    names = [v.path for v in trainer.discriminator.variables]
    assert sum("vector_u" in name for name in names) == 2  # both Dense layers wrapped
    element = next(stream(trainer))
    before = snapshot(trainer.discriminator)
    tf.function(lambda e: trainer.g_update(e)[0])(element)
    assert not any(changed(before, trainer.discriminator))
    tf.function(lambda e: trainer.d_update(e))(element)
    moved = dict(zip(names, changed(before, trainer.discriminator)))
    # Kernels, biases and the power iteration; the output layer's u is 1 x 1, always 1.
    assert all(moved[name] for name, value in zip(names, before) if value.size > 1)


def test_spectral_norm_divides_each_kernel_by_its_largest_singular_value():
    trainer = Steps(make_gan(models=spectral_models, objective="hinge", optimizers=lambda: (
        keras.optimizers.SGD(0.0), keras.optimizers.SGD(0.0))), BATCH)
    iterator = stream(trainer)
    for _ in range(20):  # the power iteration converges over calls
        trainer(iterator, 1)
    inputs = np.random.RandomState(0).randn(5, 16).astype(np.float32)
    layer = next(layer for layer in trainer.discriminator.layers if hasattr(layer, "vector_u"))
    kernel, bias = layer.layer.kernel.numpy(), layer.layer.bias.numpy()
    expected = inputs @ (kernel / np.linalg.svd(kernel, compute_uv=False)[0]) + bias
    np.testing.assert_allclose(layer(inputs).numpy(), expected, rtol=1e-3, atol=1e-5)


def test_optimal_discriminator_for_a_fixed_generator():
    """Goodfellow et al. 2014, Proposition 1: for fixed G, D* = p_data / (p_data + p_g)."""
    def pdf(x, mean, std):
        return np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * np.sqrt(2 * np.pi))

    data_mean, data_std, g_mean, g_std = -1.0, 0.5, 1.0, 1.0
    points = np.random.RandomState(0).normal(data_mean, data_std, (20000, 1)).astype(np.float32)

    def models():
        keras.utils.set_random_seed(0)
        z = keras.Input((1,))
        fixed = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(g_std),
                                   bias_initializer=keras.initializers.Constant(g_mean))
        x = keras.Input((1,))
        h = keras.layers.Dense(32, activation="tanh")(x)
        h = keras.layers.Dense(32, activation="tanh")(h)
        return (keras.Model(z, fixed(z)),
                keras.Model(x, keras.layers.Dense(1)(h)))

    trainer = Steps(make_gan(models=models, steps_per_execution=100, optimizers=lambda: (
        keras.optimizers.SGD(0.0), keras.optimizers.Adam(3e-3))), 256)
    spec = inputs.StreamSpec(256)
    iterator = iter(trainer.strategy.distribute_datasets_from_function(
        lambda context: inputs.training_stream(points, spec, 0, context)))
    trainer(iterator, 3000)
    grid = np.linspace(-2.0, 2.0, 41, dtype=np.float32)[:, None]
    p_data, p_g = pdf(grid, data_mean, data_std), pdf(grid, g_mean, g_std)
    optimal = p_data / (p_data + p_g)
    learned = tf.sigmoid(trainer.discriminator(grid)).numpy()
    assert np.abs(learned - optimal).max() < 0.06, np.abs(learned - optimal).max()


def test_every_objective_with_every_penalty_trains_and_exports(tmp_path):
    from keras_gan import export

    for objective in objectives.OBJECTIVES:
        for penalty in penalties.PENALTIES:
            trainer = make_trainer(d_batchnorm=False, objective=objective, penalty=penalty,
                                   steps_per_execution=2)
            history = trainer(stream(trainer), 2)
            for name in trainer.metric_names:
                assert np.isfinite(history[name]).all(), (objective, penalty, name)
    export.export_generator(trainer.generator, str(tmp_path / "generator"), "normal", (-1, 1))
    loaded = tf.saved_model.load(str(tmp_path / "generator"))
    assert loaded.sample(tf.constant(3))["images"].shape == (3, *IMAGE_SHAPE)


@pytest.mark.device
def test_gradient_penalty_under_bfloat16_mixed_precision_is_finite():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        trainer = make_trainer(d_batchnorm=False, objective="wasserstein", penalty="gradient",
                               steps_per_execution=3)
        history = trainer(stream(trainer), 3)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert np.isfinite(history["penalty"]).all() and (history["penalty"] > 0).all()


def test_top_k_g_step_learns_only_from_the_fakes_d_scores_most_real():
    trainer = make_trainer(d_batchnorm=False, g_top_k=0.5, g_top_k_decay=0.1)
    trainer.g_optimizer.iterations.assign(1)  # kept fraction max(0.5, 0.1 ** 1): half the batch
    element = next(stream(trainer))
    g_state = snapshot(trainer.generator)
    g_vars = trainer.generator.trainable_variables
    with tf.GradientTape() as tape:
        logits = trainer.discriminator(trainer.generator(step_noise(0, "g"), training=True))
        best = tf.argsort(tf.reshape(logits, [-1]), direction="DESCENDING")[:BATCH // 2]
        loss = tf.reduce_mean(tf.gather(objectives.bce().g_losses(logits), best))
    expected = [(v - 0.1 * g).numpy() for v, g in zip(g_vars, tape.gradient(loss, g_vars))]
    for variable, value in zip(trainer.generator.variables, g_state):
        variable.assign(value)  # undo the reference's BatchNorm statistics
    metrics = tf.function(lambda e: trainer.g_update(e)[0])(element)
    np.testing.assert_allclose(float(metrics["g_loss"]), loss.numpy(), rtol=1e-5)
    for want, got in zip(expected, g_vars):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)


def test_top_k_matches_across_two_replicas():
    runs = []
    for strategy in (one_device(), two_replica_mirrored()):
        trainer = make_trainer(strategy, g_top_k=0.25, g_top_k_decay=0.5, steps_per_execution=4)
        history = trainer(stream(trainer), 4)
        runs.append((history["g_loss"], snapshot(trainer.generator)))
    (single, single_weights), (mirrored, mirrored_weights) = runs
    np.testing.assert_allclose(mirrored, single, rtol=1e-4, atol=1e-6)
    for a, b in zip(single_weights, mirrored_weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


def test_top_k_flags_out_of_range_fail_with_one_line():
    from keras_gan.errors import KerasGanError

    for bad in ({"g_top_k": 0.0}, {"g_top_k": 1.5}, {"g_top_k_decay": 0.0}):
        with pytest.raises(KerasGanError, match="g_top_k="):
            TrainingOptions(**bad)


def test_accumulated_micro_batches_give_the_update_of_one_batch_of_them_all():
    """k = 2 batches of 8 against one batch of 16, for G's and D's update, without batch
    statistics: equal within float32 summation order (BatchNormalization would normalise each
    micro-batch by its own statistics, so it differs by design)."""
    def models():
        return tiny_models(d_batchnorm=False, g_batchnorm=False)

    micro = Steps(make_gan(models=models, accumulate_steps=2), BATCH)

    class Joined(GAN):
        """Draws for its batch of 16 the noise micro draws for its two batches of 8."""

        def noise(self, batch_size, update="g", batch=0):
            return tf.concat([micro.gan.noise(batch_size // 2, update, i) for i in (0, 1)], 0)

    with one_device().scope():
        whole = Steps(Joined(*models()).compile(keras.optimizers.SGD(0.1),
                                                keras.optimizers.SGD(0.1)), 2 * BATCH)
    iterator = stream(micro)
    elements = [next(iterator), next(iterator)]
    joined = tf.concat(elements, 0)
    g_metrics, fakes = tf.function(micro.g_update)(elements)
    whole_metrics, whole_fakes = tf.function(whole.g_update)(joined)
    np.testing.assert_allclose(float(g_metrics["g_loss"]), float(whole_metrics["g_loss"]),
                               rtol=1e-6)
    tf.function(micro.d_update)(elements, fakes)
    tf.function(whole.d_update)(joined, whole_fakes)
    for model in ("generator", "discriminator"):
        for a, b in zip(snapshot(getattr(micro, model)), snapshot(getattr(whole, model))):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


@pytest.mark.device
def test_accumulation_matches_across_two_replicas_and_takes_k_batches_a_step():
    runs = []
    for strategy in (one_device(), two_replica_mirrored()):
        trainer = make_trainer(strategy, d_batchnorm=False, accumulate_steps=3, d_steps=2,
                               order="d_first", steps_per_execution=2)
        iterator = stream(trainer)
        history = trainer(iterator, 2)
        runs.append((history, snapshot(trainer.generator) + snapshot(trainer.discriminator)))
    (single, single_weights), (mirrored, mirrored_weights) = runs
    np.testing.assert_allclose(mirrored["d_loss"], single["d_loss"], rtol=1e-5, atol=1e-6)
    for a, b in zip(single_weights, mirrored_weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    assert trainer.d_optimizer.iterations.numpy() == 4  # two steps of two D updates
    gan = make_gan(d_batchnorm=False, accumulate_steps=4, d_steps=2)
    history = gan.fit(IMAGES, batch_size=BATCH, epochs=1, verbose=0)  # 8 batches: one step
    assert int(gan.step.numpy()) == 1 and len(history.history["d_loss"]) == 1
