"""The exported generator for runtimes without TensorFlow: LiteRT (`.tflite`: Android, iOS,
microcontrollers, the browser) and ONNX (`.onnx`: onnxruntime in C++, C#, Java, the browser,
PyTorch shops), each converted from the SavedModel `keras_gan.export` writes, optionally
quantized (docs/serving.md).

Each file holds the SavedModel's `serving_default`: z (float32 [batch, z_dim]) and, for a
conditional G, label (int32 [batch]) -> images (float32, in the data's value range), under
those names. A flatbuffer has no `info()` endpoint, so a sidecar JSON file beside it
(`NAME.info.json`) says what a caller needs: z's size and prior, the value range, the class
count and prior. The SavedModel's `sample(num, seed)` endpoint draws z inside the graph and is
not converted: draw z from the prior the sidecar names.

The converters and runtimes are optional (`pip install "keras-gan[export]"`): LiteRT's
converter is TensorFlow's own; ONNX needs `tf2onnx`, and quantizing ONNX `onnxruntime`.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import tensorflow as tf

from keras_gan import atomic, export
from keras_gan.errors import KerasGanError
from keras_gan.inputs import class_shares, sample_noise

FORMATS = ("saved_model", "tflite", "onnx")
QUANTIZATIONS = ("none", "float16", "dynamic_int8", "int8")
EXTENSIONS = {"tflite": ".tflite", "onnx": ".onnx"}
ONNX_OPSET = 17
CALIBRATION_SIZE = 256  # z (and labels) that full int8 quantization calibrates on


def check(format: str, quantize: str | None, flag: str = "format") -> str:
    """`format` and `quantize` checked; the quantization's canonical name."""
    quantize = quantize or "none"
    if format not in FORMATS:
        raise KerasGanError(f"{flag}={format}: expected one of {', '.join(FORMATS)}")
    if quantize not in QUANTIZATIONS:
        raise KerasGanError(f"quantize={quantize}: expected one of {', '.join(QUANTIZATIONS)}")
    if format == "saved_model" and quantize != "none":
        raise KerasGanError(f"quantize={quantize}: a SavedModel is not quantized; expected "
                            f"format=tflite or onnx")
    return quantize


def float32_copy(generator):
    """`generator` computing in float32: LiteRT's and ONNX's kernels take no bfloat16, and a
    mixed-precision G keeps its weights in float32 anyway, so the copy computes the same
    function at full precision."""
    import keras

    from keras_gan.models import nested_layers

    if all(layer.dtype_policy.compute_dtype == "float32" for layer in nested_layers(generator)):
        return generator

    def clone(layer):
        if isinstance(layer, keras.Model):
            return keras.models.clone_model(layer, clone_function=clone)
        return layer.__class__.from_config({**layer.get_config(), "dtype": "float32"})

    copy = keras.models.clone_model(generator, clone_function=clone)
    copy.set_weights(generator.get_weights())
    return copy


def portable_path(model: str, format: str, quantize: str = "none") -> str:
    """Where a converted generator goes: beside the SavedModel directory `model`
    (RUN/generator.tflite, RUN/generator.float16.onnx, ...)."""
    suffix = "" if quantize == "none" else f".{quantize}"
    return f"{os.path.normpath(model)}{suffix}{EXTENSIONS[format]}"


def sidecar_path(path: str) -> str:
    """`generator.tflite` -> `generator.info.json` (shared by a G's .tflite and .onnx)."""
    return os.path.splitext(path)[0] + ".info.json"


def convert(saved_model: str, path: str, format: str, quantize: str | None = None) -> str:
    """Writes the generator SavedModel at `saved_model` as a `format` file at `path` and its
    sidecar; both atomically (a failed conversion leaves neither). Returns `path`."""
    quantize = check(format, quantize)
    loaded = tf.saved_model.load(saved_model)
    info = _info(loaded)
    signature = loaded.signatures["serving_default"]
    names = sorted(signature.structured_input_signature[1], key=lambda n: n != "z")  # z first
    if format == "tflite":
        data = _tflite(saved_model, quantize, info, names)
    else:
        data = _onnx(signature, quantize, info, names)
    info.update(format=format, quantize=quantize, inputs=names, outputs=["images"])
    atomic.write_bytes(path, data)
    atomic.write_text(sidecar_path(path), json.dumps(info, indent=1) + "\n")
    return path


def _info(loaded) -> dict:
    """What the sidecar holds: the export's info(), its classes and prior read as
    keras_gan.export reads them (also for exports from before info() reported them)."""
    values = {name: tensor.numpy() for name, tensor in loaded.info().items()}
    return {"z_dim": int(values["z_dim"]), "noise": values["noise"].decode(),
            "value_range": [float(v) for v in values["value_range"]],
            "num_classes": export.num_classes(loaded),
            "class_prior": [float(p) for p in export.class_prior(loaded)]}


def calibration_inputs(info: dict, count: int = CALIBRATION_SIZE, seed: int = 7) -> dict:
    """Inputs full int8 quantization calibrates on: z from the prior, labels in proportion to
    the class prior (a fixed seed: the same file every time)."""
    z = sample_noise([count, info["z_dim"]], info["noise"], tf.constant([seed, 0], tf.int64))
    inputs = {"z": z.numpy()}
    if info["num_classes"]:
        shares = class_shares(np.asarray(info["class_prior"]), count)
        inputs["label"] = np.repeat(np.arange(info["num_classes"]), shares).astype(np.int32)
    return inputs


def _tflite(saved_model: str, quantize: str, info: dict, names) -> bytes:
    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model,
                                                         signature_keys=["serving_default"])
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        calibration = calibration_inputs(info)

        def representative():
            for i in range(CALIBRATION_SIZE):
                yield {name: calibration[name][i:i + 1] for name in names}

        converter.representative_dataset = representative
    try:
        return converter.convert()
    except Exception as error:  # noqa: BLE001  (the converter's errors are pages of MLIR)
        raise _refusal("tflite", error) from None


def require_onnx(flag: str = "format=onnx"):
    """tf2onnx, or one line saying how to install it."""
    try:
        import tf2onnx
    except ImportError:
        raise KerasGanError(f'{flag} needs tf2onnx: pip install "keras-gan[export]"') from None
    return tf2onnx


def _onnx(signature, quantize: str, info: dict, names) -> bytes:
    tf2onnx = require_onnx()
    specs = [tf.TensorSpec(signature.structured_input_signature[1][name].shape,
                           signature.structured_input_signature[1][name].dtype, name=name)
             for name in names]
    serve = tf.function(lambda *args: signature(**dict(zip(names, args))),
                        input_signature=specs)
    try:
        model, _ = tf2onnx.convert.from_function(serve, input_signature=specs, opset=ONNX_OPSET)
    except Exception as error:  # noqa: BLE001
        raise _refusal("onnx", error) from None
    if quantize == "none":
        return model.SerializeToString()
    return _quantized_onnx(model, quantize, info, names)


def _quantized_onnx(model, quantize: str, info: dict, names) -> bytes:
    try:
        from onnxruntime import quantization
    except ImportError:
        raise KerasGanError(f'quantize={quantize} for onnx needs onnxruntime: pip install '
                            f'"keras-gan[export]"') from None
    if quantize == "float16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        return convert_float_to_float16(model, keep_io_types=True).SerializeToString()
    with tempfile.TemporaryDirectory() as scratch:
        source, target = (os.path.join(scratch, name) for name in ("float.onnx", "int8.onnx"))
        with open(source, "wb") as stream:
            stream.write(model.SerializeToString())
        if quantize == "dynamic_int8":
            quantization.quantize_dynamic(source, target,
                                          weight_type=quantization.QuantType.QInt8)
        else:
            calibration = calibration_inputs(info)

            class Reader(quantization.CalibrationDataReader):
                def __init__(self):
                    self.rows = iter(range(CALIBRATION_SIZE))

                def get_next(self):
                    i = next(self.rows, None)
                    return None if i is None else {n: calibration[n][i:i + 1] for n in names}

            quantization.quantize_static(source, target, Reader(),
                                         weight_type=quantization.QuantType.QInt8)
        with open(target, "rb") as stream:
            return stream.read()


def _refusal(format: str, error: Exception) -> KerasGanError:
    """One line for a generator the format's built-in operations cannot express."""
    text = str(error)
    if "bf16" in text or "bfloat16" in text or "xf16" in text:
        return KerasGanError(
            f"format={format}: this generator computes in reduced precision (trained with "
            f"mixed_bfloat16 or mixed_float16), which {format}'s kernels do not take; export a "
            f"float32 copy: rerun the run's command with --export_formats=saved_model,{format} "
            f"(it resumes at its last step and trains nothing), or gan.export(path, "
            f"format='{format}') from Python")
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return KerasGanError(
        f"format={format}: this generator does not convert with {format}'s built-in operations "
        f"({first[:200]}); export it as a SavedModel (format=saved_model), or export the "
        f"generator without refinement (gan.export(path, format='{format}') without "
        f"generator=, or the run directory's generator_raw/)")
