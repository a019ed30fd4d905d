"""A GAN on tabular vectors: 2-D points from a ring of 8 Gaussians (PacGAN's benchmark).

    python examples/tabular_ring.py --epochs=5
"""
import argparse
import os

import keras
import numpy as np
import tensorflow as tf

import keras_gan


def ring(count, seed=0, modes=8, radius=1.0, std=0.01):
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * rng.integers(0, modes, count) / modes
    centres = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return (centres + std * rng.standard_normal((count, 2))).astype(np.float32)


def mlp(inputs, outputs, width=128, name=None):
    x = keras.Input((inputs,))
    h = keras.layers.Dense(width, activation="relu")(x)
    h = keras.layers.Dense(width, activation="relu")(h)
    return keras.Model(x, keras.layers.Dense(outputs)(h), name=name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--out", default="runs/tabular_ring")
    args = parser.parse_args()

    rows = ring(args.points)
    dataset = tf.data.Dataset.from_tensor_slices(rows).shuffle(len(rows), seed=0).batch(500)
    gan = keras_gan.GAN(mlp(2, 2, name="generator"), mlp(2, 1, name="discriminator"),
                        value_range=(-1.5, 1.5))  # z size is G's input size, 2 here
    gan.compile(g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5), steps_per_execution=50)
    gan.fit(dataset, epochs=args.epochs, verbose=2, callbacks=[
        keras_gan.callbacks.SampleGrid(os.path.join(args.out, "samples"), count=1000)])

    samples = gan.sample(2000, seed=1)
    angle = np.arctan2(samples[:, 1], samples[:, 0]) % (2 * np.pi)
    nearest = np.round(angle / (2 * np.pi / 8)).astype(int) % 8
    close = np.abs(np.hypot(samples[:, 0], samples[:, 1]) - 1.0) < 0.1
    print(f"modes covered: {len(np.unique(nearest[close]))} of 8; "
          f"{close.mean():.0%} of samples within 0.1 of the ring")


if __name__ == "__main__":
    main()
