"""Writes an image grid from an exported generator.

    python -m keras_gan.sample --model=RUN/generator --num=64 --out=grid.png [--seed=0] [--label=7]

A class-conditional generator draws one row per class (the same noise down each column) unless
--label asks for one class.
"""
from __future__ import annotations

from absl import flags

from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_string("model", None, "Directory of an exported generator SavedModel (RUN/generator).")
flags.DEFINE_integer("num", 64, "How many images to draw.")
flags.DEFINE_integer("seed", 0, "Seed of the noise drawn from the model's own prior.")
flags.DEFINE_string("out", "grid.png", "Path of the PNG grid to write.")
flags.DEFINE_integer("label", None, "Class to draw from a conditional generator (default: a row "
                     "per class).")
FLAGS = flags.FLAGS


@exit_on_user_error
def main(argv):
    del argv
    import tensorflow as tf

    from keras_gan import export, plotting
    from keras_gan.callbacks import FixedInputs

    if FLAGS.num < 1:
        raise KerasGanError(f"--num={FLAGS.num}: expected a positive integer")
    model = export.load_generator(FLAGS.model)
    info = model.info()
    classes = export.num_classes(model)
    num, seed, columns = tf.constant(FLAGS.num), tf.constant(FLAGS.seed), None
    if FLAGS.label is not None and not 0 <= FLAGS.label < max(classes, 1):
        raise KerasGanError(f"--label={FLAGS.label}: " + (
            f"expected a class in [0, {classes})" if classes else
            "this generator is not class-conditional"))
    if FLAGS.label is not None:
        images = model.sample(num, seed, tf.constant(FLAGS.label))["images"]
    elif classes:
        rows = FixedInputs.draw(FLAGS.num, int(info["z_dim"]), info["noise"].numpy().decode(),
                                classes, FLAGS.seed)  # the training grids' layout
        columns = rows.columns
        images = model.serving_default(*(tf.constant(part) for part in rows.inputs))["images"]
    else:
        images = model.sample(num, seed)["images"]
    value_range = tuple(info["value_range"].numpy().tolist())
    plotting.write_grid(FLAGS.out, images.numpy(), value_range, columns)
    print(f"wrote {len(images)} samples to {FLAGS.out}")


if __name__ == "__main__":
    cli.run(main)
