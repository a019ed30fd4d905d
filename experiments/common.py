"""Flags every experiment shares, and the one `run` that turns them into a training run.

`experiments.vanilla` and `experiments.dcgan` only choose architectures and defaults; the data,
trainer, callbacks, checkpoints and export are all here, once.
"""
from __future__ import annotations

import contextlib
import os
import signal
from typing import Callable, Sequence

from absl import flags, logging

from keras_gan.errors import KerasGanError

# --- the flags the issue names for every experiment ---
flags.DEFINE_string("data_dir", "", "Folder of the four MNIST IDX .gz files; empty: tfds `mnist`.")
flags.DEFINE_string("run_dir", None, "Where the run writes flags, CSV, grids, checkpoints, model.")
flags.DEFINE_integer("epochs", 1, "Passes over the training split (each D step takes one batch).")
flags.DEFINE_integer("max_steps", 0, "Stop after this many training steps; 0: no limit.")
flags.DEFINE_integer("batch_size", 64, "Global batch size, split across the strategy's replicas.")
flags.DEFINE_integer("seed", 0, "Seed of the data order, the noise and the initial weights.")
flags.DEFINE_enum("strategy", "auto", ["auto", "mirrored", "one_device", "multi_worker"],
                  "auto: all GPUs if several, else one GPU, else the CPU; multi_worker reads "
                  "TF_CONFIG.")
# --- the GAN recipe ---
flags.DEFINE_string("architecture", "pytorch_mlp", "G/D pair from keras_gan.models.ARCHITECTURES.")
flags.DEFINE_integer("z_dim", 100, "Size of the noise vector z.")
flags.DEFINE_enum("noise", "normal", ["normal", "uniform"],
                  "Prior of z: N(0, 1), or uniform on [-sqrt 3, sqrt 3].")
flags.DEFINE_enum("value_range", "-1,1", ["-1,1", "0,1"], "Range the pixels are scaled to.")
flags.DEFINE_string("train_split", "train", "Training split, tfds syntax (e.g. train[:50000]).")
flags.DEFINE_enum("g_loss", "non_saturating", ["non_saturating", "minimax"],
                  "G's loss: -log D(G(z)) (the paper's heuristic) or log(1 - D(G(z))).")
flags.DEFINE_enum("d_style", "separate", ["separate", "concat"],
                  "D's batch: real and fake in separate calls, or one concatenated batch.")
flags.DEFINE_enum("d_reduction", "mean", ["mean", "sum"],
                  "D's loss: mean or sum of the real-half and fake-half BCEs.")
flags.DEFINE_enum("order", "g_first", ["g_first", "d_first"],
                  "G step first (D reuses its fake batch) or D steps first (G gets fresh z).")
flags.DEFINE_integer("d_steps", 1, "Algorithm 1's k: D steps per G step.")
flags.DEFINE_list("real_label", ["1.0"],
                  "Label of real images: one value (e.g. 0.9) or a uniform range lo,hi (0.9,1.0).")
for _net in ("g", "d"):
    flags.DEFINE_enum(f"{_net}_optimizer", "adam", ["adam", "sgd"], f"Optimiser of {_net.upper()}.")
    flags.DEFINE_float(f"{_net}_learning_rate", 2e-4, f"Learning rate of {_net.upper()}.")
    flags.DEFINE_float(f"{_net}_beta_1", 0.5, f"Adam beta_1 of {_net.upper()}.")
    flags.DEFINE_float(f"{_net}_beta_2", 0.999, f"Adam beta_2 of {_net.upper()}.")
    flags.DEFINE_float(f"{_net}_momentum", 0.0, f"SGD momentum of {_net.upper()}.")
# --- outputs and speed ---
flags.DEFINE_integer("sample_every", 400, "Write a sample grid every this many steps.")
flags.DEFINE_integer("sample_count", 25, "Images in each sample grid (fixed noise).")
flags.DEFINE_integer("log_every", 100, "Progress line and TensorBoard scalars every N steps.")
flags.DEFINE_integer("checkpoint_every", 1000, "Checkpoint every this many steps (and at the end).")
flags.DEFINE_integer("keep_checkpoints", 3, "How many recent checkpoints to keep.")
flags.DEFINE_bool("resume", True, "Continue from RUN/checkpoints when it holds a checkpoint.")
flags.DEFINE_integer("steps_per_call", 50, "Training steps fused into one tf.function call.")
flags.DEFINE_bool("jit_compile", False, "Compile each replica's step with XLA.")
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


def _optimizer(net: str):
    import keras

    name = FLAGS[f"{net}_optimizer"].value
    rate = FLAGS[f"{net}_learning_rate"].value
    if rate <= 0:
        raise KerasGanError(f"--{net}_learning_rate={rate}: expected a positive number")
    if name == "adam":
        return keras.optimizers.Adam(rate, FLAGS[f"{net}_beta_1"].value,
                                     FLAGS[f"{net}_beta_2"].value)
    return keras.optimizers.SGD(rate, momentum=FLAGS[f"{net}_momentum"].value)


def fail_on_extra_arguments(argv: Sequence[str]) -> None:
    raise KerasGanError(f"unexpected arguments {' '.join(argv[1:])}; flags look like --name=value")


def check_flags() -> None:
    """Fails before anything is written when a flag cannot work."""
    if not FLAGS.run_dir:
        raise KerasGanError("--run_dir is required: the directory the run writes to")
    for name in ("batch_size", "epochs", "d_steps", "steps_per_call", "sample_every",
                 "sample_count", "log_every", "checkpoint_every", "keep_checkpoints", "z_dim"):
        if FLAGS[name].value < 1:
            raise KerasGanError(f"--{name}={FLAGS[name].value}: expected a positive integer")
    if FLAGS.max_steps < 0:
        raise KerasGanError(f"--max_steps={FLAGS.max_steps}: expected 0 (no limit) or more")
    _real_label_range()


def run(load_images: Callable[[], "np.ndarray"], image_shape: Sequence[int]) -> None:
    """Trains the configured GAN on `load_images()` and writes the run directory."""
    import numpy as np
    import tensorflow as tf
    import keras

    from keras_gan import atomic, callbacks, data, export, inputs, models
    from keras_gan.strategy import make_strategy
    from keras_gan.trainer import GANTrainer, TrainerConfig

    check_flags()
    strategy = make_strategy(FLAGS.strategy)
    config = TrainerConfig(
        global_batch_size=FLAGS.batch_size, g_loss=FLAGS.g_loss, d_style=FLAGS.d_style,
        d_reduction=FLAGS.d_reduction, order=FLAGS.order, d_steps=FLAGS.d_steps,
        steps_per_call=FLAGS.steps_per_call, jit_compile=FLAGS.jit_compile)
    models.build_gan(FLAGS.architecture, image_shape, FLAGS.z_dim)  # unknown names fail here
    images = load_images()
    steps_per_epoch = inputs.batches_per_epoch(len(images), FLAGS.batch_size) // FLAGS.d_steps
    if steps_per_epoch < 1:
        raise KerasGanError(f"--batch_size={FLAGS.batch_size} x --d_steps={FLAGS.d_steps} is more "
                            f"than the {len(images)} training images")
    total_steps = FLAGS.epochs * steps_per_epoch
    if FLAGS.max_steps:
        total_steps = min(total_steps, FLAGS.max_steps)

    keras.utils.set_random_seed(FLAGS.seed)
    trainer = GANTrainer(lambda: models.build_gan(FLAGS.architecture, image_shape, FLAGS.z_dim),
                         lambda: (_optimizer("g"), _optimizer("d")), config, strategy)
    manager = tf.train.CheckpointManager(trainer.checkpoint, os.path.join(FLAGS.run_dir,
                                         "checkpoints"), max_to_keep=FLAGS.keep_checkpoints)
    if FLAGS.resume and manager.latest_checkpoint:
        trainer.checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        logging.info("resumed from %s at step %d", manager.latest_checkpoint, trainer.step.numpy())
    start_step = int(trainer.step.numpy())
    os.makedirs(FLAGS.run_dir, exist_ok=True)
    atomic.write_text(os.path.join(FLAGS.run_dir, "flags.cfg"), FLAGS.flags_into_string())

    value_range = data.parse_value_range(FLAGS.value_range)
    spec = inputs.StreamSpec(FLAGS.batch_size, FLAGS.z_dim, FLAGS.noise, value_range,
                             _real_label_range(), FLAGS.seed)
    dataset = strategy.distribute_datasets_from_function(
        lambda context: inputs.training_stream(images, spec, start_step * FLAGS.d_steps, context))
    fixed_noise = inputs.sample_noise([FLAGS.sample_count, FLAGS.z_dim], FLAGS.noise,
                                      tf.constant([FLAGS.seed, -1], tf.int64)).numpy()
    run_callbacks = callbacks.standard_callbacks(
        FLAGS.run_dir, trainer.generator, fixed_noise, value_range, manager,
        global_batch_size=FLAGS.batch_size, steps_per_epoch=steps_per_epoch,
        start_step=start_step, total_steps=total_steps, sample_every=FLAGS.sample_every,
        log_every=FLAGS.log_every, checkpoint_every=FLAGS.checkpoint_every)
    with _stop_on_signals(trainer.combined) as interrupted:
        trainer.fit(dataset, steps_per_epoch, total_steps, run_callbacks,
                    boundaries=(FLAGS.sample_every, FLAGS.checkpoint_every))
    export.export_generator(trainer.generator, os.path.join(FLAGS.run_dir, "generator"),
                            FLAGS.noise, value_range)
    if interrupted:
        logging.warning("interrupted at step %d: checkpoint and outputs written; rerun the same "
                        "command to resume", trainer.step.numpy())
        raise SystemExit(130)
    logging.info("wrote %s", FLAGS.run_dir)


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
