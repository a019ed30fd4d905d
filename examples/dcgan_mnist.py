"""A DCGAN on MNIST with the script's own Keras models, through keras_gan's public API.

    python examples/dcgan_mnist.py --data_dir=../shared/data/mnist --epochs=2 --out=runs/dcgan
"""
import argparse
import os

import keras
import tensorflow as tf

import keras_gan
from keras_gan.data import load_mnist


def generator(z_dim=64):
    z = keras.Input((z_dim,))
    x = keras.layers.Dense(7 * 7 * 128, use_bias=False)(z)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    x = keras.layers.Reshape((7, 7, 128))(x)
    x = keras.layers.Conv2DTranspose(64, 4, strides=2, padding="same", use_bias=False)(x)
    x = keras.layers.ReLU()(keras.layers.BatchNormalization()(x))
    x = keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh")(x)
    return keras.Model(z, x, name="generator")


def discriminator():
    image = keras.Input((28, 28, 1))
    x = keras.layers.LeakyReLU(0.2)(keras.layers.Conv2D(64, 4, strides=2, padding="same")(image))
    x = keras.layers.Conv2D(128, 4, strides=2, padding="same")(x)
    x = keras.layers.LeakyReLU(0.2)(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(image, keras.layers.Dense(1)(x), name="discriminator")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data_dir", default="", help="the MNIST IDX files; empty: tfds")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--max_images", type=int, default=0, help="0: all 60,000")
    parser.add_argument("--out", default="runs/dcgan_mnist")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    images, _ = load_mnist(args.data_dir, "train")  # uint8 (N, 28, 28, 1)
    images = images[:args.max_images or None]
    dataset = (tf.data.Dataset.from_tensor_slices(images)
               .shuffle(len(images), seed=0)
               .batch(64, drop_remainder=True)
               .map(lambda x: tf.cast(x, tf.float32) / 127.5 - 1.0)
               .prefetch(tf.data.AUTOTUNE))

    gan = keras_gan.GAN(generator(), discriminator(), value_range=(-1, 1))
    gan.compile(g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_ema_decay=0.999, steps_per_execution=50)
    gan.fit(dataset, epochs=args.epochs, verbose=2, callbacks=[
        keras_gan.callbacks.SampleGrid(os.path.join(args.out, "samples"), count=64),
        keras_gan.callbacks.RunCheckpoint(os.path.join(args.out, "checkpoints")),
        keras.callbacks.CSVLogger(os.path.join(args.out, "history.csv")),
    ])
    gan.export(os.path.join(args.out, "generator"))
    print("samples, history and generator in", args.out)


if __name__ == "__main__":
    main()
