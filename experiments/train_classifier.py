"""Trains the MNIST CNN that FID, the IS analogue, precision/recall and mode coverage use, and
records its SHA-256 and the scores real MNIST gets (the references generated images are compared
with). The packaged classifier was made with

    python -m experiments.train_classifier --data_dir=../shared/data/mnist \
        --out=keras_gan/classifiers/mnist_v1.weights.h5
"""
from __future__ import annotations

from absl import flags

from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_string("data_dir", "", "Folder of the four MNIST IDX .gz files; empty: tfds `mnist`.")
flags.DEFINE_string("out", "models/mnist_classifier.weights.h5",
                    "Where to save the weights (*.weights.h5; the record goes beside as .json).")
flags.DEFINE_integer("epochs", 4, "Training epochs.")
flags.DEFINE_float("min_accuracy", 0.99, "Refuse to save a classifier below this test accuracy.")
FLAGS = flags.FLAGS


@exit_on_user_error
def main(argv):
    del argv
    import numpy as np

    from keras_gan import classifier, data, metrics

    if FLAGS.epochs < 1:
        raise KerasGanError(f"--epochs={FLAGS.epochs}: expected a positive integer")
    classifier.check_weights_path(FLAGS.out)  # before minutes of training, not after
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
    reference = {"test_accuracy": accuracy, "epochs": FLAGS.epochs,
                 "inception_score_test": metrics.inception_score(test_probabilities),
                 "fid_test_vs_train": metrics.frechet_distance(test_features, train_features),
                 **{f"{name}_test_vs_train": value for name, value in metrics.precision_recall(
                     train_features[:10000], test_features).items()},
                 **metrics.mode_coverage(test_probabilities)}
    record = classifier.save_classifier(model, FLAGS.out, reference)
    for name, value in record.items():
        print(f"{name:>22}: {value}")


if __name__ == "__main__":
    cli.run(main)
