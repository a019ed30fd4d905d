"""Records the golden weights that `tests/test_golden.py` holds refactors to.

    python -m tests.golden.record

Trains a few steps of two shipped configs from their flagfiles on the tests' made-up MNIST
data, then keeps a small float32 summary of every weight of G, D and G's average in the final
checkpoint (the first values of each, their sum and two fixed random projections): enough to
catch any change in what a step computes, a few kilobytes instead of the 30 MB of weights.
"""
from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 4
# (name, program, flagfile, extra flags): float32 and no refinement, so the run is the same on
# every machine up to kernel rounding, and fast.
RUNS = (
    ("gan_pytorch", "experiments.vanilla", "gan_pytorch.cfg", ()),
    ("cgan_mnist_conv", "experiments.vanilla", "cgan_mnist_conv.cfg",
     ("--mixed_precision=float32", "--refine_steps=0")),
)
# G's and D's trainable weights are named in a checkpoint by the optimiser that tracks them.
WEIGHTS = ("generator/", "discriminator/", "generator_ema/", "g_optimizer/_trainable_variables/",
           "d_optimizer/_trainable_variables/")
FIRST = 16


def golden_path(name: str) -> str:
    return os.path.join(HERE, f"{name}.npz")


def command(name: str, data_dir: str, run_dir: str, *more: str) -> list[str]:
    _, program, flagfile, extra = next(run for run in RUNS if run[0] == name)
    return [program, f"--flagfile=experiments/configs/{flagfile}", f"--data_dir={data_dir}",
            f"--run_dir={run_dir}", f"--max_steps={STEPS}", "--seed=0", "--sample_every=1000",
            "--log_every=1000", *extra, *more]


def summarise(checkpoint_dir: str) -> dict[str, np.ndarray]:
    """Per weight of G, D and G's average (not the optimiser's slots): its first values, its
    sum and two projections on fixed random vectors, all float32."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(checkpoint_dir)
    summary = {}
    for key in sorted(reader.get_variable_to_shape_map()):
        if not key.startswith(WEIGHTS) or "OPTIMIZER_SLOT" in key:
            continue
        values = reader.get_tensor(key).astype(np.float64).ravel()
        directions = np.random.RandomState(len(values)).standard_normal((2, len(values)))
        summary[key] = np.concatenate([values[:FIRST], [values.sum()], directions @ values]
                                      ).astype(np.float32)
    return summary


def train(name: str, workdir: str, *more: str) -> dict[str, np.ndarray]:
    """Runs `name`'s few steps in `workdir` (with `more` flags); its weights' summary."""
    from tests.conftest import make_mnist_dir, run_module

    data_dir = make_mnist_dir(os.path.join(workdir, "mnist"))
    run_dir = os.path.join(workdir, name)
    result = run_module(*command(name, data_dir, run_dir, *more), timeout=600)
    if result.returncode:
        raise RuntimeError(f"{name} failed:\n{result.stderr[-3000:]}")
    return summarise(os.path.join(run_dir, "checkpoints"))


def main() -> None:
    for name, *_ in RUNS:
        with tempfile.TemporaryDirectory() as workdir:
            np.savez(golden_path(name), **train(name, workdir))
        print("wrote", golden_path(name), file=sys.stderr)


if __name__ == "__main__":
    main()
