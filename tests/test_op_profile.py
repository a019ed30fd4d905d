"""keras_gan.op_profile: where a traced call spends its time, by op type."""
import pytest
import tensorflow as tf

from keras_gan import op_profile


@pytest.mark.parametrize("name, expected", [
    ("while/body/_1/while/MatMul:_MklMatMul", "_MklMatMul"),
    ("generator/dense/BiasAdd:BiasAdd", "BiasAdd"),
    ("ExecutorState::Process", None),
    ("EagerLocalExecute: __inference_f_68", None),
    ("Sum", None),
])
def test_op_type_reads_the_kernel_events_name(name, expected):
    assert op_profile.op_type(name) == expected


def test_profile_counts_every_kernel_of_a_traced_loop():
    weights = tf.Variable(tf.random.normal((128, 128)))

    @tf.function
    def loop(n):
        h = tf.ones((64, 128))
        for _ in tf.range(n):
            h = tf.nn.relu(tf.matmul(h, weights)) * 0.1
        return tf.reduce_sum(h)

    loop(tf.constant(1))
    times = {t.op_type: t for t in op_profile.profile(lambda: loop(tf.constant(7)).numpy())}
    matmul = next(t for kind, t in times.items() if "MatMul" in kind)
    assert matmul.count == 7 and matmul.seconds > 0
    assert times["Mul"].count == 7
    text = op_profile.table(list(times.values()), wall_seconds=0.01, steps=7, top=2)
    assert "by op type:" in text and "other types" in text
