"""D-guided latent refinement (DOT): its k, its Adam step, what it does to samples, its export."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import export
from keras_gan.inputs import sample_noise
from keras_gan.refinement import (LatentRefinement, calibrated_once, freeze_refinement,
                                  refined_generator)
from tests.conftest import run_module

A = np.array([[1.0, 0.5], [-0.5, 2.0]], np.float32)  # G(z) = z A
W = np.array([[0.3], [-0.2]], np.float32)  # D(x) = x W: D(G(z)) = z (A W), slope along A W


def linear(matrix, name, shape=(2,)):
    inputs = keras.Input(shape)
    layer = keras.layers.Dense(matrix.shape[1], use_bias=False)
    model = keras.Model(inputs, layer(inputs), name=name)
    layer.set_weights([matrix])
    return model


def test_k_is_the_quantile_of_the_slope_between_the_fixed_noise_pairs():
    generator, discriminator = linear(A, "g"), linear(W, "d")
    refinement = LatentRefinement(generator, discriminator, 1, 0.01, 0.9, "normal", seed=3,
                                  pairs=500)
    z = sample_noise([1000, 2], "normal", tf.constant([3, -3], tf.int64)).numpy()
    a, b = z[:500], z[500:]
    slopes = np.abs((a - b) @ (A @ W))[:, 0] / np.linalg.norm(a - b, axis=1)
    expected = np.sort(slopes)[round(0.9 * 499)]
    np.testing.assert_allclose(refinement.lipschitz().numpy(), expected, rtol=1e-5)
    steepest = LatentRefinement(generator, discriminator, 1, 0.01, 1.0, "normal", seed=3,
                                pairs=500).lipschitz().numpy()
    np.testing.assert_allclose(steepest, slopes.max(), rtol=1e-5)
    assert steepest <= np.linalg.norm(A @ W) * (1 + 1e-5)  # a linear map's Lipschitz constant


def test_the_first_adam_step_moves_each_coordinate_by_the_rate_up_d():
    # At z' = z the distance has zero gradient and the cost's is -A W / k: Adam's first step is
    # the rate times the gradient's sign, so z moves by 0.05 towards D's increase.
    generator, discriminator = linear(A, "g"), linear(W, "d")
    model = refined_generator(generator, discriminator, steps=1, learning_rate=0.05,
                              quantile=0.5, noise="normal")
    z = np.array([[0.1, -0.3], [2.0, 1.0]], np.float32)
    moved = z + 0.05 * np.sign(A @ W)[:, 0]
    np.testing.assert_allclose(model(z).numpy(), moved @ A, rtol=1e-5, atol=1e-6)


def two_bump_discriminator():
    """D's logit: two bounded bumps at (-1, 0) and (1, 0), flat far away (as a trained D is
    where neither data nor G's samples are)."""
    centres = tf.constant([[-1.0, 0.0], [1.0, 0.0]])
    inputs = keras.Input((2,))
    logits = keras.layers.Lambda(lambda x: 10 * tf.reduce_sum(tf.exp(
        -tf.reduce_sum(tf.square(x[:, None] - centres), -1) / 0.3), 1, keepdims=True))(inputs)
    return keras.Model(inputs, logits, name="d")


def test_refinement_moves_thread_samples_onto_a_mode_and_leaves_mode_samples():
    generator = linear(np.eye(2, dtype=np.float32), "g")  # G(z) = z: points are where z is
    model = refined_generator(generator, two_bump_discriminator(), steps=50, learning_rate=0.05,
                              quantile=0.95, noise="normal")
    thread = np.array([[-0.3, 0.05], [0.4, -0.05], [0.6, 0.1]], np.float32)
    on_mode = np.array([[-1.0, 0.0], [1.0, 0.0]], np.float32)
    nearest = lambda x: np.min(np.linalg.norm(x[:, None] - np.array([[-1, 0], [1, 0]]),  # noqa
                                              axis=-1), axis=1)
    assert nearest(thread).min() > 0.39
    assert nearest(model(thread).numpy()).max() < 0.15
    np.testing.assert_allclose(model(on_mode).numpy(), on_mode, atol=0.01)


def test_a_refined_generator_exports_and_serves_without_project_code(tmp_path):
    generator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
                                  keras.layers.Dense(2)], name="g")
    discriminator = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, activation="relu"),
                                      keras.layers.Dense(1)], name="d")
    model = refined_generator(generator, discriminator, steps=3, learning_rate=0.1,
                              quantile=0.95, noise="normal")
    z = np.random.RandomState(0).randn(5, 2).astype(np.float32)
    assert np.abs(model(z).numpy() - generator(z).numpy()).max() > 1e-3  # refinement acts
    refinement = model.get_layer("latent_refinement")
    fresh = model(z).numpy()
    freeze_refinement(model)
    np.testing.assert_allclose(refinement.frozen_k.numpy(), refinement.lipschitz().numpy())
    np.testing.assert_allclose(model(z).numpy(), fresh, rtol=1e-6)  # same k, frozen
    export.export_generator(model, str(tmp_path / "generator"), "normal", (-1.0, 1.0))
    loaded = tf.saved_model.load(str(tmp_path / "generator"))
    np.testing.assert_allclose(loaded.serving_default(tf.constant(z))["images"].numpy(),
                               model(z).numpy(), rtol=1e-5, atol=1e-6)


def test_a_finished_run_resumed_with_refinement_is_scored_and_exported_again(tmp_path):
    run_dir = tmp_path / "run"
    flags = ["--flagfile=experiments/configs/mixture_grid.cfg", "--num_points=2000",
             "--max_steps=4", "--steps_per_execution=2", "--sample_every=2", "--eval_samples=300",
             "--json"]
    common = [*flags, f"--run_dir={run_dir}"]
    first = run_module("experiments.mixture", *common)
    assert first.returncode == 0, first.stderr[-3000:]
    refined = run_module("experiments.mixture", *common, "--refine_steps=5")
    assert refined.returncode == 0, refined.stderr[-3000:]
    assert "resumed from" in refined.stderr
    rows = (run_dir / "eval_history.csv").read_text().splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == ["4", "4"]
    plain, moved = (json.loads(run.stdout.strip().splitlines()[-1]) for run in (first, refined))
    assert plain != moved
    assert "--refine_steps=5" in (run_dir / "flag_changes.cfg").read_text()
    z = tf.constant(np.random.RandomState(1).randn(6, 2).astype(np.float32))
    loaded = [tf.saved_model.load(str(run_dir / name)) for name in ("generator", "generator_raw")]
    served, raw = (model.serving_default(z)["images"].numpy() for model in loaded)
    assert np.abs(served - raw).max() > 1e-4  # generator/ is refined, generator_raw/ is G

    # Refining from the start (a grid drawn by D at step 2) trains the same G.
    scratch = run_module("experiments.mixture", *flags, f"--run_dir={tmp_path / 'scratch'}",
                         "--refine_steps=5")
    assert scratch.returncode == 0, scratch.stderr[-3000:]
    assert json.loads(scratch.stdout.strip().splitlines()[-1]) == moved
    assert ((tmp_path / "scratch" / "history.csv").read_text()
            == (run_dir / "history.csv").read_text())


def test_a_conditional_generator_is_refined_within_its_class_and_exports_its_classes(tmp_path):
    from keras_gan.models import build_gan, num_classes

    generator, discriminator = build_gan("pacgan_mlp_nobn", (2,), 2, conditional="projection",
                                         num_classes=3)
    model = refined_generator(generator, discriminator, steps=2, learning_rate=0.1,
                              quantile=0.95, noise="normal")
    assert num_classes(model) == 3
    z = np.random.RandomState(0).randn(4, 2).astype(np.float32)
    label = np.array([0, 1, 2, 1], np.int32)
    refinement = model.get_layer("latent_refinement")
    moved = refinement([z, label]).numpy()
    assert np.abs(moved - z).max() > 1e-3
    np.testing.assert_allclose(model([z, label]).numpy(),
                               generator([moved, label], training=False).numpy(), rtol=1e-5)
    freeze_refinement(model)
    export.export_generator(model, str(tmp_path / "generator"), "normal", (-1.0, 1.0),
                            [0.2, 0.3, 0.5])
    loaded = tf.saved_model.load(str(tmp_path / "generator"))
    assert export.num_classes(loaded) == 3
    np.testing.assert_allclose(
        loaded.serving_default(z=tf.constant(z), label=tf.constant(label))["images"].numpy(),
        model([z, label]).numpy(), rtol=1e-5, atol=1e-6)


def test_a_flat_discriminator_leaves_every_sample_where_it_is():
    # k = 0 (D gives every pair the same logit): no NaN, nothing to move towards.
    generator, discriminator = linear(A, "g"), linear(np.zeros((2, 1), np.float32), "d")
    model = refined_generator(generator, discriminator, steps=3, learning_rate=0.1,
                              quantile=0.95, noise="normal")
    z = np.random.RandomState(2).randn(4, 2).astype(np.float32)
    np.testing.assert_allclose(model(z).numpy(), z @ A, rtol=1e-6)


def test_freezing_a_generator_that_does_not_refine_says_so():
    with pytest.raises(ValueError, match="g is not a refined_generator"):
        freeze_refinement(linear(A, "g"))


def test_an_evaluation_estimates_k_once_and_then_k_follows_training_again(tmp_path, monkeypatch):
    from keras_gan.callbacks import EvaluationCallback

    calls = []
    lipschitz = LatentRefinement.lipschitz
    monkeypatch.setattr(LatentRefinement, "lipschitz",
                        lambda self: calls.append(1) or lipschitz(self))
    model = refined_generator(linear(A, "g"), linear(W, "d"), steps=2, learning_rate=0.1,
                              quantile=0.95, noise="normal")
    z = np.random.RandomState(3).randn(4, 2).astype(np.float32)
    unfrozen = model(z).numpy()
    assert len(calls) == 1  # every call estimates k while training goes on
    callback = EvaluationCallback(model, lambda samples, labels: {"n": len(samples)}, "normal",
                                  [], 3000, 0, str(tmp_path / "eval.csv"), str(tmp_path / "tb"))
    callback.on_train_begin()
    callback.on_train_batch_end(0)
    callback.on_train_end()
    assert callback.scores == {"n": 3000} and len(calls) == 2  # 3 batches, one estimate
    refinement = model.get_layer("latent_refinement")
    assert refinement.frozen_k.numpy() == 0
    np.testing.assert_allclose(model(z).numpy(), unfrozen, rtol=1e-6)
    assert len(calls) == 3
    freeze_refinement(model)
    k = refinement.frozen_k.numpy()
    with calibrated_once(model):
        model(z)
    assert refinement.frozen_k.numpy() == k > 0 and len(calls) == 4  # an export's k stays
