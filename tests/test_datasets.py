"""The dataset registry on data the tests write: IDX folders, class-folder trees, a mocked tfds
dataset, and the streaming path against the in-memory one."""
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds

from keras_gan import data, inputs
from keras_gan.errors import KerasGanError
from tests.conftest import make_mnist_dir


def write_image_tree(root, classes=("cat", "dog"), per_class=3, size=(20, 12), flat=False):
    """PNG files in class subfolders (or flat), each a distinct constant colour."""
    rng = np.random.RandomState(0)
    for label, name in enumerate(classes):
        folder = root if flat else os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        for index in range(per_class):
            pixels = np.full((*size, 3), 40 * label + 10 * index, np.uint8)
            pixels[0, 0] = rng.randint(0, 255, 3)
            tf.io.write_file(os.path.join(folder, f"{name}_{index}.png"), tf.io.encode_png(pixels))
    return str(root)


def test_fashion_mnist_reads_the_same_idx_format_with_its_class_names(tmp_path):
    folder = make_mnist_dir(str(tmp_path / "fashion"))
    dataset = data.load_dataset("fashion_mnist", "train[:100]", data_dir=folder, image_size=32)
    assert dataset.images.shape == (100, 32, 32, 1) and dataset.labels.shape == (100,)
    assert dataset.num_classes == 10 and dataset.class_names[-1] == "Ankle boot"


def test_idx_folder_for_a_dataset_that_has_no_idx_files_is_a_clear_error(tmp_path):
    with pytest.raises(KerasGanError, match="--data_dir holds IDX files of mnist or fashion_mnist"):
        data.load_dataset("cifar10", "train", data_dir=str(tmp_path))


def test_class_subfolders_give_labels_in_sorted_folder_order(tmp_path):
    root = write_image_tree(tmp_path / "pets")
    dataset = data.load_dataset("", "train", image_dir=root, image_size=8, channels=3)
    assert dataset.class_names == ("cat", "dog") and dataset.num_classes == 2
    np.testing.assert_array_equal(dataset.labels, [0, 0, 0, 1, 1, 1])
    assert dataset.images.shape == (6, 8, 8, 3) and dataset.images.dtype == np.uint8
    # each file's constant colour survives resizing: the labels belong to the right images
    np.testing.assert_array_equal(dataset.images[:, 4, 4, 0], [0, 10, 20, 40, 50, 60])


def test_a_flat_folder_has_no_labels_and_conditional_training_needs_them(tmp_path):
    root = write_image_tree(tmp_path / "flat", flat=True)
    dataset = data.load_dataset("", "train[:4]", image_dir=root, image_size=8, channels=1)
    assert dataset.labels is None and dataset.num_classes == 0
    assert dataset.images.shape == (4, 8, 8, 1)
    with pytest.raises(KerasGanError, match="no 'test' split"):
        data.load_dataset("", "test", image_dir=root, image_size=8)


def test_a_prepared_tfds_dataset_gives_images_and_labels(monkeypatch):
    # mock_data replaces the stored records; the builder must still say it is prepared
    monkeypatch.setattr(tfds.core.DatasetBuilder, "is_prepared", lambda self: True)
    with tfds.testing.mock_data(num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE):
        dataset = data.load_dataset("cifar10", "train", image_size=16)
    assert dataset.images.shape == (6, 16, 16, 3) and dataset.images.dtype == np.uint8
    assert dataset.labels.shape == (6,) and dataset.num_classes == 10


def test_an_unknown_tfds_name_is_one_clear_error():
    with pytest.raises(KerasGanError, match="--dataset=no_such_set: not a tfds dataset"):
        data.load_dataset("no_such_set", "train")


def test_streaming_from_disk_yields_exactly_the_in_memory_stream(tmp_path):
    root = write_image_tree(tmp_path / "pets", per_class=4)
    in_memory = data.load_dataset("", "train", image_dir=root, image_size=8, channels=3)
    streamed = data.load_dataset("", "train", image_dir=root, image_size=8, channels=3,
                                 stream=True)
    assert isinstance(streamed.images, data.ImageFiles) and len(streamed) == 8
    spec = inputs.StreamSpec(4, conditional=True)
    take = lambda d: list(inputs.training_stream(d, spec, seed=3).take(5)  # noqa: E731
                          .as_numpy_iterator())
    for (real, labels), (streamed_real, streamed_labels) in zip(take(in_memory), take(streamed)):
        np.testing.assert_array_equal(real, streamed_real)
        np.testing.assert_array_equal(labels, streamed_labels)
    with pytest.raises(KerasGanError, match="--stream_from_disk .* needs --image_dir"):
        data.load_dataset("mnist", "train", stream=True)
