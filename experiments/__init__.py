"""absl programs over keras_gan: one per job, configured by flagfiles in configs/."""
import keras_gan  # noqa: F401  (its CPU-kernel default must precede TensorFlow)
