"""Scores an exported generator on MNIST: Parzen-window log-likelihood (the paper's protocol),
and with the packaged classifier (or --classifier) FID, the Inception-Score analogue, mode
coverage, precision/recall and, for a class-conditional generator, label accuracy and intra-class
FID. Loads only the SavedModel.

    python -m experiments.evaluate --generator=RUN/generator --data_dir=../shared/data/mnist \
        [--metrics=parzen,fid,is,modes,precision_recall,conditional]

On any other image data, FID and KID on InceptionV3 features against --dataset / --image_dir:

    python -m experiments.evaluate --generator=RUN/generator --dataset=cifar10 \
        --metrics=inception_fid,kid [--inception_weights=PATH]
"""
from __future__ import annotations

import json
import os
import time

from absl import flags

from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_string("generator", None, "Exported generator SavedModel directory (RUN/generator).")
flags.DEFINE_list("metrics", ["parzen", "fid", "is", "modes", "precision_recall", "conditional"],
                  "Metrics to compute (conditional: only for class-conditional generators).")
flags.DEFINE_string("data_dir", "", "Folder of the four MNIST IDX .gz files; empty: tfds `mnist`.")
flags.DEFINE_string("dataset", "mnist", "Real images for inception_fid / kid: a tfds dataset "
                    "(mnist and fashion_mnist also from --data_dir).")
flags.DEFINE_string("image_dir", "", "Real images for inception_fid / kid: a folder instead.")
flags.DEFINE_string("reference_split", "", "Split of the real images for inception_fid / kid; "
                    "empty: test, or train for an --image_dir (a folder is one training set).")
flags.DEFINE_integer("reference_images", 10000, "Real images for inception_fid / kid.")
flags.DEFINE_string("inception_weights", "", "Keras's InceptionV3 notop weights file; empty: "
                    "Keras's download (needs the network once).")
flags.DEFINE_string("classifier", "", "MNIST classifier from experiments.train_classifier; "
                    "empty: the one packaged with keras_gan (the same for everyone).")
flags.DEFINE_integer("num_samples", 10000, "Samples drawn from the generator (paper: 10,000).")
flags.DEFINE_integer("seed", 0, "Seed of the samples.")
flags.DEFINE_string("validation_split", "train[50000:51000]",
                    "Images that choose the Parzen sigma (the paper: 1,000 validation images).")
flags.DEFINE_string("out", "", "JSON file to write; default: eval.json beside the generator.")
FLAGS = flags.FLAGS


def draw_samples(model, count: int, seed: int, batch_size: int = 1000):
    """`count` samples from the model's own prior, and for a conditional model the classes
    they were drawn for (else None): class by class, in shares of the training data's class
    frequencies that the export records (uniform for older exports)."""
    import numpy as np
    import tensorflow as tf

    from keras_gan import export, inputs

    classes = export.num_classes(model)

    def batches(size, first_seed, *label):
        return [model.sample(tf.constant(min(batch_size, size - start)),
                             tf.constant(first_seed + start), *label)["images"].numpy()
                for start in range(0, size, batch_size)]

    if not classes:
        return np.concatenate(batches(count, seed * 1000003)), None
    shares = inputs.class_shares(export.class_prior(model), count)
    images = [batch for label, share in enumerate(shares)
              for batch in batches(int(share), seed * 1000003 + label * 100003,
                                   tf.constant(label))]
    return np.concatenate(images), np.repeat(np.arange(classes, dtype=np.int32), shares)


def mnist_scores(samples, value_range, labels, names, classifier) -> dict:
    """Parzen on MNIST and the classifier's scores."""
    from keras_gan import data, evaluation

    validation = data.load_mnist(FLAGS.data_dir, FLAGS.validation_split)[0] / 255.0
    if "parzen" in names and not len(validation):
        raise KerasGanError(f"--validation_split={FLAGS.validation_split}: no images in "
                            f"{FLAGS.data_dir or 'tfds mnist'}; Parzen's sigma is chosen on "
                            f"them (e.g. --validation_split=train[:1000])")
    test_images, test_labels = data.load_mnist(FLAGS.data_dir, "test")
    reference = evaluation.MnistReference(validation, test_images / 255.0, classifier,
                                          test_labels)
    return reference.evaluate(evaluation.to_mnist_pixels(samples, value_range), names, labels)


@exit_on_user_error
def main(argv):
    del argv
    from keras_gan import atomic, data, evaluation, export

    if not FLAGS.generator:
        raise KerasGanError("--generator is required: an exported generator (RUN/generator)")
    if FLAGS.num_samples < 2:
        raise KerasGanError(f"--num_samples={FLAGS.num_samples}: expected at least 2")
    model = export.load_generator(FLAGS.generator, "--generator")
    evaluation.check_metric_names(FLAGS.metrics)
    mnist_metrics = [m for m in FLAGS.metrics if m not in evaluation.INCEPTION_METRICS]
    inception_metrics = [m for m in FLAGS.metrics if m in evaluation.INCEPTION_METRICS]
    classifier = inception_model = None
    if evaluation.CLASSIFIER_METRICS & set(mnist_metrics):
        from keras_gan.classifier import load_classifier

        classifier = load_classifier(FLAGS.classifier)
    if inception_metrics:
        from keras_gan.inception import load_inception

        inception_model = load_inception(FLAGS.inception_weights)
    started = time.perf_counter()
    samples, labels = draw_samples(model, FLAGS.num_samples, FLAGS.seed)
    value_range = model.info()["value_range"].numpy()
    results = {"num_samples": len(samples)}
    if mnist_metrics:
        results.update(mnist_scores(samples, value_range, labels, mnist_metrics, classifier))
    if inception_metrics:
        real = data.load_dataset(
            FLAGS.dataset, FLAGS.reference_split or ("train" if FLAGS.image_dir else "test"),
            data_dir=FLAGS.data_dir,
            image_dir=FLAGS.image_dir, image_size=samples.shape[1], channels=samples.shape[-1],
            max_images=FLAGS.reference_images).images
        results.update(evaluation.inception_evaluation(samples, value_range, real,
                                                       inception_metrics, inception_model))
    results["seconds"] = round(time.perf_counter() - started, 1)
    out = FLAGS.out or os.path.join(os.path.dirname(os.path.abspath(FLAGS.generator)), "eval.json")
    atomic.write_text(out, json.dumps(results, indent=2) + "\n")
    for name, value in results.items():
        if isinstance(value, list):
            value = "[" + ", ".join(f"{v:.3f}" if isinstance(v, float) else str(v)
                                    for v in value) + "]"
        print(f"{name:>26}: {value:.4f}" if isinstance(value, float) else f"{name:>26}: {value}")
    print(f"wrote {out}")


if __name__ == "__main__":
    cli.run(main)
