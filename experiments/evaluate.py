"""Scores an exported generator on MNIST: Parzen-window log-likelihood (the paper's protocol),
FID, the Inception-Score analogue and mode coverage. Loads only the SavedModel.

    python -m experiments.evaluate --generator=RUN/generator --data_dir=../shared/data/mnist \
        --classifier=models/mnist_classifier.keras [--metrics=parzen,fid,is,modes]
"""
from __future__ import annotations

import json
import os
import time

from absl import flags

from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_string("generator", None, "Exported generator SavedModel directory (RUN/generator).")
flags.DEFINE_list("metrics", ["parzen", "fid", "is", "modes"], "Metrics to compute.")
flags.DEFINE_string("data_dir", "", "Folder of the four MNIST IDX .gz files; empty: tfds `mnist`.")
flags.DEFINE_string("classifier", "models/mnist_classifier.keras",
                    "MNIST classifier from experiments.train_classifier (for fid, is, modes).")
flags.DEFINE_integer("num_samples", 10000, "Samples drawn from the generator (paper: 10,000).")
flags.DEFINE_integer("seed", 0, "Seed of the samples.")
flags.DEFINE_string("validation_split", "train[50000:51000]",
                    "Images that choose the Parzen sigma (the paper: 1,000 validation images).")
flags.DEFINE_string("out", "", "JSON file to write; default: eval.json beside the generator.")
FLAGS = flags.FLAGS


def draw_samples(model, count: int, seed: int, batch_size: int = 1000):
    import numpy as np
    import tensorflow as tf

    batches = [model.sample(tf.constant(min(batch_size, count - start)),
                            tf.constant(seed * 1000003 + start))["images"].numpy()
               for start in range(0, count, batch_size)]
    return np.concatenate(batches)


@exit_on_user_error
def main(argv):
    del argv
    from keras_gan import atomic, data, evaluation, export

    if not FLAGS.generator:
        raise KerasGanError("--generator is required: an exported generator (RUN/generator)")
    if FLAGS.num_samples < 2:
        raise KerasGanError(f"--num_samples={FLAGS.num_samples}: expected at least 2")
    model = export.load_generator(FLAGS.generator, "--generator")
    classifier = None
    if {"fid", "is", "modes"} & set(FLAGS.metrics):
        from keras_gan.classifier import load_classifier

        classifier = load_classifier(FLAGS.classifier)
    validation = data.load_mnist(FLAGS.data_dir, FLAGS.validation_split)[0] / 255.0
    test = data.load_mnist(FLAGS.data_dir, "test")[0] / 255.0
    reference = evaluation.MnistReference(validation, test, classifier)
    started = time.perf_counter()
    images = evaluation.to_mnist_pixels(draw_samples(model, FLAGS.num_samples, FLAGS.seed),
                                        model.info()["value_range"].numpy())
    results = reference.evaluate(images, FLAGS.metrics)
    results["seconds"] = round(time.perf_counter() - started, 1)
    out = FLAGS.out or os.path.join(os.path.dirname(os.path.abspath(FLAGS.generator)), "eval.json")
    atomic.write_text(out, json.dumps(results, indent=2) + "\n")
    for name, value in results.items():
        print(f"{name:>22}: {value:.4f}" if isinstance(value, float) else f"{name:>22}: {value}")
    print(f"wrote {out}")


if __name__ == "__main__":
    cli.run(main)
