"""Convolutional GANs: PyTorch-GAN's DCGAN on 32x32 MNIST, the DCGAN tutorial at 64x64; any
--dataset or --image_dir at --image_size.

    python -m experiments.dcgan --flagfile=experiments/configs/dcgan_mnist32.cfg --run_dir=runs/x
"""
from __future__ import annotations

from absl import flags

from experiments import common
from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_list("image_size", ["32"], "HEIGHT,WIDTH of the images (one number: a square); "
                  "images of another aspect ratio are resized keeping it, then cropped or padded "
                  "(--resize).")
FLAGS = flags.FLAGS
flags.adopt_module_key_flags(common)  # --help lists the shared training flags


@exit_on_user_error
def main(argv):
    if len(argv) > 1:
        common.fail_on_extra_arguments(argv)
    size = image_size()
    common.run(lambda split: common.load_data(split, size), image_size=size)


def image_size():
    """--image_size as (height, width)."""
    try:
        sides = [int(v) for v in FLAGS.image_size]
    except ValueError:
        sides = []
    if len(sides) not in (1, 2) or min(sides) < 1:
        raise KerasGanError(f"--image_size={','.join(FLAGS.image_size)}: expected HEIGHT,WIDTH "
                            f"or one size, in pixels")
    return (sides[0], sides[-1])


if __name__ == "__main__":
    cli.run(main)
