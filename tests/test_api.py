"""The public API as a user meets it: keras_gan.GAN(...).compile(...).fit(...) on the user's
own Keras models and data, with Keras's and keras_gan's callbacks."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gan
from keras_gan.errors import KerasGanError
from tests.conftest import two_replica_mirrored

SHAPE, Z_DIM, CLASSES = (4, 4, 1), 3, 3
EXAMPLES = np.random.RandomState(0).uniform(-1, 1, (96, *SHAPE)).astype(np.float32)
LABELS = np.random.RandomState(1).randint(0, CLASSES, 96)


def user_models(seed=0, conditional=False, g_shape=SHAPE, logits=1):
    """A G and a D the way a user writes them: functional Keras, nothing from keras_gan."""
    keras.utils.set_random_seed(seed)
    z = keras.Input((Z_DIM,))
    g_in = z
    if conditional:
        label = keras.Input((), dtype="int32")
        g_in = keras.layers.Concatenate()([z, keras.layers.Flatten()(
            keras.layers.Embedding(CLASSES, 2)(label))])
    h = keras.layers.Dense(8, activation="relu")(g_in)
    x = keras.layers.Reshape(g_shape)(keras.layers.Dense(int(np.prod(g_shape)),
                                                         activation="tanh")(h))
    generator = keras.Model([z, label] if conditional else z, x)
    image = keras.Input(SHAPE)
    h = keras.layers.Dense(8)(keras.layers.Flatten()(image))
    if conditional:
        d_label = keras.Input((), dtype="int32")
        h = keras.layers.Concatenate()([h, keras.layers.Flatten()(
            keras.layers.Embedding(CLASSES, 2)(d_label))])
    logit = keras.layers.Dense(logits)(keras.layers.LeakyReLU(0.2)(h))
    discriminator = keras.Model([image, d_label] if conditional else image, logit)
    return generator, discriminator


def dataset(batch=16, labelled=False):
    parts = (EXAMPLES, LABELS) if labelled else EXAMPLES
    return tf.data.Dataset.from_tensor_slices(parts).shuffle(96, seed=0).batch(batch)


class StepRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches, self.epochs = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append((batch, dict(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append((epoch, dict(logs)))


def test_fit_on_a_dataset_drives_keras_callbacks_and_returns_epoch_means(tmp_path):
    gan = keras_gan.GAN(*user_models()).compile(objective="hinge", steps_per_execution=4)
    recorder = StepRecorder()
    csv_path = str(tmp_path / "history.csv")
    history = gan.fit(dataset(), epochs=2, verbose=0,
                      callbacks=[recorder, keras.callbacks.CSVLogger(csv_path)])
    assert [batch for batch, _ in recorder.batches] == list(range(6)) * 2  # 96 / 16 per epoch
    assert set(recorder.batches[0][1]) == {"d_loss", "g_loss", "d_real", "d_fake",
                                           "d_fake_after"}
    first_epoch = np.mean([logs["d_loss"] for _, logs in recorder.batches[:6]])
    assert history.history["d_loss"][0] == pytest.approx(first_epoch, rel=1e-6)
    assert len(history.history["g_loss"]) == 2
    rows = open(csv_path).read().splitlines()
    assert rows[0].startswith("epoch,") and len(rows) == 3


def test_a_partial_last_batch_is_skipped():
    gan = keras_gan.GAN(*user_models()).compile()
    recorder = StepRecorder()
    gan.fit(dataset(batch=40), epochs=1, verbose=0, callbacks=[recorder])  # 40, 40, 16
    assert len(recorder.batches) == 3 and int(gan.step.numpy()) == 3


def test_numpy_data_conditional_sample_and_export(tmp_path):
    gan = keras_gan.GAN(*user_models(conditional=True)).compile(g_ema_decay=0.9)
    assert gan.num_classes == CLASSES  # read from G's Embedding
    gan.fit(EXAMPLES, LABELS, batch_size=16, epochs=1, verbose=0)
    sevens = gan.sample(5, labels=2, seed=0)
    assert sevens.shape == (5, *SHAPE) and np.all(np.abs(sevens) <= 1)
    np.testing.assert_array_equal(gan.sample(5, labels=2, seed=0), sevens)
    np.testing.assert_allclose(gan.class_prior, np.bincount(LABELS, minlength=CLASSES) / 96)
    gan.export(str(tmp_path / "generator"))
    loaded = tf.saved_model.load(str(tmp_path / "generator"))
    drawn = loaded.sample(num=tf.constant(4), seed=tf.constant(0), label=tf.constant(1))
    assert drawn["images"].shape == (4, *SHAPE)
    assert int(loaded.info()["num_classes"]) == CLASSES


def test_sample_grid_needs_only_a_directory(tmp_path):
    gan = keras_gan.GAN(*user_models()).compile()
    gan.fit(dataset(), epochs=2, verbose=0,
            callbacks=[keras_gan.callbacks.SampleGrid(str(tmp_path / "samples"))])
    assert sorted(os.listdir(tmp_path / "samples")) == ["step_0000006.png", "step_0000012.png"]


def test_early_stopping_on_a_logged_value_stops_training():
    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    gan = keras_gan.GAN(*user_models()).compile()
    assert len(gan.fit(dataset(), epochs=5, verbose=0,
                       callbacks=[StopAfterFirstEpoch()]).history["d_loss"]) == 1
    # Keras's own rule on a logged value: a baseline D's loss never reaches stops it early.
    stop = keras.callbacks.EarlyStopping(monitor="d_loss", mode="min", patience=0,
                                         baseline=-1e9)
    history = keras_gan.GAN(*user_models()).compile().fit(dataset(), epochs=6, verbose=0,
                                                          callbacks=[stop])
    assert 0 < stop.stopped_epoch < 5
    assert len(history.history["d_loss"]) == stop.stopped_epoch + 1


def test_backup_and_restore_resumes_exactly(tmp_path):
    def train(epochs, directory):
        gan = keras_gan.GAN(*user_models(seed=3)).compile(g_ema_decay=0.9)
        gan.fit(dataset(), epochs=epochs, verbose=0, seed=5,
                callbacks=[keras_gan.callbacks.RunCheckpoint(directory, every_n_steps=4)])
        return gan

    straight = train(2, str(tmp_path / "straight"))
    train(1, str(tmp_path / "split"))
    resumed = train(2, str(tmp_path / "split"))
    assert int(resumed.step.numpy()) == 12
    for a, b in zip(straight.weights + straight.sampling_generator.weights,
                    resumed.weights + resumed.sampling_generator.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.device
def test_fit_under_a_mirrored_strategy_scope():
    with two_replica_mirrored().scope():
        gan = keras_gan.GAN(*user_models()).compile()
    before = [w.numpy().copy() for w in gan.discriminator.weights]
    gan.fit(dataset(), epochs=1, verbose=0)
    assert gan.distribute_strategy.num_replicas_in_sync == 2
    assert all(not np.array_equal(a, w.numpy()) for a, w in zip(before, gan.discriminator.weights))


@keras_gan.objectives.register("test_least_squares")
def least_squares(real_logits, fake_logits):
    return (real_logits - 1.0) ** 2 + fake_logits ** 2, (fake_logits - 1.0) ** 2


class Margin(keras_gan.objectives.Objective):
    """An objective with a logged value of its own."""

    summary_names = ("d_real", "d_fake", "margin")

    def d_losses(self, real, fake, real_labels):
        return tf.nn.relu(1.0 - tf.reshape(real, [-1])), tf.nn.relu(1.0 + tf.reshape(fake, [-1]))

    def g_losses(self, fake):
        return -tf.reshape(fake, [-1])

    def summaries(self, real, fake):
        return {**super().summaries(real, fake),
                "margin": tf.reshape(real, [-1]) - tf.reshape(fake, [-1])}


keras_gan.objectives.register("test_margin")(Margin)


def test_a_registered_objective_trains_and_logs_its_own_values():
    gan = keras_gan.GAN(*user_models()).compile(objective="test_least_squares")
    history = gan.fit(dataset(), epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["d_loss"]))
    # The function's D loss is the sum of its halves, halved by the default mean reduction.
    d_real, d_fake = history.history["d_real"][-1], history.history["d_fake"][-1]
    assert d_real > d_fake  # D learnt to tell them apart
    margin = keras_gan.GAN(*user_models()).compile(objective="test_margin")
    recorder = StepRecorder()
    margin.fit(dataset(), epochs=1, verbose=0, callbacks=[recorder])
    logs = recorder.batches[-1][1]
    assert logs["margin"] == pytest.approx(logs["d_real"] - logs["d_fake"], rel=1e-4, abs=1e-6)


@keras_gan.penalties.register("test_zero_centred")
def zero_centred(discriminator, real, fake):
    with tf.GradientTape() as tape:
        tape.watch(real)
        total = tf.reduce_sum(discriminator(real))
    return tf.reduce_sum(tf.square(tape.gradient(total, real)), axis=[1, 2, 3])


def test_a_registered_penalty_is_logged():
    gan = keras_gan.GAN(*user_models()).compile(penalty="test_zero_centred", penalty_weight=1.0)
    history = gan.fit(dataset(), epochs=1, verbose=0)
    assert history.history["penalty"][0] > 0


@pytest.mark.parametrize("build, call, message", [
    (lambda: user_models(g_shape=(16, 1)), lambda gan: None,
     r"G's output shape \(16, 1\) is not D's input shape \(4, 4, 1\)"),
    (lambda: user_models(logits=2), lambda gan: None,
     "discriminator: expected one logit per example"),
    (user_models, lambda gan: gan.compile().fit(EXAMPLES[0]),
     r"x: examples of shape \(4, 1\); expected D's input shape \(4, 4, 1\)"),
    (user_models, lambda gan: gan.compile().fit(dataset().unbatch()),
     "x: an unbatched dataset"),
    (user_models, lambda gan: gan.fit(dataset()), r"GAN.fit: call compile\(\) first"),
    (user_models, lambda gan: gan.compile(objective="nope"), "objective=nope: expected one of"),
    (user_models, lambda gan: gan.compile(order="simultaneous", d_steps=2),
     "expected d_steps=1"),
    (lambda: user_models(conditional=True), lambda gan: gan.compile().fit(EXAMPLES),
     "y: G is conditional"),
    (lambda: user_models(conditional=True), lambda gan: gan.compile().fit(EXAMPLES, LABELS + 1),
     r"y: labels 1..3 \(int64\); expected integers in \[0, 3\)"),
    (lambda: user_models(conditional=True), lambda gan: gan.compile().fit(dataset()),
     "expected a dataset of \\(examples, labels\\)"),
])
def test_bad_models_or_data_fail_with_one_value_error(build, call, message):
    with pytest.raises(ValueError, match=message) as raised:
        call(keras_gan.GAN(*build()))
    assert isinstance(raised.value, KerasGanError)


LIBRARY_RUN = """
import sys
from keras_gan import config, errors, runner
values = dict(data_dir=sys.argv[1], run_dir=sys.argv[2], max_steps=3, batch_size=16,
              steps_per_execution=3, sample_every=3, log_every=3, checkpoint_every=3)
try:
    runner.train(config.from_values({**values, "batch_size": 0}), None, 28)
except errors.KerasGanError as error:
    print("error:", error)
run = config.from_values(values)
runner.train(run, lambda split: runner.load_data(run, split, 28), 28)
assert "absl.flags" not in sys.modules or not __import__("absl.flags").flags.FLAGS.is_parsed()
"""


def test_the_library_trains_a_run_config_without_any_flags(mnist_dir, tmp_path):
    import subprocess
    import sys

    run_dir = tmp_path / "run"
    result = subprocess.run([sys.executable, "-c", LIBRARY_RUN, mnist_dir, str(run_dir)],
                            capture_output=True, text=True, timeout=300,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert result.returncode == 0, result.stderr[-3000:]
    # The library names its own parameter; the programs print it as the flag that sets it.
    assert "error: batch_size=0: expected a positive integer" in result.stdout
    assert len((run_dir / "history.csv").read_text().splitlines()) == 4
    assert (run_dir / "generator" / "saved_model.pb").exists()


def test_errors_name_flags_in_the_programs():
    from keras_gan.errors import as_flags

    flags = {"batch_size", "steps_per_execution", "order", "d_steps", "run_dir"}
    assert as_flags("order=simultaneous updates both: expected d_steps=1, not 2",
                    flags) == "--order=simultaneous updates both: expected --d_steps=1, not 2"
    assert as_flags("batch_size=7: no; steps_per_execution=0; run_dir=/a/b=c x.y=1 "
                    "unknown=3", flags) == (
        "--batch_size=7: no; --steps_per_execution=0; --run_dir=/a/b=c x.y=1 unknown=3")


def test_a_frozen_keras_batchnorm_still_normalises_with_the_batch():
    """Keras's own BatchNormalization in a user's model: frozen for the other network's update,
    it must not switch to its moving statistics (the references normalise with the batch)."""
    from keras_gan.training_step import frozen

    keras.utils.set_random_seed(0)
    image = keras.Input(SHAPE)
    h = keras.layers.BatchNormalization()(keras.layers.Dense(8)(keras.layers.Flatten()(image)))
    discriminator = keras.Model(image, keras.layers.Dense(1)(h))
    x = EXAMPLES[:16] * 3.0 + 1.0  # far from the fresh moving statistics (0, 1)
    batch_normalised = discriminator(x, training=True).numpy()
    with frozen(discriminator):
        assert not discriminator.trainable_weights or all(
            isinstance(layer, keras.layers.BatchNormalization) for layer in discriminator.layers
            if layer.trainable_weights)
        frozen_output = discriminator(x, training=True).numpy()
    np.testing.assert_allclose(frozen_output, batch_normalised, rtol=1e-5, atol=1e-6)
    assert not np.allclose(discriminator(x, training=False).numpy(), batch_normalised, atol=1e-3)
    assert discriminator.trainable  # unfrozen after


def test_a_gan_is_a_keras_model_summary_and_weights_round_trip(tmp_path):
    gan = keras_gan.GAN(*user_models()).compile()
    gan.summary(print_fn=lambda *args, **kwargs: None)
    before = [w.numpy().copy() for w in gan.weights]
    gan.save_weights(str(tmp_path / "gan.weights.h5"))
    for weight in gan.weights:
        weight.assign(np.zeros(weight.shape, weight.dtype))
    gan.load_weights(str(tmp_path / "gan.weights.h5"))
    # G's, D's, G's average and the GAN's own state: the step, two loss scales of two
    # variables each, ADA's three and whether the average is kept
    assert len(before) == (2 * len(gan.generator.weights) + len(gan.discriminator.weights)
                           + 1 + 4 + 3 + 1)
    for a, w in zip(before, gan.weights):
        np.testing.assert_array_equal(w.numpy(), a)
