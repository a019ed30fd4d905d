"""FID/KID on InceptionV3 features: the plumbing with random weights, and the offline error."""
import os
import socket

import numpy as np
import pytest

from keras_gan import evaluation, inception
from keras_gan.errors import KerasGanError


def test_inception_features_and_scores_with_random_weights():
    model = inception.load_inception(weights=None)
    rng = np.random.RandomState(0)
    grey = rng.uniform(-1, 1, (3, 32, 32, 1)).astype(np.float32)
    features = inception.inception_features(model, grey, (-1.0, 1.0), batch_size=2)
    assert features.shape == (3, inception.FEATURES) and np.isfinite(features).all()
    real = rng.randint(0, 256, (4, 32, 32, 3)).astype(np.uint8)
    same = evaluation.inception_evaluation(real.astype(np.float32), (0.0, 255.0), real,
                                           ["inception_fid", "kid"], model)
    assert same["reference_images"] == 4
    assert abs(same["inception_fid"]) < 1e-3 and np.isfinite(same["kid"])


def test_offline_without_weights_is_one_line_naming_the_file_and_where_it_goes(
        monkeypatch, tmp_path):
    def unreachable(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    cached = str(tmp_path / "keras" / "models" / inception.WEIGHTS_FILE)
    with pytest.raises(KerasGanError) as error:
        inception.load_inception("")
    assert f"put {inception.WEIGHTS_URL} at {cached}, or pass --inception_weights=PATH" in str(
        error.value)
    with pytest.raises(KerasGanError, match="--inception_weights=/nope.h5: no such file"):
        inception.load_inception("/nope.h5")


def test_weights_in_keras_cache_load_offline(monkeypatch, tmp_path):
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: pytest.fail("downloaded"))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    os.makedirs(tmp_path / "models")
    random = inception.load_inception(None)
    random.save(str(tmp_path / "models" / inception.WEIGHTS_FILE))  # Keras's legacy .h5
    loaded = inception.load_inception("")
    for a, b in zip(loaded.weights, random.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
