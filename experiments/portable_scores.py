"""Scores a run's LiteRT and ONNX generators in their own runtimes: file size, per-image latency
on this CPU, and 10,000 samples' FID and label accuracy with the packaged MNIST classifier, all
on the same z and labels, against the float32 file as the reference.

    python -m experiments.vanilla --flagfile=... --run_dir=RUN \
        --export_formats=saved_model,tflite,onnx --export_quantize=none,float16,dynamic_int8,int8
    python -m experiments.portable_scores --run_dir=RUN --data_dir=../shared/data/mnist

Writes RUN/portable_scores.json and prints a markdown table (docs/serving.md).
"""
from __future__ import annotations

import glob
import json
import os
import time

from absl import flags

from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_string("run_dir", None, "Run directory holding generator*.tflite / *.onnx files.")
flags.DEFINE_string("data_dir", "", "Folder of the four MNIST IDX .gz files; empty: tfds.")
flags.DEFINE_integer("num_samples", 10000, "Samples scored per file.")
flags.DEFINE_integer("latency_calls", 300, "Single-image calls timed per file (the median).")
FLAGS = flags.FLAGS


def runtime(path: str):
    """A function inputs -> images running `path` in its own runtime."""
    if path.endswith(".tflite"):
        from ai_edge_litert.interpreter import Interpreter

        runner = Interpreter(model_path=path).get_signature_runner()
        return lambda inputs: runner(**inputs)["images"]
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return lambda inputs: session.run(["images"], inputs)[0]


def score(path: str, reference, inputs: dict, value_range) -> dict:
    import numpy as np

    from keras_gan.evaluation import to_mnist_pixels

    run = runtime(path)
    images = np.concatenate([run({k: v[i:i + 500] for k, v in inputs.items()})
                             for i in range(0, len(inputs["z"]), 500)])
    one = {k: v[:1] for k, v in inputs.items()}
    run(one)
    times = []
    for _ in range(FLAGS.latency_calls):
        start = time.perf_counter()
        run(one)
        times.append(time.perf_counter() - start)
    names = ["fid", "conditional"] if "label" in inputs else ["fid"]
    scores = reference.evaluate(to_mnist_pixels(images, value_range), names,
                                inputs.get("label"))
    return {"file": os.path.basename(path), "mb": os.path.getsize(path) / 1e6,
            "latency_ms": 1e3 * float(np.median(times)), "fid": scores["fid"],
            "label_accuracy": scores.get("label_accuracy"), "images": images}


@exit_on_user_error
def main(argv):
    del argv
    import numpy as np

    from keras_gan import portable
    from keras_gan.classifier import load_classifier
    from keras_gan.data import load_mnist
    from keras_gan.evaluation import MnistReference

    if not FLAGS.run_dir:
        raise KerasGanError("--run_dir is required")
    paths = sorted(glob.glob(os.path.join(FLAGS.run_dir, "generator*.tflite"))
                   + glob.glob(os.path.join(FLAGS.run_dir, "generator*.onnx")))
    if not paths:
        raise KerasGanError(f"--run_dir={FLAGS.run_dir}: no generator*.tflite or .onnx; "
                            f"expected a run exported with --export_formats")
    info = json.load(open(portable.sidecar_path(paths[0])))
    # The same z and labels for every file; other z than int8's calibration set
    inputs = portable.calibration_inputs(info, FLAGS.num_samples, seed=1)
    inputs["z"] = inputs["z"][np.random.RandomState(0).permutation(FLAGS.num_samples)]
    test, labels = load_mnist(FLAGS.data_dir, "test")
    reference = MnistReference(validation=test[:0], test=test.astype(np.float32) / 255.0,
                               classifier=load_classifier(), test_labels=labels)
    rows = [score(path, reference, inputs, info["value_range"]) for path in paths]
    float32 = {os.path.splitext(row["file"])[1]: row["images"] for row in rows
               if row["file"].count(".") == 1}
    print("| file | MB | ms per image | FID | label accuracy | max abs difference from float32 |")
    print("| --- | --- | --- | --- | --- | --- |")
    for row in rows:
        difference = float(np.abs(row.pop("images") - float32[os.path.splitext(
            row["file"])[1]]).max())
        row["max_difference"] = difference
        accuracy = "-" if row["label_accuracy"] is None else f"{100 * row['label_accuracy']:.1f}%"
        print(f"| {row['file']} | {row['mb']:.1f} | {row['latency_ms']:.2f} | {row['fid']:.2f} "
              f"| {accuracy} | {difference:.3g} |")
    with open(os.path.join(FLAGS.run_dir, "portable_scores.json"), "w") as stream:
        json.dump(rows, stream, indent=1)


if __name__ == "__main__":
    cli.run(main)
