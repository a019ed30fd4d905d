import gzip
import os
import socket
import time

import numpy as np
import pytest

from keras_gan import data
from keras_gan.errors import KerasGanError
from tests.conftest import write_idx


def test_read_idx_round_trips_a_tiny_file(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = str(tmp_path / "x-idx3-ubyte.gz")
    write_idx(path, array)
    np.testing.assert_array_equal(data.read_idx(path), array)


def test_truncated_idx_file_names_the_file(tmp_path):
    path = str(tmp_path / "train-images-idx3-ubyte.gz")
    write_idx(path, np.zeros((10, 28, 28), np.uint8))
    with gzip.open(path) as stream:
        raw = stream.read()
    with gzip.open(path, "wb") as stream:
        stream.write(raw[:-100])
    with pytest.raises(KerasGanError, match="train-images-idx3-ubyte.gz: truncated or corrupt"):
        data.read_idx(path)


def test_corrupt_gzip_names_the_file(tmp_path):
    path = str(tmp_path / "train-images-idx3-ubyte.gz")
    write_idx(path, np.zeros((10, 28, 28), np.uint8))
    raw = open(path, "rb").read()
    open(path, "wb").write(raw[: len(raw) // 2])
    with pytest.raises(KerasGanError, match="train-images-idx3-ubyte.gz: cannot be read"):
        data.read_idx(path)


def test_bad_magic_is_rejected(tmp_path):
    path = str(tmp_path / "junk.gz")
    with gzip.open(path, "wb") as stream:
        stream.write(b"hello world, not idx")
    with pytest.raises(KerasGanError, match="not an IDX file"):
        data.read_idx(path)


def test_local_mnist_shapes_dtype_and_split_slices(mnist_dir):
    images, labels = data.load_mnist(mnist_dir, "train")
    assert images.shape == (256, 28, 28, 1) and images.dtype == np.uint8
    assert labels.shape == (256,)
    head, _ = data.load_mnist(mnist_dir, "train[:200]")
    tail, _ = data.load_mnist(mnist_dir, "train[200:]")
    np.testing.assert_array_equal(np.concatenate([head, tail]), images)
    test_images, _ = data.load_mnist(mnist_dir, "test")
    assert test_images.shape == (64, 28, 28, 1)


def test_missing_directory_and_missing_file_name_the_flag(tmp_path, mnist_dir):
    with pytest.raises(KerasGanError, match="--data_dir=.*not a directory"):
        data.load_mnist(str(tmp_path / "nope"), "train")
    os.remove(os.path.join(mnist_dir, "t10k-labels-idx1-ubyte.gz"))
    with pytest.raises(KerasGanError, match="missing t10k-labels-idx1-ubyte.gz"):
        data.load_mnist(mnist_dir, "test")


def test_bad_split_is_rejected(mnist_dir):
    with pytest.raises(KerasGanError, match="split 'validation'"):
        data.load_mnist(mnist_dir, "validation")


def test_offline_tfds_fails_at_once_naming_data_dir(tmp_path, monkeypatch):
    def unreachable(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", unreachable)
    started = time.monotonic()
    with pytest.raises(KerasGanError, match="--data_dir"):
        data.load_mnist("", "train", tfds_dir=str(tmp_path / "tfds"))
    assert time.monotonic() - started < 30


def test_tfds_path_reads_a_prepared_dataset_into_arrays(monkeypatch):
    import tensorflow as tf
    import tensorflow_datasets as tfds

    def as_dataset(self, split, batch_size):
        assert split == "train[:12]" and batch_size == -1
        return {"image": tf.zeros([12, 28, 28, 1], tf.uint8),  # what batch_size=-1 gives
                "label": tf.range(12, dtype=tf.int64)}

    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    monkeypatch.setattr(tfds.core.DatasetBuilder, "as_dataset", as_dataset)
    images, labels = data.load_mnist("", "train[:12]")
    assert images.shape == (12, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(labels, np.arange(12))


def test_value_ranges():
    assert data.parse_value_range("-1,1") == (-1.0, 1.0)
    with pytest.raises(KerasGanError, match="--value_range"):
        data.parse_value_range("0,255")
