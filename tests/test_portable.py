"""The generator in LiteRT and ONNX: every shipped G converts, and each file, run in its own
runtime (ai-edge-litert's interpreter, onnxruntime), gives the SavedModel's images on fixed z
and labels; quantized files stay close; what cannot convert is refused in one line."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf

import keras_gan
from keras_gan import export, models, portable
from keras_gan.errors import KerasGanError
from tests.conftest import run_module
from tests.conftest import BATCH, IMAGES, compiled

litert = pytest.importorskip("ai_edge_litert.interpreter",
                             reason='LiteRT\'s runtime: pip install -e ".[export]"')
onnxruntime = pytest.importorskip("onnxruntime", reason='pip install -e ".[export]"')
pytest.importorskip("tf2onnx", reason='pip install -e ".[export]"')

# One G per distinct builder (blog_mlp_bn and pacgan_mlp_nobn add nothing a G here lacks).
ARCHITECTURES = [("paper_maxout", (28, 28, 1), "none"), ("pytorch_mlp", (28, 28, 1), "none"),
                 ("blog_mlp_bn", (28, 28, 1), "none"), ("heuristic_mlp", (28, 28, 1), "none"),
                 ("dcgan32", (32, 32, 1), "none"), ("infogan28", (28, 28, 1), "projection"),
                 ("infogan28_half_d", (28, 28, 1), "concat"), ("dcgan64", (64, 64, 3), "none"),
                 ("pacgan_mlp", (2,), "none")]


def run_tflite(path, inputs):
    runner = litert.Interpreter(model_path=path).get_signature_runner()
    return runner(**inputs)["images"]


def run_onnx(path, inputs):
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(["images"], inputs)[0]


RUNTIMES = {"tflite": run_tflite, "onnx": run_onnx}


def fixed_inputs(info, count=5):
    rng = np.random.RandomState(0)
    inputs = {"z": rng.randn(count, info["z_dim"]).astype(np.float32)}
    if info["num_classes"]:
        inputs["label"] = (np.arange(count) % info["num_classes"]).astype(np.int32)
    return inputs


def saved_model_images(directory, inputs):
    loaded = tf.saved_model.load(directory)
    return loaded.serving_default(**{k: tf.constant(v) for k, v in inputs.items()})[
        "images"].numpy()


@pytest.mark.parametrize("architecture, shape, conditional", ARCHITECTURES)
def test_every_shipped_generator_matches_its_saved_model_in_both_runtimes(
        architecture, shape, conditional, tmp_path):
    generator, _ = models.build_gan(architecture, shape, 16, conditional=conditional,
                                    num_classes=10 if conditional != "none" else 0)
    prior = np.arange(1, 11) / 55.0 if conditional != "none" else None
    directory = str(tmp_path / "generator")
    export.export_generator(generator, directory, "normal", (-1.0, 1.0), prior)
    for format, run in RUNTIMES.items():
        path = portable.convert(directory, str(tmp_path / f"g.{format}"), format)
        info = json.load(open(portable.sidecar_path(path)))
        assert info["z_dim"] == 16 and info["value_range"] == [-1.0, 1.0]
        assert info["num_classes"] == (10 if conditional != "none" else 0)
        if prior is not None:
            np.testing.assert_allclose(info["class_prior"], prior, rtol=1e-6)
        inputs = fixed_inputs(info)
        np.testing.assert_allclose(run(path, inputs), saved_model_images(directory, inputs),
                                   atol=1e-4, err_msg=f"{architecture} {format}")


@pytest.mark.parametrize("quantize, tolerance", [("float16", 0.02), ("dynamic_int8", 0.15),
                                                 ("int8", 0.3)])
def test_quantized_files_stay_close_and_are_smaller(quantize, tolerance, tmp_path):
    generator, _ = models.build_gan("infogan28", (28, 28, 1), 16, conditional="concat",
                                    num_classes=10)
    directory = str(tmp_path / "generator")
    export.export_generator(generator, directory, "normal", (-1.0, 1.0))
    inputs = fixed_inputs({"z_dim": 16, "num_classes": 10})
    reference = saved_model_images(directory, inputs)
    for format, run in RUNTIMES.items():
        plain = portable.convert(directory, str(tmp_path / f"g.{format}"), format)
        path = portable.convert(directory, str(tmp_path / f"g.{quantize}.{format}"), format,
                                quantize)
        assert os.path.getsize(path) < 0.7 * os.path.getsize(plain), (format, quantize)
        images = run(path, inputs)
        assert images.shape == reference.shape and images.dtype == np.float32
        assert np.abs(images - reference).mean() < tolerance, (format, quantize)
        assert json.load(open(portable.sidecar_path(path)))["quantize"] == quantize


@pytest.mark.device
def test_gan_export_writes_each_format_from_one_call(tmp_path):
    gan = compiled()
    gan.fit(IMAGES, batch_size=BATCH, epochs=1, verbose=0)
    gan.export(str(tmp_path / "generator"))
    inputs = {"z": np.random.RandomState(1).randn(4, gan.z_dim).astype(np.float32)}
    reference = saved_model_images(str(tmp_path / "generator"), inputs)
    np.testing.assert_allclose(reference, gan.sampling_generator(inputs["z"]).numpy(), atol=1e-6)
    for format, run in RUNTIMES.items():
        path = str(tmp_path / f"generator.{format}")
        gan.export(path, format=format)
        np.testing.assert_allclose(run(path, inputs), reference, atol=1e-4)
    with pytest.raises(KerasGanError, match="format=pdf: expected one of saved_model"):
        gan.export(str(tmp_path / "g.pdf"), format="pdf")
    with pytest.raises(KerasGanError, match="a SavedModel is not quantized"):
        gan.export(str(tmp_path / "g"), quantize="float16")


def test_a_generator_that_does_not_convert_is_refused_in_one_line_leaving_nothing(tmp_path):
    """A G whose graph holds an op LiteRT's built-in kernels lack (a stateful random op)."""
    import keras

    z = keras.Input((4,))
    noisy = keras.layers.Lambda(lambda t: t + tf.random.poisson(tf.shape(t), 1.0))(z)
    generator = keras.Model(z, keras.layers.Dense(3)(noisy))
    directory = str(tmp_path / "generator")
    export.export_generator(generator, directory, "normal", (-1.0, 1.0))
    with pytest.raises(KerasGanError, match="format=tflite: this generator does not convert"):
        portable.convert(directory, str(tmp_path / "g.tflite"), "tflite")
    assert sorted(os.listdir(tmp_path)) == ["generator"]


def test_the_convert_program_writes_every_format_and_quantization(tmp_path):
    gan = keras_gan.GAN(*models.build_gan("pytorch_mlp", (28, 28, 1), 8)).compile()
    gan.export(str(tmp_path / "generator"))
    result = run_module("keras_gan.convert", f"--model={tmp_path / 'generator'}",
                        "--formats=tflite,onnx", "--quantize=none,dynamic_int8")
    assert result.returncode == 0, result.stderr[-2000:]
    assert sorted(name for name in os.listdir(tmp_path) if "." in name) == [
        "generator.dynamic_int8.info.json", "generator.dynamic_int8.onnx",
        "generator.dynamic_int8.tflite", "generator.info.json", "generator.onnx",
        "generator.tflite"]
    result = run_module("keras_gan.convert", f"--model={tmp_path / 'generator'}",
                        "--formats=jpeg")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("error: --formats=jpeg")


def test_the_serving_page_s_snippets_run_as_written(tmp_path):
    """docs/serving.md's LiteRT and onnxruntime blocks, with RUN/ pointing at a small run."""
    import re

    from tests.conftest import REPO

    generator, _ = models.build_gan("infogan28", (28, 28, 1), 16, conditional="concat",
                                    num_classes=10)
    gan = keras_gan.GAN(generator, models.build_gan(
        "infogan28", (28, 28, 1), 16, conditional="concat", num_classes=10)[1]).compile()
    for format in ("tflite", "onnx"):
        gan.export(str(tmp_path / f"generator.{format}"), format=format)
    text = open(os.path.join(REPO, "docs", "serving.md"), encoding="utf-8").read()
    section = text[text.index("### From Python with LiteRT"):text.index("### In a phone")]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2
    for block in blocks:
        namespace = {}
        exec(block.replace("RUN/", f"{tmp_path}/"), namespace)  # noqa: S102
        assert namespace["images"].shape == (16, 28, 28, 1)
