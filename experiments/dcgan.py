"""Convolutional GANs: PyTorch-GAN's DCGAN on 32x32 MNIST, the DCGAN tutorial at 64x64.

    python -m experiments.dcgan --flagfile=experiments/configs/dcgan_mnist32.cfg --run_dir=runs/x
"""
from __future__ import annotations

from absl import flags

from experiments import common
from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_enum("dataset", "mnist", ["mnist", "celeb_a"],
                  "Training images when --image_dir is empty: MNIST (tfds, or IDX files in "
                  "--data_dir) or tfds celeb_a.")
flags.DEFINE_string("image_dir", "", "A folder of JPEG/PNG images to train on instead.")
flags.DEFINE_integer("image_size", 32, "Images are resized (and centre-cropped) to this size.")
flags.DEFINE_integer("channels", 3, "Channels of --image_dir / celeb_a images (MNIST has 1).")
flags.DEFINE_integer("max_images", 0, "Use at most this many training images; 0: all.")
FLAGS = flags.FLAGS
flags.adopt_module_key_flags(common)  # --help lists the shared training flags


def load_images(split: str):
    from keras_gan import data

    if FLAGS.image_dir:
        if split != FLAGS.train_split:
            raise KerasGanError(f"--image_dir has no {split!r} split; drop --eval_d_accuracy")
        return data.load_image_folder(FLAGS.image_dir, FLAGS.image_size, FLAGS.channels,
                                      FLAGS.max_images)
    if FLAGS.dataset == "celeb_a":
        return data.load_tfds_images("celeb_a", split, FLAGS.image_size, FLAGS.max_images)
    images = data.load_mnist(FLAGS.data_dir, split)[0]
    images = images[:FLAGS.max_images] if FLAGS.max_images else images
    return data.resize_images(images, FLAGS.image_size)


@exit_on_user_error
def main(argv):
    if len(argv) > 1:
        common.fail_on_extra_arguments(argv)
    if FLAGS.channels not in (1, 3):
        raise KerasGanError(f"--channels={FLAGS.channels}: expected 1 or 3")
    common.run(load_images, image_size=FLAGS.image_size)


if __name__ == "__main__":
    cli.run(main)
