"""Flags every experiment shares, and the one `run` that turns them into a training run.

`experiments.vanilla` and `experiments.dcgan` only choose architectures and defaults; the data,
trainer, callbacks, checkpoints and export are all here, once.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
from typing import TYPE_CHECKING, Callable, Sequence

from absl import flags, logging

from keras_gan.errors import KerasGanError

if TYPE_CHECKING:
    import numpy as np

    from keras_gan.data import LabelledImages

# --- the flags the issue names for every experiment ---
flags.DEFINE_string("dataset", "mnist",
                    "Training data when --image_dir is empty: a tfds image dataset (mnist, "
                    "fashion_mnist, cifar10, celeb_a, ...); mnist and fashion_mnist may come from "
                    "IDX files in --data_dir.")
flags.DEFINE_string("data_dir", "", "Folder of the four IDX .gz files of --dataset (mnist or "
                    "fashion_mnist); empty: tfds.")
flags.DEFINE_string("image_dir", "", "A folder of JPEG/PNG images to train on instead (class "
                    "subfolders give labels).")
flags.DEFINE_integer("channels", 3, "Channels of --image_dir images (1 or 3).")
flags.DEFINE_integer("max_images", 0, "Use at most this many training images; 0: all.")
flags.DEFINE_bool("stream_from_disk", False,
                  "Decode --image_dir files on every step (parallel, prefetched) instead of "
                  "holding them in memory: for folders too large for memory.")
flags.DEFINE_enum("conditional", "none", ["none", "concat", "projection"],
                  "Class-conditional G(z, y) and D(x, y) on labelled data: y joined to z and to "
                  "D's input (Mirza & Osindero), or D's logit plus <embed(y), phi(x)> (Miyato & "
                  "Koyama).")
flags.DEFINE_string("run_dir", None, "Where the run writes flags, CSV, grids, checkpoints, model.")
flags.DEFINE_integer("epochs", 1, "Passes over the training split (each D step takes one batch).")
flags.DEFINE_integer("max_steps", 0, "Stop after this many training steps; 0: no limit.")
flags.DEFINE_integer("batch_size", 64, "Global batch size, split across the strategy's replicas.")
flags.DEFINE_integer("seed", 0, "Seed of the data order, the noise and the initial weights.")
flags.DEFINE_enum("strategy", "auto", ["auto", "mirrored", "one_device", "multi_worker"],
                  "auto: all GPUs if several, else one GPU, else the CPU; multi_worker reads "
                  "TF_CONFIG.")
# --- the GAN recipe ---
flags.DEFINE_list("plugins", [], "Python modules to import before the flags are checked, e.g. "
                  "ones that register objectives, penalties or architectures "
                  "(keras_gan.objectives.register ...).")
flags.DEFINE_string("architecture", "pytorch_mlp",
                    "A registered G/D pair (keras_gan.models.register), each built for one data "
                    "shape; built in: paper_maxout, pytorch_mlp, blog_mlp, blog_mlp_bn, "
                    "heuristic_mlp, infogan28, infogan28_half_d, dcgan32, dcgan64, pacgan_mlp, "
                    "pacgan_mlp_nobn.")
flags.DEFINE_integer("z_dim", 100, "Size of the noise vector z.")
flags.DEFINE_enum("noise", "normal", ["normal", "uniform"],
                  "Prior of z: N(0, 1), or uniform on [-sqrt 3, sqrt 3].")
flags.DEFINE_enum("value_range", "-1,1", ["-1,1", "0,1"], "Range the pixels are scaled to.")
flags.DEFINE_string("train_split", "train", "Training split, tfds syntax (e.g. train[:50000]).")
flags.DEFINE_string("objective", "bce",
                    "A registered game (keras_gan.objectives.register; docs/objectives.md); built "
                    "in: bce, the paper's cross-entropy; least_squares (Mao et al.); hinge (Lim & "
                    "Ye; Miyato et al.); wasserstein (Arjovsky et al.; use a penalty or "
                    "--spectral_norm, and --d_steps=5).")
flags.DEFINE_enum("g_loss", "non_saturating", ["non_saturating", "minimax"],
                  "bce's G loss: -log D(G(z)) (the paper's heuristic) or log(1 - D(G(z))).")
flags.DEFINE_string("penalty", "none",
                    "A registered penalty added to D's loss (keras_gan.penalties.register); built "
                    "in: none; gradient, WGAN-GP's (||grad D(x^)|| - 1)^2 on real/fake "
                    "interpolates (Gulrajani et al.); r1, R1's 1/2 ||grad D(x)||^2 on real data "
                    "(Mescheder et al.).")
flags.DEFINE_float("penalty_weight", 10.0, "Weight of --penalty (WGAN-GP's lambda, R1's gamma).")
flags.DEFINE_bool("spectral_norm", False,
                  "Spectrally normalise D's Dense, Conv2D and Maxout layers (Miyato et al. "
                  "2018); it replaces D's BatchNormalization.")
flags.DEFINE_integer("pack", 1,
                     "PacGAN (Lin et al. 2018): D judges this many samples at once, joined along "
                     "the features (MLP Ds) or channels (1: one; unconditional models only).")
flags.DEFINE_float("g_top_k", 1.0,
                   "Top-k training (Sinha et al. 2020): G learns only from this fraction of each "
                   "fake batch, the samples D scores most real, reached by --g_top_k_decay "
                   "(1: every sample).")
flags.DEFINE_float("g_top_k_decay", 0.99,
                   "With --g_top_k below 1: the kept fraction starts at 1 and is multiplied by "
                   "this every epoch until it reaches --g_top_k (the paper's gamma).")
flags.DEFINE_float("g_ema_decay", 0.0,
                   "Keep an exponential moving average of G's weights with this decay (e.g. "
                   "0.999; 0: off); grids, evaluation and generator/ use it, generator_raw/ is G.")
flags.DEFINE_float("g_ema_warmup", 10.0,
                   "K of the average's warm-up, rate min(decay, (1 + n) / (K + n)) at step n "
                   "(TF's rule: 10): until the decay caps it the average spans about the last "
                   "1/(K - 1) of the steps; smaller K, a longer average (2: every step's mean).")
flags.DEFINE_integer("refine_steps", 0,
                     "Refine every sample grids, evaluation and generator/ draw by this many Adam "
                     "steps of D-guided transport in noise space (DOT, Tanaka 2019; "
                     "keras_gan.refinement); 0: G's samples as they are. generator_raw/ is G.")
flags.DEFINE_float("refine_learning_rate", 0.01, "Adam's step size in noise space for "
                   "--refine_steps.")
flags.DEFINE_float("refine_quantile", 0.95,
                   "--refine_steps's k, D(G(z))'s Lipschitz constant in z, is this quantile of "
                   "its slope between random noise pairs (1: Tanaka's maximum).")
flags.DEFINE_enum("d_style", "separate", ["separate", "concat"],
                  "D's batch: real and fake in separate calls, or one concatenated batch.")
flags.DEFINE_enum("d_reduction", "mean", ["mean", "sum"],
                  "D's loss: mean or sum of the real-half and fake-half BCEs.")
flags.DEFINE_enum("order", "g_first", ["g_first", "d_first", "simultaneous"],
                  "G step first (D reuses its fake batch), D steps first (G gets fresh z), or "
                  "both from one forward pass (the paper's code; needs --d_steps=1).")
flags.DEFINE_integer("d_steps", 1, "Algorithm 1's k: D steps per G step.")
flags.DEFINE_list("real_label", ["1.0"],
                  "Label of real images: one value (e.g. 0.9) or a uniform range lo,hi (0.9,1.0).")
for _net in ("g", "d"):
    flags.DEFINE_enum(f"{_net}_optimizer", "adam", ["adam", "sgd"], f"Optimiser of {_net.upper()}.")
    flags.DEFINE_float(f"{_net}_learning_rate", 2e-4, f"Learning rate of {_net.upper()}.")
    flags.DEFINE_float(f"{_net}_beta_1", 0.5, f"Adam beta_1 of {_net.upper()}.")
    flags.DEFINE_float(f"{_net}_beta_2", 0.999, f"Adam beta_2 of {_net.upper()}.")
    flags.DEFINE_float(f"{_net}_momentum", 0.0, f"SGD momentum of {_net.upper()} (at the start).")
    flags.DEFINE_float(f"{_net}_final_momentum", None,
                       f"SGD momentum {_net.upper()} ramps up to linearly (default: no ramp).")
    flags.DEFINE_float(f"{_net}_learning_rate_decay", 1.0,
                       f"{_net.upper()}'s learning rate is divided by this every step (1: none).")
    flags.DEFINE_float(f"{_net}_learning_rate_total_decay", 1.0,
                       f"{_net.upper()}'s learning rate is divided by this over the run's "
                       f"--epochs, by the same factor every step (1: none); the alternative to "
                       f"--{_net}_learning_rate_decay that keeps its meaning when --epochs, "
                       f"--batch_size or --d_steps change.")
    flags.DEFINE_float(f"{_net}_learning_rate_min", 0.0,
                       f"Floor of {_net.upper()}'s decayed learning rate.")
flags.DEFINE_integer("momentum_ramp_epochs", 250, "Epochs over which SGD momentum ramps up.")
# --- outputs and speed ---
flags.DEFINE_integer("sample_every", 400, "Write a sample grid every this many steps.")
flags.DEFINE_integer("sample_count", 25, "Images in each sample grid (fixed noise).")
flags.DEFINE_integer("log_every", 100, "Progress line and TensorBoard scalars every N steps.")
flags.DEFINE_integer("checkpoint_every", 1000, "Checkpoint every this many steps (and at the end).")
flags.DEFINE_integer("keep_checkpoints", 3, "How many recent checkpoints to keep.")
flags.DEFINE_bool("resume", True, "Continue from RUN/checkpoints when it holds a checkpoint.")
flags.DEFINE_integer("steps_per_call", 50, "Training steps fused into one tf.function call.")
flags.DEFINE_bool("jit_compile", False, "Compile each replica's step with XLA.")
flags.DEFINE_bool("fused_optimizers", True,
                  "Update weights with TensorFlow's fused Adam / momentum kernels (Keras's "
                  "formulas, ~3x faster updates); off: Keras's own optimisers.")
flags.DEFINE_enum("mixed_precision", "float32",
                  ["auto", "float32", "mixed_float16", "mixed_bfloat16"],
                  "Keras dtype policy; mixed_float16 (GPUs) scales the losses dynamically; auto: "
                  "mixed_bfloat16 where the CPU or GPU multiplies bfloat16 natively, "
                  "mixed_float16 on older GPUs, else float32 (keras_gan.precision).")
flags.DEFINE_float("loss_scale", 2.0 ** 15,
                   "With mixed_float16: the initial dynamic loss scale; a step with non-finite "
                   "gradients is skipped and halves it.")
flags.DEFINE_integer("loss_scale_growth_interval", 2000,
                     "With mixed_float16: the loss scale doubles after this many finite steps.")
flags.DEFINE_integer("curve_smoothing", 0, "Hanning window (steps) of the smoothed lines in the "
                     "loss-curve PNG; 0: 1% of the run; 1: raw values only.")
flags.DEFINE_bool("grid_history", False, "Also write a strip of fixed-noise samples per epoch.")
flags.DEFINE_integer("eval_every_epochs", 0,
                     "Score samples every N epochs during training (0: never); see --eval_metrics.")
flags.DEFINE_list("eval_metrics", ["parzen"], "In-training metrics: parzen, fid, is, modes.")
flags.DEFINE_integer("eval_samples", 2000, "Samples per in-training evaluation (cheap, not 10k).")
flags.DEFINE_string("eval_classifier", "", "MNIST classifier for in-training fid / is / modes; "
                    "empty: the one packaged with keras_gan.")
flags.DEFINE_string("eval_validation_split", "train[50000:51000]",
                    "Images that choose the Parzen sigma (the paper's 1,000 validation images).")
flags.DEFINE_bool("eval_d_accuracy", False,
                  "After training, D's accuracy on the test images and as many fakes.")
FLAGS = flags.FLAGS


def _real_label_range() -> tuple[float, float]:
    try:
        values = [float(v) for v in FLAGS.real_label]
    except ValueError:
        values = []
    if len(values) not in (1, 2) or not all(0.0 <= v <= 1.0 for v in values):
        raise KerasGanError(f"--real_label={','.join(FLAGS.real_label)}: expected one label in "
                            f"[0, 1] or a range lo,hi")
    return (values[0], values[-1])


def _optimizer(net: str, updates_per_epoch: int):
    """`net`'s optimiser from its flags; `updates_per_epoch` counts its own updates (D makes
    --d_steps per G step), the clock of its schedules."""
    from keras_gan.optimizers import make_optimizer

    value = lambda name: FLAGS[f"{net}_{name}"].value  # noqa: E731
    decay_factor = value("learning_rate_decay")
    if value("learning_rate_total_decay") != 1.0:
        run_updates = FLAGS.epochs * updates_per_epoch
        decay_factor = value("learning_rate_total_decay") ** (1 / run_updates)
    return make_optimizer(
        net, value("optimizer"), value("learning_rate"), beta_1=value("beta_1"),
        beta_2=value("beta_2"), momentum=value("momentum"),
        final_momentum=value("final_momentum"),
        momentum_ramp_steps=FLAGS.momentum_ramp_epochs * updates_per_epoch,
        decay_factor=decay_factor, minimum_rate=value("learning_rate_min"),
        fused=FLAGS.fused_optimizers)


def _decays_over_run() -> bool:
    return any(FLAGS[f"{net}_learning_rate_total_decay"].value != 1.0 for net in ("g", "d"))


def precision_policy() -> str:
    """The Keras dtype policy --mixed_precision names, `auto` resolved for this machine."""
    from keras_gan import precision

    return precision.resolve(FLAGS.mixed_precision)


def fail_on_extra_arguments(argv: Sequence[str]) -> None:
    raise KerasGanError(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")


def check_flags() -> None:
    """Fails before anything is written when a flag cannot work."""
    for name in ("batch_size", "epochs", "d_steps", "steps_per_call", "sample_every",
                 "sample_count", "log_every", "checkpoint_every", "keep_checkpoints", "z_dim",
                 "pack"):
        if FLAGS[name].value < 1:
            raise KerasGanError(f"--{name}={FLAGS[name].value}: expected a positive integer")
    if FLAGS.max_steps < 0:
        raise KerasGanError(f"--max_steps={FLAGS.max_steps}: expected 0 (no limit) or more")
    if FLAGS.channels not in (1, 3):
        raise KerasGanError(f"--channels={FLAGS.channels}: expected 1 or 3")
    if FLAGS.max_images < 0:
        raise KerasGanError(f"--max_images={FLAGS.max_images}: expected 0 (all) or more")
    for net in ("g", "d"):
        total, per_step = (FLAGS[f"{net}_learning_rate_total_decay"],
                           FLAGS[f"{net}_learning_rate_decay"])
        if total.value < 1.0:
            raise KerasGanError(f"--{total.name}={total.value}: expected a factor >= 1 (the rate "
                                f"is divided by it over the run)")
        if total.value != 1.0 and per_step.value != 1.0:
            raise KerasGanError(f"--{total.name}={total.value} and --{per_step.name}="
                                f"{per_step.value} both set {net.upper()}'s decay: keep one")
    if precision_policy() == "mixed_float16" and not FLAGS.fused_optimizers:
        raise KerasGanError(f"--mixed_precision={FLAGS.mixed_precision} (mixed_float16) skips "
                            "overflowing steps inside the fused optimisers: drop "
                            "--nofused_optimizers")
    _check_refinement_flags()
    if FLAGS.eval_d_accuracy and FLAGS.pack > 1:
        raise KerasGanError(f"--eval_d_accuracy scores D on single images: it does not combine "
                            f"with --pack={FLAGS.pack}")
    from keras_gan.objectives import make_objective
    from keras_gan.penalties import make_penalty

    make_objective(FLAGS.objective, FLAGS.g_loss, _real_label_range())
    make_penalty(FLAGS.penalty, FLAGS.pack)


def _check_refinement_flags() -> None:
    if FLAGS.refine_steps < 0:
        raise KerasGanError(f"--refine_steps={FLAGS.refine_steps}: expected 0 (off) or more")
    if FLAGS.refine_learning_rate <= 0:
        raise KerasGanError(f"--refine_learning_rate={FLAGS.refine_learning_rate}: expected a "
                            f"positive step size")
    if not 0 < FLAGS.refine_quantile <= 1:
        raise KerasGanError(f"--refine_quantile={FLAGS.refine_quantile}: expected a quantile in "
                            f"(0, 1]")
    if FLAGS.refine_steps and FLAGS.pack > 1:
        raise KerasGanError(f"--refine_steps moves single samples by D's score: it does not "
                            f"combine with --pack={FLAGS.pack}, whose D scores packs")


@dataclasses.dataclass
class Setup:
    """What a program needs to train: the compiled GAN, its data and how long an epoch is."""

    gan: object  # keras_gan.GAN
    data: object  # keras_gan.data.LabelledImages
    value_range: tuple
    steps_per_epoch: int


def load_data(split: str, image_size: int | None):
    """The split of the data the flags name (--image_dir, --dataset, --data_dir ...)."""
    from keras_gan import data

    return data.load_dataset(FLAGS.dataset, split, data_dir=FLAGS.data_dir,
                             image_dir=FLAGS.image_dir, image_size=image_size,
                             channels=FLAGS.channels, max_images=FLAGS.max_images,
                             stream=FLAGS.stream_from_disk)


LoadData = Callable[[str], "LabelledImages"]


def prepare(load: LoadData, image_size: int | None, strategy=None) -> Setup:
    """Checks the flags, loads the training data and builds the trainer they describe.

    `load(split)` gives a split's `LabelledImages`; `image_size` is checked against the
    architecture before anything is loaded.
    """
    import keras
    import numpy as np

    from keras_gan import data, inputs, models
    from keras_gan.gan import GAN
    from keras_gan.strategy import make_strategy

    check_flags()
    models.check_architecture(FLAGS.architecture, image_size)
    value_range = data.parse_value_range(FLAGS.value_range)
    strategy = strategy or make_strategy(FLAGS.strategy)
    policy = precision_policy()
    training = load(FLAGS.train_split)
    steps_per_epoch = inputs.batches_per_epoch(len(training), FLAGS.batch_size) // FLAGS.d_steps
    if steps_per_epoch < 1:
        raise KerasGanError(f"--batch_size={FLAGS.batch_size} x --d_steps={FLAGS.d_steps} is more "
                            f"than the {len(training)} training images")
    if FLAGS.conditional != "none" and not training.num_classes:
        raise KerasGanError(f"--conditional={FLAGS.conditional}: the training data has no labels "
                            f"(an --image_dir needs class subfolders)")
    num_classes = training.num_classes if FLAGS.conditional != "none" else 0
    # The paper's G starts its output biases at the data's mean image (in-memory data only).
    pixel_mean = (training.images.mean(axis=0) / 255.0
                  if isinstance(training.images, np.ndarray) else None)
    if policy != FLAGS.mixed_precision:
        logging.info("--mixed_precision=%s: %s on this machine", FLAGS.mixed_precision, policy)
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(FLAGS.seed)
    with strategy.scope():
        generator, discriminator = models.build_gan(
            FLAGS.architecture, training.images.shape[1:], FLAGS.z_dim, pixel_mean,
            FLAGS.spectral_norm, FLAGS.conditional, num_classes, FLAGS.pack)
        gan = GAN(generator, discriminator, value_range=value_range, noise=FLAGS.noise,
                  num_classes=num_classes or None)
        gan.compile(
            _optimizer("g", steps_per_epoch), _optimizer("d", steps_per_epoch * FLAGS.d_steps),
            objective=FLAGS.objective, g_loss=FLAGS.g_loss, penalty=FLAGS.penalty,
            penalty_weight=FLAGS.penalty_weight, g_ema_decay=FLAGS.g_ema_decay,
            g_ema_warmup=FLAGS.g_ema_warmup, real_label=_real_label_range(),
            d_steps=FLAGS.d_steps, order=FLAGS.order, d_style=FLAGS.d_style,
            d_reduction=FLAGS.d_reduction, pack=FLAGS.pack, g_top_k=FLAGS.g_top_k,
            g_top_k_decay=FLAGS.g_top_k_decay,
            loss_scale=FLAGS.loss_scale if policy == "mixed_float16" else 0.0,
            loss_scale_growth_interval=FLAGS.loss_scale_growth_interval,
            steps_per_execution=FLAGS.steps_per_call, jit_compile=FLAGS.jit_compile)
    return Setup(gan, training, value_range, steps_per_epoch)


def run(load: LoadData, image_size: int | None, *,
        draw_samples: Callable[[str, "np.ndarray"], None] | None = None,
        evaluate: Callable[["np.ndarray", "np.ndarray | None"], dict] | None = None) -> dict:
    """Trains the configured GAN and writes the run directory (see `prepare` for the args).

    `draw_samples(path, samples)` pictures G's fixed-noise samples (default: an image grid, one
    row per class for a conditional G). `evaluate(samples, labels)` scores G's samples (and the
    labels they were asked for; None unconditionally) every --eval_every_epochs and at the end
    (default: the MNIST metrics, only with --eval_every_epochs); the last scores are returned.
    """
    from keras_gan import run_directory

    if not FLAGS.run_dir:
        raise KerasGanError("--run_dir is required: the directory the run writes to")
    run_directory.check_writable(FLAGS.run_dir)
    setup = prepare(load, image_size)
    run_directory.create(FLAGS.run_dir)
    with run_directory.lock(FLAGS.run_dir):
        return _train(setup, load, draw_samples, evaluate)


# Flags a resumed run may change: how long it runs, what it logs and how fast it goes, how its
# samples are refined; paths that may have moved. Every other flag changes the model, the data
# or the objective.
CHANGEABLE_ON_RESUME = (
    "epochs", "max_steps", "run_dir", "data_dir", "image_dir", "stream_from_disk", "resume",
    "strategy",
    "sample_every", "sample_count", "log_every", "checkpoint_every", "keep_checkpoints",
    "steps_per_call", "jit_compile", "curve_smoothing", "grid_history", "g_learning_rate",
    "d_learning_rate", "g_ema_decay", "g_ema_warmup", "eval_every_epochs", "eval_metrics",
    "eval_samples", "eval_classifier", "eval_validation_split", "eval_d_accuracy", "json",
    "refine_steps", "refine_learning_rate", "refine_quantile",
    "loss_scale", "loss_scale_growth_interval")


def _train(setup: Setup, load: LoadData, draw_samples, evaluate) -> dict:
    """The part of `run` that holds the run directory's lock."""
    import json

    import numpy as np

    from keras_gan import atomic, callbacks, inputs, metrics, run_directory

    gan, value_range, steps_per_epoch = setup.gan, setup.value_range, setup.steps_per_epoch
    total_steps = FLAGS.epochs * steps_per_epoch
    if FLAGS.max_steps:
        total_steps = min(total_steps, FLAGS.max_steps)
    checkpoints = os.path.join(FLAGS.run_dir, "checkpoints")
    if run_directory.checkpoint_candidates(checkpoints) and not FLAGS.resume:
        raise KerasGanError(f"--run_dir={FLAGS.run_dir} already holds a run "
                            f"({checkpoints}); pass --resume or a new --run_dir")
    # A total decay spreads over --epochs: another length would jump the learning rate.
    changeable = tuple(name for name in CHANGEABLE_ON_RESUME
                       if not (name == "epochs" and _decays_over_run()))
    changes = run_directory.check_resumable_flags(FLAGS.run_dir, FLAGS, changeable)
    backup = callbacks.BackupAndRestore(checkpoints, FLAGS.checkpoint_every,
                                        FLAGS.keep_checkpoints, flag="--run_dir")
    restored = backup.restore(gan)
    if restored:
        from keras_gan.optimizers import reset_constant_learning_rate

        reset_constant_learning_rate(gan.trainer.g_optimizer, FLAGS.g_learning_rate)
        reset_constant_learning_rate(gan.trainer.d_optimizer, FLAGS.d_learning_rate)
        logging.info("resumed from %s at step %d", restored, gan.trainer.step.numpy())
    start_step = int(gan.trainer.step.numpy())
    run_directory.record_flags(FLAGS.run_dir, FLAGS)
    run_directory.record_flag_changes(FLAGS.run_dir, changes, start_step)

    fixed = callbacks.FixedInputs.draw(FLAGS.sample_count, FLAGS.z_dim, FLAGS.noise,
                                       gan.num_classes, FLAGS.seed)
    sampler = _sampler(gan)
    run_callbacks = callbacks.standard_callbacks(
        FLAGS.run_dir, sampler, fixed, value_range, backup,
        global_batch_size=FLAGS.batch_size, steps_per_epoch=steps_per_epoch,
        total_steps=total_steps, sample_every=FLAGS.sample_every, log_every=FLAGS.log_every,
        metric_names=gan.metric_names, smoothing=FLAGS.curve_smoothing,
        grid_history=FLAGS.grid_history, draw_samples=draw_samples)
    if evaluate is None and FLAGS.eval_every_epochs:
        evaluate = _mnist_evaluation(load, value_range)
    class_prior = setup.data.class_frequencies if gan.conditional else []
    evaluation = evaluate and callbacks.EvaluationCallback(
        sampler, evaluate, FLAGS.noise, class_prior, FLAGS.eval_samples,
        FLAGS.eval_every_epochs, os.path.join(FLAGS.run_dir, "eval_history.csv"),
        os.path.join(FLAGS.run_dir, "tensorboard"), FLAGS.seed)
    if evaluation:
        run_callbacks.append(evaluation)
    with _stop_on_signals(gan) as interrupted:
        gan.fit(setup.data, batch_size=FLAGS.batch_size, epochs=FLAGS.epochs, verbose=0,
                callbacks=run_callbacks, seed=FLAGS.seed, max_steps=FLAGS.max_steps or None)
    if FLAGS.refine_steps:
        from keras_gan.refinement import freeze_refinement

        freeze_refinement(sampler)
    gan.export(os.path.join(FLAGS.run_dir, "generator"), generator=sampler)
    if sampler is not gan.generator:
        gan.export(os.path.join(FLAGS.run_dir, "generator_raw"), generator=gan.generator)
    if interrupted:
        logging.warning("interrupted at step %d: checkpoint and outputs written; rerun the same "
                        "command to resume", gan.trainer.step.numpy())
        raise SystemExit(130)
    if FLAGS.eval_d_accuracy:
        test = load("test")
        real = inputs.scale_images(test.images, value_range).numpy()
        labels = test.labels.astype(np.int32) if gan.conditional else None
        accuracy = metrics.discriminator_accuracy(gan.discriminator, gan.generator, real,
                                                  FLAGS.noise, seed=FLAGS.seed, labels=labels)
        atomic.write_text(os.path.join(FLAGS.run_dir, "d_accuracy.json"),
                          json.dumps(accuracy, indent=2) + "\n")
        logging.info("D accuracy: %.4f on %d test images, %.4f on as many fakes",
                     accuracy["real"], len(real), accuracy["fake"])
    logging.info("wrote %s", FLAGS.run_dir)
    return evaluation.scores if evaluation else {}


def _sampler(gan):
    """The G that grids, evaluation and generator/ use: the EMA of G when kept, refined by D
    with --refine_steps."""
    if not FLAGS.refine_steps:
        return gan.sampling_generator
    from keras_gan.refinement import refined_generator

    return refined_generator(gan.sampling_generator, gan.discriminator,
                             steps=FLAGS.refine_steps, learning_rate=FLAGS.refine_learning_rate,
                             quantile=FLAGS.refine_quantile, noise=FLAGS.noise, seed=FLAGS.seed)


def _mnist_evaluation(load: LoadData, value_range):
    """Cheap MNIST metrics during training on --eval_samples samples: Parzen (sigma from
    --eval_validation_split, scored on 1,000 test images) and the classifier's scores against all
    10,000 test images (the packaged classifier unless --eval_classifier)."""
    from keras_gan import evaluation
    from keras_gan.classifier import load_classifier

    needs_classifier = evaluation.CLASSIFIER_METRICS & set(FLAGS.eval_metrics)
    classifier = load_classifier(FLAGS.eval_classifier) if needs_classifier else None
    test = load("test")
    as_pixels = lambda images: evaluation.to_mnist_pixels(images, (0, 255))  # noqa: E731
    reference = evaluation.MnistReference(
        as_pixels(load(FLAGS.eval_validation_split).images), as_pixels(test.images), classifier,
        test.labels, parzen_test_images=1000)
    return lambda images, labels: reference.evaluate(
        evaluation.to_mnist_pixels(images, value_range), FLAGS.eval_metrics, labels)


@contextlib.contextmanager
def _stop_on_signals(model):
    """SIGINT/SIGTERM ask training to stop after the current call, so the checkpoint, CSV, grids
    and model are written whole; a second signal interrupts at once."""
    received = []

    def request_stop(signum, frame):
        received.append(signum)
        model.stop_training = True
        for signum_ in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum_, previous[signum_])

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
