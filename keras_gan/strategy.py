"""Choosing the tf.distribute strategy: the CPU, one GPU, all local GPUs, or several machines."""
from __future__ import annotations

import json
import os

import tensorflow as tf

from keras_gan.errors import KerasGanError

STRATEGIES = ("auto", "mirrored", "one_device", "multi_worker")


def make_strategy(name: str) -> tf.distribute.Strategy:
    """`auto`: MirroredStrategy over all GPUs when there are several, the one GPU, else the CPU.

    `multi_worker` is TensorFlow's MultiWorkerMirroredStrategy, configured by `TF_CONFIG`; create
    it before any other TensorFlow work in the process.
    """
    if name not in STRATEGIES:
        raise KerasGanError(f"--strategy={name}: expected one of {', '.join(STRATEGIES)}")
    if name == "multi_worker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if name == "mirrored" or (name == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")


def _check_tf_config() -> None:
    raw = os.environ.get("TF_CONFIG", "")
    try:
        config = json.loads(raw)
        workers, task = config["cluster"]["worker"], config["task"]
        valid = isinstance(workers, list) and 0 <= int(task["index"]) < len(workers)
    except (ValueError, KeyError, TypeError):
        valid = False
    if not valid:
        raise KerasGanError(
            "--strategy=multi_worker needs the TF_CONFIG environment variable, e.g. "
            '{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
            '"task": {"type": "worker", "index": 0}}')
