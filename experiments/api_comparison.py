"""keras_gan.GAN.fit against the CLI's trainer and a keras-io loop of the same models.

The models are the user's own small DCGAN of examples/dcgan_mnist.py; the keras-io loop is
keras.io's DCGAN example (a `keras.Model` whose `train_step` trains D on real and fake, then G
through D with only G's gradients applied) run by Keras's `fit`. By default keras_gan plays the
same recipe (`--order=d_first --d_style=concat`), so the two differ only in how they run it.

    python -m experiments.api_comparison --data_dir=../shared/data/mnist --mode=speed
    python -m experiments.api_comparison --data_dir=../shared/data/mnist --mode=quality \
        --out=runs/api_comparison

speed: images/s of each way, in interleaved rounds (the best of each reported, the host being
noisy); quality: each way trains `--epochs` epochs from the same initial weights, and the
packaged classifier scores 10,000 samples of each against the 10,000 test images.
"""
from __future__ import annotations

import json
import os
import time

from absl import flags, logging

from experiments.example_models import user_models
from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_string("data_dir", "", "Folder of the four MNIST IDX .gz files; empty: tfds.")
flags.DEFINE_enum("mode", "speed", ["speed", "quality"], "What to compare.")
flags.DEFINE_list("ways", ["api", "api_arrays", "trainer", "keras_io"],
                  "Which ways to run: GAN.fit on a tf.data pipeline, GAN.fit on NumPy arrays "
                  "(the CLI's data path), the CLI's trainer calls alone, the keras-io loop on "
                  "the same tf.data pipeline (quality: api and keras_io).")
flags.DEFINE_integer("steps", 600, "speed: timed steps per way and round (after a warm-up).")
flags.DEFINE_integer("rounds", 3, "speed: interleaved rounds.")
flags.DEFINE_integer("epochs", 2, "quality: epochs each way trains.")
flags.DEFINE_integer("batch_size", 64, "Global batch size.")
flags.DEFINE_integer("steps_per_execution", 50, "Steps fused into one call, every way.")
flags.DEFINE_integer("max_images", 0, "Train on at most this many images; 0: all.")
flags.DEFINE_integer("samples", 10000, "quality: samples scored per way.")
flags.DEFINE_integer("seed", 0, "quality: seed of the initial weights, the data order and z.")
flags.DEFINE_enum("order", "d_first", ["d_first", "g_first"],
                  "keras_gan's order of updates; keras-io's loop is d_first: D on G's fakes, then "
                  "G on fresh noise.")
flags.DEFINE_enum("d_style", "concat", ["concat", "separate"],
                  "keras_gan's D batch; keras-io's loop trains D on one concatenated batch.")
flags.DEFINE_string("out", "runs/api_comparison", "quality: where the scores go.")
FLAGS = flags.FLAGS
WAYS = ("api", "api_arrays", "trainer", "keras_io")


def keras_io_gan(generator, discriminator, z_dim: int):
    """keras.io's DCGAN loop (its `GAN.train_step`, bce with logits, Adam 2e-4 / 0.5)."""
    import keras
    import tensorflow as tf

    class KerasIOGAN(keras.Model):
        def __init__(self):
            super().__init__()
            self.generator, self.discriminator = generator, discriminator
            self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

        def compile(self, **kwargs):
            super().compile(**kwargs)
            self.d_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)
            self.g_optimizer = keras.optimizers.Adam(2e-4, beta_1=0.5)

        def train_step(self, real):
            batch = tf.shape(real)[0]
            fake = self.generator(tf.random.normal([batch, z_dim]), training=True)
            both = tf.concat([fake, real], 0)
            labels = tf.concat([tf.zeros([batch, 1]), tf.ones([batch, 1])], 0)
            with tf.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.discriminator(both, training=True))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
            with tf.GradientTape() as tape:
                fake = self.generator(tf.random.normal([batch, z_dim]), training=True)
                g_loss = self.loss_fn(tf.ones([batch, 1]),
                                      self.discriminator(fake, training=True))
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            return {"d_loss": d_loss, "g_loss": g_loss}

    gan = KerasIOGAN()
    gan.compile(steps_per_execution=FLAGS.steps_per_execution)
    return gan


def mnist(split: str):
    import numpy as np

    from keras_gan.data import load_mnist

    images, labels = load_mnist(FLAGS.data_dir, split)
    if split == "train" and FLAGS.max_images:
        images, labels = images[:FLAGS.max_images], labels[:FLAGS.max_images]
    return images, labels.astype(np.int64)


def dataset(images, seed: int = 0):
    import tensorflow as tf

    return (tf.data.Dataset.from_tensor_slices(images).shuffle(len(images), seed=seed)
            .batch(FLAGS.batch_size, drop_remainder=True)
            .map(lambda x: tf.cast(x, tf.float32) / 127.5 - 1.0).prefetch(tf.data.AUTOTUNE))


def our_gan(seed: int):
    import keras

    import keras_gan

    gan = keras_gan.GAN(*user_models(seed))
    return gan.compile(g_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                       d_optimizer=keras.optimizers.Adam(2e-4, beta_1=0.5),
                       order=FLAGS.order, d_style=FLAGS.d_style,
                       steps_per_execution=FLAGS.steps_per_execution)


class Clock:
    """Times a one-epoch `fit` from the end of its first `warmup` steps (tracing) to its last.
    Keras calls `on_train_batch_end` once per fused call with the call's last step; keras_gan
    once per step: either way `batch + 1` is the steps done."""

    def __init__(self, warmup: int):
        import keras

        clock = self

        class Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                if clock.started is None and batch + 1 >= warmup:
                    clock.started, clock.step = time.perf_counter(), batch + 1

            def on_train_end(self, logs=None):
                clock.seconds = time.perf_counter() - clock.started

        self.started = self.step = self.seconds = None
        self.callback = Callback()


def time_way(way: str, images) -> float:
    """Images per second of `way` over --steps steps after a warm-up of one fused call."""
    warmup = FLAGS.steps_per_execution
    total = warmup + FLAGS.steps
    data = dataset(images).repeat()
    if way == "trainer":  # the CLI's path below fit: fused calls, no callbacks
        gan = our_gan(0)
        train_step, iterator = gan.training_elements(images, batch_size=FLAGS.batch_size)
        train_step(iterator, warmup)
        started = time.perf_counter()
        train_step(iterator, FLAGS.steps)
        return FLAGS.steps * FLAGS.batch_size / (time.perf_counter() - started)
    clock = Clock(warmup)
    if way == "api":
        our_gan(0).fit(data, epochs=1, steps_per_epoch=total, verbose=0,
                       callbacks=[clock.callback])
    elif way == "api_arrays":  # uint8 arrays, shuffled and scaled inside keras_gan
        our_gan(0).fit(images, batch_size=FLAGS.batch_size, epochs=1, steps_per_epoch=total,
                       verbose=0, callbacks=[clock.callback])
    else:
        generator, discriminator = user_models(0)
        keras_io = keras_io_gan(generator, discriminator, generator.inputs[0].shape[-1])
        keras_io.fit(data, epochs=1, steps_per_epoch=total, verbose=0, callbacks=[clock.callback])
        logging.info("keras-io loop: jit_compile=%s", keras_io.jit_compile)
    return (total - clock.step) * FLAGS.batch_size / clock.seconds


def speed(images) -> dict:
    best = {}
    for round_ in range(FLAGS.rounds):
        for way in FLAGS.ways:
            rate = time_way(way, images)
            best[way] = max(best.get(way, 0.0), rate)
            print(f"round {round_ + 1} {way:>8}: {rate:7.0f} images/s", flush=True)
    summary = {f"{way}_images_per_sec": round(rate, 1) for way, rate in best.items()}
    if "api_arrays" in best and "trainer" in best:
        summary["api_arrays_over_trainer"] = round(best["api_arrays"] / best["trainer"], 3)
    if "api" in best and "keras_io" in best:
        summary["api_over_keras_io"] = round(best["api"] / best["keras_io"], 3)
    return summary


def quality(images) -> dict:
    import numpy as np

    from keras_gan import evaluation, export
    from keras_gan.classifier import load_classifier

    test_images, test_labels = mnist("test")
    reference = evaluation.MnistReference(None, evaluation.to_mnist_pixels(test_images, (0, 255)),
                                          load_classifier(), test_labels)
    scores = {}
    for way in [way for way in ("api", "keras_io") if way in FLAGS.ways]:
        started = time.perf_counter()
        if way == "api":
            gan = our_gan(FLAGS.seed)
            gan.fit(dataset(images, FLAGS.seed), epochs=FLAGS.epochs, verbose=0, seed=FLAGS.seed)
            generator = gan.generator
        else:
            generator, discriminator = user_models(FLAGS.seed)
            keras_io_gan(generator, discriminator, generator.inputs[0].shape[-1]).fit(
                dataset(images, FLAGS.seed), epochs=FLAGS.epochs, verbose=0)
        seconds = time.perf_counter() - started
        export.export_generator(generator, os.path.join(FLAGS.out, way, "generator"), "normal",
                                (-1.0, 1.0))
        z = np.random.default_rng(1).standard_normal(
            (FLAGS.samples, generator.inputs[0].shape[-1])).astype(np.float32)
        samples = np.concatenate([np.asarray(generator(z[i:i + 1000], training=False))
                                  for i in range(0, FLAGS.samples, 1000)])
        result = reference.evaluate(evaluation.to_mnist_pixels(samples, (-1, 1)),
                                    ["fid", "modes"])
        scores[way] = {"fid": round(result["fid"], 2), "classes": result["classes_covered"],
                       "train_seconds": round(seconds, 1)}
        logging.info("%s: %s", way, scores[way])
    return scores


@exit_on_user_error
def main(argv):
    if len(argv) > 1:
        raise KerasGanError(f"unexpected arguments {' '.join(argv[1:])}")
    unknown = set(FLAGS.ways) - set(WAYS)
    if unknown:
        raise KerasGanError(f"--ways: unknown {', '.join(sorted(unknown))}; expected "
                            f"{', '.join(WAYS)}")
    images, _ = mnist("train")
    summary = speed(images) if FLAGS.mode == "speed" else quality(images)
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    cli.run(main)
