"""Training on little data with and without augmentation of D's inputs, through the public API.

The user's own small DCGAN (examples/dcgan_mnist.py), unconditional, on a fixed random subset of
`--train_images` MNIST training images, for the same `--steps` with each of `--augments`
(none, diffaugment, ada, ...) and each seed. Every run logs D's mean output on the training
reals against held-out reals (`validation_data`: the overfitting augmentation fights) and ADA's
p; at the end the packaged classifier scores 10,000 samples of G's average against the test
images (FID, classes covered, the largest class share).

    python -m experiments.little_data --data_dir=../shared/data/mnist --train_images=1000 \
        --augments=none,diffaugment,ada --seeds=0,1 --steps=3000 --out=runs/little_data
"""
from __future__ import annotations

import json
import os
import time

from absl import flags, logging

from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_string("data_dir", "", "Folder of the four MNIST IDX .gz files; empty: tfds.")
flags.DEFINE_integer("train_images", 1000, "Training images: a fixed random subset (seed 0).")
flags.DEFINE_list("augments", ["none", "diffaugment", "ada"], "The augment= values to compare.")
flags.DEFINE_list("seeds", ["0"], "Seeds of the initial weights, data order and noise.")
flags.DEFINE_integer("steps", 3000, "Training steps of every run.")
flags.DEFINE_integer("batch_size", 64, "Global batch size.")
flags.DEFINE_integer("held_out", 1000, "Held-out training images for D's validation outputs.")
flags.DEFINE_integer("samples", 10000, "Samples scored per run.")
flags.DEFINE_integer("score_every", 0, "Also score G's average every this many steps (rounded "
                     "to whole epochs) into NAME_scores.csv and .png; 0: only at the end.")
flags.DEFINE_string("out", "runs/little_data", "Where the scores, curves and grids go.")
FLAGS = flags.FLAGS


def subset(images, count: int, held_out: int):
    """`count` training images and `held_out` others, both fixed by seed 0."""
    import numpy as np

    order = np.random.default_rng(0).permutation(len(images))
    return images[order[:count]], images[order[count:count + held_out]]


def run(augment: str, seed: int, train, held_out, reference) -> dict:
    """Trains one model; its scores and per-epoch D outputs (and p)."""
    import keras

    import keras_gan
    from experiments.example_models import user_models
    from keras_gan import evaluation

    generator, discriminator = user_models(seed)
    gan = keras_gan.GAN(generator, discriminator)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_ema_decay=0.999, augment=augment, steps_per_execution=50)
    batches = len(train) // FLAGS.batch_size
    epochs = -(-FLAGS.steps // batches)
    name = f"{augment.replace(':', '_').replace(',', '-')}_seed{seed}"
    scoring_seconds = []

    def score(samples):
        began = time.perf_counter()
        scores = reference.evaluate(evaluation.to_mnist_pixels(samples, (-1, 1)), ["fid", "modes"])
        scoring_seconds.append(time.perf_counter() - began)
        return scores

    scoring = [keras_gan.callbacks.EvaluationCallback(
        gan.sampling_generator, lambda samples, _: summary(score(samples)), gan.noise, [],
        FLAGS.samples, max(1, round(FLAGS.score_every / batches)),
        os.path.join(FLAGS.out, f"{name}_scores.csv"), os.path.join(FLAGS.out, "tensorboard"),
        seed=1)] if FLAGS.score_every else []
    started = time.perf_counter()
    history = gan.fit(train, batch_size=FLAGS.batch_size, epochs=epochs, verbose=0, seed=seed,
                      max_steps=FLAGS.steps, validation_data=(held_out,),
                      validation_freq=max(1, epochs // 20), callbacks=scoring)
    seconds = time.perf_counter() - started - sum(scoring_seconds)  # training alone
    samples = gan.sample(FLAGS.samples, seed=1)
    scores = score(samples)
    from keras_gan import plotting

    plotting.write_grid(os.path.join(FLAGS.out, f"{name}.png"), samples[:100], (-1, 1))
    curves = {key: [round(float(v), 4) for v in values]
              for key, values in history.history.items()
              if key in ("d_real", "val_d_real", "augment_p", "d_loss")}
    return {"augment": augment, "seed": seed, **summary(scores),
            "train_seconds": round(seconds, 1), "epochs": epochs, "curves": curves}


def summary(scores: dict) -> dict:
    """FID and mode coverage as the table reports them."""
    histogram = scores["class_histogram"]
    return {"fid": round(scores["fid"], 2), "classes_covered": scores["classes_covered"],
            "largest_class_share": round(max(histogram) / sum(histogram), 4)}


@exit_on_user_error
def main(argv):
    if len(argv) > 1:
        raise KerasGanError(f"unexpected arguments {' '.join(argv[1:])}")
    from keras_gan import evaluation
    from keras_gan.classifier import load_classifier
    from keras_gan.data import load_mnist

    images, _ = load_mnist(FLAGS.data_dir, "train")
    if FLAGS.train_images + FLAGS.held_out > len(images):
        raise KerasGanError(f"--train_images={FLAGS.train_images} and --held_out="
                            f"{FLAGS.held_out}: more than the {len(images)} images")
    train, held_out = subset(images, FLAGS.train_images, FLAGS.held_out)
    test_images, test_labels = load_mnist(FLAGS.data_dir, "test")
    reference = evaluation.MnistReference(None, evaluation.to_mnist_pixels(test_images, (0, 255)),
                                          load_classifier(), test_labels)
    os.makedirs(FLAGS.out, exist_ok=True)
    results = []
    for seed in [int(s) for s in FLAGS.seeds]:
        for augment in FLAGS.augments:
            result = run(augment, seed, train, held_out, reference)
            logging.info("%s seed %d: FID %.2f, %d classes, %.0f s", augment, seed,
                         result["fid"], result["classes_covered"], result["train_seconds"])
            results.append(result)
            with open(os.path.join(FLAGS.out, "results.json"), "w") as stream:
                json.dump(results, stream, indent=1)
    print(json.dumps([{k: v for k, v in r.items() if k != "curves"} for r in results]),
          flush=True)


if __name__ == "__main__":
    cli.run(main)
