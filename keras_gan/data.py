"""Training data with its labels: one registry of sources behind `load_dataset`.

Sources: a tfds image dataset by name (`mnist`, `fashion_mnist`, `cifar10`, `celeb_a`, ...), a
folder of the standard IDX `.gz` files (MNIST and Fashion-MNIST share the format), or a folder of
JPEG/PNG images (class subfolders give labels). Small sets end as one uint8 NumPy array that the
input pipeline (`keras_gan.inputs`) batches without decoding anything per step; an image folder
too large for memory stays a list of files that the pipeline decodes in parallel every step.
"""
from __future__ import annotations

import dataclasses
import gzip
import os
import re
import socket
import zlib
from typing import Tuple, Union

import numpy as np
from absl import logging

from keras_gan.errors import KerasGanError

# Datasets whose standard files are IDX: --data_dir may hold them instead of tfds.
IDX_CLASS_NAMES = {
    "mnist": tuple(str(digit) for digit in range(10)),
    "fashion_mnist": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                      "Sneaker", "Bag", "Ankle boot"),
}
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
        raise KerasGanError(
            f"{path}: file not found (expected a standard MNIST IDX file)") from None
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


def load_idx_folder(data_dir: str, split: str, dataset: str = "mnist"
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28, 1) uint8 and labels (N,) from a folder of the standard IDX files of
    MNIST or Fashion-MNIST (same names, same format)."""
    if not os.path.isdir(data_dir):
        raise KerasGanError(f"--data_dir={data_dir}: not a directory (expected a folder holding "
                            f"the four {dataset} IDX .gz files)")
    name, rows = parse_split(split)
    image_file, label_file = (os.path.join(data_dir, f) for f in IDX_FILES[name])
    for path in (image_file, label_file):
        if not os.path.exists(path):
            raise KerasGanError(f"--data_dir={data_dir}: missing {os.path.basename(path)} "
                                f"(expected the four standard {dataset} IDX .gz files)")
    images, labels = read_idx(image_file), read_idx(label_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise KerasGanError(f"{image_file}: expected (N, rows, cols) images matching "
                            f"{os.path.basename(label_file)}; got {images.shape} and "
                            f"{labels.shape}")
    return images[rows][..., np.newaxis], labels[rows].astype(np.int64)


def tfds_builder(name: str, tfds_dir: str | None = None, hint: str = ""):
    """The prepared tfds builder of `name`, downloading it when online; an offline machine or an
    unknown name gets one KerasGanError at once."""
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=tfds_dir)
    except Exception as error:  # tfds raises DatasetNotFoundError and friends
        raise KerasGanError(f"--dataset={name}: not a tfds dataset ({str(error).splitlines()[0]})"
                            ) from None
    if builder.is_prepared():
        return builder
    hint = hint or "pass --image_dir with a folder of JPEG/PNG images"
    try:
        socket.create_connection(_TFDS_DOWNLOAD_HOST, timeout=5).close()
    except OSError as error:
        raise KerasGanError(f"tfds cannot download {name} ({error}); {hint}") from None
    try:
        builder.download_and_prepare()
    except Exception as error:  # tfds surfaces network, checksum and import errors alike
        raise KerasGanError(f"tfds could not prepare {name} ({error}); {hint}") from None
    return builder


def _idx_hint(dataset: str) -> str:
    return (f"set --data_dir to a folder holding the four standard {dataset} IDX .gz files "
            f"(train-images-idx3-ubyte.gz ...)")


def load_mnist_tfds(split: str, tfds_dir: str | None = None, dataset: str = "mnist"
                    ) -> Tuple[np.ndarray, np.ndarray]:
    """MNIST-sized tfds data (small enough for one tensor) as arrays."""
    import tensorflow_datasets as tfds

    parse_split(split)
    builder = tfds_builder(dataset, tfds_dir, _idx_hint(dataset))
    arrays = tfds.as_numpy(builder.as_dataset(split=split, batch_size=-1))
    return arrays["image"].astype(np.uint8), arrays["label"].astype(np.int64)


def load_mnist(data_dir: str, split: str, tfds_dir: str | None = None
               ) -> Tuple[np.ndarray, np.ndarray]:
    """MNIST from `data_dir` (IDX files) when given, else from tfds."""
    if data_dir:
        return load_idx_folder(data_dir, split)
    return load_mnist_tfds(split, tfds_dir)


ImageSize = Tuple[int, int]  # (height, width)
FITS = ("crop", "pad")


def image_size_of(size) -> ImageSize | None:
    """`size` as (height, width): one number for a square, a pair, or None."""
    if size is None:
        return None
    if isinstance(size, (int, np.integer)):
        return (int(size), int(size))
    height, width = (int(v) for v in size)
    return (height, width)


def resize_images(images: np.ndarray, size, fit: str = "crop") -> np.ndarray:
    """Bilinear resize of uint8 images to `size` (one side or (height, width)), done once in
    memory (DCGAN's 32/64 MNIST); another aspect ratio is cropped or padded (`fit`)."""
    import tensorflow as tf

    height, width = image_size_of(size)
    if images.shape[1:3] == (height, width):
        return images
    resized = fit_to_size(tf.constant(images), (height, width), fit)
    return resized.numpy()


def parse_value_range(text: str) -> Tuple[float, float]:
    """`0,1` or `-1,1` (the two ranges the reference models use) as floats."""
    key = text.replace(" ", "")
    if key not in VALUE_RANGES:
        raise KerasGanError(f"--value_range={text}: expected one of {', '.join(VALUE_RANGES)}")
    return VALUE_RANGES[key]


# Training images live in memory and in the input graph; past this, stream or cap them.
MAX_IN_MEMORY_BYTES = 1_500_000_000


def fit_to_size(image, size: ImageSize, fit: str = "crop"):
    """A uint8 (H, W, C) image (or a batch of them) at `size` (height, width), keeping its
    aspect ratio: scaled to cover it and the centre cropped (`crop`: the DCGAN tutorial's
    Resize + CenterCrop for a square), or scaled to fit inside it and padded with zeros
    (`pad`)."""
    import tensorflow as tf

    if fit not in FITS:
        raise KerasGanError(f"resize={fit}: expected one of {', '.join(FITS)}")
    height, width = size
    shape = tf.shape(image)
    source = tf.cast(shape[-3:-1], tf.float32)
    ratios = tf.constant([height, width], tf.float32) / source
    scale = tf.reduce_max(ratios) if fit == "crop" else tf.reduce_min(ratios)
    # A hair below the exact product, so 28 * (32 / 28) rounds to 32, not up to 33.
    scaled = tf.cast(tf.math.ceil(source * scale - 1e-3), tf.int32)
    resized = tf.image.resize(image, scaled, antialias=True)
    fitted = tf.image.resize_with_crop_or_pad(resized, height, width)
    return tf.cast(tf.clip_by_value(tf.round(fitted), 0, 255), tf.uint8)


@dataclasses.dataclass(frozen=True)
class ImageFiles:
    """Image files decoded on every step instead of held in memory: the streaming path."""

    paths: np.ndarray  # of str
    size: ImageSize
    channels: int
    fit: str = "crop"

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def shape(self) -> Tuple[int, int, int, int]:
        return (len(self.paths), *self.size, self.channels)

    dtype = np.dtype(np.uint8)

    def decode(self, path):
        """One file as a uint8 (height, width, channels) image, resized keeping its aspect
        and cropped or padded."""
        import tensorflow as tf

        image = tf.io.decode_image(tf.io.read_file(path), channels=self.channels,
                                   expand_animations=False)
        return tf.ensure_shape(fit_to_size(image, self.size, self.fit),
                               (*self.size, self.channels))


@dataclasses.dataclass(frozen=True)
class LabelledImages:
    """Training data: uint8 (N, H, W, C) images in memory (or float points, or `ImageFiles`)
    and int64 labels (N,), or None when the source has none."""

    images: Union[np.ndarray, ImageFiles]
    labels: np.ndarray | None = None
    class_names: Tuple[str, ...] = ()

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.labels is not None else 0

    @property
    def class_frequencies(self) -> np.ndarray:
        """Each class's share of the labels: the prior a conditional G draws its classes from,
        so that its samples have the data's mix of classes (MNIST's run from 9.0% to 11.2%)."""
        return np.bincount(self.labels, minlength=self.num_classes) / len(self.labels)

    def __len__(self) -> int:
        return len(self.images)


def _check_memory(count: int, size: ImageSize, channels: int, flag: str) -> None:
    if count * size[0] * size[1] * channels > MAX_IN_MEMORY_BYTES:
        raise KerasGanError(f"{flag}: {count} images of {size[0]}x{size[1]}x{channels} do not "
                            f"fit the "
                            f"in-memory pipeline; pass --stream_from_disk (image folders) or "
                            f"--max_images (e.g. 100000)")


def list_image_folder(directory: str, split: str = "train") -> LabelledImages:
    """The files of an image folder as Keras's `image_dataset_from_directory` finds them, with
    labels when it has class subfolders; `split` slices the sorted list (train[:1000])."""
    import keras

    if not os.path.isdir(directory):
        raise KerasGanError(f"--image_dir={directory}: not a directory")
    name, rows = parse_split(split)
    if name != "train":
        raise KerasGanError(f"--image_dir has no {split!r} split (a folder is one training set)")

    def listed(labels):
        try:
            return keras.utils.image_dataset_from_directory(
                directory, labels=labels, shuffle=False, batch_size=None, image_size=(8, 8))
        except ValueError:  # "No images found in directory"
            return None

    subfolders = [entry for entry in os.scandir(directory) if entry.is_dir()]
    by_class = listed("inferred") if len(subfolders) > 1 else None
    if by_class is not None and len(by_class.class_names) > 1:
        paths = np.array(by_class.file_paths)
        folders = [os.path.relpath(p, directory).split(os.sep)[0] for p in paths]
        index = {name: i for i, name in enumerate(by_class.class_names)}
        labels = np.array([index[f] for f in folders], np.int64)
        return LabelledImages(paths[rows], labels[rows], tuple(by_class.class_names))
    flat = listed(None)
    if flat is None:
        raise KerasGanError(f"--image_dir={directory}: no JPEG, PNG, BMP or GIF images in it")
    return LabelledImages(np.array(flat.file_paths)[rows])


def load_image_folder(directory: str, size, channels: int, max_images: int = 0,
                      split: str = "train", stream: bool = False, fit: str = "crop"
                      ) -> LabelledImages:
    """An image folder's images at `size` (one side or (height, width)), resized keeping their
    aspect and cropped or padded (`fit`): decoded once into memory, or with `stream` left as
    `ImageFiles` for the input pipeline to decode."""
    import tensorflow as tf

    size = image_size_of(size)
    listing = list_image_folder(directory, split)
    paths = listing.images[:max_images] if max_images else listing.images
    labels = listing.labels[:len(paths)] if listing.labels is not None else None
    files = ImageFiles(paths, size, channels, fit)
    if stream:
        return LabelledImages(files, labels, listing.class_names)
    _check_memory(len(paths), size, channels, f"--image_dir={directory}")
    images = np.empty(files.shape, np.uint8)
    kept = np.zeros(len(paths), bool)
    for index, path in enumerate(paths):
        try:
            images[index] = files.decode(path).numpy()
            kept[index] = True
        except tf.errors.OpError:
            pass
    broken = paths[~kept]
    if not kept.any():
        raise KerasGanError(f"--image_dir={directory}: none of its {len(paths)} image files "
                            f"decodes (e.g. {broken[0]})")
    if len(broken):
        logging.warning("--image_dir=%s: skipped %d of %d files that do not decode as images "
                        "(e.g. %s)", directory, len(broken), len(paths), broken[0])
    return LabelledImages(images[kept], None if labels is None else labels[kept],
                          listing.class_names)


def load_tfds(name: str, split: str, size=None, max_images: int = 0,
              tfds_dir: str | None = None, fit: str = "crop") -> LabelledImages:
    """A tfds image dataset's images (at `size` when given, resized keeping their aspect and
    cropped or padded) and its `label` feature when it has one."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    parse_split(split)
    builder = tfds_builder(name, tfds_dir)
    features = builder.info.features
    if "image" not in features:
        raise KerasGanError(f"--dataset={name}: a tfds dataset without an `image` feature")
    label_feature = features["label"] if "label" in features else None
    has_labels = label_feature is not None and hasattr(label_feature, "num_classes")
    dataset = builder.as_dataset(split=split)
    if max_images:
        dataset = dataset.take(max_images)
    shape = features["image"].shape
    size = image_size_of(size)
    _check_memory(int(dataset.cardinality()), size or tuple(shape[:2]), shape[-1],
                  f"tfds {name}")

    def example(features_):
        image = features_["image"]
        image = fit_to_size(image, size, fit) if size else image
        label = features_["label"] if has_labels else tf.constant(-1, tf.int64)
        return image, tf.cast(label, tf.int64)

    pairs = list(tfds.as_numpy(dataset.map(example, num_parallel_calls=tf.data.AUTOTUNE)))
    if not pairs:
        raise KerasGanError(f"--dataset={name}: split {split!r} is empty")
    images = np.stack([image for image, _ in pairs]).astype(np.uint8)
    if not has_labels:
        return LabelledImages(images)
    labels = np.array([label for _, label in pairs], np.int64)
    return LabelledImages(images, labels, tuple(label_feature.names))


def load_dataset(dataset: str, split: str, *, data_dir: str = "", image_dir: str = "",
                 image_size=None, channels: int = 3, max_images: int = 0,
                 stream: bool = False, tfds_dir: str | None = None, fit: str = "crop"
                 ) -> LabelledImages:
    """The registry: `--image_dir` (a folder), else `--data_dir` IDX files for the IDX datasets,
    else the tfds dataset `--dataset`; images at `image_size` (one side or (height, width);
    None: as stored), another aspect ratio cropped or padded (`fit`)."""
    if image_dir:
        return load_image_folder(image_dir, image_size or 64, channels, max_images, split, stream,
                                 fit)
    if stream:
        raise KerasGanError("--stream_from_disk decodes image files: it needs --image_dir")
    if data_dir and dataset not in IDX_CLASS_NAMES:
        raise KerasGanError(f"--data_dir holds IDX files of {' or '.join(IDX_CLASS_NAMES)}, not "
                            f"--dataset={dataset}; use --image_dir for a folder of images")
    if dataset in IDX_CLASS_NAMES:
        images, labels = (load_idx_folder(data_dir, split, dataset) if data_dir
                          else load_mnist_tfds(split, tfds_dir, dataset))
        if max_images:
            images, labels = images[:max_images], labels[:max_images]
        if image_size:
            images = resize_images(images, image_size, fit)
        return LabelledImages(images, labels, IDX_CLASS_NAMES[dataset])
    return load_tfds(dataset, split, image_size, max_images, tfds_dir, fit)
