"""The user's own small DCGAN of examples/dcgan_mnist.py, for the programs that compare ways of
training it (api_comparison, little_data)."""
from __future__ import annotations

import importlib.util
import os

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples",
                       "dcgan_mnist.py")


def user_models(seed: int):
    """The example's G and D, fresh and seeded."""
    import keras

    spec = importlib.util.spec_from_file_location("dcgan_mnist_example", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    keras.utils.set_random_seed(seed)
    return example.generator(), example.discriminator()
