"""`GAN` opened as keras.io teaches ("Customizing what happens in fit()"): `train_step` is what
`fit` trains, its pieces are overridable, Keras's hooks all come, and the state a GAN saves does
not depend on what `compile` was given."""
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gan
from keras_gan.errors import KerasGanError
from keras_gan.options import TrainingOptions
from tests.conftest import (BATCH, IMAGES, Z_DIM, InterruptAtEpoch, assert_same, compiled, fit,
                            tiny_pair, two_replica_mirrored)


def weights_of(model):
    return [v.numpy().copy() for v in model.weights]


def moved(before, model):
    return [not np.array_equal(a, v.numpy()) for a, v in zip(before, model.weights)]


class DiscriminatorOnly(keras_gan.GAN):
    """A whole step written anew: D's update only."""

    def train_step(self, data):
        return self.reduce_logs(self.discriminator_update(data))


def test_an_overridden_train_step_is_what_fit_trains():
    gan = DiscriminatorOnly(*tiny_pair()).compile(steps_per_execution=3)
    g, d = weights_of(gan.generator), weights_of(gan.discriminator)
    history = fit(gan, 1)
    assert not any(moved(g, gan.generator)) and all(moved(d, gan.discriminator))
    assert "d_loss" in history.history and "g_loss" not in history.history
    assert int(gan.step.numpy()) == len(IMAGES) // BATCH


class Doubled(keras_gan.GAN):
    def train_step(self, data):
        logs = super().train_step(data)
        logs["twice_d_loss"] = 2.0 * logs["d_loss"]
        return logs


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("end", batch, dict(logs)))

    def on_test_batch_begin(self, batch, logs=None):
        self.calls.append(("test_begin", batch))

    def on_test_batch_end(self, batch, logs=None):
        self.calls.append(("test_end", batch))


@pytest.mark.device
@pytest.mark.parametrize("strategy", [None, "mirrored"])
def test_super_train_step_gives_the_gans_logs_and_a_subclass_adds_keys(strategy):
    strategy = two_replica_mirrored() if strategy else tf.distribute.get_strategy()
    with strategy.scope():
        gan = Doubled(*tiny_pair()).compile(steps_per_execution=3)
    recorder = Recorder()
    history = fit(gan, 1, callbacks=[recorder])
    ends = [call for call in recorder.calls if call[0] == "end"]
    assert len(ends) == len(IMAGES) // BATCH
    for _, _, logs in ends:
        assert {"d_loss", "g_loss", "d_real"} <= set(logs)
        np.testing.assert_allclose(logs["twice_d_loss"], 2 * logs["d_loss"], rtol=1e-6)
    np.testing.assert_allclose(history.history["twice_d_loss"], 2 * np.array(
        history.history["d_loss"]), rtol=1e-6)


def test_every_step_gets_its_batch_hooks_in_order_and_evaluate_its_test_hooks():
    gan = compiled(steps_per_execution=3)
    recorder = Recorder()
    fit(gan, 1, callbacks=[recorder], validation_data=(IMAGES[:16],),
        validation_batch_size=BATCH)
    steps = len(IMAGES) // BATCH
    train = [call[:2] for call in recorder.calls if call[0] in ("begin", "end")]
    assert train == [(hook, batch) for batch in range(steps) for hook in ("begin", "end")]
    test = [call for call in recorder.calls if call[0].startswith("test")]
    assert test == [("test_begin", 0), ("test_end", 0), ("test_begin", 1), ("test_end", 1)]


def test_tensorboard_batch_scalars_land_at_their_steps(tmp_path):
    pytest.importorskip("tensorboard")
    gan = compiled(steps_per_execution=3)
    fit(gan, 1, callbacks=[keras.callbacks.TensorBoard(str(tmp_path), update_freq=2)])
    directory = tmp_path / "train"
    steps = sorted(event.step for name in os.listdir(directory)
                   for event in tf.compat.v1.train.summary_iterator(str(directory / name))
                   for value in event.summary.value if value.tag == "batch_d_loss")
    assert steps == [2, 4, 6, 8]


def test_the_pieces_of_the_step_are_overridable():
    class NoGLoss(keras_gan.GAN):
        def generator_loss(self, fake_outputs, fake=None, real=None):
            return 0.0 * tf.reduce_sum(fake_outputs)

    gan = NoGLoss(*tiny_pair()).compile()
    g = weights_of(gan.generator)
    history = fit(gan, 1)
    assert history.history["g_loss"] == [0.0]
    assert not any(moved(g[:4], gan.generator))  # G's kernels and biases: no gradient


def test_noise_is_a_function_of_the_seed_the_step_and_the_batch():
    gan = compiled()
    first = gan.noise(BATCH).numpy()
    np.testing.assert_array_equal(gan.noise(BATCH).numpy(), first)
    assert not np.array_equal(gan.noise(BATCH, "d").numpy(), first)
    assert not np.array_equal(gan.noise(BATCH, batch=1).numpy(), first)
    gan.step.assign(1)
    assert not np.array_equal(gan.noise(BATCH).numpy(), first)
    assert first.shape == (BATCH, Z_DIM)
    with pytest.raises(KerasGanError, match="expected 'g' or 'd'"):
        gan.noise(BATCH, "x")


@pytest.mark.parametrize("saved_with, loaded_with", [
    ({"g_ema_decay": 0.9}, {"g_ema_decay": 0.0}),
    ({"g_ema_decay": 0.0}, {"g_ema_decay": 0.9, "augment": "ada"}),
    ({"augment": "ada", "g_ema_decay": 0.0}, {"g_ema_decay": 0.9})])
def test_weights_load_whatever_each_side_was_compiled_with(tmp_path, saved_with, loaded_with):
    source = compiled(**saved_with)
    fit(source, 1)
    path = str(tmp_path / "gan.weights.h5")
    source.save_weights(path)
    target = compiled(seed=5, **loaded_with)
    target.load_weights(path)
    for mine, theirs in ((target.generator, source.generator),
                         (target.discriminator, source.discriminator)):
        assert_same(weights_of(mine), weights_of(theirs))
    assert int(target.step.numpy()) == int(source.step.numpy())
    assert target.averaging == source.averaging
    fit(target, 2)  # training goes on; with an average asked for, it starts at G
    assert target.averaging == bool(loaded_with["g_ema_decay"])


def test_load_model_without_compile_then_a_new_compile_trains(tmp_path):
    gan = compiled(g_ema_decay=0.9)
    fit(gan, 1)
    gan.save(str(tmp_path / "gan.keras"))
    loaded = keras.saving.load_model(str(tmp_path / "gan.keras"), compile=False)
    assert loaded.averaging and loaded.sampling_generator is loaded.generator_ema
    np.testing.assert_array_equal(loaded.sample(4, seed=1), gan.sample(4, seed=1))
    loaded.compile(objective="hinge", penalty="r1")
    assert "penalty" in fit(loaded, 2).history
    assert not loaded.averaging


def test_backup_and_restore_across_other_compile_options(tmp_path):
    backup = str(tmp_path / "backup")
    with pytest.raises(RuntimeError):
        fit(compiled(g_ema_decay=0.9), 2,
            callbacks=[InterruptAtEpoch(1), keras.callbacks.BackupAndRestore(backup)])
    resumed = compiled(seed=3, g_ema_decay=0.0, augment="ada")
    history = fit(resumed, 2, callbacks=[keras.callbacks.BackupAndRestore(backup)])
    assert len(history.history["d_loss"]) == 1 and not resumed.averaging
    assert int(resumed.step.numpy()) == 2 * len(IMAGES) // BATCH


def test_compile_takes_training_options_and_agrees_with_keras():
    gan = keras_gan.GAN(*tiny_pair()).compile(
        options=TrainingOptions(objective="hinge", steps_per_execution=4))
    assert gan.options.objective == "hinge"
    assert gan.steps_per_execution == 4 and gan.jit_compile is False and gan.compiled
    with pytest.raises(KerasGanError, match="options and keywords"):
        gan.compile(options=TrainingOptions(), d_steps=2)
    with pytest.raises(KerasGanError, match="expected a keras_gan.options.TrainingOptions"):
        gan.compile(options={"d_steps": 2})


def test_train_on_batch_test_on_batch_and_predict():
    gan = compiled()
    logs = gan.train_on_batch(IMAGES[:BATCH], return_dict=True)
    assert int(gan.step.numpy()) == 1 and set(gan.metric_names) <= set(logs)
    assert len(gan.train_on_batch(IMAGES[:BATCH])) == len(logs)
    assert int(gan.step.numpy()) == 2
    assert set(gan.test_on_batch(IMAGES[:BATCH], return_dict=True)) == set(gan.evaluation_names)
    z = np.random.RandomState(0).randn(5, Z_DIM).astype(np.float32)
    np.testing.assert_allclose(gan.predict(z, verbose=0), gan.generator(z).numpy(), rtol=1e-6)


def test_floats_outside_the_value_range_are_refused_naming_the_fix():
    gan = compiled()
    with pytest.raises(KerasGanError, match=r"x: float images in \[0, 255\].*Rescaling"):
        gan.fit(IMAGES.astype(np.float32), batch_size=BATCH, verbose=0)
    dataset = tf.data.Dataset.from_tensor_slices(IMAGES.astype(np.float32)).batch(BATCH)
    with pytest.raises(KerasGanError, match="x's first batch: float images"):
        gan.fit(dataset, verbose=0)
    scaled = IMAGES.astype(np.float32) / 127.5 - 1.0
    gan.fit(scaled, batch_size=BATCH, verbose=0, max_steps=1)


def test_the_customizing_page_s_classes_train():
    """Every class docs/customizing.md defines, run as written on the tiny models."""
    import re

    from tests.conftest import REPO

    text = open(os.path.join(REPO, "docs", "customizing.md"), encoding="utf-8").read()
    namespace = {"keras": keras, "tf": tf, "keras_gan": keras_gan}
    for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
        exec(block, namespace)  # noqa: S102  (the page's own code)
    classes = [value for value in namespace.values()
               if isinstance(value, type) and issubclass(value, keras_gan.GAN)]
    assert len(classes) == 3
    for cls in classes:
        gan = cls(*tiny_pair()).compile()
        history = gan.fit(IMAGES, batch_size=BATCH, epochs=1, verbose=0, max_steps=2)
        assert all(np.isfinite(values).all() for values in history.history.values()), cls


def test_the_weights_file_keeps_its_layout_and_older_files_load(tmp_path):
    """G and D under their own names (GD, which shares them, is not saved first), and a file
    written before the loss scales and ADA's p existed (the GAN's own variables: the step
    alone) loads, its step and networks restored."""
    import h5py

    source = compiled()
    fit(source, 1)
    path = str(tmp_path / "gan.weights.h5")
    source.save_weights(path)
    with h5py.File(path, "r+") as stream:
        assert {"generator", "discriminator", "generator_ema", "vars"} <= set(stream)
        assert "combined" not in stream
        for name in list(stream["vars"])[1:]:  # the layout of the older files
            del stream["vars"][name]
    target = compiled(seed=5)
    target.load_weights(path)
    assert int(target.step.numpy()) == int(source.step.numpy())
    assert_same(weights_of(target.generator), weights_of(source.generator))
    assert_same(weights_of(target.generator_ema), weights_of(source.generator_ema))


def test_a_saved_gan_loads_in_a_fresh_process(tmp_path):
    import subprocess
    import sys

    gan = keras_gan.GAN(*tiny_pair()).compile()  # the default, fused optimisers
    fit(gan, 1)
    gan.save(str(tmp_path / "gan.keras"))
    # imported after Keras, as usual: nothing else to touch before load_model
    script = ("import keras, keras_gan; "
              f"gan = keras.saving.load_model({str(tmp_path / 'gan.keras')!r}); "
              "print(int(gan.step.numpy()), gan.g_optimizer.name)")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-2:] == [str(int(gan.step.numpy())), gan.g_optimizer.name]
