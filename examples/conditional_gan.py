"""A class-conditional GAN on MNIST with an objective registered in this script.

    python examples/conditional_gan.py --data_dir=../shared/data/mnist --epochs=2
"""
import argparse
import os

import keras
import numpy as np

import keras_gan
from keras_gan.data import load_mnist


@keras_gan.objectives.register("least_squares_01")
def least_squares_01(real_logits, fake_logits):
    """Least squares with targets 0 and 1 (Mao et al.), per example: (D's loss, G's loss)."""
    return (real_logits - 1.0) ** 2 + fake_logits ** 2, (fake_logits - 1.0) ** 2


def generator(z_dim=32, classes=10):
    z, label = keras.Input((z_dim,)), keras.Input((), dtype="int32")
    x = keras.layers.Concatenate()([z, keras.layers.CategoryEncoding(classes, "one_hot")(label)])
    x = keras.layers.Dense(256, activation="relu")(x)
    x = keras.layers.Dense(512, activation="relu")(x)
    x = keras.layers.Dense(784, activation="tanh")(x)
    return keras.Model([z, label], keras.layers.Reshape((28, 28, 1))(x), name="generator")


def discriminator(classes=10):
    image, label = keras.Input((28, 28, 1)), keras.Input((), dtype="int32")
    one_hot = keras.layers.CategoryEncoding(classes, "one_hot")(label)
    x = keras.layers.Concatenate()([keras.layers.Flatten()(image), one_hot])
    x = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(512)(x))
    x = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(256)(x))
    return keras.Model([image, label], keras.layers.Dense(1)(x), name="discriminator")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="", help="the MNIST IDX files; empty: tfds")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max_images", type=int, default=0, help="0: all 60,000")
    parser.add_argument("--out", default="runs/conditional_gan")
    args = parser.parse_args()

    images, labels = load_mnist(args.data_dir, "train")
    images, labels = images[:args.max_images or None], labels[:args.max_images or None]

    gan = keras_gan.GAN(generator(), discriminator())  # 10 classes, read from G's one-hot layer
    gan.compile(objective="least_squares_01", steps_per_execution=50)
    # uint8 images are scaled to the GAN's value range, (-1, 1) by default.
    gan.fit(images, labels, batch_size=64, epochs=args.epochs, verbose=2, callbacks=[
        keras_gan.callbacks.SampleGrid(os.path.join(args.out, "samples"), count=100)])
    sevens = gan.sample(16, labels=7, seed=0)
    np.save(os.path.join(args.out, "sevens.npy"), sevens)
    print(f"16 sevens in {args.out}/sevens.npy, pixels {sevens.min():.2f}..{sevens.max():.2f}")


if __name__ == "__main__":
    main()
