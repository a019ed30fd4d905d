"""The CLI still trains exactly what it trained before the library API: weights after a few steps
of two shipped configs, against a summary recorded by `tests.golden.record` before the change.

Tolerance: |now - golden| <= ATOL + 1e-3 |golden| per summarised value. Another machine's CPU
kernels round differently, and Adam turns a rounding-sized gradient near zero into a full
learning-rate step, so values may move by a few steps' worth: with TensorFlow's default kernels
in place of oneDNN's, the largest move is 5e-6 (gan_pytorch) and 2.5e-3 (cgan_mnist_conv, a sum
of biases whose gradient is ~0 before BatchNorm). BatchNorm's fused kernel (one replica, since
the golden files were recorded) rounds its statistics and gradients differently again: up to
9.2e-3 in cgan_mnist_conv (a projection of a transposed convolution's kernel; 0 values beyond
1e-2) and 4.7e-6 in gan_pytorch. A real change stays far outside 1e-2: G's learning rate 5%
higher moves 30 values out of it, d_reduction=sum 13, d_first 71 (at 3e-3: 51, 31, 117).
"""
import numpy as np
import pytest

from tests.golden import record

ATOL = {"gan_pytorch": 1e-4, "cgan_mnist_conv": 1e-2}


@pytest.mark.parametrize("name", [run[0] for run in record.RUNS])
def test_cli_weights_after_a_few_steps_match_the_golden_file(name, tmp_path):
    golden = np.load(record.golden_path(name))
    now = record.train(name, str(tmp_path))
    assert sorted(now) == sorted(golden.files)  # the checkpoint's layout, so old runs resume
    for key in golden.files:
        np.testing.assert_allclose(now[key], golden[key], rtol=1e-3, atol=ATOL[name],
                                   err_msg=f"{name}: {key}")
