"""absl programs over keras_gan: one per job, configured by flagfiles in configs/."""
import os

# TensorFlow's C++ start-up chatter (CUDA probing, CPU features) hides the progress lines.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_gan  # noqa: E402,F401  (its CPU-kernel default must precede TensorFlow)
