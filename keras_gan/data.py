"""MNIST as in-memory arrays, from tfds or from a folder of the four standard IDX `.gz` files.

MNIST is small (55 MB as uint8), so every source ends as one NumPy array; the training input
pipeline (`keras_gan.inputs`) then batches it on the device side without decoding anything per step.
"""
from __future__ import annotations

import gzip
import os
import re
import socket
import zlib
from typing import Tuple

import numpy as np

from keras_gan.errors import KerasGanError

IDX_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
VALUE_RANGES = {"0,1": (0.0, 1.0), "-1,1": (-1.0, 1.0)}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_SPLIT = re.compile(r"^(train|test)(?:\[(-?\d*):(-?\d*)\])?$")
# Where tfds fetches MNIST; probed first so an offline machine fails in seconds, not after retries.
_TFDS_DOWNLOAD_HOST = ("storage.googleapis.com", 443)


def read_idx(path: str) -> np.ndarray:
    """Reads one IDX file (gzip-compressed or raw), checking its header against its length."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as stream:
            raw = stream.read()
    except FileNotFoundError:
        raise KerasGanError(f"{path}: file not found (expected a standard MNIST IDX file)") from None
    except (OSError, EOFError, zlib.error) as error:
        raise KerasGanError(f"{path}: cannot be read as a gzip IDX file ({error})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise KerasGanError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header_end = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header_end:
        raise KerasGanError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header_end != expected:
        raise KerasGanError(
            f"{path}: truncated or corrupt IDX file: header promises shape {shape} "
            f"({expected} bytes of data) but the file holds {len(raw) - header_end}")
    return np.frombuffer(raw, dtype=dtype, offset=header_end).reshape(shape)


def parse_split(split: str) -> Tuple[str, slice]:
    """Parses tfds-style split names: `train`, `test`, `train[:50000]`, `train[50000:]`."""
    match = _SPLIT.match(split.replace(" ", ""))
    if not match:
        raise KerasGanError(
            f"split {split!r} is not understood; expected train, test or e.g. train[:50000]")
    name, start, stop = match.groups()
    return name, slice(int(start) if start else None, int(stop) if stop else None)


def load_mnist_idx(data_dir: str, split: str) -> Tuple[np.ndarray, np.ndarray]:
    """MNIST images (N, 28, 28, 1) uint8 and labels (N,) from a folder of standard IDX files."""
    if not os.path.isdir(data_dir):
        raise KerasGanError(f"--data_dir={data_dir}: not a directory (expected a folder holding "
                            f"the four MNIST IDX .gz files)")
    name, rows = parse_split(split)
    image_file, label_file = (os.path.join(data_dir, f) for f in IDX_FILES[name])
    for path in (image_file, label_file):
        if not os.path.exists(path):
            raise KerasGanError(f"--data_dir={data_dir}: missing {os.path.basename(path)} "
                                f"(expected the four standard MNIST IDX .gz files)")
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise KerasGanError(f"{image_file}: expected (N, rows, cols) images matching "
                            f"{os.path.basename(label_file)}; got {images.shape} and {labels.shape}")
    return images[rows][..., np.newaxis], labels[rows].astype(np.int64)


def load_mnist_tfds(split: str, tfds_dir: str | None = None) -> Tuple[np.ndarray, np.ndarray]:
    """MNIST from tfds, downloading it if needed; an offline machine gets a KerasGanError at once."""
    import tensorflow_datasets as tfds

    parse_split(split)
    builder = tfds.builder("mnist", data_dir=tfds_dir)
    if not builder.is_prepared():
        hint = ("set --data_dir to a folder holding the four standard MNIST IDX .gz files "
                "(train-images-idx3-ubyte.gz ...)")
        try:
            socket.create_connection(_TFDS_DOWNLOAD_HOST, timeout=5).close()
        except OSError as error:
            raise KerasGanError(f"tfds cannot download mnist ({error}); {hint}") from None
        try:
            builder.download_and_prepare()
        except Exception as error:  # tfds surfaces network, checksum and import errors alike
            raise KerasGanError(f"tfds could not prepare mnist ({error}); {hint}") from None
    arrays = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
    return arrays["image"].astype(np.uint8), arrays["label"].astype(np.int64)


def load_mnist(data_dir: str, split: str, tfds_dir: str | None = None
               ) -> Tuple[np.ndarray, np.ndarray]:
    """MNIST from `data_dir` (IDX files) when given, else from tfds."""
    if data_dir:
        return load_mnist_idx(data_dir, split)
    return load_mnist_tfds(split, tfds_dir)


def resize_images(images: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize of uint8 images to size x size, done once in memory (DCGAN's 32/64 MNIST)."""
    import tensorflow as tf

    if images.shape[1:3] == (size, size):
        return images
    resized = tf.image.resize(images, (size, size), method="bilinear", antialias=True)
    return np.clip(np.round(resized.numpy()), 0, 255).astype(np.uint8)


def parse_value_range(text: str) -> Tuple[float, float]:
    """`0,1` or `-1,1` (the two ranges the reference models use) as floats."""
    key = text.replace(" ", "")
    if key not in VALUE_RANGES:
        raise KerasGanError(f"--value_range={text}: expected one of {', '.join(VALUE_RANGES)}")
    return VALUE_RANGES[key]
