import keras
import numpy as np

from keras_gan.callbacks import EvaluationCallback, read_history


class Resumed(keras.Model):
    """A stand-in model whose step counter says where training resumes."""

    def __init__(self, step):
        super().__init__()
        self.step = keras.Variable(step, dtype="int64", trainable=False)


def test_evaluation_rows_keep_their_columns_and_draw_the_curves(tmp_path):
    z = keras.Input((2,))
    generator = keras.Model(z, keras.layers.Dense(2)(z))
    csv_path = tmp_path / "eval_history.csv"
    csv_path.write_text("step,epoch,parzen_ll\n10,1,-5.0\n")  # an older run's file
    scores = iter([{"parzen_ll": 1.0, "parzen_se": 0.5, "reverse_kl": None},
                   {"parzen_ll": 2.0, "parzen_se": 0.25, "reverse_kl": 0.1}])
    callback = EvaluationCallback(generator, lambda samples, labels: next(scores), "normal", [],
                                  50, 1, str(csv_path), str(tmp_path / "tb"))
    callback.set_model(Resumed(20))
    callback.set_params({"steps": 1})
    callback.on_train_begin()
    for epoch in range(20, 22):
        callback.on_epoch_begin(epoch)
        callback.on_train_batch_end(0)
        callback.on_epoch_end(epoch)
    history = read_history(str(csv_path))
    np.testing.assert_array_equal(history["step"], [10, 21, 22])
    np.testing.assert_array_equal(history["parzen_ll"], [-5.0, 1.0, 2.0])
    assert np.isnan(history["reverse_kl"][:2]).all() and history["reverse_kl"][2] == 0.1
    assert np.isnan(history["train_seconds"][0]) and history["train_seconds"][2] >= 0
    assert callback.scores == {"parzen_ll": 2.0, "parzen_se": 0.25, "reverse_kl": 0.1}
    png = (tmp_path / "eval_history.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000


def test_a_conditional_g_is_scored_on_classes_in_the_training_data_shares(tmp_path):
    z, label = keras.Input((2,)), keras.Input((), dtype="int32")
    generator = keras.Model([z, label], keras.layers.Dense(2, kernel_initializer="zeros")(z)
                            + keras.ops.cast(label[:, None], "float32"))  # draws its label
    seen = []
    callback = EvaluationCallback(generator, lambda samples, labels: seen.append(
        (samples, labels)) or {"n": len(labels)}, "normal", [0.2, 0.0, 0.8], 10, 0,
        str(tmp_path / "eval_history.csv"), str(tmp_path / "tb"))
    callback.set_params({"steps": 1})
    callback.on_train_begin()
    callback.on_train_batch_end(0)
    callback.on_train_end()
    samples, labels = seen[0]
    np.testing.assert_array_equal(labels, [0, 0, 2, 2, 2, 2, 2, 2, 2, 2])
    np.testing.assert_array_equal(samples, np.repeat(labels[:, None], 2, 1))  # G got them


def test_sample_grids_are_tensorboard_images(tmp_path):
    import tensorflow as tf

    from keras_gan import plotting
    from keras_gan.callbacks import FixedInputs, SampleGrid

    z = keras.Input((3,))
    generator = keras.Model(z, keras.layers.Reshape((2, 2, 1))(keras.layers.Dense(4)(z)))
    fixed = FixedInputs.draw(4, 3, "normal", 0, seed=0)
    callback = SampleGrid(str(tmp_path / "samples"), 2, logdir=str(tmp_path / "tb"),
                          generator=generator, fixed_inputs=fixed,
                          draw=lambda path, images: plotting.write_grid(path, images, (-1, 1)))
    callback.set_params({"steps": 4})
    callback.on_train_begin()
    for batch in range(4):
        callback.on_train_batch_end(batch)
    images = []
    for path in (tmp_path / "tb").iterdir():
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name == "images":
                    record = tf.make_ndarray(value.tensor)
                    images.append((event.step, int(record[0]), int(record[1]), record[2]))
    # 2x2 tiles of 2x2 images with 2-pixel padding, at steps 2 and 4
    assert [(s, w, h) for s, w, h, _ in images] == [(2, 10, 10), (4, 10, 10)]
    written = open(tmp_path / "samples" / "step_0000004.png", "rb").read()
    assert images[-1][3] == written


def test_conditional_fixed_inputs_hold_one_row_per_class():
    from keras_gan.callbacks import FixedInputs

    fixed = FixedInputs.draw(12, 5, "normal", 3, seed=1)
    z, labels = fixed.inputs
    assert fixed.columns == 4 and list(labels) == [0] * 4 + [1] * 4 + [2] * 4
    np.testing.assert_array_equal(z[:4], z[4:8])  # the same noise down each column
    row_z, row_labels = fixed.history_row()
    assert list(row_labels) == [0, 1, 2] and np.array_equal(row_z[1], z[0])
