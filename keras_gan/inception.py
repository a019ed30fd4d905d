"""InceptionV3 pool features for FID and KID on RGB data sets (the field's standard protocol;
the MNIST classifier stays the reference for MNIST-like data).

Weights are Keras's own ImageNet file for `keras.applications.InceptionV3` without its top
(`inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5`): given as a path, or read from
Keras's cache, where it is downloaded the first time the machine is online. Note that this is
Keras's port, not the TF-Slim graph of the original FID code: absolute FIDs are comparable
between users of this package, not with numbers from pytorch-fid or TTUR.
"""
from __future__ import annotations

import os
import socket
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from keras_gan.errors import KerasGanError

INPUT_SIZE = 299
FEATURES = 2048
WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/inception_v3/"
               + WEIGHTS_FILE)
# Where Keras fetches the weights; probed first so an offline machine fails in seconds.
_WEIGHTS_HOST = ("storage.googleapis.com", 443)


def cached_weights_path() -> str:
    """Where Keras keeps the downloaded file: KERAS_HOME/models/ (default: ~/.keras, or
    /tmp/.keras when the home directory is read-only), Keras's own rule."""
    home = os.environ.get("KERAS_HOME")
    if not home:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    return os.path.join(home, "models", WEIGHTS_FILE)


def load_inception(weights: str | None = "") -> keras.Model:
    """InceptionV3 to its 2,048 average-pooled features. `weights`: a path; "" for Keras's
    ImageNet weights (Keras's cached file, else downloaded into its cache as Keras fetches its
    application weights); None for random weights (tests)."""
    if weights == "":
        weights = cached_weights_path()
        if not os.path.exists(weights):
            try:
                socket.create_connection(_WEIGHTS_HOST, timeout=5).close()
            except OSError as error:
                raise KerasGanError(
                    f"InceptionV3's weights are not in Keras's cache and cannot be downloaded "
                    f"({error}): put {WEIGHTS_URL} at {weights}, or pass "
                    f"--inception_weights=PATH") from None
            weights = keras.utils.get_file(WEIGHTS_FILE, WEIGHTS_URL, cache_subdir="models",
                                           cache_dir=os.path.dirname(os.path.dirname(weights)))
    elif weights is not None and not tf.io.gfile.exists(weights):
        raise KerasGanError(f"--inception_weights={weights}: no such file")
    try:
        return keras.applications.InceptionV3(include_top=False, pooling="avg", weights=weights,
                                              input_shape=(INPUT_SIZE, INPUT_SIZE, 3))
    except (OSError, ValueError) as error:  # a wrong or truncated file
        raise KerasGanError(f"InceptionV3 weights {weights} do not load ({error}); delete it "
                            f"to download it again, or pass --inception_weights=PATH of "
                            f"Keras's {WEIGHTS_FILE}") from None


def inception_features(model: keras.Model, images: np.ndarray,
                       value_range: Sequence[float] = (0.0, 255.0), batch_size: int = 50
                       ) -> np.ndarray:
    """Pool features of (N, H, W, 1 or 3) images in `value_range`: bilinear resize to 299x299,
    grey images repeated to RGB, Inception's own scaling to [-1, 1]."""
    low, high = value_range

    @tf.function
    def features(batch):
        pixels = tf.clip_by_value((tf.cast(batch, tf.float32) - low) / (high - low), 0.0, 1.0)
        if pixels.shape[-1] == 1:
            pixels = tf.image.grayscale_to_rgb(pixels)
        pixels = tf.image.resize(pixels, (INPUT_SIZE, INPUT_SIZE), method="bilinear")
        return model(pixels * 2.0 - 1.0, training=False)

    return np.concatenate([features(images[start:start + batch_size]).numpy()
                           for start in range(0, len(images), batch_size)])
