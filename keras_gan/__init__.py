"""keras-gan: Goodfellow et al. (2014) GANs and DCGAN in Keras 3 / TensorFlow 2."""

__version__ = "0.1.0"
