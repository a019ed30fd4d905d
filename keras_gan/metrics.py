"""Numbers to compare GANs with: D accuracy (more in later issues' metrics)."""
from __future__ import annotations

from typing import Dict

import keras
import numpy as np
import tensorflow as tf

from keras_gan.inputs import sample_noise


def discriminator_accuracy(discriminator: keras.Model, generator: keras.Model,
                           real_images: np.ndarray, noise: str, seed: int = 0,
                           batch_size: int = 500) -> Dict[str, float]:
    """D's accuracy at threshold 0.5 on real images (label 1) and as many fakes (label 0),
    both in inference mode (SPEC 3.4: the source reports 0.80 and 0.92)."""
    z_dim = int(generator.input_shape[-1])
    correct_real = correct_fake = 0
    for start in range(0, len(real_images), batch_size):
        real = real_images[start:start + batch_size]
        z = sample_noise([len(real), z_dim], noise, tf.constant([seed, start + 1], tf.int64))
        fake = generator(z, training=False)
        correct_real += int(np.sum(discriminator(real, training=False).numpy() > 0.0))
        correct_fake += int(np.sum(discriminator(fake, training=False).numpy() <= 0.0))
    count = len(real_images)
    return {"real": correct_real / count, "fake": correct_fake / count, "count": count}
