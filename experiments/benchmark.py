"""Times the real trainer (the code path experiments.vanilla / experiments.dcgan use) in its
configured fast mode and, in the same run, in plain mode (the usual custom loop: one
tf.function call per step, no XLA, Keras's own optimisers), so the speed-up is a ratio measured
side by side.

    python -m experiments.benchmark --flagfile=experiments/configs/gan_pytorch.cfg \
        --data_dir=../shared/data/mnist [--steps=2000] [--json]
    python -m experiments.benchmark --flagfile=experiments/configs/dcgan_mnist32.cfg \
        --image_dir=FOLDER --channels=1 [--stream_from_disk] --modes=fast
"""
from __future__ import annotations

import json
import time

from absl import flags
from absl.testing import flagsaver

from experiments import common
from experiments import dcgan  # noqa: F401  (defines --image_size so its configs parse)
from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_integer("steps", 2000, "Timed training steps per mode (after a warm-up).")
flags.DEFINE_integer("warmup_steps", 200, "Untimed steps first (tracing, XLA compilation).")
flags.DEFINE_bool("synthetic_data", False, "Random in-memory images instead of MNIST.")
flags.DEFINE_bool("json", False, "End with one JSON line: images_per_sec, plain_images_per_sec.")
flags.DEFINE_list("modes", ["fast", "plain"], "Which modes to time.")
flags.DEFINE_bool("floor", False, "Also time the fast step's own matrix products alone, one "
                  "after another (keras_gan.floor): the step's hardware floor.")
FLAGS = flags.FLAGS
flags.adopt_module_key_flags(common)  # --help lists the shared training flags


def load_data(split: str):
    """The flags' data (an --image_dir with --stream_from_disk times the streaming path)."""
    import numpy as np

    from keras_gan import data, models

    size = models.ARCHITECTURES[FLAGS.architecture].image_size
    if FLAGS.synthetic_data:
        return data.LabelledImages(
            np.random.RandomState(0).randint(0, 256, (60000, size, size, 1)).astype(np.uint8))
    return common.load_data(split, size)


# The plain mode is the usual custom loop: one tf.function call per step, Keras's optimisers.
MODES = {"fast": {},
         "plain": {"steps_per_call": 1, "jit_compile": False, "fused_optimizers": False}}


def onednn_kernels() -> bool:
    """Whether TensorFlow runs its oneDNN CPU kernels (keras_gan turns them on on x86-64)."""
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def time_mode(mode: str) -> dict:
    from keras_gan import models

    with flagsaver.flagsaver(**MODES[mode]):
        setup = common.prepare(load_data, models.ARCHITECTURES[FLAGS.architecture].image_size)
        trainer = setup.gan.trainer
        iterator = setup.gan.train_iterator(setup.data, batch_size=FLAGS.batch_size,
                                            seed=FLAGS.seed)
        trainer.train_steps(iterator, FLAGS.warmup_steps)
        started = time.perf_counter()
        trainer.train_steps(iterator, FLAGS.steps)
        seconds = time.perf_counter() - started
        images = FLAGS.steps * FLAGS.batch_size * FLAGS.d_steps
        result = {"images_per_sec": images / seconds, "steps_per_sec": FLAGS.steps / seconds}
        if FLAGS.floor and mode == "fast":
            result["floor"] = time_floor(setup, iterator)
        source = ("synthetic" if FLAGS.synthetic_data else FLAGS.image_dir + (
            " streamed" if FLAGS.stream_from_disk else " in memory") if FLAGS.image_dir
            else FLAGS.dataset)
        print(f"{mode:>5}: {result['images_per_sec']:9.0f} images/s  "
              f"{result['steps_per_sec']:8.1f} steps/s  ({source}, {FLAGS.architecture}, batch "
              f"{FLAGS.batch_size}, steps_per_call {FLAGS.steps_per_call}, xla "
              f"{FLAGS.jit_compile}, fused optimisers {FLAGS.fused_optimizers}, "
              f"{common.precision_policy()}, oneDNN {onednn_kernels()})", flush=True)
    return result


def time_floor(setup, iterator) -> dict:
    """The fast step's matrix products alone (keras_gan.floor), timed like the step."""
    import tensorflow as tf

    from keras_gan import floor

    function = setup.gan.trainer._train_calls.get_concrete_function(
        iterator, tf.constant(FLAGS.steps_per_call, tf.int32))
    products = floor.step_products(function)
    seconds = floor.time_products(products, FLAGS.steps, FLAGS.steps_per_call)
    images_per_sec = FLAGS.batch_size * FLAGS.d_steps / seconds
    gflops = sum(p.flops for p in products) / seconds / 1e9
    print(f"floor: {images_per_sec:9.0f} images/s  {1 / seconds:8.1f} steps/s  (the step's "
          f"{len(products)} matrix products alone, {gflops:.0f} GFLOP/s)", flush=True)
    return {"images_per_sec": images_per_sec, "products": len(products), "gflops": gflops}


@exit_on_user_error
def main(argv):
    if len(argv) > 1:
        common.fail_on_extra_arguments(argv)
    if FLAGS.steps < 1 or FLAGS.warmup_steps < 0:
        raise KerasGanError("--steps must be positive and --warmup_steps not negative")
    unknown = set(FLAGS.modes) - set(MODES)
    if unknown:
        raise KerasGanError(f"--modes: unknown {', '.join(sorted(unknown))}; expected fast, plain")
    results = {mode: time_mode(mode) for mode in FLAGS.modes}
    summary = {"architecture": FLAGS.architecture, "batch_size": FLAGS.batch_size,
               "steps_per_call": FLAGS.steps_per_call, "jit_compile": FLAGS.jit_compile,
               "fused_optimizers": FLAGS.fused_optimizers,
               "mixed_precision": common.precision_policy(), "onednn": onednn_kernels()}
    if "fast" in results:
        summary["images_per_sec"] = round(results["fast"]["images_per_sec"], 1)
        if FLAGS.floor:
            floor = results["fast"]["floor"]
            summary["floor_images_per_sec"] = round(floor["images_per_sec"], 1)
            summary["floor_products"] = floor["products"]
            summary["share_of_floor"] = round(summary["images_per_sec"]
                                              / floor["images_per_sec"], 3)
            print(f"fast step at {summary['share_of_floor']:.0%} of its matrix-product floor")
    if "plain" in results:
        summary["plain_images_per_sec"] = round(results["plain"]["images_per_sec"], 1)
    if len(results) == 2:
        summary["speedup"] = round(summary["images_per_sec"] / summary["plain_images_per_sec"], 3)
        print(f"speed-up: {summary['speedup']:.2f}x")
    if FLAGS.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    cli.run(main)
