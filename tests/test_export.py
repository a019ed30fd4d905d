import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from keras_gan import export
from keras_gan.errors import KerasGanError
from keras_gan.layers import BatchNormalization


@pytest.fixture
def exported(tmp_path):
    keras.utils.set_random_seed(0)
    z = keras.Input((7,))
    h = keras.layers.Dense(9)(z)
    h = BatchNormalization()(h, training=False)
    generator = keras.Model(z, keras.layers.Reshape((3, 3, 1))(
        keras.layers.Dense(9, activation="sigmoid")(h)))
    path = str(tmp_path / "generator")
    export.export_generator(generator, path, "uniform", (0.0, 1.0))
    return generator, path


@pytest.mark.device
def test_saved_model_serves_without_keras_gan(exported):
    generator, path = exported
    z = np.random.RandomState(1).normal(size=(5, 7)).astype(np.float32)
    np.save(path + "_z.npy", z)
    script = textwrap.dedent(f"""
        import sys, numpy as np, tensorflow as tf
        model = tf.saved_model.load({path!r})
        z = np.load({path + '_z.npy'!r})
        images = model.signatures["serving_default"](z=tf.constant(z))["images"].numpy()
        np.save({path + '_out.npy'!r}, images)
        info = model.info()
        assert int(info["z_dim"]) == 7 and info["noise"].numpy() == b"uniform"
        assert list(info["value_range"].numpy()) == [0.0, 1.0]
        a = model.sample(tf.constant(4), seed=tf.constant(3))["images"].numpy()
        b = model.sample(tf.constant(4), tf.constant(3))["images"].numpy()
        c = model.sample(tf.constant(4))["images"].numpy()
        assert a.shape == (4, 3, 3, 1) and np.array_equal(a, b) and not np.array_equal(a, c)
        assert "keras_gan" not in sys.modules
        print("ok")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
    expected = generator(z, training=False).numpy()
    np.testing.assert_allclose(np.load(path + "_out.npy"), expected, rtol=1e-5, atol=1e-6)


def test_export_replaces_an_old_export_whole(exported, tmp_path):
    generator, path = exported
    export.export_generator(generator, path, "normal", (0.0, 1.0))
    assert export.load_generator(path).info()["noise"].numpy() == b"normal"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_loading_a_directory_that_is_not_a_saved_model_is_a_clear_error(tmp_path):
    with pytest.raises(KerasGanError, match="--model=.*not a SavedModel"):
        export.load_generator(str(tmp_path))
