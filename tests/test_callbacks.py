import keras
import numpy as np

from keras_gan.callbacks import EvaluationCallback, read_history


def test_evaluation_rows_keep_their_columns_and_draw_the_curves(tmp_path):
    z = keras.Input((2,))
    generator = keras.Model(z, keras.layers.Dense(2)(z))
    csv_path = tmp_path / "eval_history.csv"
    csv_path.write_text("step,epoch,parzen_ll\n10,1,-5.0\n")  # an older run's file
    scores = iter([{"parzen_ll": 1.0, "parzen_se": 0.5, "reverse_kl": None},
                   {"parzen_ll": 2.0, "parzen_se": 0.25, "reverse_kl": 0.1}])
    callback = EvaluationCallback(generator, lambda samples, labels: next(scores), "normal", 0,
                                  50, 1, str(csv_path), str(tmp_path / "tb"))
    callback.on_train_begin()
    for epoch in range(2):
        callback.on_train_batch_end(20 + epoch)
        callback.on_epoch_end(epoch + 1)
    history = read_history(str(csv_path))
    np.testing.assert_array_equal(history["step"], [10, 21, 22])
    np.testing.assert_array_equal(history["parzen_ll"], [-5.0, 1.0, 2.0])
    assert np.isnan(history["reverse_kl"][:2]).all() and history["reverse_kl"][2] == 0.1
    assert np.isnan(history["train_seconds"][0]) and history["train_seconds"][2] >= 0
    assert callback.scores == {"parzen_ll": 2.0, "parzen_se": 0.25, "reverse_kl": 0.1}
    png = (tmp_path / "eval_history.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
