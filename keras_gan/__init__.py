"""keras-gan: Goodfellow et al. (2014) GANs and DCGAN in Keras 3 / TensorFlow 2.

    import keras_gan
    gan = keras_gan.GAN(generator=g, discriminator=d).compile()
    gan.fit(dataset, epochs=5, callbacks=[keras_gan.callbacks.SampleGrid("samples/")])

`GAN` and the submodules (callbacks, objectives, penalties, models, ...) load on first use, so
`import keras_gan` stays cheap and does not load TensorFlow before its CPU-kernel default is set.
"""
import importlib
import os
import platform
import sys

__version__ = "0.6.0"
__all__ = ["GAN", "augment", "callbacks", "data", "export", "models", "objectives", "options",
           "penalties"]

# TensorFlow turns its oneDNN CPU kernels on by itself only on x86 CPUs with AVX-512 VNNI, BF16
# or AMX. On an AVX2-only CPU they train this project's models over twice as fast as TensorFlow's
# default kernels (docs/throughput.md). The variable is read once, when TensorFlow loads, so
# this must run before that; a value the user set is kept.
SETS_ONEDNN_DEFAULT = platform.machine().lower() in ("x86_64", "amd64")
if SETS_ONEDNN_DEFAULT:
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")


def __getattr__(name):
    if name == "GAN":
        from keras_gan.gan import GAN

        return GAN
    if name in __all__:
        return importlib.import_module(f"keras_gan.{name}")
    raise AttributeError(f"module 'keras_gan' has no attribute {name!r}")


# With Keras already loaded (`import keras, keras_gan`, the usual order) there is nothing to
# keep cheap: register GAN and its optimisers now, so `keras.saving.load_model` finds them
# without the caller touching keras_gan.GAN first.
if "keras" in sys.modules:
    from keras_gan import gan as _gan  # noqa: E402,F401  (registers Keras serializables)
