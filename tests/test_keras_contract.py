"""`keras_gan.GAN` used as a Keras user uses any `keras.Model`: save and load, Keras's own
callbacks, evaluate and validation data, misuse refused with one clear error."""
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gan
from keras_gan.errors import KerasGanError
from tests.conftest import (BATCH, IMAGES, Z_DIM, InterruptAtEpoch, all_state, assert_same,
                            compiled, fit, tiny_pair)


def test_save_and_load_round_trip_every_part_and_continue_exactly(tmp_path):
    gan = compiled(objective="hinge", g_ema_decay=0.9, g_ema_warmup=4.0)
    fit(gan, 1)
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    loaded = keras.saving.load_model(path)
    assert isinstance(loaded, keras_gan.GAN) and int(loaded.step.numpy()) == 8
    assert loaded.options == gan.options and loaded.generator_ema is not None
    assert_same(all_state(loaded), all_state(gan))  # G, D, the average, both optimisers' slots
    np.testing.assert_array_equal(loaded.sample(5, seed=3), gan.sample(5, seed=3))
    fit(gan, 3)
    fit(loaded, 3)
    assert_same(all_state(loaded), all_state(gan))
    config = gan.get_config()
    assert keras_gan.GAN.from_config(json.loads(json.dumps(config))).z_dim == Z_DIM


def test_a_registered_objective_survives_the_round_trip(tmp_path):
    @keras_gan.objectives.register("squares_for_saving")
    def squares(real_logits, fake_logits):
        return (real_logits - 1) ** 2 + fake_logits ** 2, (fake_logits - 1) ** 2

    gan = compiled(objective="squares_for_saving")
    fit(gan, 1)
    gan.save(str(tmp_path / "gan.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "gan.keras"))
    assert loaded.options.objective == "squares_for_saving"
    fit(gan, 2)
    fit(loaded, 2)
    assert_same(all_state(loaded), all_state(gan))


@keras.saving.register_keras_serializable(package="tests")
def squared_errors(real_logits, fake_logits):
    return (real_logits - 1) ** 2 + fake_logits ** 2, (fake_logits - 1) ** 2


def test_objective_and_penalty_as_plain_functions(tmp_path):
    def zero_penalty(discriminator, real, fake):
        return tf.zeros([tf.shape(real)[0]])

    gan = compiled(objective=squared_errors)
    history = fit(gan, 4)
    assert history.history["d_loss"][-1] < history.history["d_loss"][0]
    gan.save(str(tmp_path / "gan.keras"))  # a serialisable function saves by name
    assert keras.saving.load_model(str(tmp_path / "gan.keras")).options.objective is squared_errors
    with_penalty = compiled(penalty=zero_penalty, penalty_weight=1.0)
    assert "penalty" in fit(with_penalty, 1).history
    with pytest.raises(KerasGanError, match="a lambda cannot be saved"):
        compiled(objective=lambda r, f: (r, f)).save(str(tmp_path / "lambda.keras"))


@pytest.mark.parametrize("weights_only", [False, True])
def test_model_checkpoint_saves_what_restores_the_gan(tmp_path, weights_only):
    suffix = ".weights.h5" if weights_only else ".keras"
    pattern = str(tmp_path / f"ckpt_{{epoch}}{suffix}")
    gan = compiled()
    fit(gan, 2, callbacks=[keras.callbacks.ModelCheckpoint(pattern,
                                                           save_weights_only=weights_only)])
    assert sorted(os.listdir(tmp_path)) == [f"ckpt_1{suffix}", f"ckpt_2{suffix}"]
    if weights_only:
        restored = compiled(seed=5)
        restored.load_weights(pattern.format(epoch=2))
    else:
        restored = keras.saving.load_model(pattern.format(epoch=2))
    assert_same(all_state(restored), all_state(gan))  # G's average and the optimisers too


def test_keras_backup_and_restore_resumes_exactly(tmp_path):
    backup = str(tmp_path / "backup")
    interrupted = compiled()
    with pytest.raises(RuntimeError):
        fit(interrupted, 4,
            callbacks=[InterruptAtEpoch(2), keras.callbacks.BackupAndRestore(backup)])
    resumed = compiled(seed=7)  # other initial weights: the backup must replace them
    history = fit(resumed, 4, callbacks=[keras.callbacks.BackupAndRestore(backup)])
    assert len(history.history["d_loss"]) == 2  # epochs 3 and 4
    uninterrupted = compiled()
    fit(uninterrupted, 4)
    assert_same(all_state(resumed), all_state(uninterrupted))


def test_a_checkpoint_follows_its_steps_other_outputs_and_precedes_their_start(tmp_path):
    """A kill between a step's checkpoint and its history row would lose the row on resume."""
    directory = str(tmp_path / "checkpoints")

    class Witness(keras_gan.callbacks.StepCallback):
        def on_train_begin(self, logs=None):
            super().on_train_begin(logs)
            self.start, self.newest = self.step, []

        def on_step_end(self, step, logs):
            self.newest.append(tf.train.latest_checkpoint(directory))

    witness = Witness()
    callbacks = [keras_gan.callbacks.RunCheckpoint(directory, every_n_steps=4), witness]
    fit(compiled(), 1, callbacks=callbacks, max_steps=8)
    assert witness.start is None
    assert [name and os.path.basename(name) for name in witness.newest] == (
        [None] * 4 + ["ckpt-4"] * 4)
    fit(compiled(seed=3), 1, callbacks=[keras_gan.callbacks.RunCheckpoint(directory), witness])
    assert witness.start == 8  # restored before the witness began


def test_early_stopping_restores_the_best_weights_with_gs_average():
    gan = compiled()
    snapshots = []

    class Snapshot(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append((logs["g_loss"], [w.numpy().copy() for w in gan.weights]))

    stop = keras.callbacks.EarlyStopping(monitor="g_loss", patience=1, mode="max",
                                         restore_best_weights=True)
    fit(gan, 8, callbacks=[Snapshot(), stop])
    best = max(snapshots, key=lambda s: s[0])[1]
    assert len(snapshots) < 8
    names = [w.path for w in gan.weights]
    assert sum(name == names[-1] for name in names) == 2  # G's and its average's last weight
    assert_same([w.numpy() for w in gan.weights], best)


def test_learning_rate_callbacks_act_on_both_optimisers():
    gan = compiled()
    schedule = keras.callbacks.LearningRateScheduler(lambda epoch, rate: rate * 0.5)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="d_loss", mode="max", patience=0,
                                                factor=0.1, min_delta=1e9)
    history = fit(gan, 2, callbacks=[schedule, plateau])
    # Each keeps its own rate: halved at both epochs' start by the schedule, cut 10x by the
    # plateau at the second epoch's end (the first sets its best).
    np.testing.assert_allclose(float(gan.g_optimizer.learning_rate), 1e-3 / 40, rtol=1e-5)
    np.testing.assert_allclose(float(gan.d_optimizer.learning_rate), 2e-3 / 40, rtol=1e-5)
    assert {f"learning_rate_{gan.g_optimizer.name}",
            f"learning_rate_{gan.d_optimizer.name}"} <= set(history.history)
    named = keras_gan.GAN(*tiny_pair()).compile(keras.optimizers.Adam(name="opt"),
                                                keras.optimizers.Adam(name="opt"))
    assert (named.g_optimizer.name, named.d_optimizer.name) == ("g_opt", "d_opt")


def test_tensorboard_and_progress_bar(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    gan = compiled()
    gan.fit(IMAGES, batch_size=BATCH, epochs=1, verbose=1,
            callbacks=[keras.callbacks.TensorBoard(str(tmp_path / "logs"), update_freq=2)])
    assert "8/8" in capsys.readouterr().out
    assert os.listdir(tmp_path / "logs" / "train")


def test_evaluate_scores_real_and_fresh_fakes_without_updating():
    gan = compiled()
    fit(gan, 1)
    before = all_state(gan)
    scores = gan.evaluate(IMAGES, batch_size=BATCH, verbose=0, return_dict=True)
    assert_same(all_state(gan), before)
    assert set(scores) == {"d_loss", "g_loss", "d_real", "d_fake", "divergence"}
    assert gan.evaluate(IMAGES, batch_size=BATCH, verbose=0) == [
        scores[name] for name in gan.evaluation_names]
    # D's mean output on the reals, by hand, in inference mode.
    real = IMAGES.astype(np.float32) / 127.5 - 1.0
    expected = tf.sigmoid(gan.discriminator(real, training=False)).numpy().mean()
    np.testing.assert_allclose(scores["d_real"], expected, rtol=1e-5)


def test_validation_data_is_logged_per_epoch_as_val():
    gan = compiled()
    history = fit(gan, 2, validation_data=(IMAGES[:16],), validation_batch_size=BATCH)
    assert len(history.history["val_d_real"]) == 2
    split = compiled().fit(IMAGES, batch_size=BATCH, epochs=1, verbose=0, validation_split=0.25)
    assert "val_d_loss" in split.history
    with pytest.raises(KerasGanError, match="class_weight"):
        fit(compiled(), 1, class_weight={0: 1.0})


@pytest.mark.parametrize("activation", ["sigmoid", "softmax"])
def test_a_probability_d_is_refused(activation):
    with pytest.raises(ValueError, match="expected a logit"):
        keras_gan.GAN(*tiny_pair(d_activation=activation))


def test_a_g_built_on_a_list_is_called_without_warnings(recwarn):
    gan = keras_gan.GAN(*tiny_pair(g_on_list=True)).compile()
    fit(gan, 1)
    gan.sample(3)
    assert not [w for w in recwarn if "structure" in str(w.message)]


def test_unknown_compile_option_names_the_options():
    with pytest.raises(KerasGanError, match="unknown option.*g_ema"):
        keras_gan.GAN(*tiny_pair()).compile(g_ema=0.9)
