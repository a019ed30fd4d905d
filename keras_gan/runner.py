"""A whole training run from one `RunConfig`: the data, a compiled `GAN`, the run directory's
callbacks, checkpoints, the export. The experiment programs are this function behind flags; it
reads no flags, and its errors name config fields as `name=value` (the CLI shows them as flags).
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import signal
from typing import TYPE_CHECKING, Callable

from absl import logging

from keras_gan.config import RunConfig
from keras_gan.errors import KerasGanError, check_positive

if TYPE_CHECKING:
    import numpy as np

    from keras_gan.data import LabelledImages

LoadData = Callable[[str], "LabelledImages"]


def precision_policy(config: RunConfig) -> str:
    """The Keras dtype policy `mixed_precision` names, `auto` resolved for this machine."""
    from keras_gan import precision

    return precision.resolve(config.performance.mixed_precision)


def run_epochs(config: RunConfig, steps_per_epoch: int) -> int:
    """The run's epochs: `epochs`, or with `epochs=0` as many as `max_steps` takes."""
    schedule = config.schedule
    return schedule.epochs or -(-schedule.max_steps // steps_per_epoch)


def decays_over_run(config: RunConfig) -> bool:
    """Whether a learning rate falls by a total factor over the run's epochs."""
    return any(o.learning_rate_total_decay != 1.0 for o in (config.g_optimizer, config.d_optimizer))


def check(config: RunConfig) -> None:
    """Fails before anything is written when a setting cannot work."""
    positive = {"batch_size": config.schedule.batch_size,
                "sample_every": config.sampling.sample_every,
                "sample_count": config.sampling.sample_count,
                "log_every": config.outputs.log_every,
                "checkpoint_every": config.outputs.checkpoint_every,
                "keep_checkpoints": config.outputs.keep_checkpoints,
                "z_dim": config.model.z_dim}
    check_positive(**positive)
    from keras_gan import portable

    for format in config.outputs.export_formats:  # before training, not after it
        for quantize in config.outputs.export_quantize if format != "saved_model" else (None,):
            portable.check(format, quantize, flag="export_formats")
    if "onnx" in config.outputs.export_formats:
        portable.require_onnx("export_formats=onnx")
    if config.schedule.max_steps < 0:
        raise KerasGanError(f"max_steps={config.schedule.max_steps}: expected 0 (no limit) or "
                            f"more")
    if config.schedule.epochs < 0 or not (config.schedule.epochs or config.schedule.max_steps):
        raise KerasGanError(f"epochs={config.schedule.epochs}: expected a positive integer, or 0 "
                            f"with max_steps (as many epochs as max_steps takes)")
    if config.data.channels not in (1, 3):
        raise KerasGanError(f"channels={config.data.channels}: expected 1 or 3")
    if config.data.max_images < 0:
        raise KerasGanError(f"max_images={config.data.max_images}: expected 0 (all) or more")
    for net, optimizer in (("g", config.g_optimizer), ("d", config.d_optimizer)):
        total, per_step = optimizer.learning_rate_total_decay, optimizer.learning_rate_decay
        if total < 1.0:
            raise KerasGanError(f"{net}_learning_rate_total_decay={total}: expected a factor >= 1 "
                                f"(the rate is divided by it over the run)")
        if total != 1.0 and per_step != 1.0:
            raise KerasGanError(f"{net}_learning_rate_total_decay={total} and "
                                f"{net}_learning_rate_decay={per_step} both set "
                                f"{net.upper()}'s decay: keep one")
    _check_refinement(config)
    if config.model.init_from and not os.path.exists(config.model.init_from):
        raise KerasGanError(f"init_from={config.model.init_from}: no such run directory or "
                            f".keras file")
    if config.evaluation.eval_d_accuracy and config.training.pack > 1:
        raise KerasGanError(f"eval_d_accuracy=True scores D on single images: it does not "
                            f"combine with pack={config.training.pack}")


def _check_refinement(config: RunConfig) -> None:
    sampling, pack = config.sampling, config.training.pack
    if sampling.refine_steps < 0:
        raise KerasGanError(f"refine_steps={sampling.refine_steps}: expected 0 (off) or more")
    if sampling.refine_learning_rate <= 0:
        raise KerasGanError(f"refine_learning_rate={sampling.refine_learning_rate}: expected a "
                            f"positive step size")
    if not 0 < sampling.refine_quantile <= 1:
        raise KerasGanError(f"refine_quantile={sampling.refine_quantile}: expected a quantile in "
                            f"(0, 1]")
    if sampling.refine_steps and pack > 1:
        raise KerasGanError(f"refine_steps moves single samples by D's score: it does not "
                            f"combine with pack={pack}, whose D scores packs")


def load_data(config: RunConfig, split: str, image_size):
    """The split of the configured data (an image folder, a tfds dataset, IDX files)."""
    from keras_gan import data

    source = config.data
    return data.load_dataset(source.dataset, split, data_dir=source.data_dir,
                             image_dir=source.image_dir, image_size=image_size,
                             channels=source.channels, max_images=source.max_images,
                             stream=source.stream_from_disk, fit=source.resize)


@dataclasses.dataclass
class Setup:
    """What a run trains: the compiled GAN, its data and how long an epoch is."""

    config: RunConfig
    gan: object  # keras_gan.GAN
    data: object  # keras_gan.data.LabelledImages
    value_range: tuple
    steps_per_epoch: int


def _optimizer(config: RunConfig, net: str, updates_per_epoch: int, epochs: int):
    """`net`'s optimiser; `updates_per_epoch` counts its own updates (D makes `d_steps` per G
    step), the clock of its schedules, over the run's `epochs`."""
    from keras_gan.optimizers import make_optimizer

    settings = config.g_optimizer if net == "g" else config.d_optimizer
    decay_factor = settings.learning_rate_decay
    if settings.learning_rate_total_decay != 1.0:
        run_updates = epochs * updates_per_epoch
        decay_factor = settings.learning_rate_total_decay ** (1 / run_updates)
    return make_optimizer(
        net, settings.optimizer, settings.learning_rate, beta_1=settings.beta_1,
        beta_2=settings.beta_2, momentum=settings.momentum,
        final_momentum=settings.final_momentum,
        momentum_ramp_steps=config.schedule.momentum_ramp_epochs * updates_per_epoch,
        decay_factor=decay_factor, minimum_rate=settings.learning_rate_min,
        fused=config.performance.fused_optimizers)


def prepare(config: RunConfig, load: LoadData, image_size: int | None, strategy=None) -> Setup:
    """Checks the config, loads the training data and compiles the GAN it describes.

    `load(split)` gives a split's `LabelledImages`; `image_size` is checked against the
    architecture before anything is loaded.
    """
    import keras
    import numpy as np

    from keras_gan import data, fit_data, inputs, models
    from keras_gan.gan import GAN
    from keras_gan.strategy import make_strategy

    check(config)
    model, options, schedule = config.model, config.training, config.schedule
    performance = config.performance
    models.check_architecture(model.architecture, image_size)
    value_range = data.parse_value_range(config.data.value_range)
    strategy = strategy or make_strategy(performance.strategy)
    policy = precision_policy(config)
    training = load(config.data.train_split)
    batch = schedule.batch_size
    steps_per_epoch = fit_data.steps_per_epoch(
        inputs.batches_per_epoch(len(training), batch), batch, options.d_steps,
        options.accumulate_steps)
    if model.conditional != "none" and not training.num_classes:
        raise KerasGanError(f"conditional={model.conditional}: the training data has no labels "
                            f"(an image folder needs class subfolders)")
    num_classes = training.num_classes if model.conditional != "none" else 0
    # The paper's G starts its output biases at the data's mean image (in-memory data only).
    pixel_mean = (training.images.mean(axis=0) / 255.0
                  if isinstance(training.images, np.ndarray) else None)
    if policy != performance.mixed_precision:
        logging.info("mixed_precision=%s: %s on this machine", performance.mixed_precision,
                     policy)
    keras.mixed_precision.set_global_policy(policy)
    keras.utils.set_random_seed(schedule.seed)
    with strategy.scope():
        generator, discriminator = models.build_gan(
            model.architecture, training.images.shape[1:], model.z_dim, pixel_mean,
            model.spectral_norm, model.conditional, num_classes, options.pack)
        gan = GAN(generator, discriminator, value_range=value_range, noise=model.noise,
                  num_classes=num_classes or None)
        epochs = run_epochs(config, steps_per_epoch)
        gan.compile(_optimizer(config, "g", steps_per_epoch, epochs),
                    _optimizer(config, "d", steps_per_epoch * options.d_steps, epochs), options)
    return Setup(config, gan, training, value_range, steps_per_epoch)


def train(config: RunConfig, load: LoadData, image_size: int | None, *,
          draw_samples: Callable[[str, "np.ndarray"], None] | None = None,
          evaluate: Callable[["np.ndarray", "np.ndarray | None"], dict] | None = None,
          on_start: Callable[[int], None] | None = None) -> dict:
    """Trains the configured GAN and writes its run directory; returns the last scores.

    Partial files of an interrupted write are removed first. A write that the storage stops
    (a full disk, a read-only or vanished directory) ends training with one `KerasGanError`
    naming the path, what it held and the checkpoint a rerun resumes from.

    `draw_samples(path, samples)` pictures G's fixed-noise samples (default: an image grid, one
    row per class for a conditional G). `evaluate(samples, labels)` scores G's samples (and the
    labels they were asked for; None unconditionally) every `eval_every_epochs` and at the end
    (default: the MNIST metrics, only with `eval_every_epochs`). `on_start(step)` runs once the
    run directory is locked and any checkpoint restored, before the first step.
    """
    from keras_gan import run_directory, storage

    run_dir = config.outputs.run_dir
    if not run_dir:
        raise KerasGanError("run_dir is required: the directory the run writes to")
    run_directory.check_writable(run_dir, flag="run_dir")
    setup = prepare(config, load, image_size)
    run_directory.create(run_dir, flag="run_dir")
    try:
        with run_directory.lock(run_dir, flag="run_dir"):
            storage.remove_partial_files(run_dir)
            return _train(setup, load, draw_samples, evaluate, on_start)
    except Exception as error:  # noqa: BLE001  (re-raised unless explained in one line)
        checkpoints = os.path.join(run_dir, "checkpoints")
        problem = (storage.write_error(error, run_dir, checkpoints)
                   or _lost_worker(error, setup, checkpoints))
        if problem is None:
            raise
        raise problem from None


def _train(setup: Setup, load: LoadData, draw_samples, evaluate, on_start) -> dict:
    """The part of `train` that holds the run directory's lock."""
    import json

    import numpy as np

    from keras_gan import atomic, callbacks, inputs, metrics, run_directory

    config, gan = setup.config, setup.gan
    outputs, sampling, schedule = config.outputs, config.sampling, config.schedule
    value_range, steps_per_epoch = setup.value_range, setup.steps_per_epoch
    epochs = run_epochs(config, steps_per_epoch)
    total_steps = epochs * steps_per_epoch
    if schedule.max_steps:
        total_steps = min(total_steps, schedule.max_steps)
    checkpoints = os.path.join(outputs.run_dir, "checkpoints")
    if run_directory.checkpoint_candidates(checkpoints) and not outputs.resume:
        raise KerasGanError(f"run_dir={outputs.run_dir} already holds a run ({checkpoints}); "
                            f"expected resume=True or a new run_dir")
    backup = callbacks.RunCheckpoint(checkpoints, outputs.checkpoint_every,
                                     outputs.keep_checkpoints, flag="run_dir")
    restored = backup.restore(gan, at_most=_common_step(config, gan, checkpoints))
    if not restored and config.model.init_from:
        from keras_gan.run_checkpoint import initialize_from

        initialize_from(gan, config.model.init_from)
        logging.info("started from %s", config.model.init_from)
    if restored:
        from keras_gan.optimizers import reset_constant_learning_rate

        reset_constant_learning_rate(gan.g_optimizer, config.g_optimizer.learning_rate)
        reset_constant_learning_rate(gan.d_optimizer, config.d_optimizer.learning_rate)
        logging.info("resumed from %s at step %d", restored, gan.step.numpy())
    if on_start:
        on_start(int(gan.step.numpy()))

    fixed = callbacks.FixedInputs.draw(sampling.sample_count, config.model.z_dim,
                                       config.model.noise, gan.num_classes, schedule.seed)
    sampler = _sampler(config, gan)
    run_callbacks = callbacks.standard_callbacks(
        outputs.run_dir, sampler, fixed, value_range, backup,
        global_batch_size=schedule.batch_size, steps_per_epoch=steps_per_epoch,
        total_steps=total_steps, sample_every=sampling.sample_every,
        log_every=outputs.log_every, metric_names=gan.metric_names,
        smoothing=outputs.curve_smoothing, grid_history=sampling.grid_history,
        draw_samples=draw_samples)
    evaluation_settings = config.evaluation
    if evaluate is None and evaluation_settings.eval_every_epochs:
        evaluate = _mnist_evaluation(config, load, value_range)
    class_prior = setup.data.class_frequencies if gan.conditional else []
    evaluation = evaluate and callbacks.EvaluationCallback(
        sampler, evaluate, config.model.noise, class_prior, evaluation_settings.eval_samples,
        evaluation_settings.eval_every_epochs,
        os.path.join(outputs.run_dir, "eval_history.csv"),
        os.path.join(outputs.run_dir, "tensorboard"), schedule.seed)
    if evaluation:
        run_callbacks.append(evaluation)
    with _stop_on_signals(gan) as interrupted:
        gan.fit(setup.data, batch_size=schedule.batch_size, epochs=epochs, verbose=0,
                callbacks=run_callbacks, seed=schedule.seed,
                max_steps=schedule.max_steps or None)
    if sampling.refine_steps:
        from keras_gan.refinement import freeze_refinement

        freeze_refinement(sampler)
    gan.export(os.path.join(outputs.run_dir, "generator"), generator=sampler)
    if sampler is not gan.generator:
        gan.export(os.path.join(outputs.run_dir, "generator_raw"), generator=gan.generator)
    _portable_exports(gan, outputs)
    if interrupted:
        logging.warning("interrupted at step %d: checkpoint and outputs written; rerun the same "
                        "command to resume", gan.step.numpy())
        raise SystemExit(130)
    if evaluation_settings.eval_d_accuracy:
        test = load("test")
        real = inputs.scale_images(test.images, value_range).numpy()
        labels = test.labels.astype(np.int32) if gan.conditional else None
        accuracy = metrics.discriminator_accuracy(gan.discriminator, gan.generator, real,
                                                  config.model.noise, seed=schedule.seed,
                                                  labels=labels)
        atomic.write_text(os.path.join(outputs.run_dir, "d_accuracy.json"),
                          json.dumps(accuracy, indent=2) + "\n")
        logging.info("D accuracy: %.4f on %d test images, %.4f on as many fakes",
                     accuracy["real"], len(real), accuracy["fake"])
    logging.info("wrote %s", outputs.run_dir)
    return evaluation.scores if evaluation else {}


def _common_step(config: RunConfig, gan, checkpoints: str) -> int | None:
    """For a multi-worker run, the newest checkpoint step every worker holds: a worker killed
    between two checkpoints is one behind the others, and all must resume at the same step."""
    if config.performance.strategy != "multi_worker":
        return None
    import tensorflow as tf

    from keras_gan import run_directory

    steps = [run_directory.checkpoint_step(p)
             for p in run_directory.checkpoint_candidates(checkpoints)]
    strategy = gan.distribute_strategy
    newest = strategy.run(lambda: tf.constant([max(steps, default=0)], tf.int64))
    common = int(tf.reduce_min(strategy.gather(newest, axis=0)))
    if steps and common < max(steps):
        logging.warning("another worker's newest checkpoint is of step %d: resuming there",
                        common)
    return common


def _portable_exports(gan, outputs) -> None:
    """The portable formats `export_formats` asks for, beside RUN/generator: each converted
    from one float32 SavedModel of G (its average when kept) without refinement."""
    import tempfile

    from keras_gan import portable

    asked = [(format, quantize) for format in outputs.export_formats if format != "saved_model"
             for quantize in outputs.export_quantize]
    if not asked:
        return
    model = os.path.join(outputs.run_dir, "generator")
    with tempfile.TemporaryDirectory() as scratch:
        float32 = os.path.join(scratch, "generator")
        gan.export(float32, generator=portable.float32_copy(gan.sampling_generator))
        for format, quantize in asked:
            portable.convert(float32, portable.portable_path(model, format, quantize), format,
                             quantize)


def _lost_worker(error: Exception, setup: Setup, checkpoints: str) -> KerasGanError | None:
    """One line for a multi-worker run whose collective ops failed because another worker
    stopped (TensorFlow raises `UnavailableError` and friends, with pages of gRPC detail)."""
    import tensorflow as tf

    lost = (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.AbortedError,
            tf.errors.DeadlineExceededError)
    if setup.config.performance.strategy != "multi_worker" or not isinstance(error, lost):
        return None
    from keras_gan import run_directory

    peer = re.search(r"/job:(\w+)/replica:\d+/task:(\d+)", str(error))
    who = f"{peer.group(1)} {peer.group(2)}" if peer else "another worker"
    newest = run_directory.checkpoint_candidates(checkpoints)
    resume = (f"this worker's newest is {os.path.basename(newest[0])}" if newest
              else "this worker has none yet")
    return KerasGanError(f"lost {who} of this multi-worker run after step "
                         f"{int(setup.gan.step.numpy())} ({type(error).__name__}); restart every "
                         f"worker with the same command: all resume from the newest checkpoint "
                         f"every worker holds ({resume})")


def _sampler(config: RunConfig, gan):
    """The G that grids, evaluation and generator/ use: the EMA of G when kept, refined by D
    with `refine_steps`."""
    sampling = config.sampling
    if not sampling.refine_steps:
        return gan.sampling_generator
    from keras_gan.refinement import refined_generator

    return refined_generator(gan.sampling_generator, gan.discriminator,
                             steps=sampling.refine_steps,
                             learning_rate=sampling.refine_learning_rate,
                             quantile=sampling.refine_quantile, noise=config.model.noise,
                             seed=config.schedule.seed)


def _mnist_evaluation(config: RunConfig, load: LoadData, value_range):
    """Cheap MNIST metrics during training on `eval_samples` samples: Parzen (sigma from
    `eval_validation_split`, scored on 1,000 test images) and the classifier's scores against
    all 10,000 test images (the packaged classifier unless `eval_classifier`)."""
    from keras_gan import evaluation
    from keras_gan.classifier import load_classifier

    settings = config.evaluation
    names = list(settings.eval_metrics)
    needs_classifier = evaluation.CLASSIFIER_METRICS & set(names)
    classifier = load_classifier(settings.eval_classifier) if needs_classifier else None
    test = load("test")
    as_pixels = lambda images: evaluation.to_mnist_pixels(images, (0, 255))  # noqa: E731
    reference = evaluation.MnistReference(
        as_pixels(load(settings.eval_validation_split).images), as_pixels(test.images),
        classifier, test.labels, parzen_test_images=1000)
    return lambda images, labels: reference.evaluate(
        evaluation.to_mnist_pixels(images, value_range), names, labels)


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
