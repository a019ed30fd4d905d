"""Augmentation of D's inputs (DiffAugment, ADA): the transforms, their gradients, ADA's p, and
training with them exactly as without: per (seed, step), over replicas, resumed."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gan
from keras_gan import augment
from keras_gan.errors import KerasGanError
from tests.conftest import Steps, one_device, two_replica_mirrored
from tests.test_step import BATCH, IMAGES, make_gan, snapshot, stream


def uniforms(n, **columns):
    """(n, RANDOM_NUMBERS) uniforms at 0.5 (the identity of every colour transform) but for
    the given columns."""
    u = np.full((n, augment.RANDOM_NUMBERS), 0.5, np.float32)
    for column, value in columns.items():
        u[:, int(column[1:])] = value
    return tf.constant(u)


def test_translation_shifts_by_whole_pixels_and_fills_zeros():
    image = np.arange(1, 8 * 16 + 1, dtype=np.float32).reshape(1, 8, 16, 1)  # not square
    # u0 = 0: the largest upward shift (-1 of 8 rows), u1 = 1 - eps: right by 2 of 16 columns.
    moved = augment.translation(tf.constant(image), uniforms(1, u0=0.0, u1=0.999)).numpy()
    expected = np.zeros_like(image)
    expected[0, :7, 2:] = image[0, 1:, :14]
    np.testing.assert_array_equal(moved, expected)


def test_cutout_zeros_a_rectangle_of_half_the_size():
    images = tf.ones((1, 8, 8, 1))
    cut = augment.cutout(images, uniforms(1, u2=0.5, u3=0.5)).numpy()[0, :, :, 0]
    assert cut.sum() == 64 - 16 and cut[2:6, 2:6].sum() == 0


def test_colour_at_half_is_the_identity_and_ada_at_p_zero_leaves_images_alone():
    images = tf.random.uniform((4, 8, 8, 3), -1, 1, seed=1)
    np.testing.assert_allclose(augment.color(images, uniforms(4)).numpy(), images.numpy(),
                               atol=1e-6)
    random = tf.random.uniform((4, augment.RANDOM_NUMBERS), seed=2)
    ada = augment.AdaptiveAugment()
    np.testing.assert_array_equal(ada(images, random, 0.0).numpy(), images.numpy())
    assert not np.allclose(ada(images, random, 1.0).numpy(), images.numpy())


@pytest.mark.parametrize("name", ["diffaugment", "ada:xflip,translation,scaling,cutout,"
                                                 "brightness,contrast,saturation"])
def test_augmentations_are_differentiable(name):
    images = tf.Variable(tf.random.uniform((4, 12, 8, 3), -1, 1, seed=3))
    random = tf.random.uniform((4, augment.RANDOM_NUMBERS), seed=4)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(augment.make_augmentation(name)(images, random, 1.0)))
    gradient = tape.gradient(loss, images).numpy()
    assert np.isfinite(gradient).all() and np.abs(gradient).sum() > 0


def test_unknown_names_fail_with_the_choices():
    with pytest.raises(KerasGanError, match="expected some of color, translation, cutout"):
        augment.make_augmentation("diffaugment:colour")
    with pytest.raises(KerasGanError, match="augment=nope: expected one of none, diffaugment"):
        keras_gan.GAN(*tiny()).compile(augment="nope")


def tiny():
    from tests.test_step import tiny_models

    return tiny_models(d_batchnorm=False)


@pytest.mark.device
@pytest.mark.parametrize("name", ["diffaugment", "ada"])
def test_two_replicas_and_fused_calls_match_one_device(name):
    runs = []
    for strategy, steps in ((one_device(), 1),
                            (two_replica_mirrored(), 3)):
        gan = make_gan(strategy, d_batchnorm=False, augment=name, ada_target=-1.0,
                       ada_interval=1, ada_speed_images=100, steps_per_execution=steps)
        trainer = Steps(gan, BATCH)
        history = trainer(stream(trainer), 6)
        runs.append((history, snapshot(gan.generator) + snapshot(gan.discriminator)))
    (single, single_weights), (mirrored, mirrored_weights) = runs
    for key in ("d_loss", "g_loss"):
        np.testing.assert_allclose(mirrored[key], single[key], rtol=1e-4, atol=1e-6)
    for a, b in zip(single_weights, mirrored_weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    if name == "ada":  # p moves by sign(r_t - (-1)) * 8 images / 100 after each step
        moves = 0.08 * np.sign(single["d_real_sign"][:-1] + 1.0)
        np.testing.assert_allclose(single["augment_p"], np.concatenate([[0], np.cumsum(moves)]),
                                   atol=1e-6)
        assert single["augment_p"][-1] > 0


def test_g_learns_through_the_augmentation():
    plain = make_gan(d_batchnorm=False)
    augmented = make_gan(d_batchnorm=False, augment="diffaugment")
    losses = []
    for gan in (plain, augmented):
        trainer = Steps(gan, BATCH)
        element = next(stream(trainer))
        losses.append(float(tf.function(lambda e: trainer.g_update(e)[0])(element)["g_loss"]))
    assert losses[0] != pytest.approx(losses[1], rel=1e-4)  # G's loss saw augmented fakes


def test_adaptive_p_falls_below_target_and_stays_in_range():
    gan = make_gan(d_batchnorm=False, augment="ada", ada_target=1.0, ada_interval=2,
                   ada_speed_images=16)
    gan.augment_probability.p.assign(0.5)
    trainer = Steps(gan, BATCH)
    history = trainer(stream(trainer), 6)
    # r_t < 1: every second step p falls by 8 * 2 / 16 = 1, to 0 and no lower.
    np.testing.assert_allclose(history["augment_p"], [0.5, 0.5, 0.0, 0.0, 0.0, 0.0])


def test_an_augmented_run_resumes_exactly_with_its_p(tmp_path):
    def train(epochs, directory):
        gan = make_gan(d_batchnorm=False, augment="ada", ada_target=-1.0, ada_interval=3,
                       ada_speed_images=500, steps_per_execution=2)
        gan.fit(IMAGES, batch_size=BATCH, epochs=epochs, verbose=0, seed=4,
                callbacks=[keras_gan.callbacks.RunCheckpoint(directory, every_n_steps=4)])
        return gan

    straight = train(2, str(tmp_path / "straight"))
    train(1, str(tmp_path / "split"))
    resumed = train(2, str(tmp_path / "split"))
    assert resumed.augment_probability.p.numpy() == straight.augment_probability.p.numpy() > 0
    for a, b in zip(straight.weights, resumed.weights):
        np.testing.assert_array_equal(b.numpy(), a.numpy())


def test_a_registered_augmentation_conditional_and_bfloat16():
    @augment.register("negate_for_tests")
    def negate(images, uniforms, p):
        return -images

    from tests.test_conditional import tiny_conditional_models

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        gan = keras_gan.GAN(*tiny_conditional_models("projection")).compile(
            augment="negate_for_tests", steps_per_execution=2)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    labels = np.arange(len(IMAGES)) % 3
    history = gan.fit(IMAGES, labels, batch_size=BATCH, epochs=1, verbose=0)
    assert np.isfinite(history.history["d_loss"]).all()


def test_the_programs_augment_and_log_p(mnist_dir, tmp_path):
    from keras_gan.callbacks import read_history
    from tests.conftest import run_module

    run_dir = tmp_path / "run"
    common = ["--flagfile=experiments/configs/gan_pytorch.cfg", f"--data_dir={mnist_dir}",
              f"--run_dir={run_dir}", "--max_steps=4", "--batch_size=16",
              "--steps_per_execution=2"]
    result = run_module("experiments.vanilla", *common, "--augment=ada", "--ada_target=-1",
                        "--ada_interval=1", "--ada_speed_images=64")
    assert result.returncode == 0, result.stderr[-3000:]
    history = read_history(str(run_dir / "history.csv"))
    assert history["augment_p"][0] == 0 and history["augment_p"][-1] > 0
    bad = run_module("experiments.vanilla", *common, "--augment=diffaugment:blur",
                     f"--run_dir={tmp_path / 'bad'}")
    assert bad.returncode == 2 and "--augment=diffaugment:blur: expected some of" in bad.stderr
