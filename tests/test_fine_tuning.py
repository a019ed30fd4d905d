"""Starting from a trained GAN (`initialize_from`, `--init_from`) and keeping D's first layers
fixed (`freeze_d_layers`, FreezeD)."""
import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_gan
from keras_gan.errors import KerasGanError
from keras_gan.run_checkpoint import initialize_from
from tests.conftest import Steps, run_module
from tests.test_step import BATCH, make_gan, snapshot, stream, tiny_models


def test_frozen_d_layers_do_not_move_and_the_rest_do():
    gan = make_gan(d_batchnorm=False, freeze_d_layers=1)
    trainer = Steps(gan, BATCH)
    first, last = gan.discriminator.layers[2], gan.discriminator.layers[-1]  # Dense, Dense
    before = snapshot(first), snapshot(last)
    trainer(stream(trainer), 3)
    for a, b in zip(before[0], snapshot(first)):
        np.testing.assert_array_equal(a, b)
    assert all(not np.array_equal(a, b) for a, b in zip(before[1], snapshot(last)))
    with pytest.raises(KerasGanError, match="freeze_d_layers=3: D .* has only 2 layers"):
        make_gan(d_batchnorm=False, freeze_d_layers=3)


def test_initialize_from_a_gan_or_a_saved_file_copies_g_d_and_the_average(tmp_path):
    source = make_gan(g_ema_decay=0.9)
    trainer = Steps(source, BATCH)
    trainer(stream(trainer), 3)
    path = str(tmp_path / "source.keras")
    source.save(path)
    for origin in (source, path):
        target = make_gan(g_ema_decay=0.9)
        initialize_from(target, origin)
        for mine, theirs in ((target.generator, source.generator),
                             (target.discriminator, source.discriminator),
                             (target.generator_ema, source.generator_ema)):
            for a, b in zip(snapshot(mine), snapshot(theirs)):
                np.testing.assert_array_equal(a, b)
        assert int(target.step.numpy()) == 0  # a fresh start: step and optimisers
        assert all(int(v.numpy()) == 0 for v in target.g_optimizer.variables[:1])


def test_a_shape_that_does_not_fit_names_both():
    keras.utils.set_random_seed(0)
    z = keras.Input((5,))  # another noise size
    other_g = keras.Model(z, keras.layers.Reshape((4, 4, 1))(keras.layers.Dense(16)(z)))
    other = keras_gan.GAN(other_g, tiny_models()[1]).compile()
    with pytest.raises(KerasGanError, match=r"weights do not fit .*shape \(5, 16\) against "
                                            r"\(3, 8\)"):
        initialize_from(make_gan(), other)


def test_init_from_a_run_reproduces_its_generator_when_the_rates_are_zero(mnist_dir, tmp_path):
    common = ["--flagfile=experiments/configs/gan_paper.cfg", f"--data_dir={mnist_dir}",
              "--batch_size=16", "--steps_per_execution=2", "--noeval_d_accuracy"]
    source, tuned = tmp_path / "source", tmp_path / "tuned"
    result = run_module("experiments.vanilla", *common, f"--run_dir={source}", "--max_steps=4")
    assert result.returncode == 0, result.stderr[-3000:]
    result = run_module("experiments.vanilla", *common, f"--run_dir={tuned}", "--max_steps=2",
                        f"--init_from={source}", "--g_learning_rate=0", "--d_learning_rate=0",
                        "--g_learning_rate_min=0", "--d_learning_rate_min=0")
    assert result.returncode == 0, result.stderr[-3000:]
    z = tf.random.stateless_normal([6, 100], seed=[1, 2])
    served = [tf.saved_model.load(str(run / "generator")).signatures["serving_default"](z=z)
              for run in (source, tuned)]
    np.testing.assert_allclose(served[1]["images"].numpy(), served[0]["images"].numpy(),
                               atol=1e-6)
    missing = run_module("experiments.vanilla", *common, f"--run_dir={tmp_path / 'x'}",
                         f"--init_from={tmp_path / 'nowhere'}")
    assert missing.returncode == 2 and "--init_from=" in missing.stderr
