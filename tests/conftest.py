"""Shared fixtures: two replica devices (for MirroredStrategy tests) and tiny MNIST-format data."""
import functools
import gzip
import os
import struct
import subprocess
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_gan  # noqa: E402,F401  (its CPU-kernel default must precede TensorFlow)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()])
# The tests compare float32 results closely: no TensorFloat-32 on the GPUs that have it.
tf.config.experimental.enable_tensor_float_32_execution(False)
# Multi-replica tests run on two GPUs where there are two (experiments.device_check runs the
# `device` tests there), else on the two logical CPUs; one device is the first of the same kind.
REPLICA_DEVICES = (["/gpu:0", "/gpu:1"] if len(tf.config.list_physical_devices("GPU")) > 1
                   else ["/cpu:0", "/cpu:1"])


def one_device() -> tf.distribute.OneDeviceStrategy:
    return tf.distribute.OneDeviceStrategy(REPLICA_DEVICES[0])


@functools.lru_cache(maxsize=None)
def two_replica_mirrored() -> tf.distribute.MirroredStrategy:
    """One MirroredStrategy over two devices per process: separate instances reuse collective
    keys and clash."""
    return tf.distribute.MirroredStrategy(REPLICA_DEVICES)


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


class Steps:
    """A compiled GAN's fused steps for one batch size, as the tests drive them: calling it runs
    steps; `g_update` / `d_update` run one update on one batch; the GAN's attributes show
    through."""

    def __init__(self, gan, batch_size: int, seed: int = 1):
        self.gan, self.fused = gan, gan.fused_steps(batch_size, 1, seed)
        gan.noise_seed = seed  # single updates outside the fused loop draw this run's noise

    def __getattr__(self, name):
        return getattr(self.gan, name)

    @property
    def strategy(self):
        return self.gan.distribute_strategy

    @property
    def function(self):
        return self.fused.function

    def __call__(self, iterator, num_steps: int):
        return self.fused(iterator, num_steps)

    def g_update(self, batches):
        """G's update on one batch (or a list of micro-batches): (logs, fakes)."""
        return self.gan.generator_update(batches)

    def d_update(self, batches, fakes=None):
        """D's update on one batch (or a list of micro-batches), on `fakes` or fresh ones."""
        return self.gan.discriminator_update(batches, fakes)


def step_noise(index: int = 0, kind: str = "g", batch: int = 8, z_dim: int = 3, seed: int = 1,
               prior: str = "normal"):
    """The z a fused step draws for global batch `index` of a run with `seed`."""
    from keras_gan import inputs, training_step

    return inputs.sample_noise([batch, z_dim], prior,
                               training_step.draw_seed(seed, index, f"z_{kind}"))


def step_uniforms(draw: str, index: int = 0, batch: int = 8, seed: int = 1, low=0.0, high=1.0):
    """The uniforms (label smoothing's, the penalty's mixes) a step draws for batch `index`."""
    from keras_gan import inputs, training_step

    return inputs.uniform([batch], training_step.draw_seed(seed, index, draw), low, high)


# ----- a tiny GAN as a Keras user builds one (test_keras_contract, test_open_step, ...) ---------
# Kept here, not imported from a test module: a test module imported under a second name would
# register its serialisable objects twice.

SHAPE, Z_DIM, BATCH = (4, 4, 1), 3, 8
IMAGES = np.random.RandomState(0).randint(0, 256, (64, *SHAPE)).astype(np.uint8)


def tiny_pair(seed=0, d_activation=None, g_on_list=False):
    keras.utils.set_random_seed(seed)
    z = keras.Input((Z_DIM,))
    image = keras.layers.Reshape(SHAPE)(keras.layers.Dense(16, activation="tanh")(
        keras.layers.Dense(8, activation="relu")(z)))
    g = keras.Model([z] if g_on_list else z, image, name="g")
    d = keras.Sequential([keras.Input(SHAPE), keras.layers.Flatten(), keras.layers.Dense(8),
                          keras.layers.LeakyReLU(0.2),
                          keras.layers.Dense(1, activation=d_activation)], name="d")
    return g, d


def compiled(seed=0, **options):
    options = {"g_ema_decay": 0.9, "steps_per_execution": 3, **options}
    return keras_gan.GAN(*tiny_pair(seed)).compile(
        keras.optimizers.Adam(1e-3), keras.optimizers.Adam(2e-3), **options)


def fit(gan, epochs, **kwargs):
    return gan.fit(IMAGES, batch_size=BATCH, epochs=epochs, verbose=0, **kwargs)


class InterruptAtEpoch(keras.callbacks.Callback):
    """Raises RuntimeError("interrupted") as epoch `epoch` (0-based) begins: a killed run."""

    def __init__(self, epoch: int):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def all_state(gan):
    return [v.numpy().copy() for v in gan.weights + gan.g_optimizer.variables
            + gan.d_optimizer.variables]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
