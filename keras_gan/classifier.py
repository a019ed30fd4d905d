"""The small MNIST CNN whose features and softmax give FID, the Inception-Score analogue and mode
coverage (docs/evaluation.md). Inputs are (N, 28, 28, 1) images in [0, 1].

One trained copy ships inside the package (`PACKAGED`, with its SHA-256, test accuracy and the
scores of real data in the JSON beside it), so everyone's FID is the same function;
`experiments.train_classifier` rebuilds it.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Tuple

import keras
import numpy as np

from keras_gan.errors import KerasGanError

FEATURES_LAYER = "features"
PACKAGED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "classifiers",
                        "mnist_v1.weights.h5")


def build_classifier() -> keras.Model:
    """Two conv blocks and a 128-unit feature layer: >= 99% on MNIST test in a few epochs."""
    image = keras.Input((28, 28, 1), name="image")
    h = image
    for filters in (32, 64):
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(h)
        h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Dropout(0.3)(keras.layers.Flatten()(h))
    features = keras.layers.Dense(128, activation="relu", name=FEATURES_LAYER)(h)
    logits = keras.layers.Dense(10)(keras.layers.Dropout(0.3)(features))
    return keras.Model(image, logits, name="mnist_classifier")


def train_classifier(images: np.ndarray, labels: np.ndarray, epochs: int,
                     batch_size: int = 128, seed: int = 0) -> keras.Model:
    """Trains on uint8 images with Adam and light shift augmentation."""
    keras.utils.set_random_seed(seed)
    model = build_classifier()
    model.compile(keras.optimizers.Adam(1e-3),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    augment = keras.Sequential([keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant")])
    x = images.astype(np.float32) / 255.0
    import tensorflow as tf

    dataset = (tf.data.Dataset.from_tensor_slices((x, labels)).shuffle(len(x), seed=seed)
               .batch(batch_size).map(lambda a, b: (augment(a, training=True), b),
                                      num_parallel_calls=tf.data.AUTOTUNE)
               .prefetch(tf.data.AUTOTUNE))
    model.fit(dataset, epochs=epochs, verbose=2)
    return model


def sha256(path: str) -> str:
    with open(path, "rb") as stream:
        return hashlib.sha256(stream.read()).hexdigest()


def record_path(weights_path: str) -> str:
    """The JSON beside a weights file: its SHA-256, test accuracy and real data's scores."""
    return weights_path[:-len(".weights.h5")] + ".json"


def check_weights_path(path: str) -> None:
    if not path.endswith(".weights.h5"):
        raise KerasGanError(f"--out={path}: expected a name ending in .weights.h5")


def save_classifier(model: keras.Model, path: str, scores: dict) -> dict:
    """Writes the weights (`*.weights.h5`) and, beside them, their SHA-256 and `scores`."""
    from keras_gan import atomic

    check_weights_path(path)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    temporary = path[:-len(".weights.h5")] + ".partial.weights.h5"
    weights_only = build_classifier()  # a compiled model would also save Adam's moments
    weights_only.set_weights(model.get_weights())
    weights_only.save_weights(temporary)
    os.replace(temporary, path)
    record = {"sha256": sha256(path), **scores}
    atomic.write_text(record_path(path), json.dumps(record, indent=2) + "\n")
    return record


def load_classifier(path: str = "") -> keras.Model:
    """The classifier at `path` (`*.weights.h5` from `save_classifier`, or a whole `.keras`
    model); empty: the packaged one. Weights whose recorded SHA-256 differs are refused."""
    path = path or PACKAGED
    if not os.path.exists(path):
        raise KerasGanError(f"--classifier={path}: no such file; train one with "
                            f"`python -m experiments.train_classifier --out={path}`, or leave "
                            f"--classifier empty for the packaged one")
    if path.endswith(".keras"):
        return keras.models.load_model(path, compile=False)
    if os.path.exists(record_path(path)):
        with open(record_path(path)) as stream:
            expected = json.load(stream).get("sha256")
        if expected and sha256(path) != expected:
            raise KerasGanError(f"--classifier={path}: SHA-256 differs from the one recorded in "
                                f"{record_path(path)}; the file is corrupt or was changed")
    model = build_classifier()
    model.load_weights(path)
    return model


def features_and_probabilities(classifier: keras.Model, images: np.ndarray,
                               batch_size: int = 1000) -> Tuple[np.ndarray, np.ndarray]:
    """Penultimate features and softmax probabilities of (N, 28, 28, 1) images in [0, 1]."""
    import tensorflow as tf

    probe = keras.Model(classifier.input, [classifier.get_layer(FEATURES_LAYER).output,
                                           classifier.output])
    features, probabilities = [], []
    for start in range(0, len(images), batch_size):
        f, logits = probe(images[start:start + batch_size], training=False)
        features.append(np.asarray(f))
        probabilities.append(tf.nn.softmax(logits).numpy())
    return np.concatenate(features), np.concatenate(probabilities)
