"""The matrix-product floor finds exactly the products a training step runs."""
import tensorflow as tf

from keras_gan import floor
from tests.test_step import make_trainer, stream


def traced_products(**config):
    trainer = make_trainer(steps_per_execution=2, **config)
    iterator = stream(trainer)
    trainer(iterator, 2)
    return floor.step_products(trainer.function.get_concrete_function(
        iterator, tf.constant(2, tf.int32)))


def test_a_g_first_step_runs_nineteen_products_and_none_of_the_frozen_ds_weight_gradients():
    # G: Dense(8), Dense(16); D: Dense(8), Dense(1). G's step: 2 + 2 forward, D's two input
    # gradients, G's output-layer input gradient and two weight gradients = 9; D's step: 2 + 2
    # forward, and per half one input gradient and two weight gradients = 10.
    products = traced_products()
    assert len(products) == 19 and {p.op_type for p in products} == {"MatMul"}
    shapes = [(p.input_shapes, p.output_shape) for p in products]
    assert shapes[0] == (((8, 3), (3, 8)), (8, 8))  # G's first layer on z
    assert sum(p.output_shape == (16, 8) for p in products) == 2  # D's first kernel, per half
    for p in products:
        (rows, columns), attrs = p.input_shapes[0], dict(p.attrs)
        inner = rows if attrs["transpose_a"] else columns
        assert p.flops == 2 * p.output_shape[0] * p.output_shape[1] * inner


def test_d_first_generates_a_fake_batch_for_each_of_its_d_steps():
    # two D steps, each after G's forward pass on its own z (2 + 10), then G's step (9)
    assert len(traced_products(d_steps=2, order="d_first")) == 2 * (2 + 10) + 9


def test_the_floor_replays_the_products_and_times_them():
    products = traced_products()
    seconds = floor.time_products(products, steps=4, steps_per_call=2, warmup_steps=2)
    assert 0 < seconds < 1
