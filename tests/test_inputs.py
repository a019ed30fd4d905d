import numpy as np
import pytest
import tensorflow as tf

from keras_gan import inputs


@pytest.fixture
def images():
    return np.random.RandomState(1).randint(0, 256, (40, 28, 28, 1)).astype(np.uint8)


def take(dataset, n):
    return [{k: v.numpy() for k, v in element.items()} for element in dataset.take(n)]


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_elements_have_the_batch_shapes_and_the_range(images, value_range):
    spec = inputs.StreamSpec(8, z_dim=5, value_range=value_range, real_label=(0.9, 1.0))
    (element,) = take(inputs.training_stream(images, spec), 1)
    assert element["real"].shape == (8, 28, 28, 1) and element["real"].dtype == np.float32
    assert element["z_d"].shape == element["z_g"].shape == (8, 5)
    assert value_range[0] <= element["real"].min() and element["real"].max() <= value_range[1]
    assert 0.9 <= element["real_labels"].min() and element["real_labels"].max() <= 1.0


def test_an_epoch_visits_every_image_once(images):
    spec = inputs.StreamSpec(8, value_range=(0.0, 1.0))
    epoch = np.concatenate([e["real"] for e in take(inputs.training_stream(images, spec), 5)])
    seen = {tuple(np.round(x.ravel() * 255).astype(int)[:20]) for x in epoch}
    assert len(seen) == 40


def test_starting_at_an_index_continues_the_same_stream(images):
    spec = inputs.StreamSpec(8, seed=3)
    whole = take(inputs.training_stream(images, spec), 12)
    resumed = take(inputs.training_stream(images, spec, start_index=7), 5)
    for a, b in zip(whole[7:], resumed):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])


def test_uniform_prior_has_unit_variance():
    z = inputs.sample_noise([20000, 4], "uniform", tf.constant([1, 2])).numpy()
    assert abs(z.var() - 1.0) < 0.03 and np.abs(z).max() <= np.sqrt(3.0)


def test_two_pipelines_split_one_global_batch(images):
    spec = inputs.StreamSpec(8, seed=5)
    (whole,) = take(inputs.training_stream(images, spec), 1)
    parts = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        parts += take(inputs.training_stream(images, spec, 0, context), 1)
    for key in whole:
        np.testing.assert_array_equal(np.concatenate([p[key] for p in parts]), whole[key])
