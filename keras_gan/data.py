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
from absl import logging

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


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# Training images live in memory and in the input graph; past this, ask for --max_images.
MAX_IN_MEMORY_BYTES = 1_500_000_000


def resize_and_center_crop(image, size: int):
    """Resizes the shorter side to `size`, then crops the centre square (the DCGAN tutorial's
    Resize + CenterCrop), for one uint8 (H, W, C) image."""
    import tensorflow as tf

    height, width = tf.shape(image)[0], tf.shape(image)[1]
    scale = size / tf.cast(tf.minimum(height, width), tf.float32)
    new_size = tf.cast(tf.math.ceil(tf.cast(tf.stack([height, width]), tf.float32) * scale),
                       tf.int32)
    resized = tf.image.resize(image, new_size, antialias=True)
    cropped = tf.image.resize_with_crop_or_pad(resized, size, size)
    return tf.cast(tf.clip_by_value(tf.round(cropped), 0, 255), tf.uint8)


def _check_memory(count: int, size: int, channels: int, flag: str) -> None:
    if count * size * size * channels > MAX_IN_MEMORY_BYTES:
        raise KerasGanError(f"{flag}: {count} images of {size}x{size}x{channels} do not fit the "
                            f"in-memory pipeline; pass --max_images (e.g. 100000)")


def load_image_folder(directory: str, size: int, channels: int, max_images: int = 0
                      ) -> np.ndarray:
    """Every JPEG/PNG below `directory`, resized and centre-cropped to size x size, as uint8."""
    import tensorflow as tf

    if not os.path.isdir(directory):
        raise KerasGanError(f"--image_dir={directory}: not a directory")
    paths = sorted(os.path.join(root, name) for root, _, names in os.walk(directory)
                   for name in names if name.lower().endswith(IMAGE_SUFFIXES))
    if not paths:
        raise KerasGanError(f"--image_dir={directory}: no JPEG or PNG images in it")
    paths = paths[:max_images] if max_images else paths
    _check_memory(len(paths), size, channels, f"--image_dir={directory}")
    images = np.empty((len(paths), size, size, channels), np.uint8)
    broken, kept = [], 0
    for path in paths:
        try:
            image = tf.io.decode_image(tf.io.read_file(path), channels=channels,
                                       expand_animations=False)
        except tf.errors.OpError:
            broken.append(path)
            continue
        images[kept] = resize_and_center_crop(image, size).numpy()
        kept += 1
    if not kept:
        raise KerasGanError(f"--image_dir={directory}: none of its {len(paths)} JPEG/PNG files "
                            f"decodes (e.g. {broken[0]})")
    if broken:
        logging.warning("--image_dir=%s: skipped %d of %d files that do not decode as JPEG or "
                        "PNG (e.g. %s)", directory, len(broken), len(paths), broken[0])
    return images[:kept]


def load_tfds_images(name: str, split: str, size: int, max_images: int = 0,
                     tfds_dir: str | None = None) -> np.ndarray:
    """Images of a prepared tfds dataset (e.g. `celeb_a`), resized and centre-cropped."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    builder = tfds.builder(name, data_dir=tfds_dir)
    if not builder.is_prepared():
        raise KerasGanError(f"tfds dataset {name} is not prepared here (it cannot be downloaded "
                            f"offline); pass --image_dir with a folder of JPEG/PNG images")
    dataset = builder.as_dataset(split=split)
    if max_images:
        dataset = dataset.take(max_images)
    count = int(dataset.cardinality())
    channels = builder.info.features["image"].shape[-1]
    _check_memory(count, size, channels, f"tfds {name}")
    dataset = dataset.map(lambda example: resize_and_center_crop(example["image"], size),
                          num_parallel_calls=tf.data.AUTOTUNE)
    return np.stack(list(tfds.as_numpy(dataset)))
