"""Training on little data with and without augmentation of D's inputs, through the public API.

The user's own small DCGAN (examples/dcgan_mnist.py), unconditional, on a fixed random subset of
`--train_images` MNIST training images, for the same `--steps` with each of `--augments`
(none, diffaugment, ada, ...) and each seed. Every run logs D's mean output on the training
reals against held-out reals (`validation_data`: the overfitting augmentation fights) and ADA's
p, drawn along the runs into `--out`/overfitting.png; at the end the packaged classifier scores
10,000 samples of G's average against the test images (FID, classes covered, the largest class
share).

    python -m experiments.little_data --data_dir=../shared/data/mnist --train_images=1000 \
        --augments=none,diffaugment,ada --seeds=0,1 --steps=3000 --out=runs/little_data

Fine-tuning (`--pretrain_digits`): a model trained on every training image of those digits
(`--pretrain_steps`, kept as PRETRAINED.keras in `--out` and reused) is fine-tuned on
`--train_images` images of the other digits with D's first `--freeze_d_layers` layers fixed (each
value one run), against the same model from scratch on those images for the same steps. Scores
are then against the test images of the other digits; `target_share` is the share of samples the
classifier labels as one of them.

    python -m experiments.little_data --data_dir=../shared/data/mnist --pretrain_digits=0,1,2,3,4 \
        --train_images=100 --augments=none --freeze_d_layers=0,2 --steps=1500 --out=runs/fine_tune
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
flags.DEFINE_float("ada_target", 0.6, "ADA's target of E[sign(D(real))] (the paper's 0.6).")
flags.DEFINE_integer("held_out", 1000, "Held-out training images for D's validation outputs.")
flags.DEFINE_integer("samples", 10000, "Samples scored per run.")
flags.DEFINE_integer("score_every", 0, "Also score G's average every this many steps (rounded "
                     "to whole epochs) into NAME_scores.csv and .png; 0: only at the end.")
flags.DEFINE_list("pretrain_digits", [], "Fine-tuning: pretrain on all training images of these "
                  "digits, then train on --train_images of the others; empty: no pretraining.")
flags.DEFINE_integer("pretrain_steps", 3000, "Fine-tuning: steps of the pretraining run.")
flags.DEFINE_list("freeze_d_layers", ["0"], "Fine-tuning: D layers kept fixed, one run each.")
flags.DEFINE_string("out", "runs/little_data", "Where the scores, curves and grids go.")
FLAGS = flags.FLAGS


def subset(images, count: int, held_out: int):
    """`count` training images and `held_out` others, both fixed by seed 0."""
    import numpy as np

    order = np.random.default_rng(0).permutation(len(images))
    return images[order[:count]], images[order[count:count + held_out]]


def run(augment: str, seed: int, train, held_out, reference, start=None, freeze: int = 0,
        steps: int | None = None, name: str | None = None, save: bool = False) -> dict:
    """Trains one model (from `start`, a saved GAN, when given) for `steps` (default `--steps`);
    its scores and per-epoch D outputs (and p). `save`: keep it as `--out`/NAME.keras."""
    import keras

    import keras_gan
    from experiments.example_models import user_models
    from keras_gan import evaluation
    from keras_gan.run_checkpoint import initialize_from

    steps = steps or FLAGS.steps
    generator, discriminator = user_models(seed)
    gan = keras_gan.GAN(generator, discriminator)
    gan.compile(keras.optimizers.Adam(2e-4, beta_1=0.5), keras.optimizers.Adam(2e-4, beta_1=0.5),
                g_ema_decay=0.999, augment=augment, steps_per_execution=50,
                freeze_d_layers=freeze, ada_target=FLAGS.ada_target)
    if start:
        initialize_from(gan, start)
    batches = len(train) // FLAGS.batch_size
    epochs = -(-steps // batches)
    target = f"_target{FLAGS.ada_target:g}" if augment.startswith("ada") and (
        FLAGS.ada_target != flags.FLAGS["ada_target"].default) else ""
    name = name or f"{augment.replace(':', '_').replace(',', '-')}{target}_seed{seed}"
    scoring_seconds = []

    def score(samples):
        began = time.perf_counter()
        scores = reference.evaluate(evaluation.to_mnist_pixels(samples, (-1, 1)), ["fid", "modes"])
        scoring_seconds.append(time.perf_counter() - began)
        return scores

    scoring = [keras_gan.callbacks.EvaluationCallback(
        gan.sampling_generator, lambda samples, _: summary(score(samples)), gan.noise_prior, [],
        FLAGS.samples, max(1, round(FLAGS.score_every / batches)),
        os.path.join(FLAGS.out, f"{name}_scores.csv"), os.path.join(FLAGS.out, "tensorboard"),
        seed=1)] if FLAGS.score_every else []
    progress = keras_gan.callbacks.ProgressLogger(FLAGS.batch_size, batches, steps,
                                                  max(1, steps // 20))
    started = time.perf_counter()
    history = gan.fit(train, batch_size=FLAGS.batch_size, epochs=epochs, verbose=0, seed=seed,
                      max_steps=steps, validation_data=(held_out,),
                      validation_freq=validation_every(epochs), callbacks=[progress, *scoring])
    seconds = time.perf_counter() - started - sum(scoring_seconds)  # training alone
    samples = gan.sample(FLAGS.samples, seed=1)
    scores = score(samples)
    from keras_gan import plotting

    plotting.write_grid(os.path.join(FLAGS.out, f"{name}.png"), samples[:100], (-1, 1))
    curves = {key: [round(float(v), 4) for v in values]
              for key, values in history.history.items()
              if key in ("d_real", "val_d_real", "augment_p", "d_loss")}
    if save:
        gan.save(os.path.join(FLAGS.out, f"{name}.keras"))
    validated = [validation_every(epochs) * batches * (i + 1)
                 for i in range(len(curves.get("val_d_real", [])))]
    return {"augment": augment, "seed": seed, "run": name, **summary(scores),
            "train_seconds": round(seconds, 1), "epochs": epochs, "steps_per_epoch": batches,
            "curves": curves, "validation_steps": validated}


def summary(scores: dict) -> dict:
    """FID and mode coverage as the table reports them (and, fine-tuning, the share of samples
    that are target digits)."""
    histogram = scores["class_histogram"]
    shares = {"target_share": round(sum(histogram[int(d)] for d in range(10)
                                        if str(d) not in FLAGS.pretrain_digits)
                                    / sum(histogram), 4)} if FLAGS.pretrain_digits else {}
    return {"fid": round(scores["fid"], 2), "classes_covered": scores["classes_covered"],
            "largest_class_share": round(max(histogram) / sum(histogram), 4), **shares}


def validation_every(epochs: int) -> int:
    """Epochs between D's outputs on the held-out reals: about 20 along a run."""
    return max(1, epochs // 20)


def write_overfitting(path: str, results: list[dict]) -> None:
    """D's mean output on the training reals against held-out reals along the runs validated at
    the same steps as the newest (not a fine-tuning comparison's pretraining run, on other data),
    and ADA's p: the memorising augmentation fights, as a picture."""
    import numpy as np

    from keras_gan import plotting

    steps = results[-1]["validation_steps"]
    runs = [r for r in results if steps and r["validation_steps"] == steps]
    if not runs:
        return

    def at_validation(result, key):  # a per-epoch series at the epochs that end at `steps`
        return np.take(result["curves"][key], np.asarray(steps) // result["steps_per_epoch"] - 1)

    panels = [{r["run"]: at_validation(r, "d_real") for r in runs},
              {r["run"]: r["curves"]["val_d_real"] for r in runs}]
    titles = ["D(x) on the training reals", "D(x) on held-out reals"]
    adaptive = {r["run"]: at_validation(r, "augment_p")
                for r in runs if "augment_p" in r["curves"]}
    if adaptive:
        panels.append(adaptive)
        titles.append("ADA's p")
    plotting.write_curves(path, np.asarray(steps), panels, titles, smoothing=1)


@exit_on_user_error
def main(argv):
    if len(argv) > 1:
        raise KerasGanError(f"unexpected arguments {' '.join(argv[1:])}")
    import numpy as np

    from keras_gan import evaluation
    from keras_gan.classifier import load_classifier
    from keras_gan.data import load_mnist

    images, labels = load_mnist(FLAGS.data_dir, "train")
    test_images, test_labels = load_mnist(FLAGS.data_dir, "test")
    source = np.isin(labels, [int(d) for d in FLAGS.pretrain_digits])
    if FLAGS.pretrain_digits:  # the target digits are the others, in training and in scoring
        test_target = ~np.isin(test_labels, [int(d) for d in FLAGS.pretrain_digits])
        test_images, test_labels = test_images[test_target], test_labels[test_target]
    if FLAGS.train_images + FLAGS.held_out > np.sum(~source):
        raise KerasGanError(f"--train_images={FLAGS.train_images} and --held_out="
                            f"{FLAGS.held_out}: more than the {np.sum(~source)} images")
    train, held_out = subset(images[~source], FLAGS.train_images, FLAGS.held_out)
    reference = evaluation.MnistReference(None, evaluation.to_mnist_pixels(test_images, (0, 255)),
                                          load_classifier(), test_labels)
    os.makedirs(FLAGS.out, exist_ok=True)
    results = []

    def record(result):
        logging.info("%s: FID %.2f, %d classes, %.0f s", result["run"], result["fid"],
                     result["classes_covered"], result["train_seconds"])
        results.append(result)
        with open(os.path.join(FLAGS.out, "results.json"), "w") as stream:
            json.dump(results, stream, indent=1)
        write_overfitting(os.path.join(FLAGS.out, "overfitting.png"), results)

    for seed in [int(s) for s in FLAGS.seeds]:
        for augment in FLAGS.augments:
            if not FLAGS.pretrain_digits:
                record(run(augment, seed, train, held_out, reference))
                continue
            pretrained = os.path.join(FLAGS.out, f"pretrained_{augment}_seed{seed}.keras")
            if not os.path.exists(pretrained):
                sources = subset(images[source], int(np.sum(source)) - FLAGS.held_out,
                                 FLAGS.held_out)
                record(run(augment, seed, *sources, reference, steps=FLAGS.pretrain_steps,
                           name=f"pretrained_{augment}_seed{seed}", save=True))
            record(run(augment, seed, train, held_out, reference,
                       name=f"scratch_{augment}_seed{seed}"))
            for freeze in FLAGS.freeze_d_layers:
                record(run(augment, seed, train, held_out, reference, start=pretrained,
                           freeze=int(freeze),
                           name=f"fine_tuned_freeze{freeze}_{augment}_seed{seed}"))
    print(json.dumps([{k: v for k, v in r.items() if k != "curves"} for r in results]),
          flush=True)


if __name__ == "__main__":
    cli.run(main)
