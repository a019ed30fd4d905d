import numpy as np
import pytest
import tensorflow as tf

from keras_gan import inputs, training_step


@pytest.fixture
def images():
    return np.random.RandomState(1).randint(0, 256, (40, 28, 28, 1)).astype(np.uint8)


def take(dataset, n):
    return [element.numpy() for element in dataset.take(n)]


@pytest.mark.parametrize("value_range", [(0.0, 1.0), (-1.0, 1.0)])
def test_batches_have_the_batch_shape_and_the_range(images, value_range):
    (real,) = take(inputs.training_stream(images, inputs.StreamSpec(8, value_range)), 1)
    assert real.shape == (8, 28, 28, 1) and real.dtype == np.float32
    assert value_range[0] <= real.min() and real.max() <= value_range[1]


def test_an_epoch_visits_every_image_once(images):
    spec = inputs.StreamSpec(8, value_range=(0.0, 1.0))
    epoch = np.concatenate(take(inputs.training_stream(images, spec), 5))
    seen = {tuple(np.round(x.ravel() * 255).astype(int)[:20]) for x in epoch}
    assert len(seen) == 40


def test_starting_at_an_index_continues_the_same_stream(images):
    spec = inputs.StreamSpec(8)
    whole = take(inputs.training_stream(images, spec, seed=3), 12)
    resumed = take(inputs.training_stream(images, spec, start_index=7, seed=3), 5)
    for a, b in zip(whole[7:], resumed):
        np.testing.assert_array_equal(a, b)


def test_uniform_prior_has_unit_variance():
    z = inputs.sample_noise([20000, 4], "uniform", tf.constant([1, 2])).numpy()
    assert abs(z.var() - 1.0) < 0.03 and np.abs(z).max() <= np.sqrt(3.0)


def test_two_pipelines_split_one_global_batch(images):
    spec = inputs.StreamSpec(8)
    (whole,) = take(inputs.training_stream(images, spec, seed=5), 1)
    parts = []
    for pipeline in range(2):
        context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pipeline,
                                             num_replicas_in_sync=2)
        parts += take(inputs.training_stream(images, spec, 0, context, seed=5), 1)
    np.testing.assert_array_equal(np.concatenate(parts), whole)


def test_draws_depend_on_the_seed_the_index_and_the_draw_alone():
    def draw(seed, index, name):
        return tuple(training_step.draw_seed(seed, index, name).numpy())

    assert draw(1, 5, "z_g") == draw(1, 5, "z_g")
    seeds = {draw(s, i, name) for s in (1, 2) for i in (0, 1) for name in training_step.DRAWS}
    assert len(seeds) == 2 * 2 * len(training_step.DRAWS)


@pytest.mark.device
def test_replicas_draw_together_what_one_device_draws():
    from tests.conftest import two_replica_mirrored

    seed = training_step.draw_seed(0, 3, "z_d")
    make = lambda n: inputs.sample_noise([n, 2], "normal", seed)  # noqa: E731
    whole = training_step.replica_share(make, 8).numpy()
    strategy = two_replica_mirrored()
    shares = strategy.run(tf.function(lambda: training_step.replica_share(make, 4)))
    np.testing.assert_array_equal(
        np.concatenate([t.numpy() for t in strategy.experimental_local_results(shares)]), whole)
