"""Shared fixtures: two logical CPUs (for MirroredStrategy tests) and tiny MNIST-format data."""
import functools
import gzip
import os
import struct
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_gan  # noqa: E402,F401  (its CPU-kernel default must precede TensorFlow)
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])


@functools.lru_cache(maxsize=None)
def two_cpu_mirrored() -> tf.distribute.MirroredStrategy:
    """One MirroredStrategy over the two logical CPUs per process: separate instances reuse
    collective keys and clash."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])


def write_idx(path: str, array: np.ndarray) -> None:
    """Writes a uint8 array as a gzip IDX file (the MNIST format)."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


def make_mnist_dir(directory: str, train: int = 256, test: int = 64, seed: int = 0) -> str:
    """A folder of the four MNIST IDX files holding random digits-shaped data."""
    rng = np.random.RandomState(seed)
    os.makedirs(directory, exist_ok=True)
    for prefix, count in (("train", train), ("t10k", test)):
        write_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"),
                  rng.randint(0, 256, (count, 28, 28)))
        write_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"),
                  rng.randint(0, 10, (count,)))
    return directory


@pytest.fixture
def mnist_dir(tmp_path):
    return make_mnist_dir(str(tmp_path / "mnist"))


def run_module(module: str, *args: str, env=None, timeout=300) -> subprocess.CompletedProcess:
    """Runs `python -m module args` from the repository root, capturing its output."""
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout, env=environment)
