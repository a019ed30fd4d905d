"""Converts an exported generator (RUN/generator) to LiteRT and ONNX files, without training.

    python -m keras_gan.convert --model=RUN/generator --formats=tflite,onnx \
        [--quantize=none,float16]

Writes RUN/generator.tflite, RUN/generator.onnx (RUN/generator.float16.tflite, ... when
quantized) and each one's sidecar RUN/generator[.QUANTIZATION].info.json (docs/serving.md).
"""
from __future__ import annotations

import os

from absl import flags

from keras_gan import cli
from keras_gan.errors import KerasGanError, exit_on_user_error

flags.DEFINE_string("model", None, "Directory of an exported generator SavedModel (RUN/generator).")
flags.DEFINE_list("formats", ["tflite", "onnx"], "Formats to write: tflite, onnx.")
flags.DEFINE_list("quantize", ["none"], "Quantizations, each written for every format: none, "
                  "float16, dynamic_int8, int8 (full integer, calibrated on z from the prior).")
FLAGS = flags.FLAGS


@exit_on_user_error
def main(argv):
    del argv
    from keras_gan import export, portable

    export.load_generator(FLAGS.model)
    for format in FLAGS.formats:
        if format not in portable.EXTENSIONS:
            raise KerasGanError(f"--formats={','.join(FLAGS.formats)}: {format}; expected "
                                f"tflite or onnx")
        for quantize in FLAGS.quantize:
            portable.check(format, quantize, flag="--formats")
    for format in FLAGS.formats:
        for quantize in FLAGS.quantize:
            path = portable.portable_path(FLAGS.model, format, quantize)
            portable.convert(FLAGS.model, path, format, quantize)
            print(f"wrote {path} ({os.path.getsize(path) / 1e6:.2f} MB)")


if __name__ == "__main__":
    cli.run(main)
