"""Writes an image grid from an exported generator.

    python -m keras_gan.sample --model=RUN/generator --num=64 --out=grid.png [--seed=0]
"""
from __future__ import annotations

from absl import flags

from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_string("model", None, "Directory of an exported generator SavedModel (RUN/generator).")
flags.DEFINE_integer("num", 64, "How many images to draw.")
flags.DEFINE_integer("seed", 0, "Seed of the noise drawn from the model's own prior.")
flags.DEFINE_string("out", "grid.png", "Path of the PNG grid to write.")
FLAGS = flags.FLAGS


@exit_on_user_error
def main(argv):
    del argv
    import tensorflow as tf

    from keras_gan import export, plotting

    if not FLAGS.model:
        raise KerasGanError("--model is required: the directory of an exported generator")
    if FLAGS.num < 1:
        raise KerasGanError(f"--num={FLAGS.num}: expected a positive integer")
    model = export.load_generator(FLAGS.model)
    images = model.sample(tf.constant(FLAGS.num), tf.constant(FLAGS.seed))["images"].numpy()
    value_range = tuple(model.info()["value_range"].numpy().tolist())
    plotting.write_grid(FLAGS.out, images, value_range)
    print(f"wrote {FLAGS.num} samples to {FLAGS.out}")


if __name__ == "__main__":
    cli.run(main)
