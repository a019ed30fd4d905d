"""Convolutional GANs: PyTorch-GAN's DCGAN on 32x32 MNIST, the DCGAN tutorial at 64x64; any
--dataset or --image_dir at --image_size.

    python -m experiments.dcgan --flagfile=experiments/configs/dcgan_mnist32.cfg --run_dir=runs/x
"""
from __future__ import annotations

from absl import flags

from experiments import common
from keras_gan import cli
from keras_gan.errors import exit_on_user_error

flags.DEFINE_integer("image_size", 32, "Images are resized (and centre-cropped) to this size.")
FLAGS = flags.FLAGS
flags.adopt_module_key_flags(common)  # --help lists the shared training flags


@exit_on_user_error
def main(argv):
    if len(argv) > 1:
        common.fail_on_extra_arguments(argv)
    common.run(lambda split: common.load_data(split, FLAGS.image_size),
               image_size=FLAGS.image_size)


if __name__ == "__main__":
    cli.run(main)
