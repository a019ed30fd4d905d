"""The small MNIST CNN whose features and softmax give FID, the Inception-Score analogue and mode
coverage (SPEC 5). Inputs are (N, 28, 28, 1) images in [0, 1]."""
from __future__ import annotations

import os
from typing import Tuple

import keras
import numpy as np

from keras_gan.errors import KerasGanError

FEATURES_LAYER = "features"


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


def load_classifier(path: str) -> keras.Model:
    if not os.path.exists(path):
        raise KerasGanError(f"--classifier={path}: no such file; train one with "
                            f"`python -m experiments.train_classifier --out={path}`")
    return keras.models.load_model(path, compile=False)


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
