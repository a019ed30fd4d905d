"""Feature matching (Salimans et al. 2016), which keras_gan does not ship, by subclassing GAN:
G learns to match the mean of D's last hidden features on real and fake batches.

    python examples/feature_matching.py --data_dir=../shared/data/mnist --epochs=2 --out=runs/fm

Rerunning the same command resumes from the newest checkpoint in --out (docs/customizing.md).
"""
import argparse
import os

import keras
import tensorflow as tf

import keras_gan
from keras_gan.data import load_mnist


@keras.saving.register_keras_serializable(package="examples")
class FeatureMatchingGAN(keras_gan.GAN):
    """G's loss is ||mean f(real) - mean f(G(z))||^2, f being D's input to its last layer."""

    def __init__(self, generator, discriminator, **kwargs):
        super().__init__(generator, discriminator, **kwargs)
        self.features = keras.Model(discriminator.inputs, discriminator.layers[-2].output)

    def generator_loss(self, fake_outputs, fake=None, real=None):  # per replica
        gap = (tf.reduce_mean(self.features(real, training=True), axis=0)
               - tf.reduce_mean(self.features(fake, training=True), axis=0))
        # Each replica's gradients are summed: return its share of the loss.
        return tf.reduce_sum(tf.square(gap)) / self.distribute_strategy.num_replicas_in_sync

    def train_step(self, data):
        logs = super().train_step(data)
        logs["d_gap"] = logs["d_real"] - logs["d_fake"]  # the logs are global values here
        return logs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="", help="the MNIST IDX files; empty: tfds")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max_images", type=int, default=0, help="0: all 60,000")
    parser.add_argument("--out", default="runs/feature_matching")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    images, _ = load_mnist(args.data_dir, "train")
    g = keras.Sequential([keras.Input((64,)), keras.layers.Dense(256, activation="relu"),
                          keras.layers.Dense(784, activation="tanh"),
                          keras.layers.Reshape((28, 28, 1))])
    d = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(),
                          keras.layers.Dense(256), keras.layers.LeakyReLU(0.2),
                          keras.layers.Dense(1)])
    gan = FeatureMatchingGAN(g, d).compile(steps_per_execution=20)
    gan.fit(images[:args.max_images or None], batch_size=64, epochs=args.epochs, verbose=2,
            callbacks=[keras_gan.callbacks.SampleGrid(os.path.join(args.out, "samples")),
                       keras_gan.callbacks.RunCheckpoint(os.path.join(args.out, "checkpoints")),
                       keras.callbacks.CSVLogger(os.path.join(args.out, "history.csv"),
                                                 append=True)])
    gan.save(os.path.join(args.out, "gan.keras"))


if __name__ == "__main__":
    main()
