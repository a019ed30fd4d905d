"""GANs on 28x28 images: the paper's and the other fully-connected recipes, and the 28x28
convolutional ones (the main job, best_mnist); MNIST by default, any --dataset or --image_dir
resized to 28x28.

    python -m experiments.vanilla --flagfile=experiments/configs/gan_pytorch.cfg --run_dir=runs/x
"""
from __future__ import annotations

from absl import flags

from experiments import common
from keras_gan import cli
from keras_gan.errors import exit_on_user_error

FLAGS = common.FLAGS
flags.adopt_module_key_flags(common)  # --help lists the shared training flags


@exit_on_user_error
def main(argv):
    if len(argv) > 1:
        common.fail_on_extra_arguments(argv)
    common.run(lambda split: common.load_data(split, 28), image_size=28)


if __name__ == "__main__":
    cli.run(main)
