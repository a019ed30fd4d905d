"""Class-conditional G(z, y) and D(x, y): the models, the trainer, the export and the programs."""
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_gan import data, export, inputs, models
from keras_gan.models import conditional
from keras_gan.gan import GAN
from tests.conftest import Steps, one_device, run_module, two_replica_mirrored

CLASSES, Z_DIM, BATCH = 3, 4, 8
IMAGES = np.random.RandomState(0).randint(0, 256, (48, 4, 4, 1)).astype(np.uint8)
LABELLED = data.LabelledImages(IMAGES, np.arange(48) % CLASSES, ("a", "b", "c"))


@pytest.mark.parametrize("architecture, shape, g_extra, d_extra", [
    ("pytorch_mlp", (28, 28, 1), 10 * 128, 10 * 512),  # onehot into the first Dense layers
    ("dcgan32", (32, 32, 1), 10 * 128 * 8 * 8, 10 * 16 * 9)])  # ... and 10 input channels
def test_concat_joins_the_onehot_label_to_z_and_to_d_input(architecture, shape, g_extra, d_extra):
    g0, d0 = models.build_gan(architecture, shape, 100)
    g, d = models.build_gan(architecture, shape, 100, conditional="concat", num_classes=10)
    assert g.count_params() - g0.count_params() == g_extra
    assert d.count_params() - d0.count_params() == d_extra
    z = np.random.RandomState(0).normal(size=(2, 100)).astype(np.float32)
    same_z = [np.repeat(z[:1], 2, 0), np.array([3, 7], np.int32)]
    images = g(same_z, training=False).numpy()
    assert images.shape == (2, *shape) and not np.allclose(images[0], images[1])
    scores = d([np.repeat(images[:1], 2, 0), np.array([3, 7], np.int32)], training=False)
    assert scores.shape == (2, 1) and scores[0, 0] != scores[1, 0]


def test_projection_adds_the_label_embedding_dotted_with_d_features():
    _, base = models.build_gan("dcgan32", (32, 32, 1), 100)
    d = conditional.projection_discriminator(base, 10)
    x = np.random.RandomState(1).uniform(-1, 1, (1, 32, 32, 1)).astype(np.float32)
    features = keras.Model(base.input, base.layers[-1].input)(x).numpy().ravel()
    embedding = d.get_layer("label_embedding").embeddings.numpy()
    scores = [float(d([x, np.array([c], np.int32)], training=False)[0, 0]) for c in (2, 5)]
    np.testing.assert_allclose(scores[0] - scores[1], features @ (embedding[2] - embedding[5]),
                               rtol=1e-4, atol=1e-5)
    assert d.count_params() - base.count_params() == 10 * features.size


def test_conditional_needs_labels_with_two_classes():
    from keras_gan.errors import KerasGanError

    with pytest.raises(KerasGanError, match="conditional=concat needs labelled data"):
        models.build_gan("pytorch_mlp", (28, 28, 1), 100, conditional="concat", num_classes=0)


def tiny_conditional_models(mode):
    keras.utils.set_random_seed(0)
    z = keras.Input((Z_DIM + CLASSES,))
    image = keras.layers.Reshape((4, 4, 1))(keras.layers.Dense(16, activation="tanh")(
        keras.layers.Dense(8, activation="relu")(z)))
    generator = conditional.concat_generator(keras.Model(z, image), CLASSES)
    x = keras.Input((16 + CLASSES,) if mode == "concat" else (4, 4, 1))
    h = keras.layers.Dense(8, activation="relu")(keras.layers.Flatten()(x))
    base = keras.Model(x, keras.layers.Dense(1)(h))
    discriminator = (conditional.concat_discriminator(base, (4, 4, 1), CLASSES, flat=True)
                     if mode == "concat" else conditional.projection_discriminator(base, CLASSES))
    return generator, discriminator


def make_trainer(mode, strategy=None, **options):
    strategy = strategy or one_device()
    with strategy.scope():
        gan = GAN(*tiny_conditional_models(mode)).compile(
            keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1), **options)
    return Steps(gan, BATCH)


def stream(trainer):
    spec = inputs.StreamSpec(BATCH, conditional=True)
    return iter(trainer.strategy.distribute_datasets_from_function(
        lambda context: inputs.training_stream(LABELLED, spec, 0, context, seed=1)))


@pytest.mark.device
@pytest.mark.parametrize("mode, d_style, penalty", [("concat", "separate", "none"),
                                                    ("projection", "concat", "gradient")])
def test_two_replicas_match_one_device_and_the_g_step_leaves_d_alone(mode, d_style, penalty):
    runs = []
    for strategy in (one_device(), two_replica_mirrored()):
        trainer = make_trainer(mode, strategy, d_style=d_style, penalty=penalty,
                               objective="hinge", steps_per_execution=3)
        history = trainer(stream(trainer), 3)
        runs.append((history, [v.numpy() for v in trainer.generator.variables
                               + trainer.discriminator.variables]))
    (single, single_weights), (mirrored, mirrored_weights) = runs
    for name in ("d_loss", "g_loss", "d_real", "d_fake"):
        np.testing.assert_allclose(mirrored[name], single[name], rtol=1e-5, atol=1e-6)
    for a, b in zip(single_weights, mirrored_weights):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)
    trainer = make_trainer(mode)
    element = next(stream(trainer))
    before = [v.numpy().copy() for v in trainer.discriminator.variables]
    tf.function(lambda e: trainer.g_update(e)[0])(element)
    for a, v in zip(before, trainer.discriminator.variables):
        np.testing.assert_array_equal(a, v.numpy())


def test_conditional_export_serves_labels_without_keras_gan(tmp_path):
    generator, _ = tiny_conditional_models("concat")
    path = str(tmp_path / "generator")
    export.export_generator(generator, path, "normal", (-1.0, 1.0))
    z = np.random.RandomState(2).normal(size=(3, Z_DIM)).astype(np.float32)
    np.save(path + "_z.npy", z)
    script = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        g = tf.saved_model.load({path!r})
        assert int(g.info()["num_classes"]) == {CLASSES}
        z = tf.constant(np.load({path + '_z.npy'!r}))
        out = g.signatures["serving_default"](z=z, label=tf.constant([0, 1, 2]))["images"]
        np.save({path + '_out.npy'!r}, out.numpy())
        a = g.sample(tf.constant(6), tf.constant(1), tf.constant(2))["images"].numpy()
        b = g.sample(tf.constant(6), tf.constant(1), tf.constant(-1))["images"].numpy()
        c = g.sample(tf.constant(6), tf.constant(1))["images"].numpy()
        assert a.shape == (6, 4, 4, 1) and np.array_equal(b, c) and not np.array_equal(a, b)
        assert "keras_gan" not in sys.modules
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
    expected = generator([z, np.array([0, 1, 2], np.int32)], training=False).numpy()
    np.testing.assert_allclose(np.load(path + "_out.npy"), expected, rtol=1e-5, atol=1e-6)


def test_labels_follow_the_training_data_class_frequencies(tmp_path):
    labelled = data.LabelledImages(IMAGES[:8], np.array([0, 2, 2, 2, 0, 2, 2, 2]), ("a", "b", "c"))
    np.testing.assert_allclose(labelled.class_frequencies, [0.25, 0.0, 0.75])
    np.testing.assert_array_equal(inputs.class_shares([0.25, 0.0, 0.75], 10), [2, 0, 8])
    np.testing.assert_array_equal(inputs.class_shares([1, 1, 1], 10), [3, 4, 3])
    generator, _ = tiny_conditional_models("concat")
    path = str(tmp_path / "generator")
    export.export_generator(generator, path, "normal", (-1.0, 1.0), [0.0, 0.0, 1.0])
    loaded = export.load_generator(path)
    np.testing.assert_allclose(export.class_prior(loaded), [0.0, 0.0, 1.0])
    drawn = loaded.sample(tf.constant(5), tf.constant(1))["images"].numpy()
    asked = loaded.sample(tf.constant(5), tf.constant(1), tf.constant(2))["images"].numpy()
    np.testing.assert_array_equal(drawn, asked)  # every class drawn from the prior is class 2
    with pytest.raises(ValueError, match="class_prior"):
        export.export_generator(generator, path, "normal", (-1.0, 1.0), [1.0, 0.0])


def test_exports_from_before_the_class_prior_draw_classes_uniformly():
    class OldExport:  # info() as exports wrote it before class_prior
        @staticmethod
        def info():
            return {"num_classes": tf.constant(4)}

    np.testing.assert_allclose(export.class_prior(OldExport()), [0.25] * 4)

    class OldUnconditionalExport:  # before info() reported classes at all
        @staticmethod
        def info():
            return {"z_dim": tf.constant(2)}

    assert export.class_prior(OldUnconditionalExport()).shape == (0,)


def test_cgan_config_trains_evaluates_per_class_and_samples_a_label(tmp_path, mnist_dir):
    run_dir = str(tmp_path / "run")
    result = run_module("experiments.vanilla", "--flagfile=experiments/configs/cgan_mnist.cfg",
                        f"--data_dir={mnist_dir}", f"--run_dir={run_dir}", "--max_steps=6",
                        "--batch_size=16", "--steps_per_execution=3", "--sample_every=3",
                        "--eval_every_epochs=0", "--grid_history")
    assert result.returncode == 0, result.stderr[-3000:]
    grid = tf.io.decode_png(tf.io.read_file(f"{run_dir}/samples/step_0000006.png")).numpy()
    assert grid.shape[0] == 10 * 30 + 2  # one row of 28-pixel digits (+ padding) per class
    events = os.listdir(f"{run_dir}/tensorboard")
    assert events  # the grids are in TensorBoard beside the scalars (checked in test_callbacks)
    result = run_module("experiments.evaluate", f"--generator={run_dir}/generator",
                        f"--data_dir={mnist_dir}", "--num_samples=100",
                        "--validation_split=train[:100]", "--metrics=fid,conditional")
    assert result.returncode == 0, result.stderr[-3000:]
    scores = json.load(open(f"{run_dir}/eval.json"))
    assert 0.0 <= scores["label_accuracy"] <= 1.0
    assert len(scores["label_accuracy_per_class"]) == len(scores["intra_fid_per_class"]) == 10
    out = str(tmp_path / "sevens.png")
    result = run_module("keras_gan.sample", f"--model={run_dir}/generator", "--label=7",
                        "--num=4", f"--out={out}")
    assert result.returncode == 0 and os.path.exists(out), result.stderr[-2000:]
    result = run_module("keras_gan.sample", f"--model={run_dir}/generator", "--label=10")
    assert result.returncode == 2 and "--label=10: expected a class in [0, 10)" in result.stderr
