"""Trains the MNIST CNN that FID, the IS analogue and mode coverage use, and records the scores
real MNIST gets (the references generated images are compared with).

    python -m experiments.train_classifier --data_dir=../shared/data/mnist --out=models/mnist_classifier.keras
"""
from __future__ import annotations

import json
import os

from absl import flags

from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_string("data_dir", "", "Folder of the four MNIST IDX .gz files; empty: tfds `mnist`.")
flags.DEFINE_string("out", "models/mnist_classifier.keras", "Where to save the classifier.")
flags.DEFINE_integer("epochs", 4, "Training epochs.")
flags.DEFINE_float("min_accuracy", 0.99, "Refuse to save a classifier below this test accuracy.")
FLAGS = flags.FLAGS


@exit_on_user_error
def main(argv):
    del argv
    import numpy as np

    from keras_gan import atomic, classifier, data, metrics

    if FLAGS.epochs < 1:
        raise KerasGanError(f"--epochs={FLAGS.epochs}: expected a positive integer")
    train_images, train_labels = data.load_mnist(FLAGS.data_dir, "train")
    test_images, test_labels = data.load_mnist(FLAGS.data_dir, "test")
    model = classifier.train_classifier(train_images, train_labels, FLAGS.epochs)
    test = test_images.astype(np.float32) / 255.0
    test_features, test_probabilities = classifier.features_and_probabilities(model, test)
    accuracy = float((test_probabilities.argmax(1) == test_labels).mean())
    if accuracy < FLAGS.min_accuracy:
        raise KerasGanError(f"test accuracy {accuracy:.4f} is below --min_accuracy="
                            f"{FLAGS.min_accuracy}; train longer (--epochs)")
    train_features = classifier.features_and_probabilities(
        model, train_images.astype(np.float32) / 255.0)[0]
    reference = {"test_accuracy": accuracy,
                 "inception_score_test": metrics.inception_score(test_probabilities),
                 "fid_test_vs_train": metrics.frechet_distance(test_features, train_features),
                 **metrics.mode_coverage(test_probabilities)}
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.out)), exist_ok=True)
    temporary = FLAGS.out + ".partial.keras"
    model.save(temporary)
    os.replace(temporary, FLAGS.out)
    atomic.write_text(FLAGS.out + ".json", json.dumps(reference, indent=2) + "\n")
    for name, value in reference.items():
        print(f"{name:>22}: {value}")


if __name__ == "__main__":
    cli.run(main)
